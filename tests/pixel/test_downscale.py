import numpy as np
import pytest

from pixelforge.pixel import downscale, harden_alpha


def _random_sprite(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    return harden_alpha(img)


def test_harden_alpha_is_binary_and_clears_rgb_of_transparent():
    img = np.array([[[10, 20, 30, 127], [10, 20, 30, 128]]], dtype=np.uint8)
    out = harden_alpha(img)
    assert out[0, 0].tolist() == [0, 0, 0, 0]
    assert out[0, 1].tolist() == [10, 20, 30, 255]


@pytest.mark.parametrize("method", ["mode", "mean"])
@pytest.mark.parametrize("factor", [1, 2, 3, 5])
def test_downscale_inverts_nearest_upscale(method, factor):
    small = _random_sprite(7, 9, seed=factor)
    big = small.repeat(factor, axis=0).repeat(factor, axis=1)
    assert np.array_equal(downscale(big, factor, method=method), small)


def test_downscale_mode_keeps_source_colours_only():
    rng = np.random.default_rng(1)
    big = np.zeros((8, 8, 4), np.uint8)
    big[..., 3] = 255
    big[..., :3] = rng.choice([0, 255], size=(8, 8, 3))
    out = downscale(big, 4, method="mode")
    src = {tuple(p) for p in big.reshape(-1, 4).tolist()}
    assert all(tuple(p) in src for p in out.reshape(-1, 4).tolist())


def test_downscale_rejects_bad_input():
    with pytest.raises(ValueError, match="RGBA"):
        downscale(np.zeros((4, 4, 3), np.uint8), 2)
    with pytest.raises(ValueError, match="larger than the image"):
        downscale(np.zeros((4, 4, 4), np.uint8), 8)


def test_kcentroid_downscale_ignores_bleeding_neighbours():
    rng = np.random.default_rng(0)
    small = _random_sprite(6, 6, seed=7)
    small[..., 3] = 255
    big = small.repeat(8, axis=0).repeat(8, axis=1).astype(np.int64)
    big[..., :3] += rng.normal(0, 4, big[..., :3].shape).astype(np.int64)
    out = downscale(np.clip(big, 0, 255).astype(np.uint8), 8, method="kcentroid")
    assert out.shape == small.shape
    assert np.abs(out.astype(int) - small.astype(int)).max() <= 6


def test_downscale_unknown_method():
    with pytest.raises(ValueError, match="unknown downscale method"):
        downscale(np.zeros((4, 4, 4), np.uint8), 2, method="median")
