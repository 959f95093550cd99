"""VLM4D (Zhou et al.): multiple-choice questions on real and synthetic videos.

Annotations: `real_mc.json` and/or `synthetic_mc.json` (a directory holding them, or one file).
Each record: `id`, `video` (URL on the authors' dataset host), `question_type`, `question`,
`choices` {"A".."D": text or integer}, `answer` = the correct choice's TEXT (may be an integer).

- ids restart in each file, so an item's id is `<file stem>/<id>` ("real_mc/validation_1").
  Predictions may also use the id as written in the file ("validation_1", as the authors' tools
  write them; `id_aliases`) when one file is scored; with both files such an id does not say
  which file it belongs to and is reported as ambiguous (write the file prefix).
- media: the video path after `resolve/main/` in the URL ("videos_real/davis/x.mp4"), relative
  to `--media-root` (the layout of the authors' dataset repository).
- split: real (real_mc) or synthetic (synthetic_mc), read from the file name.
- view (real only), the authors' rule (their statistics script): exo-centric when the number at
  the end of the id is at most 922, ego-centric above. In the published real_mc.json that is
  exactly DAVIS + YouTube-VOS (922) versus Ego4D (449).
- synthetic false-positive, the authors' rule: the answer text, stripped and lower-cased, is "no"
  or starts with "no " ("no griffin there"); the other synthetic questions are "synthetic
  directional".
- task: qa4d's keyword heuristic (false-positive / counting / rotational / translational); the
  files carry no category labels, so this is not the paper's manual categorisation.
- A few records repeat a choice text (real_mc validation_633: C and D both "away from the
  camera"); the answer letter is the first match and scoring accepts any option with the same text.
"""

from __future__ import annotations

import json
import mmap
import re
from pathlib import Path


from qa4d.bench.benchmarks.base import (
    AnswerForm,
    Benchmark,
    BenchmarkFormatError,
    check_mode,
    check_unique_ids,
    format_options,
    letter_of,
    letter_options,
    read_json,
    require,
)
from qa4d.bench.registry import register_benchmark
from qa4d.bench.types import BenchItem

_DATA = json.loads((Path(__file__).with_name("vlm4d.json")).read_text(encoding="utf-8"))
FILES = ("real_mc.json", "synthetic_mc.json")


def _media_from_url(url: str) -> str:
    marker = "resolve/main/"
    return url.split(marker, 1)[1] if marker in url else url.split("://", 1)[-1].split("/", 1)[-1]


_FP_ANSWER = re.compile(_DATA["false_positive_answer_regex"])
_COUNTING = re.compile(_DATA["counting_question_regex"])
_ROTATIONAL = re.compile(_DATA["rotational_regex"])
# the same words without their \b: matches wherever the real pattern does (and a little more), but
# the regex engine can skip ahead to its first letters, so most questions are ruled out fast
_ROTATIONAL_LOOSE = re.compile(_DATA["rotational_regex"].replace("\\b", ""))
# when those words are plain text, substring tests rule questions out faster still
_LOOSE_WORDS = _DATA["rotational_regex"].replace("\\b", "").split("|")
if any(re.escape(w) != w for w in _LOOSE_WORDS):
    _LOOSE_WORDS = None


def _may_rotate(blob: str) -> bool:
    """Whether `_ROTATIONAL_LOOSE` finds something in `blob` (the words as substrings if plain)."""
    if _LOOSE_WORDS is None:
        return _ROTATIONAL_LOOSE.search(blob) is not None
    for w in _LOOSE_WORDS:
        if w in blob:
            return True
    return False


def _task(question: str, options: dict[str, str], answer_text: str) -> str:
    if _FP_ANSWER.match(answer_text.strip().lower()):
        return "false-positive"
    if _COUNTING.match(question.strip().lower()):
        return "counting"
    blob = (question + " " + " ".join(options.values())).lower()
    if _may_rotate(blob) and _ROTATIONAL.search(blob):
        return "rotational"
    return "translational"


def _fields(rec, path: Path, index: int) -> tuple:
    """(id, question, video, choices, answer) of a record, checked; a record of the published
    shape takes the short path, anything else gets `require`'s precise error."""
    if type(rec) is dict:
        f = (rec.get("id"), rec.get("question"), rec.get("video"), rec.get("choices"), rec.get("answer"))
        if (type(f[0]) in (str, int) and type(f[1]) is str and type(f[2]) is str and type(f[3]) is dict
                and type(f[4]) in (str, int, float)):
            return f
    return (require(rec, "id", path, index, (str, int)), require(rec, "question", path, index, str),
            require(rec, "video", path, index, str), require(rec, "choices", path, index, dict),
            require(rec, "answer", path, index, (str, int, float)))


_ID_TYPES = (str, int)
_ANSWER_TYPES = (str, int, float)
_PUBLISHED_KEYS = frozenset(letters for n in range(2, 27) for letters in [tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:n])])


def _published_choices(choices: dict) -> bool:
    """True for choices of the published shape, "A", "B", ... in order with text values: they are
    the item's options as they are (`_options` would copy them unchanged)."""
    if tuple(choices) not in _PUBLISHED_KEYS:
        return False
    for v in choices.values():
        if type(v) is not str:
            return False
    return True


def _options(choices: dict, path: Path, index: int) -> dict[str, str]:
    """`letter_options` of a choices object; the published "A".."D" with text values directly."""
    out = {}
    for k, v in choices.items():
        if type(k) is not str or len(k) != 1 or not ("A" <= k <= "Z"):
            return letter_options(choices, path, index, "choices")
        out[k] = v if type(v) is str else str(v)
    return out if len(out) >= 2 else letter_options(choices, path, index, "choices")


def _letter(answer_text: str, options: dict[str, str], path: Path, index: int) -> str:
    """`letter_of`: the first option whose text equals the answer (stripped, case-insensitive)."""
    want = None
    for k, v in options.items():
        if v == answer_text:
            return k
        if want is None:
            want = answer_text.strip().lower()
        if v.strip().lower() == want:
            return k
    return letter_of(answer_text, options, path, index, "answer")  # raises, naming the record


def _id_number(rid, path: Path, index: int) -> int:
    """The number at the end of an id ("validation_923" -> 923): the authors split ego/exo by it."""
    tail = str(rid).rsplit("_", 1)[-1]
    if tail.isdigit() and tail.isascii():
        return int(tail)
    m = _ID_NUMBER.search(str(rid))
    if m is None:
        raise BenchmarkFormatError(path, index, "id", f"{rid!r} does not end in a number (the ego/exo split is by id)")
    return int(m.group(1))


_ID_NUMBER = re.compile(r"(\d+)\s*$")


def is_false_positive_answer(answer_text: str) -> bool:
    """The authors' synthetic false-positive rule: the answer is "no" or starts with "no "."""
    a = answer_text.strip().lower()
    return a == "no" or a.startswith("no ")


def _read_records(path: Path):
    """The parsed annotation file, as `read_json` gives it, read through a memory map: the file's
    bytes are decoded straight from the page cache instead of being copied into a buffer first
    (7,000 fewer page faults for a 29 MB file). Anything unusual (an empty or unreadable file, bad
    UTF-8, invalid JSON) is left to `read_json`, which gives its result or its error."""
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            text = str(m, "utf-8")
        # a text-mode read turns "\r\n" into "\n": the same document unless a string held a raw
        # carriage return, which json refuses anyway (and read_json then reports)
        return json.loads(text)
    except (OSError, ValueError):  # ValueError: an empty file, UnicodeDecodeError, JSONDecodeError
        return read_json(path)


@register_benchmark("vlm4d")
class VLM4D(Benchmark):
    default_frames = int(_DATA["default_frames"])
    media_kind = "video"

    def load(self, annotations: Path, media_root: Path | None = None) -> list[BenchItem]:
        annotations = Path(annotations)
        if not annotations.exists():
            raise BenchmarkFormatError(annotations, None, None, "file not found")
        if annotations.is_dir():
            files = [annotations / f for f in FILES if (annotations / f).exists()]
            if not files:
                raise BenchmarkFormatError(annotations, None, None, f"holds none of {', '.join(FILES)}")
        else:
            files = [annotations]
        items: list[BenchItem] = []
        for path in files:
            items.extend(self._load_file(path))
        check_unique_ids(items, annotations)
        return items

    def _load_file(self, path: Path) -> list[BenchItem]:
        stem = path.stem
        if "synthetic" in stem:
            split = "synthetic"
        elif "real" in stem:
            split = "real"
        else:
            raise BenchmarkFormatError(path, None, None, "file name must contain 'real' or 'synthetic' (real_mc.json / synthetic_mc.json)")
        data = _read_records(path)  # json: as fast as orjson here, with a third less peak memory
        if not isinstance(data, list):
            raise BenchmarkFormatError(path, None, None, f"expected a JSON list of questions, got {type(data).__name__}")
        items = []
        append = items.append
        exo_max = int(_DATA["exo_max_id"])
        fp_match, counting_match = _FP_ANSWER.match, _COUNTING.match
        rotational_search = _ROTATIONAL.search
        # a file's groups: two, one dict each, shared by its items
        exo, ego = {"split": split, "view": "exo-centric"}, {"split": split, "view": "ego-centric"}
        fp_groups = {"split": split, "synthetic_type": "synthetic false-positive"}
        directional = {"split": split, "synthetic_type": "synthetic directional"}
        question_types: dict[str, str] = {}  # one string per distinct question_type ("multiple-choice")
        name = path.name
        seen: dict[tuple, tuple] = {}  # (question, answer, choices' keys and texts) -> what they give
        media_of: dict[str, tuple[str, str]] = {}  # video URL -> (its media path, the URL: one string)
        shared_options: dict[tuple, dict] = {}  # choices' keys and texts -> the first such dict
        for i, rec in enumerate(data):
            data[i] = None  # the parsed record is not needed once its item is built
            # the published shape, checked field by field; anything else gets the helpers' precise errors
            ok = False
            if type(rec) is dict:
                try:
                    rid, question, video, choices, answer = (rec["id"], rec["question"], rec["video"],
                                                             rec["choices"], rec["answer"])
                except KeyError:  # a field is missing: `_fields` names it
                    pass
                else:
                    ok = (type(rid) in _ID_TYPES and type(question) is str and type(video) is str
                          and type(choices) is dict and type(answer) in _ANSWER_TYPES)
            if not ok:
                rid, question, video, choices, answer = _fields(rec, path, i)
            # a question whose question, answer and choices an earlier record had: that record's
            # options (one shared dict), letter, answer text, task and false-positive reading. A
            # text answer is kept with text choices only (the published shape); a number answer
            # (the counting questions) with the types of the answer and the choices, as 3, 3.0 and
            # True are equal keys but read differently
            if type(answer) is str:
                key = (question, answer, *choices, *choices.values())
            else:
                key = (question, type(answer), answer, *choices, *map(type, choices.values()), *choices.values())
            try:
                known = seen.get(key) if key is not None else None
            except TypeError:  # a choice that is a list or an object: the checks below report it
                key = known = None
            if known is not None:
                question, options, letter, answer_text, task, fp = known  # the same question text, one string
            else:
                published = _published_choices(choices)
                options = choices if published else _options(choices, path, i)
                # one dict per distinct option set (its keys and texts): the scorer compiles each once
                options = shared_options.setdefault((*options, *options.values()), options)
                answer_text = answer if type(answer) is str else str(answer)
                letter = _letter(answer_text, options, path, i)
                if options[letter] == answer_text:
                    answer_text = options[letter]  # the same text: one string for both
                low_answer = answer_text.strip().lower()
                if fp_match(low_answer):
                    task = "false-positive"
                elif counting_match(question.strip().lower()):
                    task = "counting"
                else:
                    blob = (question + " " + " ".join(options.values())).lower()
                    task = "rotational" if _may_rotate(blob) and rotational_search(blob) else "translational"
                fp = low_answer == "no" or low_answer.startswith("no ")  # is_false_positive_answer
                if key is not None and (published or type(answer) is not str):
                    if len(seen) >= 65536:
                        seen.clear()
                        shared_options.clear()
                    seen[key] = (question, options, letter, answer_text, task, fp)
            if split == "real":
                tail = rid[rid.rfind("_") + 1:] if type(rid) is str else ""  # _id_number's common case
                number = int(tail) if tail.isdigit() and tail.isascii() else _id_number(rid, path, i)
                groups = exo if number <= exo_max else ego
            else:
                groups = fp_groups if fp else directional
            known_video = media_of.get(video)  # a video is asked about by several questions
            if known_video is None:
                if len(media_of) >= 65536:
                    media_of.clear()
                known_video = media_of[video] = (_media_from_url(video), video)
            media, video = known_video
            # positional: id, benchmark, task, question, answer, answer_format, options, category,
            # media, media_kind, prefix_images, groups, meta
            append(BenchItem(
                f"{stem}/{rid}", "vlm4d", task, question, letter, "mc", options,
                split, [media], "video", [], groups,
                {"source_id": str(rid), "file": name, "answer_text": answer_text,
                 "question_type": question_types.setdefault(qtype, qtype) if type(qtype := rec.get("question_type")) is str
                 else qtype, "video_url": video},
            ))
        return items

    def answer_form(self, item: BenchItem, mode: str = "do") -> AnswerForm:
        """The authors' instruction: the letter alone (direct output) or reasoning ending in
        "Therefore, the final answer is: $LETTER" (chain of thought)."""
        check_mode(mode)
        place, text = _DATA["instructions"][mode]
        return AnswerForm("mc", mode, place, text.format(letters=" or ".join(item.options or {})))

    def id_aliases(self, items: list[BenchItem]) -> dict[str, list[str]]:
        """The ids as written in the annotation file ("validation_1") -> the item they name, when
        one file is loaded. With both files an id without its file prefix does not say which file
        it belongs to: it maps to its prefixed form in each file (ambiguous, reported)."""
        stems: list[str] = []
        for it in items:
            stem = it.id.rsplit("/", 1)[0]
            if stem not in stems:
                stems.append(stem)
        out: dict[str, list[str]] = {}
        for it in items:
            sid = str(it.meta["source_id"])
            if len(stems) == 1:
                out.setdefault(sid, []).append(it.id)
            else:
                out[sid] = [f"{stem}/{sid}" for stem in stems]
        return out

    def build_prompt(self, item: BenchItem, mode: str = "do", frames: int | None = None) -> str:
        check_mode(mode)
        return _DATA["prompt"].format(
            question=item.question,
            options=format_options(item.options or {}, _DATA["option_style"]),
            instruction=self.answer_form(item, mode).instruction,
        )
