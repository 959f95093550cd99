"""Benchmark loaders: real VLM4D files, small files of the other formats built here, bad input."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from qa4d.bench.benchmarks.base import BenchmarkFormatError
from qa4d.bench.registry import get_benchmark
from tests.bench.scoring_fixtures import (
    R4D_RECORDS,
    STI_ROWS,
    VLM4D_DIR,
    VSTI_RECORDS,
    needs_full_vlm4d,
    make_multispa,
    make_qa4d_split,
    make_sti_parquet,
    write_jsonl,
)


def bench(name):
    return get_benchmark(name)()


def test_registry_has_all_six():
    for name in ("qa4d", "vlm4d", "sti-bench", "multispa", "r4d-bench", "vsti-bench"):
        assert get_benchmark(name).name == name
    with pytest.raises(KeyError, match="known: .*vlm4d"):
        get_benchmark("nope")


# ----------------------------------------------------------------------------- VLM4D

@pytest.fixture(scope="module")
def vlm4d():
    return bench("vlm4d").load(VLM4D_DIR)


def _groups(items):
    b = bench("vlm4d")
    g = Counter()
    for it in items:
        for v in b.groupings(it).values():
            g[v] += 1
    return g


@needs_full_vlm4d
def test_vlm4d_published_counts(vlm4d):
    g = _groups(vlm4d)
    assert (g["real"], g["synthetic"]) == (1371, 445)
    assert (g["ego-centric"], g["exo-centric"]) == (449, 922)
    assert (g["synthetic false-positive"], g["synthetic directional"]) == (45, 400)
    assert len({it.id for it in vlm4d}) == 1816  # ids made unique across the two files


def test_vlm4d_groupings_follow_the_authors_rules(vlm4d):
    # the authors' statistics script: real exo-centric when the id's number is <= 922, ego-centric
    # above; synthetic false-positive when the answer is "no" or starts with "no "
    real = json.loads((VLM4D_DIR / "real_mc.json").read_text())
    syn = json.loads((VLM4D_DIR / "synthetic_mc.json").read_text())
    exo = sum(int(r["id"].split("_")[-1]) <= 922 for r in real)
    fp = sum(str(r["answer"]).strip().lower() == "no" or str(r["answer"]).strip().lower().startswith("no ") for r in syn)
    g = _groups(vlm4d)
    assert (g["real"], g["synthetic"]) == (len(real), len(syn))
    assert (g["exo-centric"], g["ego-centric"]) == (exo, len(real) - exo)
    assert (g["synthetic false-positive"], g["synthetic directional"]) == (fp, len(syn) - fp)
    assert 0 < exo < len(real) and 0 < fp < len(syn)  # both sides present (the fixture covers them)
    assert len({it.id for it in vlm4d}) == len(real) + len(syn)


def test_vlm4d_ego_is_the_ego4d_id_range(vlm4d):
    # by id, as the authors split; in the published real_mc.json that is exactly the Ego4D clips
    for it in vlm4d:
        if it.groups["split"] != "real":
            continue
        n = int(re.search(r"(\d+)$", it.id).group(1))
        assert (it.groups["view"] == "ego-centric") == (n >= 923), it.id
        assert ("/ego4d/" in it.media[0]) == (n >= 923), it.id


def test_vlm4d_split_rules_are_by_id_and_answer_text_not_by_source(tmp_path):
    recs = json.loads((VLM4D_DIR / "real_mc.json").read_text())[:2]
    ego_clip = "https://huggingface.co/datasets/shijiezhou/VLM4D/resolve/main/videos_real/ego4d/clip_1.mp4"
    recs[0] = dict(recs[0], id="validation_922", video=ego_clip)      # an Ego4D path, exo by id
    recs[1] = dict(recs[1], id="validation_923")                       # a DAVIS path, ego by id
    (tmp_path / "real_mc.json").write_text(json.dumps(recs))
    items = bench("vlm4d").load(tmp_path / "real_mc.json")
    assert [it.groups["view"] for it in items] == ["exo-centric", "ego-centric"]
    base = json.loads((VLM4D_DIR / "synthetic_mc.json").read_text())[0]
    answers = ["no", "No robot there", "not moving", "nothing there", "no"]
    syn = []
    for i, a in enumerate(answers):
        choices = {"A": a, "B": "left", "C": "right", "D": "up" if a != "no" else "yes"}
        syn.append(dict(base, id=f"validation_{i + 1}", choices=choices, answer=a))
    (tmp_path / "synthetic_mc.json").write_text(json.dumps(syn))
    items = bench("vlm4d").load(tmp_path / "synthetic_mc.json")
    assert [it.groups["synthetic_type"] == "synthetic false-positive" for it in items] == [True, True, False, False, True]
    bad = [dict(recs[0], id="question-one")]
    (tmp_path / "x" / "real_mc.json").parent.mkdir()
    (tmp_path / "x" / "real_mc.json").write_text(json.dumps(bad))
    with pytest.raises(BenchmarkFormatError, match=r"record 0, field 'id': 'question-one' does not end in a number"):
        bench("vlm4d").load(tmp_path / "x" / "real_mc.json")


def test_vlm4d_answers_are_letters_even_for_integer_answers(vlm4d):
    raw = {f"real_mc/{r['id']}": r for r in json.loads((VLM4D_DIR / "real_mc.json").read_text())}
    ints = [it for it in vlm4d if it.id in raw and isinstance(raw[it.id]["answer"], int)]
    assert len(ints) == sum(isinstance(r["answer"], int) for r in raw.values()) > 0
    for it in ints:
        assert it.answer in "ABCD"
        assert it.options[it.answer] == str(raw[it.id]["answer"])
    item = next(it for it in vlm4d if it.id == "real_mc/validation_1")
    assert item.media == ["videos_real/davis/aerobatics.mp4"]
    assert item.answer == "B" and item.options["B"] == "there are no buses in the video"


def test_vlm4d_prompts_follow_the_protocol(vlm4d):
    b = bench("vlm4d")
    it = vlm4d[0]
    do = b.build_prompt(it, "do")
    cot = b.build_prompt(it, "cot")
    assert do.startswith(f"Question: {it.question}\nA: not moving\nB: there are no buses in the video")
    assert "Answer directly with the option letter" in do and "step by step" not in do
    assert "'Therefore, the final answer is: $LETTER'" in cot and "(A or B or C or D)" in cot
    with pytest.raises(ValueError, match="mode"):
        b.build_prompt(it, "fast")


def test_vlm4d_bad_input_names_file_record_field(tmp_path):
    recs = json.loads((VLM4D_DIR / "synthetic_mc.json").read_text())[:3]
    recs[2]["answer"] = "sideways"
    p = tmp_path / "synthetic_mc.json"
    p.write_text(json.dumps(recs))
    with pytest.raises(BenchmarkFormatError, match=r"synthetic_mc\.json, record 2, field 'answer': answer 'sideways' is not one"):
        bench("vlm4d").load(p)
    del recs[2]["answer"]
    recs[1].pop("choices")
    p.write_text(json.dumps(recs))
    with pytest.raises(BenchmarkFormatError, match=r"record 1, field 'choices': missing"):
        bench("vlm4d").load(p)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "real_mc.json").write_text("[{")
    with pytest.raises(BenchmarkFormatError, match="not valid JSON"):
        bench("vlm4d").load(tmp_path / "broken")


def test_check_media_reports_missing_files(tmp_path, vlm4d):
    b = bench("vlm4d")
    items = vlm4d[:3]  # two questions share aerobatics.mp4
    (tmp_path / "videos_real" / "davis").mkdir(parents=True)
    (tmp_path / "videos_real" / "davis" / "aerobatics.mp4").write_bytes(b"x")
    missing = b.check_media(items, tmp_path)
    expected = sorted({m for it in items for m in it.media} - {"videos_real/davis/aerobatics.mp4"})
    assert missing == [str(tmp_path / m) for m in expected]
    assert len(b.check_media(vlm4d, tmp_path)) == len({m for it in vlm4d for m in it.media}) - 1


# ----------------------------------------------------------------------------- STI-Bench

@pytest.mark.parametrize("as_json", [False, True])
def test_sti_bench_parquet(tmp_path, as_json):
    p = make_sti_parquet(tmp_path / "qa.parquet", candidates_as_json=as_json)
    b = bench("sti-bench")
    items = b.load(tmp_path)  # the directory holding qa.parquet
    assert [it.id for it in items] == ["sti_0", "sti_1", "sti_2", "sti_3"]
    assert items[1].options["C"] == "9 m/s" and items[1].answer == "C" and len(items[1].options) == 5
    assert Counter(b.groupings(it)["scene_type"] for it in items) == {"Waymo": 2, "ScanNet": 1, "Desktop": 1}
    assert items[2].task == "Dimension Measurement"
    prompt = b.build_prompt(items[1], "do", frames=8)
    assert "4.00 frames per second" in prompt and "1.00 s and 3.00 s" in prompt
    assert "E. 20 m/s" in prompt
    assert p.exists()


def test_sti_bench_bad_rows(tmp_path):
    rows = [list(r) for r in STI_ROWS]
    rows[3][6] = "F"
    make_sti_parquet(tmp_path / "qa.parquet", rows=[tuple(r) for r in rows])
    with pytest.raises(BenchmarkFormatError, match=r"qa\.parquet, record 3, field 'Answer'"):
        bench("sti-bench").load(tmp_path / "qa.parquet")
    rows[3][6] = "A"
    rows[0][3] = 0.0  # window ends where it starts
    make_sti_parquet(tmp_path / "qa.parquet", rows=[tuple(r) for r in rows])
    with pytest.raises(BenchmarkFormatError, match=r"record 0, field 'time_end'"):
        bench("sti-bench").load(tmp_path / "qa.parquet")


# ----------------------------------------------------------------------------- MultiSPA

def test_multispa_formats_units_and_ids(tmp_path):
    items = bench("multispa").load(make_multispa(tmp_path / "ms"))
    by_task = {it.task: it for it in items}
    assert len(items) == 5 and len({it.id for it in items}) == 5
    vec = by_task["displacement_vector"]
    assert vec.answer_format == "vector" and vec.meta["unit"] == "m" and vec.meta["response_unit"] == "mm"
    assert vec.question.startswith("Image-1: <image>")  # from the human turn of `conversations`
    assert vec.category == "camera_movement"
    assert by_task["total_distance"].answer_format == "scalar" and by_task["total_distance"].meta["unit"] == "mm"
    assert by_task["yaw_angle"].meta["unit"] == "deg"
    assert by_task["x_movement"].answer_format == "free" and by_task["x_movement"].answer == "left"
    coord = by_task["visual_correspondence_coor_2_coor"]
    assert coord.answer_format == "coord" and coord.meta["image_size"] == [480.0, 640.0]
    assert "<image>" not in bench("multispa").build_prompt(vec)


def test_multispa_bad_gt(tmp_path):
    write_jsonl(tmp_path / "x.jsonl", [{"id": 1, "image": "a.jpg", "text": "q", "question_type": "t", "gt_value": [1, 2, 3, 4]}])
    with pytest.raises(BenchmarkFormatError, match=r"x\.jsonl, record line 1, field 'gt_value'"):
        bench("multispa").load(tmp_path / "x.jsonl")


# ----------------------------------------------------------------------------- R4D / VSTI

def test_r4d_bench(tmp_path):
    (tmp_path / "test.json").write_text(json.dumps(R4D_RECORDS))
    b = bench("r4d-bench")
    items = b.load(tmp_path)
    assert [it.answer for it in items] == ["B", "C", "C"]
    assert items[0].media == ["videos/a.mp4"] and items[0].meta["som_image"] == "som/a.png"
    assert [b.groupings(it)["split"] for it in items] == ["dynamic", "static", "dynamic"]
    assert b.groupings(items[1])["source_benchmark"] == "STI-Bench"
    assert b.check_media(items[:1], tmp_path) == [str(tmp_path / "som/a.png"), str(tmp_path / "videos/a.mp4")]


def test_vsti_bench(tmp_path):
    (tmp_path / "test.json").write_text(json.dumps(VSTI_RECORDS))
    items = bench("vsti-bench").load(tmp_path / "test.json")
    assert items[0].answer_format == "mc" and items[0].answer == "B" and items[0].options["B"] == "1.0 m"
    assert items[0].media == ["scannet/scene0001_00.mp4"]
    assert items[1].answer_format == "number" and float(items[1].answer) == 2.0
    bad = [dict(VSTI_RECORDS[0], mc_answer="Z")]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(BenchmarkFormatError, match=r"bad\.json, record 0, field 'mc_answer'"):
        bench("vsti-bench").load(tmp_path / "bad.json")


# ----------------------------------------------------------------------------- qa4d

def test_qa4d_split_dir_or_samples_file(tmp_path):
    split = make_qa4d_split(tmp_path)
    b = bench("qa4d")
    a = b.load(split)
    c = b.load(split / "samples.jsonl")
    assert [it.id for it in a] == [it.id for it in c]
    assert Counter(it.answer_format for it in a) == {"mc": 6, "yesno": 1, "free": 1, "track": 1}
    trk = next(it for it in a if it.answer_format == "track")
    assert trk.meta["image_size"] == [1.0, 1.0]  # normalised coordinates
    assert [p["frame"] for p in trk.meta["track"]] == [1, 2, 3]  # named by image position
    assert [p["scene_frame"] for p in trk.meta["track"]] == [0, 5, 10]
    assert b.check_media(a, None) == []  # media resolve against the dataset root
    (split.parent / "frames" / "s0_001.jpg").unlink()
    assert b.check_media(a, None) == [str(split.parent / "frames" / "s0_001.jpg")]
    prompt = b.build_prompt(a[0], "do")
    assert "0.00, 0.50, 1.00 seconds" in prompt and "A. left" in prompt


def test_qa4d_bad_sample(tmp_path):
    split = make_qa4d_split(tmp_path)
    lines = (split / "samples.jsonl").read_text().splitlines()
    rec = json.loads(lines[2])
    rec["answer"] = "Q"
    lines[2] = json.dumps(rec)
    (split / "samples.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(BenchmarkFormatError, match=r"samples\.jsonl, record line 3, field 'answer'"):
        bench("qa4d").load(split)


def _vlm4d_item_the_plain_way(rec, stem, index, path):
    """One VLM4D item from the base helpers and the published rules, written out here: the loader's
    short path for the published shape must give exactly this."""
    from qa4d.bench.benchmarks.base import letter_of, letter_options, require

    rid = require(rec, "id", path, index, (str, int))
    question = require(rec, "question", path, index, str)
    video = require(rec, "video", path, index, str)
    options = letter_options(require(rec, "choices", path, index, dict), path, index, "choices")
    answer_text = str(require(rec, "answer", path, index, (str, int, float)))
    a = answer_text.strip().lower()
    if re.match(r"^(?:no .+ there|there (?:is|are) no .+|no .+ in the video)$", a):
        task = "false-positive"
    elif re.match(r"^how many\b", question.strip().lower()):
        task = "counting"
    elif re.search(r"rotat|spin|clockwise|\bturn", (question + " " + " ".join(options.values())).lower()):
        task = "rotational"
    else:
        task = "translational"
    split = "real" if stem == "real_mc" else "synthetic"
    if split == "real":
        groups = {"split": split, "view": "exo-centric" if int(re.search(r"(\d+)\s*$", str(rid)).group(1)) <= 922
                  else "ego-centric"}
    else:
        groups = {"split": split, "synthetic_type": "synthetic false-positive" if a == "no" or a.startswith("no ")
                  else "synthetic directional"}
    return dict(id=f"{stem}/{rid}", task=task, question=question, answer=letter_of(answer_text, options, path, index,
                "answer"), options=options, category=split, media=[video.split("resolve/main/", 1)[1]], groups=groups,
                meta={"source_id": str(rid), "file": f"{stem}.json", "answer_text": answer_text,
                      "question_type": rec.get("question_type"), "video_url": video})


def test_vlm4d_short_path_gives_the_items_of_the_plain_rules(tmp_path):
    """Every published record (or the fixture's), and variants off the short path (integer ids and
    answers, choices out of order or with integer texts, a missing question_type)."""
    import dataclasses

    tasks = set()
    for stem in ("real_mc", "synthetic_mc"):
        recs = json.loads((VLM4D_DIR / f"{stem}.json").read_text())
        recs = recs + [dict(recs[0], id=99999, answer=recs[0]["choices"]["B"]),
                       dict(recs[1], choices={k: recs[1]["choices"][k] for k in "DCBA"}, id="validation_4000"),
                       dict(recs[2], choices={"A": 1, "B": 2, "C": 3, "D": 4}, answer=3, id="validation_5000"),
                       {k: v for k, v in recs[3].items() if k != "question_type"} | {"id": "validation_6000"}]
        p = tmp_path / f"{stem}.json"
        p.write_text(json.dumps(recs))
        items = bench("vlm4d").load(p)
        assert len(items) == len(recs)
        for i, (it, rec) in enumerate(zip(items, recs)):
            want = _vlm4d_item_the_plain_way(rec, stem, i, p)
            got = {k: v for k, v in dataclasses.asdict(it).items() if k in want}
            assert got == want, (stem, i)
        tasks |= {it.task for it in items}
    assert tasks == {"translational", "rotational", "counting", "false-positive"}


def test_vlm4d_repeated_questions_give_the_items_of_records_read_alone(tmp_path):
    """A file that repeats a question (same text, answer and choices) reads each repeat once and
    shares it; every item must still be the one its record gives in a file of its own, including
    near repeats (another answer case, an integer answer, choices in another order or with a
    number), and a repeat whose answer is not an option still fails, naming its record."""
    base = json.loads((VLM4D_DIR / "synthetic_mc.json").read_text())[0]
    choices = dict(base["choices"])
    first = next(iter(choices.values()))
    variants = [
        {},
        {"answer": f"  {first.upper()} "},
        {"choices": dict(reversed(list(choices.items())))},
        {"choices": {**choices, "A": 3}, "answer": 3},
        {"choices": {**choices, "A": 3}, "answer": "3"},
        {"question": base["question"] + " Answer briefly."},
        {},
        {"choices": {**choices, "A": 3.0}, "answer": 3.0},  # equal to 3 as a key, read as "3.0"
        {"choices": {**choices, "A": 3}, "answer": 3},
        {"choices": {**choices, "A": 3.0}, "answer": 3.0},
    ]
    recs = [dict(base, **v, id=f"validation_{i + 1}") for i, v in enumerate(variants)]
    p = tmp_path / "synthetic_mc.json"
    p.write_text(json.dumps(recs))
    together = bench("vlm4d").load(p)
    alone = []
    for r in recs:
        p.write_text(json.dumps([r]))
        alone += bench("vlm4d").load(p)
    assert together == alone
    assert together[0].options is together[6].options  # one shared dict for the exact repeat
    assert together[0].options == together[6].options == choices
    assert together[3].answer == together[4].answer and together[3].options["A"] == "3"
    assert together[7].options["A"] == together[9].options["A"] == "3.0" and together[8].options is together[3].options
    p.write_text(json.dumps(recs[:2] + [dict(base, id="validation_9", answer="sideways")]))
    with pytest.raises(BenchmarkFormatError, match=r"record 2, field 'answer': answer 'sideways' is not one"):
        bench("vlm4d").load(p)
    p.write_text(json.dumps(recs[:3] + [recs[1]]))
    with pytest.raises(BenchmarkFormatError, match=r"record 3, field 'id': duplicate id 'synthetic_mc/validation_2' \(first at record 1\)"):
        bench("vlm4d").load(p)


def test_vlm4d_mapped_reading_gives_what_read_json_gives(tmp_path):
    """The loader reads annotation files through a memory map; CRLF line ends, non-ASCII text,
    and every file json or UTF-8 refuses (empty, a byte-order mark, bad bytes, truncated, not a
    list) must give the items, or the error, that reading the file as text gives."""
    from qa4d.bench.benchmarks.base import read_json
    from qa4d.bench.benchmarks.vlm4d import _read_records

    recs = json.loads((VLM4D_DIR / "synthetic_mc.json").read_text())[:3]
    recs[1]["question"] = "Où va la voiture ‘rouge’ ? 車"
    p = tmp_path / "synthetic_mc.json"
    p.write_bytes(json.dumps(recs, indent=1, ensure_ascii=False).replace("\n", "\r\n").encode("utf-8"))
    assert _read_records(p) == read_json(p) == recs
    assert bench("vlm4d").load(p)[1].question == recs[1]["question"]
    bad = {b"": "not valid JSON", b"\xef\xbb\xbf[]": "not valid JSON", b"[{": "not valid JSON",
           b'[{"id": "\r"}]': "not valid JSON", b"{}": "expected a JSON list of questions, got dict"}
    for raw, message in bad.items():
        p.write_bytes(raw)
        with pytest.raises(BenchmarkFormatError, match=message) as got:
            bench("vlm4d").load(p)
        with pytest.raises(BenchmarkFormatError) as want:
            d = read_json(p)
            if not isinstance(d, list):
                raise BenchmarkFormatError(p, None, None, f"expected a JSON list of questions, got {type(d).__name__}")
        assert str(got.value) == str(want.value)
    p.write_bytes(b'["\xff"]')
    with pytest.raises(UnicodeDecodeError):
        read_json(p)
    with pytest.raises(UnicodeDecodeError):
        bench("vlm4d").load(p)
