"""The pixel commands end to end on files (typer's in-process runner)."""

from pathlib import Path

import numpy as np
from PIL import Image
from tests.pixel.conftest import enlarge, make_sprite
from typer.testing import CliRunner

from pixelforge.cli import app

runner = CliRunner()


def _save(img: np.ndarray, path: Path) -> Path:
    Image.fromarray(img, "RGBA").save(path)
    return path


def _load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGBA"))


def test_fix_recovers_the_native_sprite(tmp_path):
    native = make_sprite(20, 18, seed=3)
    src = _save(enlarge(native, 7), tmp_path / "big.png")
    res = runner.invoke(app, ["fix", str(src), "-o", str(tmp_path / "out.png")])
    assert res.exit_code == 0, res.output
    assert "18x20" in res.output
    assert np.array_equal(_load(tmp_path / "out.png"), native)
    res = runner.invoke(
        app, ["fix", str(src), "-o", str(tmp_path / "c.png"), "--cell", "7", "--preview-scale", "2"]
    )
    assert res.exit_code == 0, res.output
    assert np.array_equal(_load(tmp_path / "c.png"), enlarge(native, 2))


def test_fix_reads_a_seamless_tile_as_one(tmp_path):
    native = make_sprite(12, 14, seed=5, transparent=False)
    # A tile cut 4 px into a 7 px cell: as borders, one partial cell each side.
    src = _save(np.roll(enlarge(native, 7), (-4, -4), axis=(0, 1)), tmp_path / "tile.png")
    res = runner.invoke(app, ["fix", str(src), "-o", str(tmp_path / "out.png"), "--tile"])
    assert res.exit_code == 0, res.output
    assert "14x12" in res.output
    out = _load(tmp_path / "out.png")
    assert any(np.array_equal(out, np.roll(native, (-a, -a), axis=(0, 1))) for a in (0, 1))
    res = runner.invoke(app, ["fix", str(src), "-o", str(tmp_path / "x.png"), "--tile-x", "--cell", "7"])
    assert res.exit_code != 0 and "not with --cell" in res.output


def test_fix_says_when_there_is_no_grid(tmp_path):
    src = _save(make_sprite(40, 40, seed=1), tmp_path / "native.png")
    res = runner.invoke(app, ["fix", str(src), "-o", str(tmp_path / "out.png")])
    assert res.exit_code == 0 and "no pixel grid" in res.output


def test_pixelate_palette_and_remove_bg(tmp_path):
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (120, 90, 4), dtype=np.uint8)
    photo[..., 3] = 255
    src = _save(photo, tmp_path / "photo.png")
    res = runner.invoke(
        app, ["pixelate", str(src), "-o", str(tmp_path / "p.png"), "--size", "32", "--colors", "8"]
    )
    assert res.exit_code == 0, res.output
    out = _load(tmp_path / "p.png")
    assert out.shape == (32, 24, 4)
    assert len(np.unique(out.reshape(-1, 4), axis=0)) <= 8

    pal = np.zeros((1, 3, 4), np.uint8)
    pal[0, :, 3] = 255
    pal[0, 1, :3] = [255, 255, 255]
    pal[0, 2, :3] = [200, 0, 0]
    palp = _save(pal, tmp_path / "pal.png")
    res = runner.invoke(
        app,
        ["palette", str(src), "--palette", str(palp), "-o", str(tmp_path / "m.png"), "--dither", "bayer_2x2"],
    )
    assert res.exit_code == 0, res.output
    cols = {tuple(c) for c in _load(tmp_path / "m.png")[..., :3].reshape(-1, 3).tolist()}
    assert cols <= {(0, 0, 0), (255, 255, 255), (200, 0, 0)}

    sprite = np.full((30, 30, 4), 255, np.uint8)
    sprite[10:20, 10:20, :3] = [30, 60, 90]
    res = runner.invoke(
        app, ["remove-bg", str(_save(sprite, tmp_path / "s.png")), "-o", str(tmp_path / "s2.png")]
    )
    assert res.exit_code == 0, res.output
    assert set(np.unique(_load(tmp_path / "s2.png")[..., 3]).tolist()) == {0, 255}


def test_bad_inputs_are_reported(tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    res = runner.invoke(app, ["fix", str(junk), "-o", str(tmp_path / "o.png")])
    assert res.exit_code != 0 and "cannot read image" in res.output
    src = _save(make_sprite(8, 8), tmp_path / "a.png")
    res = runner.invoke(app, ["pixelate", str(src), "-o", str(tmp_path / "o.png"), "--dither", "zigzag"])
    assert res.exit_code != 0
