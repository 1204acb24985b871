import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from tests.pixel.conftest import enlarge

from pixelforge.pixel import background_mask, remove_background


def _blob(h=24, w=24, seed=0):
    """Opaque sprite (circle with a dark outline and an eye) on transparency."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    inside = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (min(h, w) / 3) ** 2
    spr = np.zeros((h, w, 4), np.uint8)
    spr[inside] = [*rng.integers(60, 200, 3), 255]
    edge = inside & ~(
        np.roll(inside, 1, 0) & np.roll(inside, -1, 0) & np.roll(inside, 1, 1) & np.roll(inside, -1, 1)
    )
    spr[edge, :3] = 20
    spr[h // 2, w // 2, :3] = 250  # a single-pixel highlight
    return spr


def _over(spr, bg):
    a = spr[..., 3:4] / 255.0
    out = np.empty(spr.shape, np.uint8)
    out[..., :3] = np.clip(np.round(spr[..., :3] * a + bg * (1 - a)), 0, 255)
    out[..., 3] = 255
    return out


@pytest.mark.parametrize("kind", ["flat", "gradient", "noisy"])
def test_mask_matches_truth_on_simple_backgrounds(kind):
    spr = enlarge(_blob(seed=3), 3)
    h, w = spr.shape[:2]
    rng = np.random.default_rng(1)
    if kind == "flat":
        bg = np.broadcast_to(np.array([240.0, 240, 250]), (h, w, 3))
    elif kind == "gradient":
        t = np.linspace(0, 1, w)[None, :, None]
        bg = np.array([40.0, 120, 200]) * (1 - t) + np.array([200.0, 220, 90]) * t + np.zeros((h, 1, 1))
    else:
        bg = np.array([120.0, 160, 120]) + rng.normal(0, 10, (h, w, 3))
    out = remove_background(_over(spr, bg))
    truth_bg = spr[..., 3] == 0
    pred_bg = out[..., 3] == 0
    iou = (pred_bg & truth_bg).sum() / (pred_bg | truth_bg).sum()
    assert iou > 0.98
    assert set(np.unique(out[..., 3]).tolist()) <= {0, 255}


@settings(max_examples=40, deadline=None)
@given(img=arrays(np.uint8, st.tuples(st.integers(1, 20), st.integers(1, 20), st.just(4))))
def test_output_alpha_is_always_hard(img):
    out = remove_background(img)
    assert out.shape == img.shape
    assert set(np.unique(out[..., 3]).tolist()) <= {0, 255}
    assert (out[out[..., 3] == 0][:, :3] == 0).all()


def test_no_halo_on_blurred_edges():
    from scipy.ndimage import gaussian_filter

    spr = enlarge(_blob(seed=4), 4)
    img = _over(spr, np.full((*spr.shape[:2], 3), 255.0))
    soft = img.astype(float)
    soft[..., :3] = gaussian_filter(soft[..., :3], (1.2, 1.2, 0))
    out = remove_background(np.clip(np.round(soft), 0, 255).astype(np.uint8))
    kept = out[..., 3] == 255
    # No kept pixel is a near-white blend of sprite and background.
    assert (out[kept][:, :3].astype(int).sum(axis=1) < 3 * 235).mean() > 0.99


def test_enclosed_regions_policy():
    img = np.full((40, 40, 4), 255, np.uint8)  # white background
    img[5:35, 5:35, :3] = [200, 30, 30]  # red square
    img[12:28, 12:28, :3] = 255  # large white hole: background seen through
    img[8, 8, :3] = 255  # single white pixel: a detail
    auto = remove_background(img)
    assert auto[20, 20, 3] == 0 and auto[8, 8, 3] == 255
    keep = remove_background(img, enclosed="keep")
    assert keep[20, 20, 3] == 255
    remove = remove_background(img, enclosed="remove")
    assert remove[8, 8, 3] == 0
    with pytest.raises(ValueError):
        background_mask(img, enclosed="sometimes")


def test_crisp_art_keeps_light_pixels_next_to_dark_ones():
    img = np.full((20, 20, 4), 255, np.uint8)
    img[5:15, 5:15, :3] = 10
    img[4, 9, :3] = 200  # light antenna tip touching the background
    out = remove_background(img)
    assert out[4, 9, 3] == 255 and out[4, 9, :3].tolist() == [200, 200, 200]


def test_already_transparent_is_only_hardened():
    spr = _blob()
    spr[..., 3] = np.where(spr[..., 3] > 0, 200, 30)
    out = remove_background(spr, transparency_threshold=128)
    assert np.array_equal(out[..., 3] == 255, spr[..., 3] == 200)


@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (2, 2)])
def test_tiny(shape):
    img = np.full((*shape, 4), 255, np.uint8)
    assert remove_background(img).shape == img.shape


def test_sixteen_megapixels():
    img = np.full((4096, 4096, 4), 255, np.uint8)
    img[1000:3000, 1000:3000, :3] = [200, 40, 40]
    out = remove_background(img)
    assert out[0, 0, 3] == 0 and out[2000, 2000, 3] == 255
    assert ((out[..., 3] == 255) == (img[..., 0] == 200)).all()
