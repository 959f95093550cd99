"""What the model is shown: R4D-Bench's Set-of-Marks image before the video frames (end to end,
through `qa4d eval` and the real local OpenAI-compatible test server), and no media at all for
blind models (on the real VLM4D question files, without their videos)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .fake_openai_server import FakeOpenAIServer, decode_data_url
from .tiny_bench import read_lines

from qa4d.bench.registry import get_benchmark
from qa4d.cli import main as qa4d_main

av = pytest.importorskip("av")

VLM4D = Path("/work/shared/data/vlm4d")
SOM_SIZE, SOM_RGB = (50, 38), (220, 30, 40)      # unlike any video frame: size and colour tell it apart
VIDEO_SIZE, VIDEO_GREY = (64, 48), 128


def eval_cli(*argv) -> int:
    return qa4d_main(["eval", *map(str, argv)])


def write_video(path: Path, n: int = 12, fps: int = 6) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = *VIDEO_SIZE, "yuv420p"
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(np.full((VIDEO_SIZE[1], VIDEO_SIZE[0], 3), VIDEO_GREY, np.uint8),
                                               format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


@pytest.fixture
def r4d(tmp_path):
    """A tiny R4D-Bench: test.json, one mp4 written by PyAV, one PNG Set-of-Marks image per item."""
    write_video(tmp_path / "videos/clip.mp4")
    (tmp_path / "som").mkdir()
    records = []
    for i, answer in enumerate(["left", "right"]):
        Image.fromarray(np.full((SOM_SIZE[1], SOM_SIZE[0], 3), SOM_RGB, np.uint8)).save(tmp_path / f"som/{i}.png")
        records.append({"id": f"r{i}", "benchmark": "VLM4D", "task": "translational",
                        "question": f"Which way does <obj_{i}> move?", "options": ["left", "right"],
                        "answer": answer, "video": "videos/clip.mp4", "som_image": f"som/{i}.png"})
    (tmp_path / "test.json").write_text(json.dumps(records))
    return tmp_path


def test_r4d_som_image_is_sent_first_and_named_in_the_prompt(r4d):
    frames = 3
    with FakeOpenAIServer(answer=lambda item, body: "Answer: A") as server:
        code = eval_cli("--benchmark", "r4d-bench", "--annotations", r4d / "test.json", "--media-root", r4d,
                        "--model", "openai", "--base-url", server.url, "--model-name", "tiny-vlm",
                        "--frames", frames, "--out", r4d / "run")
        requests = server.chat_requests()
    assert code == 0
    assert len(requests) == 2
    for req in requests:
        # 1 + N images, then the prompt
        assert req["part_types"] == ["image_url"] * (1 + frames) + ["text"]
        first, *rest = [decode_data_url(u).convert("RGB") for u in req["images"]]
        assert first.size == SOM_SIZE
        assert np.abs(np.asarray(first, float).mean(axis=(0, 1)) - SOM_RGB).max() < 8   # JPEG-coded red
        assert [im.size for im in rest] == [VIDEO_SIZE] * frames
        assert all(abs(np.asarray(im, float).mean() - VIDEO_GREY) < 8 for im in rest)
        text = req["texts"][0]
        assert "The first image is the first frame of the video with numbered marks" in text
        assert f"the next {frames} images are frames sampled uniformly" in text
        assert "Which way does <obj_" in text and "A. left" in text
    assert sorted(p["id"] for p in read_lines(r4d / "run" / "predictions.jsonl")) == ["r0", "r1"]
    assert json.loads((r4d / "run" / "metrics.json").read_text())["overall"]["correct"] == 1  # r0's answer is A


def test_r4d_missing_som_image_stops_an_image_model_but_not_a_blind_one(r4d, capsys):
    (r4d / "som/1.png").unlink()
    with FakeOpenAIServer() as server:
        code = eval_cli("--benchmark", "r4d-bench", "--annotations", r4d / "test.json", "--media-root", r4d,
                        "--model", "openai", "--base-url", server.url, "--model-name", "tiny-vlm",
                        "--out", r4d / "run")
        assert server.log == []                                   # not even GET /models
    assert code == 1
    err = capsys.readouterr().err
    assert "1 media file(s) missing" in err and str(r4d / "som/1.png") in err
    assert eval_cli("--benchmark", "r4d-bench", "--annotations", r4d / "test.json", "--media-root", r4d,
                    "--model", "oracle", "--out", r4d / "oracle") == 0


def test_prefix_images_load_before_the_frames_in_order(r4d):
    from qa4d.bench.media import load_frames, load_prefix_images, missing_media

    item = get_benchmark("r4d-bench")().load(r4d / "test.json")[1]
    assert item.prefix_images == ["som/1.png"] and item.media == ["videos/clip.mp4"]
    prefix = load_prefix_images(item, r4d)
    assert [im.size for im in prefix] == [SOM_SIZE]
    assert np.asarray(prefix[0])[0, 0].tolist() == list(SOM_RGB)   # PNG: exact
    assert len(load_frames(item, r4d, 2).images) == 2                # the video alone is sampled
    (r4d / "som/1.png").unlink()
    assert missing_media([item], r4d) == [f"item r1: {r4d / 'som/1.png'} does not exist"]


@pytest.mark.skipif(not VLM4D.is_dir(), reason="the real VLM4D question files are not available")
def test_blind_model_on_real_vlm4d_needs_no_videos(tmp_path, capsys):
    empty = tmp_path / "no-videos"
    empty.mkdir()
    bench = get_benchmark("vlm4d")()
    items = bench.load(VLM4D, empty)
    videos = {str(p) for it in items for p in bench.media_paths(it, empty)}
    assert len(items) == 1816 and len(bench.check_media(items, empty)) == len(videos) > 0  # none present

    run = tmp_path / "oracle"
    assert eval_cli("--benchmark", "vlm4d", "--annotations", VLM4D / "real_mc.json", "--media-root", empty,
                    "--model", "oracle", "--out", run) == 0
    overall = json.loads((run / "metrics.json").read_text())["overall"]
    # every VLM4D ground truth names exactly one option letter: no ambiguous items
    assert overall["n"] == overall["correct"] == 1371 and overall["accuracy"] == 1.0
    assert overall["unparsed"] == overall["errors"] == 0

    capsys.readouterr()
    with FakeOpenAIServer() as server:
        code = eval_cli("--benchmark", "vlm4d", "--annotations", VLM4D / "real_mc.json", "--media-root", empty,
                        "--model", "openai", "--base-url", server.url, "--model-name", "tiny-vlm",
                        "--out", tmp_path / "openai")
        assert server.log == []                                   # failed before any request
    assert code == 1
    err = capsys.readouterr().err
    real_videos = {str(p) for it in items if it.groups.get("split") == "real" for p in bench.media_paths(it, empty)}
    assert f"{len(real_videos)} media file(s) missing" in err
    assert str(bench.media_paths(items[0], empty)[0]) in err      # listed in item order, the first one first
    assert not (tmp_path / "openai" / "predictions.jsonl").exists()
