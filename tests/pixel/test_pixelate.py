import numpy as np
import pytest

from pixelforge.pixel import pixelate, unique_colors
from pixelforge.pixel.pixelate import target_size


def _photo(h=300, w=200, seed=0):
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    img = np.empty((h, w, 4), np.uint8)
    img[..., :3] = np.clip(gaussian_filter(rng.normal(128, 80, (h, w, 3)), (6, 6, 0)) * 4 - 384, 0, 255)
    img[..., 3] = 255
    return img


def test_size_and_colour_count():
    out = pixelate(_photo(), size=64, colors=16)
    assert out.shape == (64, 43, 4)
    assert len(unique_colors(out)[0]) <= 16
    assert set(np.unique(out[..., 3]).tolist()) <= {0, 255}


def test_target_size_never_upscales_and_handles_strips():
    assert target_size(10, 10, 64) == (10, 10)
    assert target_size(1, 1000, 64) == (1, 64)
    with pytest.raises(ValueError):
        target_size(5, 5, 0)


def test_crisp_edges_keep_source_colours():
    img = np.zeros((64, 64, 4), np.uint8)
    img[..., 3] = 255
    img[:, :29, :3] = [220, 30, 30]
    img[:, 29:, :3] = [30, 30, 220]
    out = pixelate(img, size=8, colors=4)
    cols = {tuple(c) for c in unique_colors(out)[0].tolist()}
    assert cols <= {(220, 30, 30), (30, 30, 220)}


def test_transparency_and_dither_and_tiny():
    img = _photo(40, 40)
    img[:, :20, 3] = 0
    out = pixelate(img, 10, 4, dither_mode="bayer_4x4", dither_strength=60)
    assert (out[:, :4, 3] == 0).all()
    assert pixelate(np.full((1, 1, 4), 255, np.uint8), 64, 16).shape == (1, 1, 4)
