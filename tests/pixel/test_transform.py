import numpy as np
import pytest
from tests.pixel.conftest import make_sprite

from pixelforge.pixel import flip, rotate, unique_colors


def test_quarter_turns_are_exact():
    img = make_sprite(5, 7, seed=0)
    assert np.array_equal(rotate(img, 90), np.rot90(img))
    assert np.array_equal(rotate(img, -90), np.rot90(img, 3))
    assert np.array_equal(rotate(img, 360), img)
    assert np.array_equal(rotate(rotate(img, 180), 180), img)


def test_flip():
    img = make_sprite(4, 6, seed=1)
    assert np.array_equal(flip(img), img[:, ::-1])
    assert np.array_equal(flip(img, False, True), img[::-1])
    assert np.array_equal(flip(flip(img)), img)


@pytest.mark.parametrize("deg", [15, 30, 45, 100])
def test_free_rotation_invents_no_colours(deg):
    img = np.zeros((16, 16, 4), np.uint8)
    img[4:12, 3:13] = [200, 40, 40, 255]
    img[6:8, 5:9] = [20, 20, 20, 255]
    out = rotate(img, deg)
    src = {tuple(c) for c in unique_colors(img)[0].tolist()}
    assert {tuple(c) for c in unique_colors(out)[0].tolist()} <= src
    assert set(np.unique(out[..., 3]).tolist()) <= {0, 255}
    assert out.shape[0] >= 16 and out.shape[1] >= 16
    assert rotate(img, deg, expand=False).shape == img.shape


def test_tiny():
    px = np.array([[[1, 2, 3, 255]]], np.uint8)
    assert rotate(px, 90).shape == (1, 1, 4)
    assert rotate(px, 30).shape[2] == 4
