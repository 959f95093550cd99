"""qa4d._io.resolve_inside: the one check that a path named in a data file stays under its root."""

import os

import pytest

from qa4d._io import resolve_inside


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    (r / "a").mkdir(parents=True)
    (r / "a" / "f.png").write_bytes(b"x")
    (tmp_path / "secret.png").write_bytes(b"s")
    return r


def test_relative_paths_inside_are_joined(root):
    assert resolve_inside(root, "a/f.png") == root / "a" / "f.png"
    assert resolve_inside(str(root), "a/./f.png").resolve() == (root / "a" / "f.png").resolve()
    assert resolve_inside(root, "a/missing.png") == root / "a" / "missing.png"  # existence is not its job


@pytest.mark.parametrize("rel, words", [
    ("../secret.png", "'..'"), ("a/../../secret.png", "'..'"), ("a/../f.png", "'..'"),
    ("/etc/hostname", "absolute"), ("", "non-empty"), (5, "must be a string"), (None, "must be a string"),
    ("a/\x00.png", "non-empty string"),
])
def test_paths_that_could_leave_are_refused(root, rel, words):
    with pytest.raises(ValueError, match=words):
        resolve_inside(root, rel)


def test_symlinks_are_resolved(root, tmp_path):
    os.symlink(tmp_path / "secret.png", root / "a" / "link.png")
    with pytest.raises(ValueError, match="outside"):
        resolve_inside(root, "a/link.png")
    os.symlink(tmp_path, root / "up")                       # a directory link out
    with pytest.raises(ValueError, match="outside"):
        resolve_inside(root, "up/secret.png")
    os.symlink("f.png", root / "a" / "inside.png")         # a link that stays inside is fine
    assert resolve_inside(root, "a/inside.png") == root / "a" / "inside.png"


def test_a_root_reached_through_a_symlink_is_still_the_root(root, tmp_path):
    os.symlink(root, tmp_path / "alias")
    assert resolve_inside(tmp_path / "alias", "a/f.png") == tmp_path / "alias" / "a" / "f.png"
