"""Frame loading: uniform sampling of image lists and of real mp4 videos written with PyAV."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from .tiny_bench import write_frames

from qa4d.bench.media import MediaError, load_frames, missing_media, sample_video, uniform_indices
from qa4d.bench.types import BenchItem

av = pytest.importorskip("av")

FPS = 10
N_VIDEO_FRAMES = 30


def grey(i: int) -> int:
    return 8 * i  # frame i is a solid grey of level 8 i (distinct after JPEG/H.264 noise)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """A 3 s, 10 fps mp4 whose frame i is solid grey 8 i; starts at a non-zero pts like many files."""
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.gop_size = 8  # several keyframes, so seeking is exercised
        for i in range(N_VIDEO_FRAMES):
            arr = np.full((48, 64, 3), grey(i), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            frame.pts = i + 7  # a stream that does not start at 0
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def frame_indices(frames) -> list[int]:
    return [int(round(np.asarray(im.convert("L")).mean() / 8)) for im in frames.images]


@given(st.integers(0, 500), st.integers(-2, 600))
def test_uniform_indices_properties(count, n):
    idx = uniform_indices(count, n)
    want = count if (n <= 0 or n >= count) else n
    assert len(idx) == want
    assert np.all(np.diff(idx) > 0)
    if want:
        assert idx[0] == 0 and idx[-1] == count - 1 or want == 1 and idx[0] == 0


def test_image_list_is_subsampled_uniformly(tmp_path):
    media = write_frames(tmp_path, "c", 10)
    item = BenchItem("x", "t", "t", "q?", "A", media=media)
    fr = load_frames(item, tmp_path, 4)
    assert [int(np.asarray(im)[0, 0, 0]) // 10 for im in fr.images] == [0, 3, 6, 9]
    assert fr.source_count == 10 and all(im.mode == "RGB" for im in fr.images)
    assert len(load_frames(item, tmp_path, None).images) == 10
    assert len(load_frames(item, tmp_path, 50).images) == 10


def test_video_frames_sampled_uniformly(video):
    fr = sample_video(video, 4)
    assert frame_indices(fr) == [0, 10, 19, 29]           # round(linspace(0, 29, 4))
    assert fr.timestamps == pytest.approx([0.0, 1.0, 1.9, 2.9])
    assert fr.source_count == N_VIDEO_FRAMES
    assert fr.images[0].size == (64, 48)


def test_video_time_window_is_respected(video, tmp_path):
    item = BenchItem("v", "sti-bench", "t", "q?", "A", media=[video.name], media_kind="video",
                     meta={"time_start": 1.0, "time_end": 2.0})
    fr = load_frames(item, video.parent, 3)
    assert frame_indices(fr) == [10, 15, 20]
    assert fr.source_count == 11
    bad = BenchItem("w", "sti-bench", "t", "q?", "A", media=[video.name], media_kind="video",
                    meta={"time_start": 5.0, "time_end": 6.0})
    with pytest.raises(MediaError, match=r"no frame in the time window \[5.0, 6.0\]"):
        load_frames(bad, video.parent, 3)


def test_missing_and_broken_media(tmp_path):
    item = BenchItem("m", "b", "t", "q?", "A", media=["nope.mp4"], media_kind="video")
    assert missing_media([item], tmp_path) == [f"item m: {tmp_path / 'nope.mp4'} does not exist"]
    with pytest.raises(MediaError, match="does not exist"):
        load_frames(item, tmp_path, 4)
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all")
    broken = BenchItem("b", "b", "t", "q?", "A", media=["broken.mp4"], media_kind="video")
    with pytest.raises(MediaError, match="broken.mp4"):
        load_frames(broken, tmp_path, 4)
    (tmp_path / "bad.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(MediaError, match="cannot read image"):
        load_frames(BenchItem("p", "b", "t", "q?", "A", media=["bad.png"]), tmp_path, 4)
