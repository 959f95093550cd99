import numpy as np
import pytest

from qa4d.geometry import intrinsics_from_fov, look_at
from qa4d.scene import SceneMeta, SceneObject, write_scene


def toy_scene_arrays(t_len: int = 4, h: int = 24, w: int = 32):
    """A camera trucking right past one cube that slides towards it; all arrays of the format."""
    k = np.repeat(intrinsics_from_fov(w, h, 60.0)[None], t_len, axis=0)
    c2w = np.stack([look_at([0.1 * t, -4.0, 1.0], [0.1 * t, 0.0, 0.5]) for t in range(t_len)])
    o2w = np.repeat(np.eye(4)[None, None], t_len, axis=1).copy()
    o2w[0, :, 1, 3] = -0.2 * np.arange(t_len)
    depth = np.full((t_len, h, w), 4.0, dtype=np.float32)
    mask = np.zeros((t_len, h, w), dtype=np.int32)
    mask[:, 10:14, 14:18] = 1
    tracks = np.zeros((3, t_len, 3), dtype=np.float32)
    tracks[0, :, 1] = o2w[0, :, 1, 3]
    tracks[1:, :, 0] = [[-1.0], [1.0]]
    return {
        "intrinsics": k,
        "cam_to_world": c2w,
        "depth": depth,
        "instance_mask": mask,
        "object_to_world": o2w,
        "object_visible": np.ones((1, t_len), bool),
        "object_extent": np.array([[0.5, 0.5, 0.5]]),
        "tracks_world": tracks,
        "tracks_visible": np.ones((3, t_len), bool),
        "tracks_object": np.array([1, 0, 0], np.int32),
    }


def toy_meta(t_len: int = 4, h: int = 24, w: int = 32) -> SceneMeta:
    return SceneMeta(
        scene_id="toy", source="test", fps=10.0, width=w, height=h, frames=[],
        objects=[SceneObject(1, "cube", "the small red cube")],
    )


@pytest.fixture
def toy_scene_dir(tmp_path):
    t_len, h, w = 4, 24, 32
    frames = [np.full((h, w, 3), 40 * t, np.uint8) for t in range(t_len)]
    return write_scene(tmp_path / "toy", toy_meta(t_len, h, w), toy_scene_arrays(t_len, h, w), frames)
