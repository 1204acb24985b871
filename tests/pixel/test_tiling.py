import numpy as np
import pytest

from pixelforge.pixel import make_seamless, seam_score, unique_colors


def _texture(h=48, w=48, seed=0):
    """A wrapping pattern with a hard seam cut into it (a shifted crop of a larger texture)."""
    rng = np.random.default_rng(seed)
    pal = rng.integers(0, 256, (5, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0 : h * 2, 0 : w * 2]
    idx = ((np.sin(xx / 5.0) + np.cos(yy / 4.0) + rng.random((h * 2, w * 2)) * 0.6) * 1.6).astype(int) % 5
    img = np.empty((h * 2, w * 2, 4), np.uint8)
    img[..., :3] = pal[idx]
    img[..., 3] = 255
    return img[7 : 7 + h, 11 : 11 + w]


def test_seam_score_is_low_for_a_tile_and_high_for_a_cut():
    rng = np.random.default_rng(1)
    tile = rng.integers(0, 256, (8, 8, 4), dtype=np.uint8)
    tile[..., 3] = 255
    tiled = np.tile(tile, (3, 3, 1))
    assert seam_score(tiled) <= 1.2
    half = np.zeros((16, 16, 4), np.uint8)
    half[..., 3] = 255
    half[:, :8, :3] = 10
    half[:, 8:, :3] = 12
    half[:, 15, :3] = 250  # a seam only at the wrap
    assert seam_score(half, wrap_x=True, wrap_y=False) > 3


@pytest.mark.parametrize("axes", [(True, False), (False, True), (True, True)])
def test_repair_lowers_the_seam_score_and_keeps_size_and_palette(axes):
    img = _texture()
    out = make_seamless(img, *axes, seed=0)
    assert out.shape == img.shape
    before = seam_score(img, *axes)
    after = seam_score(out, *axes)
    assert after < before
    src = {tuple(c) for c in unique_colors(img)[0].tolist()}
    assert {tuple(c) for c in unique_colors(out)[0].tolist()} <= src


def test_repair_needs_an_axis_and_leaves_tiny_images():
    with pytest.raises(ValueError):
        make_seamless(_texture(), False, False)
    tiny = np.zeros((1, 3, 4), np.uint8)
    assert make_seamless(tiny, True, True).shape == tiny.shape
    assert seam_score(np.zeros((1, 1, 4), np.uint8)) == 0.0
