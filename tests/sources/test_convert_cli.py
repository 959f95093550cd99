"""`qa4d convert`: registry, arguments, reading only inside SRC."""

from __future__ import annotations

import pkgutil

import pytest

import qa4d.sources.converters as pkg
from qa4d.cli import main
from qa4d.sources.converters import Converter, converter_names, get_converter, register_converter
from tests.sources import test_convert_tapvid3d as tv


def test_every_converter_module_registers_itself():
    modules = {m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_") and m.name != "base"}
    assert set(converter_names()) == modules == {"kubric", "pointodyssey", "recon", "tapvid3d", "vkitti2"}
    for name in converter_names():
        conv = get_converter(name)
        assert conv.name == name and conv.licence and conv.description


def test_a_name_registers_once():
    class Twin(Converter):
        name = "kubric"

    with pytest.raises(ValueError, match="registered twice"):
        register_converter(Twin)


def test_bad_arguments_and_missing_source(tmp_path, capsys):
    assert main(["convert", "--from", "tapvid3d", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["convert", "--from", "tapvid3d", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "no tapvid3d item found" in capsys.readouterr().err
    assert main(["convert", "--from", "tapvid3d", str(tmp_path), "--out", str(tmp_path / "o"), "--stride", "0"]) == 2


def test_symlink_out_of_the_source_is_not_read(tmp_path, capsys):
    tv.write_clip(tmp_path / "elsewhere" / "secret.npz")
    src = tmp_path / "src" / "adt"
    src.mkdir(parents=True)
    tv.write_clip(src / "ok.npz")
    (src / "link.npz").symlink_to(tmp_path / "elsewhere" / "secret.npz")
    out = tmp_path / "out"
    assert main(["convert", "--from", "tapvid3d", str(tmp_path / "src"), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "link.npz: leads outside the source" in err
    assert sorted(p.name for p in out.iterdir()) == ["tapvid3d_adt_ok"]      # the good item still converted
