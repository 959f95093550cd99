"""OBJ reading: the fast path (one conversion for all vertices and faces) gives exactly the arrays
of the line-by-line reader, and leaves every file it does not fully understand to that reader."""

import glob

import numpy as np
import pybullet_data
import pytest

from qa4d.sources.sim.meshes import _load_obj, _load_obj_lines, _obj_triangles_fast


def _same(a, b):
    return all(x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes() for x, y in zip(a, b))


def _write(tmp_path, text):
    p = tmp_path / "m.obj"
    p.write_text(text)
    return p


def test_triangles_with_texture_and_normal_indices(tmp_path):
    p = _write(tmp_path, "# a comment\nv 0 0 0\nv 1.5 0 -0.25\nv 0 2 1e-3\nv 0.1 0.2 0.3\nvt 0 0\nvn 0 0 1\n"
                         "f 1/1/1 2/1/1 3/1/1\nf 4//1 2//1 1//1 \nusemtl x\nf 3 4 2\n")
    verts, faces = _load_obj(p)
    np.testing.assert_array_equal(verts, [[0, 0, 0], [1.5, 0, -0.25], [0, 2, 1e-3], [0.1, 0.2, 0.3]])
    np.testing.assert_array_equal(faces, [[0, 1, 2], [3, 1, 0], [2, 3, 1]])
    assert verts.dtype == np.float64 and faces.dtype == np.int64
    assert float(verts[3, 0]) == float("0.1")  # correctly rounded, as Python reads it


@pytest.mark.parametrize("text, faces", [
    ("v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3 4\n", [[0, 1, 2], [0, 2, 3]]),  # a quad: fanned
    ("v 0 0 0\nv 1 0 0\nv 1 1 0\nf -3 -2 -1\n", [[0, 1, 2]]),  # relative indices
    ("v 0 0 0 1\nv 1 0 0 1\nv 1 1 0 1\nf 1 2 3\n", [[0, 1, 2]]),  # 4-component vertices
    ("v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3\nf 1 3 4 2\n", [[0, 1, 2], [0, 2, 3], [0, 3, 1]]),  # mixed
])
def test_other_files_are_left_to_the_line_reader(tmp_path, text, faces):
    lines = text.split("\n")
    assert _obj_triangles_fast([ln for ln in lines if ln.startswith("v ")], [ln for ln in lines if ln.startswith("f ")]) is None
    verts, got = _load_obj(_write(tmp_path, text))
    np.testing.assert_array_equal(got, faces)
    assert verts.shape[1] == 3


def test_malformed_numbers_are_not_misread(tmp_path):
    with pytest.raises(ValueError):
        _load_obj(_write(tmp_path, "v 0 0 zero\nv 1 0 0\nv 1 1 0\nf 1 2 3\n"))
    with pytest.raises(ValueError):
        _load_obj(_write(tmp_path, "v 0 0 0\nv 1 0 0\nv 1 1 0\nf 1 2 x\n"))


def test_pybullet_data_meshes_read_the_same_both_ways():
    files = sorted(glob.glob(pybullet_data.getDataPath() + "/**/*.obj", recursive=True))
    sample = files[::25] + [f for f in files if f.endswith(("soccerball.obj", "duck.obj", "/168.obj"))]
    fast = 0
    for f in sample:
        with open(f, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().split("\n")
        want = _load_obj_lines(lines, f)
        got = _load_obj(f)
        assert _same(got, want), f
        fast += _obj_triangles_fast([ln for ln in lines if ln.startswith("v ")],
                                    [ln for ln in lines if ln.startswith("f ")]) is not None
    assert fast > len(sample) // 2  # the fast path is the usual one


@pytest.mark.parametrize("vlines, flines", [
    (["v 0 0 0 1", "v 1 0", "v 1 1 0"], ["f 1 2 3"]),  # lengths 5 + 3 + 4: four tokens a line on average
    (["v 0 0 0 v 1 0 0", "v 1 1", "v"], ["f 1 2 3"]),  # a line start inside another line
    (["v 0 0 0", "v 1 0 0", "v 1 1 0"], ["f 1 2 3 1", "f 2 3"]),  # faces of 4 and 2 corners
])
def test_lines_of_other_lengths_are_not_taken_for_triangles(vlines, flines):
    assert _obj_triangles_fast(vlines, flines) is None
