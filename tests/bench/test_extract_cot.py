"""Chain-of-thought answers read as a careful human reads them, without a judge.

Every response here was written for this test in the styles models use when asked to reason and
end with "Therefore, the final answer is: $LETTER" (the VLM4D chain-of-thought prompt); the
expected value is what a person reading the whole response would record, or None when the
response gives no single answer. One section per failure class of issue 7, part 3.
"""

from __future__ import annotations

import pytest

from qa4d.bench.extract import extract, extract_choice
from qa4d.bench.types import BenchItem

DIR = {"A": "not moving", "B": "left", "C": "right", "D": "towards the camera"}
ROT = {"A": "clockwise", "B": "counter-clockwise", "C": "not spinning", "D": "there are no fans in the video"}
CNT = {"A": "2", "B": "0", "C": "4", "D": "1"}
UPD = {"A": "up", "B": "down", "C": "left", "D": "right"}
FWD = {"A": "backwards", "B": "forwards", "C": "not moving", "D": "both ways"}
SIDE = {"A": "to the left", "B": "to the right", "C": "not moving", "D": "away from the camera"}
SYN = {"A": "left", "B": "no robot there", "C": "not moving", "D": "right"}

REASONING = ("The clip shows a red car on a city street. In the first frames it is near the middle of the image; "
             "by the last frames it has reached the left edge, while the buildings stay where they are, so the "
             "camera is not panning.")


def read(text, options):
    return extract_choice(text, options).value


# ----------------------------------------------------------------------------- several statements: the last counts

@pytest.mark.parametrize("text,options,expected", [
    (f"{REASONING} At first glance the final answer is: C. However, the last frames show the car at the left "
     "edge.\nTherefore, the final answer is: B", DIR, "B"),
    ("Final answer: A\n\nWait, let me reconsider. The blades at the top trail to the left, so seen from the "
     "camera they turn the other way round.\n\nFinal answer: B", ROT, "B"),
    ("The correct answer is C, because the car seems to drift right. Actually no: its size grows frame after "
     "frame. Therefore, the final answer is: D (towards the camera).", DIR, "D"),
    ("I have to end with 'Therefore, the final answer is: $LETTER'. The robot rolls across to the left side of "
     "the table.\nTherefore, the final answer is: A", SYN, "A"),
    ("The final answer is not obvious: maybe A. After watching again, the final answer is: C.", DIR, "C"),
    (f"{REASONING}\nTherefore, the final answer is: B.\n\nTherefore, the final answer is: B", DIR, "B"),
    ("<answer>A</answer> Hmm, the blades actually go the other way. <answer>B</answer>", ROT, "B"),
])
def test_the_last_statement_counts(text, options, expected):
    ex = extract_choice(text, options)
    assert ex.value == expected
    assert ex.rule in ("final_answer", "answer_tag")


# ----------------------------------------------------------------------------- two options, or a refusal: unparsed

@pytest.mark.parametrize("text,options", [
    ("Option B (left) fits the first half of the clip and option C (right) the second half.\n"
     "Therefore, the final answer is: B or C", DIR),
    (f"{REASONING}\nTherefore, the final answer is: B/C", DIR),
    ("The dancer turns one way and then the other.\nTherefore, the final answer is: either clockwise or "
     "counter-clockwise.", ROT),
    ("The arm goes up and comes back down.\nTherefore, the final answer is: A and B", UPD),
    ("At first the answer is C, but the video is far too dark to see anything.\nTherefore, the final answer is: N/A", DIR),
    ("The frames are blurry.\nTherefore, the final answer is: Not applicable, as the car is never visible.", DIR),
    ("Option C looks plausible, but the camera also moves.\nTherefore, the final answer is: cannot be determined "
     "from the given frames.", DIR),
    ("The clip is too short to see a full rotation, so I would need more information.\n"
     "Therefore, the final answer is: need more information", ROT),
    ("Option A: the fan turns clockwise. Option B: the fan turns counter-clockwise. Option C seems unlikely.\n"
     "Therefore, the final answer is: $LETTER", ROT),
    ("Therefore, the final answer is: \\$LETTER", ROT),
    ("None of them matches what I see. Therefore, the final answer is: None of the options.", UPD),
    ("It is hard to say; both fit.\n<answer>B or C</answer>", DIR),
    ("Answer: B or C", DIR),
    ("The final answer is: left or right, depending on the viewpoint.", DIR),
    ("I think the correct answer is C. Therefore, the final answer is: cannot be determined", DIR),
])
def test_two_options_or_a_refusal_is_unparsed_and_nothing_weaker_guesses(text, options):
    ex = extract_choice(text, options)
    assert ex.value is None, ex
    assert ex.rule == "unparsed"


@pytest.mark.parametrize("text,options,expected", [
    ("Therefore, the final answer is: B, not C.", DIR, "B"),
    ("Therefore, the final answer is: left (not right).", DIR, "B"),
    ("Therefore, the final answer is: $LETTER = C", DIR, "C"),
    ("Therefore, the final answer is: C. It cannot be determined with full certainty, but the motion is clear.", DIR, "C"),
    ("The final answer is: not moving", DIR, "A"),  # an option that starts like a refusal word is an option
])
def test_one_option_with_other_words_is_still_read(text, options, expected):
    assert read(text, options) == expected


# ----------------------------------------------------------------------------- the answer in words

@pytest.mark.parametrize("text,options,expected", [
    ("The player bounces the ball four times before passing.\nTherefore, the final answer is: four", CNT, "C"),
    ("Counting the bounces: one, two, three, four.\nTherefore, the final answer is: four times.", CNT, "C"),
    ("No wheel is turning.\nTherefore, the final answer is: zero", CNT, "B"),
    ("The batter hits it only once.\nTherefore, the final answer is: once", CNT, "D"),
    ("Therefore, the final answer is: twice", CNT, "A"),
    ("Therefore, the final answer is: Two.", CNT, "A"),
    ("The blades sweep from right to left at the top.\nTherefore, the final answer is: counterclockwise", ROT, "B"),
    ("Therefore, the final answer is: anti-clockwise.", ROT, "B"),
    ("Therefore, the final answer is: Counter clockwise", ROT, "B"),
    ("Therefore, the final answer is: anticlockwise", ROT, "B"),
    ("Therefore, the final answer is: spinning clockwise", ROT, "A"),
    ("Therefore, the final answer is: upwards", UPD, "A"),
    ("Therefore, the final answer is: moving downward.", UPD, "B"),
    ("Therefore, the final answer is: to the right", UPD, "D"),
    ("Therefore, the final answer is: moving right", UPD, "D"),
    ("Therefore, the final answer is: rightwards", UPD, "D"),
    ("Therefore, the final answer is: forward", FWD, "B"),
    ("Therefore, the final answer is: Moving backward.", FWD, "A"),
    ("Therefore, the final answer is: coming toward the camera", DIR, "D"),
    ("Therefore, the final answer is: right", SIDE, "B"),
    ("Therefore, the final answer is: It moves left.", SIDE, "A"),
    ("Therefore, the final answer is: there is no robot there", SYN, "B"),
    ("Therefore, the final answer is: no robot there", SYN, "B"),
])
def test_answer_in_words_matches_one_option_by_meaning(text, options, expected):
    assert read(text, options) == expected


TIMES = {"A": "4 times", "B": "3 times", "C": "2 times", "D": "0 times"}
HANDS = {"A": "2 with the right hand", "B": "2 with the left hand", "C": "1 with the left hand", "D": "0 times"}


@pytest.mark.parametrize("text,options,expected", [
    ("He dribbles three times in all.\nTherefore, the final answer is: 3", TIMES, "B"),
    ("Therefore, the final answer is: three.", TIMES, "B"),
    ("Therefore, the final answer is: 5", TIMES, None),         # no such option
    ("Therefore, the final answer is: 2", HANDS, None),         # two options start with 2
    ("Therefore, the final answer is: 1", HANDS, "C"),
    ("Three", TIMES, "B"),
    ("Therefore, the final answer is: going farther away", {"A": "coming closer", "B": "going further away",
                                                           "C": "not moving", "D": "left"}, "B"),
])
def test_a_bare_count_names_the_option_it_starts(text, options, expected):
    assert read(text, options) == expected


@pytest.mark.parametrize("text,options,expected", [
    ("Counterclockwise.", ROT, "B"),
    ("Four", CNT, "C"),
    ("upwards", UPD, "A"),
    ("Moving forward", FWD, "B"),
    ("It moves to the right.", UPD, "D"),
])
def test_direct_answers_in_words(text, options, expected):
    assert read(text, options) == expected


@pytest.mark.parametrize("text,expected", [
    ("C seems right, because A is wrong.", "C"),
    ("B is the answer.", "B"),
    ("A car drives to the right.", "C"),           # an article, then the option's text
    ("A seems wrong and B is impossible, so I pick D.", "D"),
    ("A", "A"), ("A.", "A"), ("A: not moving", "A"), ("A not moving", "A"),
])
def test_direct_output_opening_letters(text, expected):
    assert read(text, DIR) == expected


def test_number_words_are_not_read_in_long_reasoning():
    # "one" here is a pronoun; only the statement's number counts
    text = ("One of the two players dribbles; the one on the left keeps the ball. I count the dribbles carefully "
            "over the whole clip and there are 4 of them.\nTherefore, the final answer is: 4")
    assert read(text, CNT) == "C"
    text = "One of the players on the left keeps the ball the whole time and another one waits near the basket."
    assert read(text, CNT) is None


# ----------------------------------------------------------------------------- a walk through the options is no answer

WALK_LINES = ("Let's go through the options.\nA: not moving - the car clearly moves.\nB: left - the car heads for the "
              "left edge.\nC: right - nothing supports this.\nD: towards the camera - its size stays the same.")


@pytest.mark.parametrize("text,options", [
    (WALK_LINES + "\nThe car moves to the left.", DIR),
    ("Option A says the fan spins clockwise, but the blades go the other way. Option B says counter-clockwise. "
     "Option C (not spinning) is wrong, and option D is irrelevant since there is a fan.", ROT),
    ("A. Up: the hand does not rise.\nB. Down: it is lowered slowly.\nC. Left: no sideways motion.\n"
     "D. Right: no sideways motion either.", UPD),
    ("- **Option A (up):** unlikely\n- **Option B (down):** possible\n- **Option C (left):** unlikely\n"
     "- **Option D (right):** unlikely", UPD),
])
def test_a_walk_through_the_options_is_not_an_answer(text, options):
    ex = extract_choice(text, options)
    assert ex.value is None, ex


@pytest.mark.parametrize("text,options,expected,rule", [
    (WALK_LINES + "\nSo I choose B.", DIR, "B", "last_letter"),
    (WALK_LINES + "\n\n**B: left**", DIR, "B", "last_line"),
    (WALK_LINES + "\nTherefore, the final answer is: B", DIR, "B", "final_answer"),
    ("A) up: no. B) down: yes, the hand is lowered. C) left: no. D) right: no.\nThe correct option is B.", UPD, "B",
     "final_answer"),
    ("Option A says up, option B says down, option C left and option D right. The hand sinks, so option B is "
     "correct.", UPD, "B", "final_answer"),
    ("Option C is the correct answer: the car leaves the frame on the right.", DIR, "C", "final_answer"),
    ("Looking at the options, C: right fits best.", DIR, "C", "option_text"),
    ("Option C", DIR, "C", "last_line"),
])
def test_an_answer_after_a_walk_is_read(text, options, expected, rule):
    ex = extract_choice(text, options)
    assert (ex.value, ex.rule) == (expected, rule)


# ----------------------------------------------------------------------------- formats of the final statement

@pytest.mark.parametrize("text,expected", [
    ("**Step 1:** find the car. **Step 2:** compare its positions.\n\n**Final Answer:** C", "C"),
    ("### Final Answer\n**B**", "B"),
    ("Therefore, the final answer is:\n\n**D: towards the camera**", "D"),
    ("Therefore, the final answer is: $\\boxed{C}$", "C"),
    ("Therefore, the final answer is: (B) left.", "B"),
    ("**Therefore, the final answer is: A**", "A"),
    ("Therefore, the final answer is: A", "A"),
    ("therefore, the final answer is: c", "C"),
    ("The correct option is B.", "B"),
    ("Therefore, the final answer is: A car moving left, so B.", "B"),
    ("Thus the answer would be D.", "D"),
    ("My answer: right", "C"),
])
def test_final_statement_formats(text, expected):
    assert read(text, DIR) == expected


def test_yes_no_chain_of_thought():
    yn = {"yes": "yes", "no": "no"}
    assert extract_choice("The riders keep pedalling.\nTherefore, the final answer is: yes.", yn, letters=False).value == "yes"
    assert extract_choice("Hard to tell.\nTherefore, the final answer is: yes or no", yn, letters=False).value is None
    assert extract_choice("No. The bike coasts.", yn, letters=False).value == "no"


def test_through_extract_on_an_item():
    item = BenchItem(id="real_mc/validation_3", benchmark="vlm4d", task="counting",
                     question="How many times does the batter hit the ball to the left?", answer="D",
                     options={"A": "2", "B": "0", "C": "4", "D": "1"})
    ex = extract("He swings twice but connects only once.\nTherefore, the final answer is: once.", item)
    assert (ex.value, ex.rule) == ("D", "final_answer")
