"""Every step of `generate` in the workers: balancing over compact descriptors chooses what
balancing over the full candidates chooses; one worker, two workers and Ray write the same bytes
(every file, .work/ included); a run that fails in the wording/media step resumes to those bytes."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from qa4d._exec import ExecutorConfig
from qa4d.engine import generate as gen
from qa4d.engine.candidates import Desc, describe
from qa4d.engine.config import GenerateConfig
from qa4d.engine.options import assign_choices, assign_formats, balance, cap_balanced
from qa4d.engine.plan import choose
from qa4d.engine.registry import resolve_tasks
from qa4d.engine.sampling import rng_for
from qa4d.engine.writer import candidates_path


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root (hidden temporaries included, so leftovers show)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def cfg(scenes, out, **kw) -> GenerateConfig:
    return GenerateConfig(scenes=str(scenes), out=str(out), **{"seed": 0, "bench_fraction": 0.5, "media_frames": 6, **kw})


@pytest.mark.parametrize("bench", [{}, {"bench_max_per_task": 3, "bench_strict_formats": True,
                                          "bench_formats": {"mc": 0.5, "yesno": 0.2, "free": 0.3}}])
def test_descriptors_choose_what_full_candidates_choose(toy_scenes, toy_dataset, bench):
    """Balancing, bench cap, formats and option positions over `Desc` objects against the same
    functions over the candidates themselves (read back from the candidates files), per task and
    split; also the label pool the distractors are drawn from."""
    c = cfg(toy_scenes, toy_dataset, **bench)
    split = json.loads((toy_dataset / "dataset.json").read_text())["splits"]
    scene_split = {sid: s for s, v in split.items() for sid in v["scenes"]}
    compared = 0
    for task in resolve_tasks(c.families, c.tasks):
        for s in ("train", "bench"):
            full, descs = [], []
            for sid in sorted(sid for sid, v in scene_split.items() if v == s):
                data = json.loads(candidates_path(toy_dataset, sid).read_text())
                for cand in data["candidates"].get(task.key, []):
                    full.append(cand)
                    descs.append(Desc(*describe(cand, task), sid))
            expected, expected_pool = _choose_full(task, s, full, c)
            got, pool = choose(task, s, descs, c, Counter())
            assert [(d.uid, f, ch) for d, f, ch in got] == expected, (task.key, s)
            assert list(pool.items()) == list(expected_pool.items())
            compared += len(expected)
    assert compared > 50


def _choose_full(task, s, cands, c):
    """The balancing of the command-side phase 2 before descriptors, on full candidate dicts."""
    kept, _ = balance(cands, rng_for(c.seed, "balance", task.name, s), mode=task.balance_mode)
    if s == "bench" and c.bench_max_per_task and len(kept) > c.bench_max_per_task:
        kept = cap_balanced(kept, c.bench_max_per_task, rng_for(c.seed, "cap", task.name, s))
    weights = c.train_formats if s == "train" else c.bench_formats
    fmts = assign_formats(kept, lambda x: task.formats(x, s), weights, rng_for(c.seed, "formats", task.name, s),
                          strict=s == "bench" and c.bench_strict_formats)
    k = task.options_count(c)
    chosen = assign_choices(fmts, lambda x: min(k, len(x.get("items", ())) or k), rng_for(c.seed, "choices", task.name, s))
    pool = Counter(x["key"] for x in kept)
    pool.update(t for x in kept for t in x.get("pool_tags", ()))
    return [(x["uid"], f, ch) for x, f, ch in chosen], pool


def test_two_workers_same_bytes_as_one_every_file(toy_scenes, toy_dataset, tmp_path):
    gen.generate(cfg(toy_scenes, tmp_path / "w2"), log=lambda m: None,
                 executor=ExecutorConfig(workers=2, start_method="fork"))
    one, two = tree(toy_dataset), tree(tmp_path / "w2")
    assert any(k.startswith("media/") and "/p/" in k for k in one)  # prompt images too
    assert two == one


FAIL_SCENE = "FAIL_SCENE_FOR_TEST"


def _phase2_failing(job):
    """gen._phase2, except for one scene (named in the environment): it writes its media, then fails
    before returning its records, as a worker that hits a full disk."""
    if job[1] == os.environ.get(FAIL_SCENE):
        _REAL_PHASE2(job)
        raise OSError(28, "No space left on device (test)")
    return _REAL_PHASE2(job)


_REAL_PHASE2 = gen._phase2


@pytest.mark.parametrize("workers", [1, 2])
def test_failure_in_the_wording_step_then_resume(toy_scenes, toy_dataset, tmp_path, monkeypatch, workers):
    """A worker fails in the per-scene wording/media step: no samples.jsonl is written (neither split
    gets a partial file) and the same run again ends with the bytes of an uninterrupted run: no
    record lost or written twice, no temporary left."""
    out = tmp_path / "ds"
    train = sorted(json.loads((toy_dataset / "dataset.json").read_text())["splits"]["train"]["scenes"])
    monkeypatch.setenv(FAIL_SCENE, train[1])  # the second scene of the output: the first is done
    monkeypatch.setattr(gen, "_phase2", _phase2_failing)
    ex = ExecutorConfig(workers=workers, start_method="fork")
    with pytest.raises(OSError, match="No space left"):
        gen.generate(cfg(toy_scenes, out), log=lambda m: None, executor=ex)
    assert not (out / "train" / "samples.jsonl").exists() and not (out / "bench" / "samples.jsonl").exists()
    assert any((out / "media").rglob("*.jpg"))  # the failed scene's media were already written
    monkeypatch.setattr(gen, "_phase2", _REAL_PHASE2)
    gen.generate(cfg(toy_scenes, out), log=lambda m: None, executor=ex)
    assert tree(out) == tree(toy_dataset)


def test_ray_same_bytes_as_local_every_file(ray_cluster, toy_scenes, toy_dataset, tmp_path):
    gen.generate(cfg(toy_scenes, tmp_path / "ray"), log=lambda m: None, executor=ExecutorConfig(kind="ray"))
    assert tree(tmp_path / "ray") == tree(toy_dataset)


def test_ctrl_c_in_the_command_during_the_wording_step_then_resume(toy_scenes, toy_dataset, tmp_path, monkeypatch):
    """Ctrl-C reaches the command while two workers word and write media (after it appended the
    first scene's records): nothing is left of samples.jsonl, and the resumed run (which removes
    the temporaries of the killed workers) ends with the bytes of an uninterrupted run."""
    out = tmp_path / "ds"
    real_in_order = gen.in_order

    def interrupted(outcomes):
        for n, d in enumerate(real_in_order(outcomes)):
            if n == 1:
                raise KeyboardInterrupt
            yield d

    monkeypatch.setattr(gen, "in_order", interrupted)
    ex = ExecutorConfig(workers=2, start_method="fork")
    with pytest.raises(KeyboardInterrupt):
        gen.generate(cfg(toy_scenes, out), log=lambda m: None, executor=ex)
    assert not list(out.glob("*/samples.jsonl")) and not list(out.glob("*/.samples.jsonl*"))
    monkeypatch.setattr(gen, "in_order", real_in_order)
    gen.generate(cfg(toy_scenes, out), log=lambda m: None, executor=ex)
    assert tree(out) == tree(toy_dataset)
