"""Whole-process figures of `qa4d generate` and `qa4d score` (called by bench_engine.py --process
/ --memory): CPU time (user+sys) and peak resident memory of one child process each, read with
os.wait4, so other jobs on a shared machine do not enter the figures (they still slow the
caches: repeat and alternate)."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import machine_line  # scripts/machine.py

ROOT = Path(__file__).resolve().parents[1]


# qa4d.cli.main in a child that also reports its own CPU time (without its workers') to a file
SELF_CPU = """
import resource, sys
from qa4d.cli import main
code = main(sys.argv[2:])
ru = resource.getrusage(resource.RUSAGE_SELF)
open(sys.argv[1], "w").write(f"{ru.ru_utime + ru.ru_stime!r} {ru.ru_maxrss}")
sys.exit(code)
"""


# With --pycache DIR, children keep compiled bytecode in DIR (PYTHONPYCACHEPREFIX) as an installed
# package has it in __pycache__; otherwise they inherit the environment, and under
# PYTHONDONTWRITEBYTECODE=1 every run compiles qa4d's modules again (about 0.1-0.2 CPU s).
PYCACHE: str | None = None


def run_child(argv: list[str], src: Path, self_cpu: Path | None = None) -> dict[str, float]:
    """Run `python -m qa4d.cli ARGV` with PYTHONPATH=src; its CPU seconds (its workers' included),
    peak MiB and wall; with `self_cpu` (a scratch file) also "self_cpu", the command's own CPU."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    if PYCACHE:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = PYCACHE
    t = time.time()
    cmd = [sys.executable, "-c", SELF_CPU, str(self_cpu)] if self_cpu else [sys.executable, "-m", "qa4d.cli"]
    proc = subprocess.Popen([*cmd, *argv], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read()
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"qa4d {' '.join(argv)}: exit {proc.returncode}\n{err.decode()[-2000:]}")
    r = {"cpu": ru.ru_utime + ru.ru_stime, "rss_mib": ru.ru_maxrss / 1024, "wall": time.time() - t}
    if self_cpu:  # the command's own CPU s and peak MiB (ru_maxrss of a waited process covers its workers too)
        cpu, rss = self_cpu.read_text().split()
        r["self_cpu"], r["self_rss_mib"] = float(cpu), int(rss) / 1024
    return r


def dataset_digest(root: Path) -> str:
    """sha256 over the relative path and bytes of every file of a dataset but .work/."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not rel.startswith(".work/"):
            h.update(rel.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def count_samples(root: Path) -> int:
    return sum(len((root / s / "samples.jsonl").read_text().splitlines()) for s in ("train", "bench"))


def generate(src: Path, scenes: Path, out: Path, seed: int, workers: int = 1, self_cpu: bool = False) -> dict[str, float]:
    r = run_child(["generate", "--scenes", str(scenes), "--out", str(out), "--seed", str(seed),
                   "--bench-fraction", "0.3", "--workers", str(workers)], src,
                  self_cpu=out.with_name(out.name + ".cpu") if self_cpu else None)
    r["samples"] = count_samples(out)
    return r


def bench_process(args, tmp: Path) -> None:
    versions = {"this": ROOT / "src"}
    if args.compare:
        versions = {"before": Path(args.compare).resolve(), "after": ROOT / "src"}
    rows: dict[str, list[dict[str, float]]] = {v: [] for v in versions}
    digests: dict[str, set[str]] = {v: set() for v in versions}
    for rep in range(args.repeat):
        for name, src in versions.items():  # alternating, so a change of load hits both
            out = tmp / f"{name}_{rep}"
            rows[name].append(generate(src, Path(args.scenes), out, args.seed))
            digests[name].add(dataset_digest(out))
    print(f"qa4d generate, whole process, --workers 1  {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine_line()}")
    print(f"scenes: {args.scenes}, seed {args.seed}, {args.repeat} runs each")
    print(bytecode_line())
    for name, rs in rows.items():
        cpus = sorted(r["cpu"] for r in rs)
        n = rs[0]["samples"]
        print(f"{name:>7}: {n} QA pairs, cpu s {', '.join(f'{c:.2f}' for c in cpus)} -> "
              f"{n / cpus[len(cpus) // 2]:.1f} QA pairs / cpu-s (median), peak {max(r['rss_mib'] for r in rs):.0f} MiB, "
              f"dataset sha256 {', '.join(sorted(d[:16] for d in digests[name]))}")
    if args.compare:
        same = len(digests["before"] | digests["after"]) == 1
        med = {k: sorted(r["cpu"] for r in v)[len(v) // 2] for k, v in rows.items()}
        print(f"speed-up (median cpu): {med['before'] / med['after']:.2f}x; identical datasets: {same}")


# ------------------------------------------------------------------------------ workers


def bench_workers(args, tmp: Path) -> None:
    """`qa4d generate --workers 1` against `--workers 2` (and, with --compare, the same for another
    src/ tree), alternating, --repeat times: wall and CPU (user+sys of the process and its workers)
    per run, the wall speed-up of the medians, and whether every dataset has the same bytes."""
    versions = {"this": ROOT / "src"}
    if args.compare:
        versions = {"before": Path(args.compare).resolve(), "after": ROOT / "src"}
    rows: dict[tuple[str, int], list[dict[str, float]]] = {(v, w): [] for v in versions for w in (1, 2)}
    digests: set[str] = set()
    loads = [os.getloadavg()[0]]
    for rep in range(args.repeat):
        for name, src in versions.items():
            for w in (1, 2):
                out = tmp / f"{name}_w{w}_{rep}"
                rows[(name, w)].append(generate(src, Path(args.scenes), out, args.seed, workers=w, self_cpu=True))
                digests.add(dataset_digest(out))
                loads.append(os.getloadavg()[0])
    print(f"qa4d generate --workers 1 vs 2, whole process  {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine_line()}")
    print(f"scenes: {args.scenes}, seed {args.seed}, {args.repeat} runs each, load average (1 min) "
          f"{min(loads):.1f}-{max(loads):.1f} during the runs")
    print(bytecode_line())

    def med(xs):
        return sorted(xs)[len(xs) // 2]

    def secs(rs, key):
        return ", ".join(f"{r[key]:.2f}" for r in rs)

    for name in versions:
        for w in (1, 2):
            rs = rows[(name, w)]
            print(f"{name:>7} --workers {w}: {rs[0]['samples']} QA pairs, wall s {secs(rs, 'wall')}; "
                  f"cpu s {secs(rs, 'cpu')} (the command's own {secs(rs, 'self_cpu')}); "
                  f"peak {max(r['rss_mib'] for r in rs):.0f} MiB")
        w1, w2 = rows[(name, 1)], rows[(name, 2)]
        # what an idle machine would take: one worker = its CPU time; two = the command's own CPU
        # (taken as serial, an upper bound) + half the workers' CPU (taken as evenly shared)
        idle1 = med([r["cpu"] for r in w1])
        idle2 = med([r["self_cpu"] + (r["cpu"] - r["self_cpu"]) / 2 for r in w2])
        print(f"{name:>7}: speed-up of --workers 2, median wall {med([r['wall'] for r in w1]) / med([r['wall'] for r in w2]):.2f}x; "
              f"from CPU times (idle-machine estimate) {idle1 / idle2:.2f}x; "
              f"cpu ratio {med([r['cpu'] for r in w2]) / idle1:.2f}")
        serial = med([r["self_cpu"] for r in w2])
        par = med([r["cpu"] - r["self_cpu"] for r in w2])
        print(f"{name:>7}: Amdahl from the parts of --workers 2 (medians): serial (the command's own CPU) {serial:.2f} s, "
              f"parallel (the workers' CPU) {par:.2f} s; one worker {idle1:.2f} s -> bound "
              f"{idle1:.2f} / ({serial:.2f} + {par:.2f} / 2) = {idle1 / (serial + par / 2):.2f}x")
    print(f"identical datasets (sha256 of every file but .work/, all runs): {len(digests) == 1}")


# ------------------------------------------------------------------------------ memory


def clone_scenes(src: Path, dst: Path, times: int) -> Path:
    """DST holding SRC's scenes `times` times over (copy k gets ids <id>_xk): hard-linked arrays
    and frames, a rewritten scene.json. Built once, reused when DST exists."""
    from qa4d._io import write_text_atomic

    if dst.is_dir():
        return dst
    for k in range(times):
        for d in sorted(p for p in src.iterdir() if (p / "scene.json").is_file()):
            meta = json.loads((d / "scene.json").read_text())
            meta["scene_id"] = f"{meta['scene_id']}_x{k}"
            new = dst / meta["scene_id"]
            (new / "frames").mkdir(parents=True)
            os.link(d / "arrays.npz", new / "arrays.npz")
            for f in (d / "frames").iterdir():
                os.link(f, new / "frames" / f.name)
            write_text_atomic(new / "scene.json", json.dumps(meta, indent=2) + "\n", fsync=False)
    return dst


def synthetic_vlm4d(n: int, root: Path, seed: int = 0) -> tuple[Path, Path]:
    """n VLM4D-style questions (real_mc.json) and a model's responses to them (several answer
    styles, some unreadable). Returns (annotations file, predictions file)."""
    import numpy as np

    from qa4d._io import write_jsonl_atomic, write_text_atomic

    rng = np.random.default_rng(seed)
    words = ["left", "right", "towards the camera", "away from the camera", "not moving",
             "clockwise", "counter-clockwise", "there is no car in the video"]
    styles = ["{L}", "The answer is {L}.", "({L}) {T}", "Therefore, the final answer is: {L}",
              "I think it moves {T}.", "Hard to say from these frames."]
    recs, preds = [], []
    for i in range(n):
        opts = [words[j] for j in rng.choice(len(words), 4, replace=False)]
        ans = int(rng.integers(4))
        recs.append({"id": f"validation_{i + 1}", "video": f"https://example.org/resolve/main/videos_real/davis/v{i % 500}.mp4",
                     "question_type": "multiple-choice", "question": "What direction is the car moving towards?",
                     "choices": dict(zip("ABCD", opts)), "answer": opts[ans]})
        pick = ans if rng.random() < 0.6 else int(rng.integers(4))
        text = styles[int(rng.integers(len(styles)))].format(L="ABCD"[pick], T=opts[pick])
        preds.append({"id": f"real_mc/validation_{i + 1}", "response": text})
    ann, pred = root / f"vlm4d_{n}" / "real_mc.json", root / f"vlm4d_{n}" / "predictions.jsonl"
    write_text_atomic(ann, json.dumps(recs), fsync=False)
    write_jsonl_atomic(pred, preds)
    return ann, pred


def bench_memory(args, tmp: Path) -> None:
    """Peak memory of generate (with --compare: also another src/ tree's; `--memory-workers 2`:
    also the command's own peak beside its workers') and of score (skipped with --score-items 0)."""
    scenes = Path(args.scenes).resolve()
    versions = {"this": ROOT / "src"}
    if args.compare:
        versions = {"before": Path(args.compare).resolve(), "after": ROOT / "src"}
    n_scenes = sum(1 for p in scenes.iterdir() if (p / "scene.json").is_file())
    big = clone_scenes(scenes, tmp / f"scenes_x{args.times}", args.times)
    print(f"peak memory (ru_maxrss of the process)  {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine_line()}")
    workers = getattr(args, "memory_workers", 1)
    for label, d, k in (("1x", scenes, 1), (f"{args.times}x", big, args.times)):
        for name, src in versions.items():
            out = tmp / f"mem_gen_{name}_{label}"
            r = generate(src, d, out, args.seed, workers=workers, self_cpu=True)
            print(f"{name:>6} generate --workers {workers} {label}: {n_scenes * k} scenes -> {r['samples']} QA pairs: "
                  f"peak {r['rss_mib']:.0f} MiB (the command itself {r['self_rss_mib']:.0f} MiB), "
                  f"cpu {r['cpu']:.1f} s ({r['samples'] / r['cpu']:.1f} QA pairs / cpu-s), "
                  f"dataset sha256 {dataset_digest(out)[:16]}, load {os.getloadavg()[0]:.1f}", flush=True)
    if not args.score_items:
        return
    src = ROOT / "src"
    for label, n in (("1x", args.score_items), (f"{args.times}x", args.score_items * args.times)):
        ann, pred = synthetic_vlm4d(n, tmp)
        r = run_child(["score", "--benchmark", "vlm4d", "--annotations", str(ann), "--predictions", str(pred),
                       "--out", str(tmp / f"mem_score_{label}")], src)
        print(f"score {label}: {n} items: peak {r['rss_mib']:.0f} MiB, cpu {r['cpu']:.1f} s ({n / r['cpu']:,.0f} items / cpu-s)")


def bytecode_line() -> str:
    if PYCACHE:
        return f"bytecode: cached in {PYCACHE} (--pycache; the first run of each tree compiles)"
    off = os.environ.get("PYTHONDONTWRITEBYTECODE")
    return "bytecode: " + ("not cached (PYTHONDONTWRITEBYTECODE is set: every run compiles qa4d's modules)"
                           if off else "as the environment has it (__pycache__ next to the sources)")


def process_main(args) -> None:
    global PYCACHE
    PYCACHE = getattr(args, "pycache", None)
    if PYCACHE:  # one untimed run per tree fills the cache, so no timed run compiles
        warm = Path(tempfile.mkdtemp(prefix="qa4d_bench_warm_"))
        for src in [ROOT / "src"] + ([Path(args.compare).resolve()] if args.compare else []):
            run_child(["generate", "--help"], src)
            if args.scenes:
                generate(src, Path(args.scenes), warm / src.parent.name, args.seed, workers=1)
    if not args.scenes:
        raise SystemExit("--process / --memory / --workers-compare need --scenes DIR (e.g. from `qa4d simulate`)")
    tmp = Path(tempfile.mkdtemp(prefix="qa4d_bench_proc_"))
    if args.process:
        bench_process(args, tmp)
    if getattr(args, "workers_compare", False):
        bench_workers(args, tmp)
    if args.memory:
        bench_memory(args, tmp)
    print(f"(outputs in {tmp})")
