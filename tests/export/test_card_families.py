"""The card of a dataset with all six families: planted values come back as the plotted counts and
bins, in the card's tables, and as real PNG plots."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qa4d.export.card import write_card
from qa4d.export.card_plots import make_figures
from qa4d.export.card_stats import answer_bars, collect_stats, histograms, label_bars, value_bins
from tests.export import families_data as fd
from tests.export.test_card import table


@pytest.fixture()
def fam_dataset(tmp_path: Path):
    root = tmp_path / "fam"
    return root, fd.build_family_dataset(root)


def headed(md: str) -> dict[str, str]:
    """Heading text -> body for headings of any depth (## to ####)."""
    parts = re.split(r"^#{2,4} (.+)$", md, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def _hist(stats, family, task, comp="value", unit=None):
    hs = [h for h in histograms(stats, family) if h.key == (family, task) and h.component == comp and (unit is None or h.unit == unit)]
    assert len(hs) == 1, [(h.key, h.component, h.unit) for h in histograms(stats, family)]
    return hs[0]


def _expect(edges: np.ndarray, values: list[float]) -> list[int]:
    """Counts per bin computed by hand: bin i holds edges[i] <= v < edges[i+1] (last bin closed)."""
    out = [0] * (len(edges) - 1)
    for v in values:
        i = next(j for j in range(len(edges) - 1) if edges[j] <= v < edges[j + 1] or (j == len(edges) - 2 and v == edges[-1]))
        out[i] += 1
    return out


def test_value_bins_give_one_bin_per_integer_or_equal_bins():
    np.testing.assert_array_equal(value_bins(np.array([2, 5, 5])), [1.5, 2.5, 3.5, 4.5, 5.5])
    np.testing.assert_allclose(value_bins(np.array([0.8, 0.8])), [0.3, 1.3])
    e = value_bins(np.array([1000.0, 4000.0]))
    assert len(e) == 21 and e[0] == 1000 and e[-1] == 4000


def test_planted_numeric_values_are_the_plotted_counts(fam_dataset):
    root, _ = fam_dataset
    stats = collect_stats(root)
    # MultiSPA depth in mm: 1000 x3 + 2500 + 4000 (train), 1000 + 4000 x2 (bench), 20 bins over [1000, 4000]
    h = _hist(stats, "multispa", "depth_estimation_coord")
    assert h.unit == "mm" and h.edges[0] == 1000 and h.edges[-1] == 4000
    assert h.counts["train"].tolist() == _expect(h.edges, fd.DEPTH_MM["train"])
    assert h.counts["train"][0] == 3 and h.counts["train"][-1] == 1 and h.counts["train"].sum() == 5
    assert h.counts["bench"][0] == 1 and h.counts["bench"][-1] == 2 and h.counts["bench"].sum() == 3
    # vector components: z is 300 three times (train) and 100 once (bench)
    z = _hist(stats, "multispa", "object_vector_coord", "z")
    assert z.counts["train"].tolist() == _expect(z.edges, [300, 300, 300])
    assert z.counts["bench"].tolist() == _expect(z.edges, [100])
    x = _hist(stats, "multispa", "object_vector_coord", "x")  # integers over 15 units: one bin each
    np.testing.assert_array_equal(x.edges, np.arange(-5.5, 11, 1.0))
    assert x.counts["train"][list(x.edges).index(9.5)] == 2 and x.counts["train"][0] == 1
    # coordinates: x and y on the 0-999 scale
    cy = _hist(stats, "multispa", "correspondence_coord", "y")
    assert cy.unit == "0-999 scale" and cy.counts["train"].tolist() == _expect(cy.edges, [900, 900])
    # sti: speeds in m/s, sizes in cm and distances in m of one task kept apart by unit
    sp = _hist(stats, "sti", "speed_acceleration")
    assert sp.unit == "m/s" and sp.counts["train"].tolist() == _expect(sp.edges, [0.25, 0.25, 0.75])
    cm = _hist(stats, "sti", "dimension_measurement", unit="cm")
    m = _hist(stats, "sti", "dimension_measurement", unit="m")
    assert cm.counts["bench"].sum() == 2 and cm.counts["train"].sum() == 1
    assert m.counts["train"].sum() == 1 and m.counts["bench"].sum() == 0
    # timebench durations in seconds
    t = _hist(stats, "timebench", "elapsed_time")
    assert t.unit == "s" and t.counts["train"].tolist() == _expect(t.edges, [0.8, 1.6])
    # text answers are not histogrammed
    assert not [h for h in histograms(stats, "vlm4d")] and not histograms(stats, "4dpqa")


def test_the_figures_draw_exactly_the_histograms(fam_dataset):
    root, _ = fam_dataset
    stats = collect_stats(root)
    figs = make_figures(stats)
    assert {"counts", "multispa/values", "sti/values", "r4d/values", "timebench/values",
            "multispa/answers", "vlm4d/labels", "4dpqa/answers"} <= set(figs)
    for fam in ("multispa", "sti", "r4d", "timebench"):
        hists = histograms(stats, fam)
        drawn = {}
        for ax in figs[f"{fam}/values"].axes:
            for p in ax.patches:
                if p.get_gid():
                    drawn.setdefault(p.get_gid(), []).append((p.get_x(), p.get_height()))
        for h in hists:
            for s in ("train", "bench"):
                bars = sorted(drawn[f"{h.title}|{s}"])
                assert [hgt for _, hgt in bars] == h.counts[s].tolist(), (h.title, s)
                # bar k of a split starts inside bin k: train left half, bench right half
                for k, (x0, _) in enumerate(bars):
                    assert h.edges[k] <= x0 < h.edges[k + 1]
    import matplotlib.pyplot as plt

    plt.close("all")


def test_answer_letters_texts_and_labels_side_by_side(fam_dataset):
    root, recs = fam_dataset
    stats = collect_stats(root)
    bars = {(b.key[1], b.kind): b for b in answer_bars(stats, "vlm4d") + answer_bars(stats, "4dpqa") + label_bars(stats, "vlm4d")}
    yn = bars["depth", "yes/no"]
    assert yn.names == ["yes", "no"] and yn.counts == {"train": [1, 2], "bench": [1, 0]}
    lab = bars["translational", "label"]
    assert dict(zip(lab.names, lab.counts["train"])) == {"left": 2, "right": 1, "not_moving": 0}
    assert dict(zip(lab.names, lab.counts["bench"])) == {"left": 0, "right": 0, "not_moving": 1}
    letters = bars["translational", "correct letter"]
    assert dict(zip(letters.names, letters.counts["train"])) == {"A": 2, "B": 1, "C": 0}
    # labelled tasks get no separate answer-text panel; multispa dots' texts repeat and are shown
    assert ("translational", "answer text") not in bars
    ms = {(b.key[1], b.kind): b for b in answer_bars(stats, "multispa")}
    txt = ms["depth_comparison_dot", "answer text"]
    assert txt.names == ["the yellow circle"] and txt.counts == {"train": [1], "bench": [1]}


def test_card_sections_per_family_with_the_planted_numbers(fam_dataset):
    root, recs = fam_dataset
    card, plots, errors = write_card(root)
    assert errors == []
    md = card.read_text()
    sec = headed(md)
    for fam in ("4dpqa", "multispa", "vlm4d", "sti", "r4d", "timebench"):
        head = next(h for h in sec if h.startswith(f"Family `{fam}`"))
        assert "docs/" in sec[head]  # what it measures and where it is documented
        rows = {r["task"]: r for r in table(sec[f"{fam}: tasks"])}
        for s in ("train", "bench"):
            for task in {r["task"] for r in recs[s] if r["family"] == fam}:
                assert int(rows[task][s]) == sum(r["family"] == fam and r["task"] == task for r in recs[s])
    assert "Documentation: `docs/families/multispa.md` in the qa4d repository" in md
    num = table(sec["multispa: numeric answers"])
    depth = {r["split"]: r for r in num if r["task"] == "depth_estimation_coord"}
    assert depth["train"]["unit"] == "mm" and int(depth["train"]["n"]) == 5
    assert (float(depth["train"]["min"]), float(depth["train"]["median"]), float(depth["train"]["max"])) == (1000, 1000, 4000)
    assert float(depth["bench"]["median"]) == 4000 and float(depth["train"]["mean"]) == 1900
    sti = {(r["task"], r["unit"], r["split"]): r for r in table(sec["sti: numeric answers"])}
    assert int(sti["dimension_measurement", "cm", "bench"]["n"]) == 2 and float(sti["dimension_measurement", "cm", "bench"]["max"]) == 30
    assert int(sti["dimension_measurement", "m", "bench"]["n"]) == 0
    assert float(sti["speed_acceleration", "m/s", "train"]["median"]) == 0.25
    tb = {r["split"]: r for r in table(sec["timebench: numeric answers"])}
    assert (float(tb["train"]["min"]), float(tb["train"]["max"]), tb["train"]["unit"]) == (0.8, 1.6, "s")
    letters = {r["correct letter"]: r for r in table(sec["vlm4d/translational: correct letter"])}
    assert (int(letters["A"]["train"]), int(letters["A"]["bench"]), int(letters["C"]["bench"])) == (2, 0, 1)
    # tasks are family/task in the global table: r4d and sti both have a task family/task names keep apart
    glob = {r["task"] for r in table(sec["Counts per task"])}
    assert {"r4d/displacement_path_length", "sti/speed_acceleration", "multispa/depth_estimation_coord"} <= glob

    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert sorted(refs) == sorted(f"card/{p.name}" for p in plots)
    assert "card/multispa_values.png" in refs and "card/timebench_values.png" in refs
    for ref in refs:
        with Image.open(root / ref) as im:
            assert im.format == "PNG"
            a = np.asarray(im.convert("RGB"))
        assert a.shape[0] >= 200 and a.shape[1] >= 300, (ref, a.shape)
        non_white = (a < 240).any(axis=2).mean()
        assert 0.02 < non_white < 0.9, (ref, non_white)
        # both split colours are on every values plot (train and bench side by side)
        if ref.endswith("_values.png") and "timebench" not in ref:
            for colour in ((0x4C, 0x72, 0xB0), (0xDD, 0x84, 0x52)):
                assert (np.abs(a.astype(int) - colour).sum(axis=2) < 10).sum() > 20, (ref, colour)
