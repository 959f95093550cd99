"""The scene names the README and the scene-format doc show are the ones `qa4d simulate` writes."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\bsim\d*_\d+\b")


def test_documented_scene_names_are_what_simulate_writes(sim_scenes):
    from tests.conftest import SIM_SCENES, SIM_SEED

    written = sorted(p.name for p in sim_scenes.iterdir() if (p / "scene.json").is_file())
    assert len(written) == SIM_SCENES
    for doc in ("README.md", "docs/scene-format.md"):
        text = (ROOT / doc).read_text()
        shown = set(NAME.findall(text))
        assert shown, f"{doc} shows no scene name"
        for name in shown:  # the docs show seed-0 names (make demo's default seed, and the fixture's)
            assert name in written, (doc, name, written)
    # the README's pattern: simK_NNNNN with K the seed and a 5-digit index
    assert all(re.fullmatch(rf"sim{SIM_SEED}_\d{{5}}", n) for n in written)
    assert "simK_NNNNN" in (ROOT / "README.md").read_text()
