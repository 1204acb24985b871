import numpy as np
import pytest

from pixelforge.pixel import bayer_matrix, dither, error_diffusion, one_bit

PAL = np.array([[0, 0, 0], [255, 255, 255], [200, 40, 40], [40, 40, 200]], np.uint8)


def _gradient(h=16, w=64):
    img = np.zeros((h, w, 4), np.uint8)
    img[..., :3] = np.linspace(0, 255, w).astype(np.uint8)[None, :, None]
    img[..., 3] = 255
    return img


def _in_palette(img, pal):
    allowed = {tuple(c) for c in pal.tolist()}
    return all(tuple(c) in allowed for c in img[img[..., 3] > 0][:, :3].tolist())


def test_bayer_matrices_are_permutations():
    for n in (2, 4, 8):
        m = bayer_matrix(n)
        assert m.shape == (n, n)
        assert sorted(np.round((m + 0.5) * n * n - 0.5).astype(int).ravel().tolist()) == list(range(n * n))
    with pytest.raises(ValueError):
        bayer_matrix(3)


@pytest.mark.parametrize("mode", ["none", "bayer_2x2", "bayer_4x4", "bayer_8x8", "floyd_steinberg"])
@pytest.mark.parametrize("strength", [0, 50, 100])
def test_every_mode_stays_in_palette(mode, strength):
    out = dither(_gradient(), PAL, mode, strength)
    assert _in_palette(out, PAL)


def test_strength_zero_is_plain_mapping_and_strength_adds_texture():
    from pixelforge.pixel import map_to_palette

    img = _gradient()
    assert np.array_equal(dither(img, PAL, "bayer_4x4", 0), map_to_palette(img, PAL))
    flat = map_to_palette(img, PAL)
    strong = dither(img, PAL, "bayer_4x4", 100)
    assert (strong != flat).any()
    # ordered dithering of a grey ramp mixes black and white in the middle
    mid = strong[:, 28:36, 0]
    assert (mid == 0).any() and (mid == 255).any()


def test_ordered_dither_tiles_seamlessly_on_matrix_multiples():
    img = np.full((16, 16, 4), 128, np.uint8)
    img[..., 3] = 255
    out = dither(img, PAL[:2], "bayer_8x8", 100)
    assert np.array_equal(out[:8, :8], out[8:, 8:])


def test_error_diffusion_preserves_mean_brightness():
    img = np.full((32, 32, 4), 64, np.uint8)
    img[..., 3] = 255
    out = error_diffusion(img, PAL[:2])
    assert abs(out[..., 0].mean() - 64) < 8


def test_transparent_pixels_untouched_and_bad_args():
    img = _gradient(4, 8)
    img[0, 0] = [12, 34, 56, 0]
    out = dither(img, PAL, "bayer_2x2", 80)
    assert out[0, 0].tolist() == [12, 34, 56, 0]
    with pytest.raises(ValueError, match="strength"):
        dither(img, PAL, "bayer_2x2", 101)
    with pytest.raises(ValueError, match="unknown dither mode"):
        dither(img, PAL, "bayer_3x3", 50)


def test_one_bit():
    img = _gradient()
    out = one_bit(img)
    assert {tuple(c) for c in out[..., :3].reshape(-1, 3).tolist()} == {(0, 0, 0), (255, 255, 255)}
    dark = np.full((8, 8, 4), 30, np.uint8)
    dark[..., 3] = 255
    dark[:, 4:, :3] = 60
    out = one_bit(dark)  # Otsu: a dark image still splits into two
    assert (out[..., 0] == 0).any() and (out[..., 0] == 255).any()
    assert _in_palette(one_bit(img, "bayer_4x4"), np.array([[0, 0, 0], [255, 255, 255]], np.uint8))


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1)])
def test_tiny(shape):
    img = np.full((*shape, 4), 100, np.uint8)
    img[..., 3] = 255
    for mode in ("bayer_8x8", "floyd_steinberg"):
        assert dither(img, PAL, mode, 100).shape == img.shape
