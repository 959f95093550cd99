"""What `--model openai` puts on the wire for a frame and for a clip, checked on the real local
test server (fake_openai_server.py): stored JPEGs byte for byte, everything else decoded to the
pixels it should show; `--video-mode video` as one H.264 clip decoded back with PyAV."""

from __future__ import annotations

import base64
import io
import os
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .fake_openai_server import FakeOpenAIServer, data_url_bytes, decode_data_url, decode_video_data_url
from .tiny_bench import TinyBench, read_lines

from qa4d.bench.models.openai import OpenAIChatClient, OpenAIModel
from qa4d.bench.runner import run_model
from qa4d.bench.types import BenchItem
from qa4d.cli import main as qa4d_main

av = pytest.importorskip("av")


def make_model(url: str, **kw) -> OpenAIModel:
    client = OpenAIChatClient(url, "tiny-vlm", timeout=10, max_retries=1, backoff=0.01, pool_size=2)
    return OpenAIModel(client, concurrency=2, **kw)


def pattern(w: int = 40, h: int = 30, seed: int = 0) -> np.ndarray:
    """A smooth RGB gradient plus a little noise (JPEG codes it well; pixels are all distinct enough)."""
    y, x = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    img = np.stack([x * 255 / w, y * 255 / h, (x + y) * 127 / (w + h) + 60], -1) + rng.normal(0, 3, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def item(i: int, media: list[str], **meta) -> BenchItem:
    return BenchItem(id=f"q{i}", benchmark="tiny", task="t", question="Which way?", answer="A", answer_format="mc",
                     options={"A": "left", "B": "right"}, media=media, media_kind="images", meta=dict(meta))


def ask(tmp_path: Path, items: list[BenchItem], frames: int | None = None, **model_kw) -> tuple[list[dict], list[dict]]:
    """Run the items through run_model against the test server: (chat requests by item, predictions)."""
    with FakeOpenAIServer() as server:
        model = make_model(server.url, **model_kw)
        run_model(TinyBench(items), items, model, tmp_path / "run", media_root=tmp_path, frames=frames, progress=False)
        model.close()
        reqs = sorted(server.chat_requests(), key=lambda r: r["item"])
    return reqs, read_lines(tmp_path / "run" / "predictions.jsonl")


def mean_abs(a, b) -> float:
    return float(np.abs(np.asarray(a, float) - np.asarray(b, float)).mean())


# -- stored images ------------------------------------------------------------------------------
def test_stored_jpegs_are_sent_byte_for_byte(tmp_path):
    Image.fromarray(pattern()).save(tmp_path / "rgb.jpg", quality=85)
    Image.fromarray(pattern()[..., 0]).save(tmp_path / "grey.jpg", quality=85)
    Image.fromarray(pattern()).save(tmp_path / "progressive.jpg", quality=70, progressive=True)
    files = ["rgb.jpg", "grey.jpg", "progressive.jpg"]
    reqs, preds = ask(tmp_path, [item(0, files)])
    assert [p["response"] for p in preds] == ["Answer: A"]
    (req,) = reqs
    assert req["part_types"] == ["image_url"] * 3 + ["text"]
    for name, url in zip(files, req["images"]):
        assert data_url_bytes(url) == (tmp_path / name).read_bytes(), name


def test_reencode_images_encodes_even_a_stored_jpeg(tmp_path):
    Image.fromarray(pattern()).save(tmp_path / "rgb.jpg", quality=95)
    (req,), _ = ask(tmp_path, [item(0, ["rgb.jpg"])], reencode_images=True)
    sent = data_url_bytes(req["images"][0])
    assert sent != (tmp_path / "rgb.jpg").read_bytes() and sent[:2] == b"\xff\xd8"
    with Image.open(tmp_path / "rgb.jpg") as im:
        assert mean_abs(decode_data_url(req["images"][0]).convert("RGB"), im.convert("RGB")) < 3


def test_downscaled_when_larger_than_max_image_side(tmp_path):
    """40x30 with --max-image-side 20 -> 20x15 (Lanczos of the decoded file, then JPEG)."""
    Image.fromarray(pattern()).save(tmp_path / "big.jpg", quality=95)
    Image.fromarray(pattern(16, 12, seed=1)).save(tmp_path / "small.jpg", quality=95)
    (req,), _ = ask(tmp_path, [item(0, ["big.jpg", "small.jpg"])], max_image_side=20)
    big, small = req["images"]
    got = decode_data_url(big).convert("RGB")
    assert got.size == (20, 15)
    with Image.open(tmp_path / "big.jpg") as im:
        want = im.convert("RGB").resize((20, 15), Image.Resampling.LANCZOS)
        nearest = im.convert("RGB").resize((20, 15), Image.Resampling.NEAREST)
    assert mean_abs(got, want) < 2.5 < mean_abs(got, nearest)  # the resized pixels, not another resize
    # the small one fits: still its own bytes
    assert data_url_bytes(small) == (tmp_path / "small.jpg").read_bytes()


def test_png_cmyk_and_palette_images_are_decoded_and_sent_as_jpeg(tmp_path):
    rgb = pattern()
    Image.fromarray(rgb).save(tmp_path / "a.png")
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    blocks = np.zeros((30, 40, 3), np.uint8)   # 4 flat colours, edges on the 16-px JPEG blocks
    blocks[:16, :16], blocks[:16, 16:], blocks[16:, :16], blocks[16:, 16:] = (200, 40, 40), (40, 200, 40), (40, 40, 200), (90, 90, 90)
    Image.fromarray(blocks).quantize(4).save(tmp_path / "pal.png")
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    files = ["a.png", "cmyk.jpg", "pal.png", "alpha.png"]
    (req,), _ = ask(tmp_path, [item(0, files)])
    for name, url in zip(files, req["images"]):
        sent = data_url_bytes(url)
        assert sent != (tmp_path / name).read_bytes() and sent[:2] == b"\xff\xd8", name
        got = decode_data_url(url)
        assert got.mode == "RGB" and got.size == (40, 30), name
        with Image.open(tmp_path / name) as im:
            expected = im.convert("RGB")   # what the file shows as RGB (alpha dropped, as before)
        assert mean_abs(got, expected) < 3, name
    # the CMYK file shows the same colours as the RGB pattern it was made from
    assert mean_abs(decode_data_url(req["images"][1]), rgb) < 4


def test_exif_orientation_is_applied_not_passed_on(tmp_path):
    """Orientation 6 = turn 90 degrees clockwise to view: a 40x30 image (left half red, right half
    blue) is seen as 30x40 with red on top and blue below."""
    arr = np.zeros((30, 40, 3), np.uint8)
    arr[:, :20] = (230, 20, 20)
    arr[:, 20:] = (20, 20, 230)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(arr).save(tmp_path / "rot.jpg", quality=95, exif=exif.tobytes())
    Image.fromarray(arr).save(tmp_path / "upright.jpg", quality=95, exif=Image.Exif().tobytes())
    (req,), _ = ask(tmp_path, [item(0, ["rot.jpg", "upright.jpg"])])
    rot, upright = req["images"]
    got = np.asarray(decode_data_url(rot).convert("RGB"), float)
    assert got.shape == (40, 30, 3)
    assert np.abs(got[:16].mean((0, 1)) - (230, 20, 20)).max() < 10    # top: red
    assert np.abs(got[24:].mean((0, 1)) - (20, 20, 230)).max() < 10    # bottom: blue
    with Image.open(io.BytesIO(data_url_bytes(rot))) as im:
        assert im.getexif().get(0x0112, 1) == 1                       # no rotation left for the server to apply
    assert data_url_bytes(upright) == (tmp_path / "upright.jpg").read_bytes()   # orientation 1 tag: as stored


def test_a_truncated_jpeg_fails_its_item_only(tmp_path):
    Image.fromarray(pattern()).save(tmp_path / "ok.jpg", quality=90)
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    reqs, preds = ask(tmp_path, [item(0, ["ok.jpg"]), item(1, ["cut.jpg"])])
    assert [r["item"] for r in reqs] == ["q0"]                          # the broken file never reaches the server
    by_id = {p["id"]: p for p in preds}
    assert by_id["q0"]["response"] == "Answer: A"
    assert by_id["q1"]["response"] is None
    assert by_id["q1"]["error"].startswith("item q1: cannot read image") and "cut.jpg" in by_id["q1"]["error"]


# -- video mode -----------------------------------------------------------------------------------
def grey_frames(root: Path, n: int, size=(32, 24), name="clip") -> list[str]:
    (root / name).mkdir(parents=True, exist_ok=True)
    rels = []
    for i in range(n):
        rel = f"{name}/{i:03d}.png"
        Image.fromarray(np.full((size[1], size[0], 3), 20 * i + 10, np.uint8)).save(root / rel)
        rels.append(rel)
    return rels


def greys(video) -> list[int]:
    return [int(round(np.asarray(f, float).mean())) for f in video.frames]


def test_video_mode_sends_one_clip_at_the_records_timestamps(tmp_path):
    """Six images taken at uneven times, --frames 4 -> images 0, 2, 3, 5 (round(linspace(0, 5, 4)))
    in one clip, at their times less the first."""
    media = grey_frames(tmp_path, 6)
    stamps = [10.0, 10.5, 11.5, 12.0, 13.0, 14.5]
    (req,), preds = ask(tmp_path, [item(0, media, timestamps=stamps)], frames=4, video_mode="video")
    assert preds[0]["response"] == "Answer: A"
    assert req["part_types"] == ["video_url", "text"] and req["images"] == []
    assert "(4 frames)" in req["texts"][0]
    video = decode_video_data_url(req["videos"][0])
    assert video.codec == "h264"
    assert len(video.frames) == 4 and {f.size for f in video.frames} == {(32, 24)}
    assert video.times == pytest.approx([0.0, 1.5, 2.0, 4.5], abs=1e-3)
    assert [abs(g - w) <= 3 for g, w in zip(greys(video), [10, 50, 70, 110])] == [True] * 4


def test_video_mode_without_times_uses_video_fps_and_odd_sizes_work(tmp_path):
    media = grey_frames(tmp_path, 5, size=(33, 25))
    (req,), _ = ask(tmp_path, [item(0, media)], frames=None, video_mode="video", video_fps=4.0)
    video = decode_video_data_url(req["videos"][0])
    assert len(video.frames) == 5 and {f.size for f in video.frames} == {(33, 25)}
    assert video.times == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0], abs=1e-3)
    assert video.rate == 4
    assert [abs(g - w) <= 3 for g, w in zip(greys(video), [10, 30, 50, 70, 90])] == [True] * 5


def test_video_mode_is_byte_identical_between_runs(tmp_path):
    media = grey_frames(tmp_path, 4)
    items = [item(0, media, fps=2.0), item(1, media, fps=2.0)]
    reqs, _ = ask(tmp_path, items, video_mode="video")
    assert reqs[0]["videos"][0] == reqs[1]["videos"][0]
    assert decode_video_data_url(reqs[0]["videos"][0]).rate == 2


def test_video_clip_of_moving_frames_has_the_same_bytes_every_time():
    """The same frames give the same clip, call after call in one process: with x264's macroblock
    tree on, 96x96 frames of a moving disc came out as 2 to 5 different byte strings in 12 calls
    (flat grey frames, as in the test above, always matched)."""
    from qa4d.bench.models.openai_messages import video_bytes

    y, x = np.mgrid[0:96, 0:96]
    frames = []
    for k in range(8):  # a red disc moving over a striped background
        img = np.stack([(2 * x + y) % 256, np.full_like(x, 120), np.full_like(x, 120)], -1).astype(np.uint8)
        img[(x - 20 - 6 * k) ** 2 + (y - 30 - 3 * k) ** 2 < 150] = [200, 40, 40]
        frames.append(Image.fromarray(img))
    clips = {video_bytes(frames, [0.25 * k for k in range(8)]) for _ in range(12)}
    assert len(clips) == 1
    video = decode_video_data_url("data:video/mp4;base64," + base64.b64encode(clips.pop()).decode())
    assert len(video.frames) == 8 and video.times == pytest.approx([0.25 * k for k in range(8)], abs=1e-3)


def write_video(path: Path, n: int = 20, fps: int = 10, size=(48, 32)) -> None:
    """Frame i is grey 10 * i + 5, at i / fps seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.codec_context.qscale = 1
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(np.full((size[1], size[0], 3), 10 * i + 5, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


def test_qa4d_eval_video_mode_on_a_video_benchmark_with_a_prefix_image(tmp_path):
    """R4D-Bench: the Set-of-Marks image stays an image part; 5 of the video's 20 frames (10 fps):
    frames 0, 5, 10, 14, 19 at 0, 0.5, 1.0, 1.4, 1.9 s, as one clip."""
    write_video(tmp_path / "videos/clip.mp4")
    (tmp_path / "som").mkdir()
    Image.fromarray(np.full((38, 50, 3), (220, 30, 40), np.uint8)).save(tmp_path / "som/0.png")
    rec = {"id": "r0", "benchmark": "VLM4D", "task": "translational", "question": "Which way does <obj_0> move?",
           "options": ["left", "right"], "answer": "left", "video": "videos/clip.mp4", "som_image": "som/0.png"}
    (tmp_path / "test.json").write_text(json.dumps([rec]))
    with FakeOpenAIServer() as server:
        code = qa4d_main(["eval", "--benchmark", "r4d-bench", "--annotations", str(tmp_path / "test.json"),
                          "--media-root", str(tmp_path), "--model", "openai", "--base-url", server.url,
                          "--model-name", "tiny-vlm", "--frames", "5", "--video-mode", "video",
                          "--out", str(tmp_path / "run")])
        (req,) = server.chat_requests()
    assert code == 0
    assert req["part_types"] == ["image_url", "video_url", "text"]
    assert decode_data_url(req["images"][0]).size == (50, 38)
    video = decode_video_data_url(req["videos"][0])
    assert len(video.frames) == 5 and {f.size for f in video.frames} == {(48, 32)}
    assert video.times == pytest.approx([0.0, 0.5, 1.0, 1.4, 1.9], abs=1e-3)
    assert [abs(g - w) <= 4 for g, w in zip(greys(video), [5, 55, 105, 145, 195])] == [True] * 5
    assert "the next 5 images are frames sampled uniformly" in req["texts"][0]
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["model_info"]["video_mode"] == "video"


# -- paths: the remembered directory check keeps every refusal ----------------------------------
def test_media_paths_through_symlinked_directories(tmp_path):
    from qa4d.bench.media import MediaError, resolve_media

    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "real").mkdir(parents=True)
    outside.mkdir()
    for d in (root / "real", outside):
        Image.fromarray(pattern()).save(d / "f.jpg")
    os.symlink(outside, root / "out")              # a directory leading out of the root
    os.symlink(root / "real", root / "alias")       # a directory leading elsewhere inside it
    os.symlink(outside / "f.jpg", root / "real" / "link.jpg")   # a file leading out
    it = item(0, [])
    for _ in range(2):   # the second time from the remembered directories
        assert resolve_media(it, ["real/f.jpg", "alias/f.jpg"], root) == [root / "real/f.jpg", root / "alias/f.jpg"]
        for bad in ("out/f.jpg", "real/link.jpg", "alias/link.jpg", "real/../out/f.jpg", "/etc/passwd"):
            with pytest.raises(MediaError, match=r"item q0: media\[0\]"):
                resolve_media(it, [bad], root)
