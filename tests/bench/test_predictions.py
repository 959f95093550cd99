"""The one predictions.jsonl reader (qa4d.bench.predictions) and its duplicate rule, as `qa4d eval`
(resume and scoring) and `qa4d score` apply it to the same file."""

from __future__ import annotations

import json

from qa4d.bench.predictions import PredictionWriter, read_predictions_file, rewrite_predictions

from .tiny_bench import write_split


def write(path, *records_or_text):
    path.write_bytes(b"".join(r if isinstance(r, bytes) else (json.dumps(r) + "\n").encode() for r in records_or_text))
    return path


def test_the_last_answer_wins_and_every_replaced_answer_is_reported(tmp_path):
    p = write(tmp_path / "p.jsonl",
              {"id": "a", "response": "first"},           # 1
              {"id": "b", "response": None, "error": "timeout"},  # 2
              {"id": "a", "response": "second"},          # 3
              {"id": "b", "response": "late answer"},     # 4: a retry after an error: not a problem
              {"id": "c", "response": "kept"},            # 5
              {"id": "c", "response": None, "error": "x"},  # 6: an error never replaces an answer
              {"id": "d", "response": None, "error": "e1"},  # 7
              {"id": "d", "response": None, "error": "e2"},  # 8: the last error is the one kept
              {"id": 7, "response": "numeric id"})        # 9
    s = read_predictions_file(p)
    assert s.responses == {"a": "second", "b": "late answer", "c": "kept", "7": "numeric id"}
    assert s.errors == {"d": "e2"}
    assert len(s.problems) == 2
    assert s.problems[0].startswith(f"{p}:3: id 'a' answered again") and "line 1" in s.problems[0]
    assert s.problems[1].startswith(f"{p}:6: error line for id 'c' ignored: line 5 answered it")
    assert json.loads(s.lines["a"]) == {"id": "a", "response": "second"}


def test_bad_lines_are_named_and_the_rest_is_read(tmp_path):
    p = write(tmp_path / "p.jsonl", {"id": "a", "response": "x"}, b"\xff\xfe not utf-8\n", b"[1, 2]\n",
              {"id": None, "response": "y"}, {"id": "b"}, b"\n", {"id": "c", "response": "z"}, b'{"id": "d", "resp')
    s = read_predictions_file(p)
    assert s.responses == {"a": "x", "c": "z"}
    assert [q.split(": ", 1)[0] for q in s.problems] == [f"{p}:{n}" for n in (2, 3, 4, 5, 8)]
    assert "not valid UTF-8" in s.problems[0] and "truncated last line" in s.problems[-1]
    assert not s.unterminated and s.needs_rewrite


def test_rewrite_keeps_one_line_per_id_in_first_seen_order(tmp_path):
    p = write(tmp_path / "p.jsonl", {"id": "b", "response": "1"}, {"id": "a", "response": "2"},
              {"id": "b", "response": "3"}, b'{"id": "c", "response": "4"}')
    s = read_predictions_file(p)
    assert s.unterminated
    rewrite_predictions(p, s)
    assert [json.loads(x) for x in p.read_text().splitlines()] == [{"id": "b", "response": "3"},
                                                                  {"id": "a", "response": "2"},
                                                                  {"id": "c", "response": "4"}]
    again = read_predictions_file(p)
    assert not again.needs_rewrite and again.responses == s.responses


def test_writer_appends_whole_lines_the_reader_reads(tmp_path):
    w = PredictionWriter(tmp_path / "p.jsonl")
    w.append({"id": "a", "response": "é"})
    w.append({"id": "b", "response": None, "error": "boom"})
    w.close()
    s = read_predictions_file(tmp_path / "p.jsonl")
    assert s.responses == {"a": "é"} and s.errors == {"b": "boom"} and not s.needs_rewrite


def test_eval_and_score_read_a_file_with_duplicates_the_same_way(tmp_path, capsys):
    """The same predictions file with two answers for two items: `qa4d eval` resuming it (asks
    nothing for them, scores the last answers) and `qa4d score` give the same verdicts, those the
    rule says: the item whose last answer is right is right, the other wrong."""
    from qa4d.cli import main

    recs = write_split(tmp_path, "bench", 10, seed=3)
    mc = [r for r in recs if r["answer_format"] == "mc"]
    right, wrong = mc[0], mc[1]
    other = lambda r: next(k for k in r["options"] if k != r["answer"])  # noqa: E731
    run = tmp_path / "run"
    run.mkdir()
    lines = [{"id": right["id"], "response": f"Answer: {other(right)}"},
             {"id": wrong["id"], "response": f"Answer: {wrong['answer']}"},
             {"id": right["id"], "response": f"Answer: {right['answer']}"},
             {"id": wrong["id"], "response": f"Answer: {other(wrong)}"}]
    write(run / "predictions.jsonl", *lines)
    write(tmp_path / "pred.jsonl", *lines)

    assert main(["eval", "--benchmark", str(tmp_path / "bench"), "--model", "oracle", "--out", str(run)]) == 0
    assert main(["score", "--benchmark", "qa4d", "--annotations", str(tmp_path / "bench"),
                 "--predictions", str(tmp_path / "pred.jsonl"), "--out", str(tmp_path / "score")]) == 0
    err = capsys.readouterr().err
    assert err.count("answered again") == 4  # both verbs report both replaced answers

    def verdicts(path):
        return {d["id"]: d["correct"] for d in map(json.loads, path.read_text().splitlines())}

    by_eval, by_score = verdicts(run / "scored.jsonl"), verdicts(tmp_path / "score" / "scored.jsonl")
    assert by_eval[right["id"]] is True and by_eval[wrong["id"]] is False
    assert by_score[right["id"]] is True and by_score[wrong["id"]] is False
    # eval rewrote its file to one line per id (the kept answers) and asked the oracle the rest
    kept = [json.loads(x) for x in (run / "predictions.jsonl").read_text().splitlines()]
    assert len(kept) == len(recs) == len({k["id"] for k in kept})
    assert {k["id"]: k["response"] for k in kept}[right["id"]] == f"Answer: {right['answer']}"


def test_a_resumed_eval_removes_stale_temporaries(tmp_path, capsys):
    from qa4d.cli import main

    write_split(tmp_path, "bench", 4, seed=1)
    run = tmp_path / "run"
    run.mkdir()
    stale = [run / ".predictions.jsonl.k2.tmp", run / ".metrics.json.9x.tmp"]
    for p in stale:
        p.write_text('{"id": "half')
    assert main(["eval", "--benchmark", str(tmp_path / "bench"), "--model", "oracle", "--out", str(run)]) == 0
    assert not any(p.exists() for p in stale)
    assert "removed temporary files" in capsys.readouterr().err


def test_the_orjson_reading_gives_what_json_gives_on_every_kind_of_line(tmp_path, monkeypatch):
    """Lines orjson reads differently or refuses (NaN, lone surrogates, huge numbers, a BOM, control
    characters, duplicate keys, CRLF, blank and truncated lines) are read as json reads them."""
    from qa4d.bench import predictions as P

    lines = [b'{"id": "a", "response": "A"}', b'{"id": "a", "response": "B", "response": "C"}',
             b'{"id": "s", "response": "\\ud800 lone"}', b'{"id": "n", "response": NaN}',
             b'{"id": "big", "response": "x", "n": 123456789012345678901234567890}',
             b'{"id": "f", "response": "y", "v": 1e400}', b'\xef\xbb\xbf{"id": "bom", "response": "z"}',
             b'{"id": "t", "response": "tab\there"}', b'{"id": "r", "response": "crlf"}\r',
             b'   ', b'{"id": 12, "response": "int id"}', b'{"id": true, "response": "bool id"}',
             b'{"id": "e", "response": null, "error": "timeout"}', b'{"id": "e", "response": "retry"}',
             b'{"id": "u", "response": "\xc3\xa9t\xc3\xa9 \\u00e9"}', b'{"id": "x", "response": "\xff"}',
             b'{"id": "a", "error": "late error"}', b'[]', b'"just a string"', b'{"id": "z", "resp']
    p = tmp_path / "p.jsonl"
    p.write_bytes(b"\n".join(lines))
    fast = P.read_predictions_file(p)
    monkeypatch.setattr(P, "_fast_loads", None)
    plain = P.read_predictions_file(p)
    assert fast == plain
    assert fast.responses["a"] == "C" and fast.responses["s"] == "\ud800 lone" and fast.responses["12"] == "int id"
    assert fast.errors == {} and fast.responses["e"] == "retry"
    assert len(fast.problems) >= 8
    p.write_bytes(b"\n".join(lines[:-3] + [b'{"id": "last", "response": "L"}']))  # complete, no newline
    monkeypatch.setattr(P, "_fast_loads", orjson_loads())
    fast = P.read_predictions_file(p, keep_lines=False)
    monkeypatch.setattr(P, "_fast_loads", None)
    plain = P.read_predictions_file(p, keep_lines=False)
    assert fast == plain and fast.unterminated and fast.lines == {} and fast.responses["last"] == "L"


def orjson_loads():
    import orjson

    return orjson.loads
