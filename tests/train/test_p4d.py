"""P4D: the loss formulas on hand-made tensors, the decoder's initialisation, the visual-token grid
order, TPE against the closed-form sinusoid (in training and in `qa4d eval --model hf`), zero
weights reproducing SFT step for step, and the distillation terms going down."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

torch.set_num_threads(1)


def rows(run):
    return [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]


def smooth_l1_by_hand(a, b):
    d = np.abs(np.asarray(a, float) - np.asarray(b, float))
    return float(np.mean(np.where(d < 1.0, 0.5 * d * d, d - 0.5)))


def test_latent_and_explicit_distillation_formulas():
    from qa4d.train.p4d_losses import ED_WEIGHTS, explicit_distillation, latent_distillation

    s = torch.tensor([[0.0, 0.5], [3.0, -2.0]])
    t = torch.tensor([[0.2, 0.5], [0.0, 0.0]])
    # |d| = 0.2, 0, 3, 2 -> 0.02, 0, 2.5, 1.5 -> mean 1.005
    assert float(latent_distillation(s, t)) == pytest.approx(1.005)
    assert ED_WEIGHTS == {"depth": 1.0, "flow": 0.1, "motion": 0.05, "camray": 0.05}
    rng = np.random.default_rng(0)
    student = {m: rng.normal(size=(2, c, 4, 4)) * 2 for m, c in (("depth", 1), ("flow", 2), ("motion", 1), ("camray", 6))}
    teacher = {m: rng.normal(size=v.shape) for m, v in student.items()}
    total, terms = explicit_distillation({m: torch.tensor(v) for m, v in student.items()},
                                         {m: torch.tensor(v) for m, v in teacher.items()})
    by_hand = {m: smooth_l1_by_hand(student[m], teacher[m]) for m in student}
    assert {m: float(v) for m, v in terms.items()} == pytest.approx(by_hand)
    assert float(total) == pytest.approx(by_hand["depth"] + 0.1 * by_hand["flow"] + 0.05 * by_hand["motion"]
                                         + 0.05 * by_hand["camray"])


def test_decoder_is_a_three_layer_gelu_mlp_xavier_zero_bias():
    from qa4d.train.p4d_losses import PerceptionDecoder

    d = PerceptionDecoder(64, 16, hidden=2560)
    linears = [m for m in d.mlp if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64, 2560), (2560, 2560), (2560, 16)]
    assert sum(isinstance(m, torch.nn.GELU) for m in d.mlp) == 2
    assert all(float(m.bias.detach().abs().max()) == 0.0 for m in linears)
    for m in linears:  # Xavier uniform: bound sqrt(6 / (fan_in + fan_out)), variance bound^2 / 3
        bound = math.sqrt(6.0 / (m.in_features + m.out_features))
        assert float(m.weight.detach().abs().max()) <= bound
        assert float(m.weight.detach().var()) == pytest.approx(bound**2 / 3, rel=0.05)


def test_visual_tokens_map_to_each_frames_grid_in_raster_order():
    from qa4d.train.p4d_losses import frame_token_grids, to_teacher_grid

    IMG = 9
    # two examples: the first has one image of 2x3 merged tokens, the second one of 1x2, with text around
    ids = torch.tensor([[1, IMG, IMG, IMG, IMG, IMG, IMG, 2, 0],
                        [1, 3, IMG, IMG, 2, 0, 0, 0, 0]])
    hidden = torch.zeros(2, 9, 1)
    hidden[0, 1:7, 0] = torch.arange(6.0)            # token k of image 0 carries value k
    hidden[1, 2:4, 0] = torch.tensor([10.0, 11.0])
    grids = frame_token_grids(hidden, ids, IMG, torch.tensor([[1, 4, 6], [1, 2, 4]]), merge=2)
    assert [tuple(g.shape) for g in grids] == [(2, 3, 1), (1, 2, 1)]
    assert grids[0][..., 0].tolist() == [[0, 1, 2], [3, 4, 5]]          # row-major: the processor's order
    assert grids[1][..., 0].tolist() == [[10, 11]]
    up = to_teacher_grid([grids[1]], (2, 4), mode="nearest")
    assert up.shape == (1, 1, 2, 4) and up[0, 0].tolist() == [[10, 10, 11, 11], [10, 10, 11, 11]]
    with pytest.raises(ValueError, match="visual tokens"):
        frame_token_grids(hidden, ids, IMG, torch.tensor([[1, 4, 4], [1, 2, 4]]), merge=2)


def test_tpe_is_the_sinusoid_of_the_timestamp_in_seconds():
    from qa4d.nn.tpe import timestamp_encoding

    t = np.array([0.0, 0.5, 2.25, np.nan])
    enc = timestamp_encoding(t, 8)
    for row, ts in enumerate(t[:3]):
        for i in range(4):
            w = 1.0 / 10000.0 ** (2 * i / 8)
            assert enc[row, 2 * i] == pytest.approx(math.sin(ts * w), abs=1e-15)
            assert enc[row, 2 * i + 1] == pytest.approx(math.cos(ts * w), abs=1e-15)
    assert enc[0].tolist() == [0, 1, 0, 1, 0, 1, 0, 1] and (enc[3] == 0).all()
    assert np.allclose(timestamp_encoding(t[:3], 8, scale=0.5), 0.5 * enc[:3])
    with pytest.raises(ValueError, match="even"):
        timestamp_encoding(t, 7)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    from qa4d.nn.teacher import Teacher, TeacherConfig, save_teacher

    out = tmp_path_factory.mktemp("teacher")
    torch.manual_seed(3)
    save_teacher(Teacher(TeacherConfig(input_size=32, patch=8, dim=8)), out)
    return out


def train(cmd, dataset, model, out, *extra):
    from qa4d.cli import main

    return main(["train", cmd, "--dataset", str(dataset), "--model-path", str(model), "--out", str(out),
                 "--threads", "1", *map(str, extra)])


def test_zero_weights_reproduce_sft_step_for_step(tiny_model, tiny_dataset, teacher, tmp_path):
    common = ["--max-steps", "4", "--batch-size", "2", "--lr", "1e-3"]
    assert train("sft", tiny_dataset, tiny_model, tmp_path / "sft", *common) == 0
    assert train("p4d", tiny_dataset, tiny_model, tmp_path / "p4d", *common, "--teacher", teacher,
                 "--alpha", "0", "--beta", "0", "--decoder-hidden", "32") == 0
    a, b = rows(tmp_path / "sft"), rows(tmp_path / "p4d")
    assert [r["loss"] for r in a] == [r["loss"] for r in b] == [r["sft"] for r in b]
    assert all(r["ld"] > 0 and r["ed_depth"] > 0 for r in b)                   # logged, not trained on
    assert (tmp_path / "sft/final/model.safetensors").read_bytes() == (tmp_path / "p4d/final/model.safetensors").read_bytes()


def test_paper_weights_lower_every_distillation_term(tiny_model, tiny_dataset, teacher, tmp_path):
    run = tmp_path / "p4d"
    assert train("p4d", tiny_dataset, tiny_model, run, "--max-steps", "16", "--lr", "1e-3", "--teacher", teacher,
                 "--decoder-hidden", "32", "--save-every", "8") == 0
    r = rows(run)
    assert set(r[0]) >= {"sft", "ld", "ed_depth", "ed_flow", "ed_motion", "ed_camray"}
    w = {"depth": 1.0, "flow": 0.1, "motion": 0.05, "camray": 0.05}
    for row in r:  # the total is the paper's formula of the logged terms
        ed = sum(w[m] * row[f"ed_{m}"] for m in w)
        assert row["loss"] == pytest.approx(row["sft"] + 0.5 * row["ld"] + 0.1 * ed, rel=1e-5)
    for term in ("sft", "ld", "ed_depth", "ed_flow", "ed_motion", "ed_camray"):
        assert np.mean([x[term] for x in r[-4:]]) < np.mean([x[term] for x in r[:4]]), term
    # the decoder is training-only: final/ is a plain model with the base model's keys
    from safetensors.torch import load_file
    assert set(load_file(run / "final/model.safetensors")) == set(load_file(tiny_model / "model.safetensors"))
    # checkpoint round trip: lose everything after step 8, rerun: the same terms and the same model
    import shutil
    reference = (run / "final/model.safetensors").read_bytes()
    shutil.rmtree(run / "final")
    shutil.rmtree(run / "checkpoints/step_00000016")
    assert train("p4d", tiny_dataset, tiny_model, run, "--max-steps", "16", "--lr", "1e-3", "--teacher", teacher,
                 "--decoder-hidden", "32", "--save-every", "8") == 0
    assert rows(run) == r and (run / "final/model.safetensors").read_bytes() == reference


def test_tpe_checkpoint_is_applied_by_qa4d_eval(tiny_model, tiny_dataset, teacher, tmp_path):
    from PIL import Image

    from qa4d.bench.models.hf import HFModel
    from qa4d.bench.types import BenchItem
    from qa4d.cli import main
    from qa4d.nn.tpe import timestamp_encoding

    run = tmp_path / "tpe"
    assert train("p4d", tiny_dataset, tiny_model, run, "--max-steps", "2", "--lr", "1e-3", "--teacher", teacher,
                 "--decoder-hidden", "32", "--tpe", "--tpe-scale", "0.5") == 0
    assert json.loads((run / "final/qa4d_tpe.json").read_text()) == {"dim": 64, "base": 10000.0, "scale": 0.5}
    # in training too: the same run without TPE sees other visual tokens, so another first loss
    assert train("p4d", tiny_dataset, tiny_model, tmp_path / "plain", "--max-steps", "1", "--lr", "1e-3",
                 "--teacher", teacher, "--decoder-hidden", "32") == 0
    assert rows(tmp_path / "plain")[0]["sft"] != rows(run)[0]["sft"]
    m = HFModel(run / "final", device="cpu", max_new_tokens=2)
    assert m.tpe is not None
    images = [Image.open(tiny_dataset / f"media/bench0/{k:06d}.jpg").convert("RGB") for k in range(2)]
    inputs = m.prepare("q", images)
    item = BenchItem(id="x", benchmark="qa4d", task="t", question="q", answer="A", answer_format="mc",
                     meta={"timestamps": [0.0, 1.5]})
    with torch.no_grad():
        m._set_timestamps([item], [images])
        with_tpe = torch.cat(m.model.model.get_image_features(inputs["pixel_values"], inputs["image_grid_thw"]).pooler_output)
        m.tpe.set_timestamps(None)
        plain = torch.cat(m.model.model.get_image_features(inputs["pixel_values"], inputs["image_grid_thw"]).pooler_output)
    counts = (inputs["image_grid_thw"].prod(-1) // 4).tolist()
    want = np.repeat(timestamp_encoding(np.array([0.0, 1.5]), 64, scale=0.5), counts, axis=0)
    np.testing.assert_allclose((with_tpe - plain).numpy(), want, atol=1e-5)
    # and the whole eval runs on it
    assert main(["eval", "--benchmark", str(tiny_dataset / "bench"), "--model", "hf", "--model-path", str(run / "final"),
                 "--device", "cpu", "--max-new-tokens", "3", "--out", str(tmp_path / "ev")]) == 0
    info = json.loads((tmp_path / "ev/run.json").read_text())
    assert info["model_info"]["tpe"]["scale"] == 0.5
