"""Reports: Markdown and self-contained HTML for one run and for runs side by side."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess

import pytest
from PIL import Image

from qa4d.bench.registry import get_benchmark
from qa4d.bench.report import compare_runs, write_run_report
from qa4d.bench.scoring import score_responses, write_score_outputs
from qa4d.cli import main as qa4d_main
from tests.bench.scoring_fixtures import VLM4D_DIR


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    b = get_benchmark("vlm4d")()
    items = b.load(VLM4D_DIR / "synthetic_mc.json")
    oracle = {it.id: it.answer for it in items}
    first_letter = {it.id: "A" for it in items}
    out = []
    for name, responses in (("oracle", oracle), ("always-A", first_letter)):
        scored, metrics = score_responses(b, items, responses)
        write_score_outputs(root / name, scored, metrics)
        out.append((root / name, metrics))
    return root, out, items


def _png_from_html(page: str) -> Image.Image:
    m = re.search(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert m, "no inline PNG"
    return Image.open(io.BytesIO(base64.b64decode(m.group(1))))


def test_single_run_report(two_runs):
    root, runs, items = two_runs
    run_dir, metrics = runs[1]
    md, page = write_run_report(run_dir, metrics, title="always A")
    text = md.read_text()
    acc = metrics["overall"]["accuracy"]
    assert text.startswith("# always A")
    assert f"| always-A | vlm4d | {len(items)} | {100 * acc:.1f} [" in text
    for g in ("synthetic false-positive", "synthetic directional"):
        assert f"| {g} | {metrics['by_group'][g]['n']} | {100 * metrics['by_group'][g]['accuracy']:.1f} [" in text
    html = page.read_text()
    assert html.count("<table>") == 4  # overall, groupings, category, task
    img = _png_from_html(html)
    assert img.format == "PNG" and img.size[0] >= 600
    assert "src='http" not in html and "<link" not in html and "<script" not in html  # self-contained


def test_compare_cli_side_by_side(two_runs, tmp_path):
    root, runs, _ = two_runs
    rc = qa4d_main(["report", str(runs[0][0]), str(runs[1][0]), "--out", str(tmp_path / "cmp")])
    assert rc == 0
    text = (tmp_path / "cmp" / "report.md").read_text()
    assert "| group | n | oracle | always-A |" in text
    fp = [line for line in text.splitlines() if line.startswith("| synthetic false-positive |")][0]
    cells = [c.strip() for c in fp.strip("|").split("|")]
    fp_a = runs[1][1]["by_group"]["synthetic false-positive"]["accuracy"]
    assert cells[2].startswith("100.0 [100.0, 100.0]") and cells[3].startswith(f"{100 * fp_a:.1f} [")
    html = (tmp_path / "cmp" / "report.html").read_text()
    assert "<th>oracle</th><th>always-A</th>" in html
    # same inputs, same bytes
    compare_runs([runs[0][0], runs[1][0]], tmp_path / "again")
    assert (tmp_path / "again" / "report.html").read_bytes() == (tmp_path / "cmp" / "report.html").read_bytes()


def test_compare_cli_missing_run(tmp_path, capsys):
    assert qa4d_main(["report", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) == 2
    assert "no metrics.json" in capsys.readouterr().err


@pytest.mark.browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
def test_html_renders_in_chromium(two_runs, tmp_path):
    _, runs, _ = two_runs
    _, page = write_run_report(runs[0][0], runs[0][1])
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1000,1400", page.as_uri()], check=True, capture_output=True, timeout=120)
    img = Image.open(shot).convert("L")
    # a rendered page with tables and a plot is far from a blank white screen
    hist = img.histogram()
    assert sum(hist[:200]) > 0.01 * img.size[0] * img.size[1]


def test_compare_warns_when_runs_cover_different_items(two_runs, tmp_path, capsys):
    root, runs, items = two_runs
    b = get_benchmark("vlm4d")()
    part = items[:-7]  # a run that stopped early: the last 7 items never scored
    scored, metrics = score_responses(b, part, {it.id: it.answer for it in part})
    write_score_outputs(tmp_path / "partial", scored, metrics)
    rc = qa4d_main(["report", str(runs[0][0]), str(tmp_path / "partial"), "--out", str(tmp_path / "cmp")])
    assert rc == 0
    err = capsys.readouterr().err
    missing = sorted(it.id for it in items[-7:])
    line = f"warning: partial: covers {len(part)} of the {len(items)} items of these runs; 7 missing (e.g. {missing[0]!r})"
    assert line in err and "oracle:" not in err
    text = (tmp_path / "cmp" / "report.md").read_text()
    assert "## Warnings" in text and f"covers {len(part)} of the {len(items)} items" in text
    assert "<ul class='warnings'>" in (tmp_path / "cmp" / "report.html").read_text()
    # the same items: no warning
    rc = qa4d_main(["report", str(runs[0][0]), str(runs[1][0]), "--out", str(tmp_path / "same")])
    assert rc == 0 and "warning" not in capsys.readouterr().err
    assert "Warnings" not in (tmp_path / "same" / "report.md").read_text()
    # a run without scored.jsonl and a different count: the counts are compared
    (tmp_path / "partial" / "scored.jsonl").unlink()
    qa4d_main(["report", str(runs[0][0]), str(tmp_path / "partial"), "--out", str(tmp_path / "nos")])
    err = capsys.readouterr().err
    assert "partial: no readable scored.jsonl" in err and f"different item counts: oracle {len(items)}, partial {len(part)}" in err
