"""`qa4d train geo`: geometry tokens interleaved after each frame's visual tokens, carrying the
pooled, projected encoder features in frame and raster order; stage 1 trains only the geometry
projector, stage 2 the LLM and both projectors; the checkpoint evaluates through qa4d eval."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    from qa4d.nn.teacher import Teacher, TeacherConfig, save_teacher

    out = tmp_path_factory.mktemp("teacher")
    torch.manual_seed(4)
    save_teacher(Teacher(TeacherConfig(input_size=32, patch=8, dim=8)), out)   # latent grid 4 x 4
    return out


def geo(*extra) -> int:
    from qa4d.cli import main

    return main(["train", "geo", "--threads", "1", *map(str, extra)])


@pytest.fixture(scope="module")
def stages(tiny_model, tiny_dataset, teacher, tmp_path_factory):
    root = tmp_path_factory.mktemp("geo")
    assert geo("--stage", "1", "--dataset", tiny_dataset, "--model-path", tiny_model, "--teacher", teacher,
               "--out", root / "s1", "--max-steps", "12", "--lr", "1e-2", "--schedule", "constant") == 0
    assert geo("--stage", "2", "--dataset", tiny_dataset, "--model-path", root / "s1/final",
               "--out", root / "s2", "--max-steps", "4", "--lr", "1e-3") == 0
    return root


def test_geometry_tokens_follow_each_frame_in_order(stages, tiny_dataset):
    from PIL import Image

    from qa4d.bench.models.hf import HFModel
    from qa4d.nn.teacher import frames_tensor

    m = HFModel(stages / "s1/final", device="cpu", max_new_tokens=2)
    assert m.geo is not None and m.geo.tokens_per_frame == 4
    tok = m.tokenizer
    geo_id, img_id = tok.convert_tokens_to_ids("<|geo_pad|>"), tok.convert_tokens_to_ids("<|image_pad|>")
    start, end = tok.convert_tokens_to_ids("<|vision_start|>"), tok.convert_tokens_to_ids("<|vision_end|>")
    images = [Image.open(tiny_dataset / f"media/bench1/{k:06d}.jpg").convert("RGB") for k in range(2)]
    inputs = m.prepare("Where?", images)
    ids = inputs["input_ids"][0].tolist()
    # the layout: per frame [vision_start, its visual tokens, vision_end, its 4 geometry tokens]
    n_vis = (inputs["image_grid_thw"].prod(-1) // 4).tolist()
    s = ids.index(start)
    want = []
    for n in n_vis:
        want += [start] + [img_id] * n + [end] + [geo_id] * 4
    assert ids[s:s + len(want)] == want and ids.count(geo_id) == 8
    # the placeholders carry projector(pooled latent): frame-major, cells in raster order
    with torch.no_grad():
        emb = m.model.get_input_embeddings()(inputs["input_ids"])[0]
        latent = m.geo.teacher.encode(frames_tensor(images, 32))                        # (2, 8, 4, 4)
        rows = []
        for t in range(2):
            for i in range(2):
                for j in range(2):
                    cell = latent[t, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2].mean(dim=(1, 2))
                    rows.append(m.geo.projector(cell))
    geo_rows = emb[torch.tensor(ids) == geo_id]
    torch.testing.assert_close(geo_rows, torch.stack(rows), rtol=1e-5, atol=1e-6)


def test_stage_1_trains_only_the_geometry_projector(stages, tiny_model, teacher):
    from safetensors.torch import load_file

    rows = [json.loads(x) for x in (stages / "s1/log.jsonl").read_text().splitlines()]
    assert sum(r["loss"] for r in rows[-3:]) < sum(r["loss"] for r in rows[:3])
    before, after = load_file(tiny_model / "model.safetensors"), load_file(stages / "s1/final/model.safetensors")
    for k in before:
        if before[k].shape == after[k].shape:
            assert torch.equal(before[k], after[k]), k
        else:   # the embeddings gained the <|geo_pad|> row; the old rows are untouched
            assert torch.equal(before[k], after[k][: before[k].shape[0]]), k
    p0 = torch.load(stages / "s1/final/qa4d_geo/projector.pt")
    assert (stages / "s1/final/qa4d_geo/teacher.pt").read_bytes() == (teacher / "teacher.pt").read_bytes()
    p2 = torch.load(stages / "s2/final/qa4d_geo/projector.pt")
    assert any(not torch.equal(p0[k], p2[k]) for k in p0)                # stage 2 trains it further


def test_stage_2_trains_the_llm_and_projectors_not_the_encoders(stages):
    from safetensors.torch import load_file

    s1, s2 = load_file(stages / "s1/final/model.safetensors"), load_file(stages / "s2/final/model.safetensors")
    vision = [k for k in s1 if k.startswith("visual.") and "merger" not in k]
    assert vision and all(torch.equal(s1[k], s2[k]) for k in vision)
    assert not torch.equal(s1["visual.merger.mlp.0.weight"], s2["visual.merger.mlp.0.weight"])
    assert not torch.equal(s1["lm_head.weight"], s2["lm_head.weight"])
    assert (stages / "s1/final/qa4d_geo/teacher.pt").read_bytes() == (stages / "s2/final/qa4d_geo/teacher.pt").read_bytes()


def test_geo_checkpoint_evaluates_with_qa4d_eval(stages, tiny_dataset, tmp_path):
    from qa4d.cli import main

    for bs in ("1", "3"):
        assert main(["eval", "--benchmark", str(tiny_dataset / "bench"), "--model", "hf", "--model-path",
                     str(stages / "s2/final"), "--device", "cpu", "--max-new-tokens", "3", "--batch-size", bs,
                     "--out", str(tmp_path / bs)]) == 0
    one, batched = ([json.loads(x) for x in (tmp_path / b / "predictions.jsonl").read_text().splitlines()] for b in "13")
    assert sorted(map(json.dumps, one)) == sorted(map(json.dumps, batched)) and len(one) == 3
    assert json.loads((tmp_path / "1/run.json").read_text())["model_info"]["geo"]["tokens_per_frame"] == 4


def test_stage_errors(tiny_model, tiny_dataset, tmp_path):
    with pytest.raises(SystemExit, match="stage 2 starts from stage 1"):
        geo("--stage", "2", "--dataset", tiny_dataset, "--model-path", tiny_model, "--out", tmp_path / "x")
    with pytest.raises(SystemExit, match="needs --teacher"):
        geo("--stage", "1", "--dataset", tiny_dataset, "--model-path", tiny_model, "--out", tmp_path / "y")
