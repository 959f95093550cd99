"""The 4D scene format (v1): data classes, reading, writing and validation."""

from qa4d.scene.format import (
    ARRAY_SPECS,
    FORMAT,
    Scene,
    SceneError,
    SceneMeta,
    SceneObject,
    iter_scene_dirs,
    load_scene,
    read_meta,
    save_npz,
    write_json_atomic,
    write_scene,
)

__all__ = [
    "ARRAY_SPECS", "FORMAT", "Scene", "SceneError", "SceneMeta", "SceneObject", "iter_scene_dirs",
    "load_scene", "read_meta", "save_npz", "write_json_atomic", "write_scene",
]
