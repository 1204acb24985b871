import numpy as np

from pixelforge.pixel import add_outline, clean_outline

INK = [0, 0, 0, 255]


def _canvas(h=12, w=12):
    return np.zeros((h, w, 4), np.uint8)


def test_l_corners_in_strokes_are_removed():
    img = _canvas()
    # a staircase drawn with doubled corners: (2,2)-(2,3)-(3,3)-(3,4)-(4,4)-(4,5)
    for y, x in [(2, 1), (2, 2), (2, 3), (3, 3), (3, 4), (4, 4), (4, 5), (4, 6)]:
        img[y, x] = INK
    out = clean_outline(img)
    removed = (img[..., 3] == 255) & (out[..., 3] == 0)
    assert 1 <= removed.sum() <= 3
    # the stroke stays 8-connected
    from scipy import ndimage

    _, n = ndimage.label(out[..., 3] == 255, structure=np.ones((3, 3)))
    assert n == 1


def test_single_pixel_details_are_never_removed():
    rng = np.random.default_rng(0)
    img = _canvas(32, 32)
    img[..., :3] = [30, 90, 30]
    img[..., 3] = 255
    lone = []
    for _ in range(40):
        y, x = rng.integers(1, 31, 2)
        img[y, x] = [250, 250, 0, 255]
        lone.append((y, x))
    out = clean_outline(img)
    for y, x in lone:
        if (img[y - 1 : y + 2, x - 1 : x + 2, 0] == 250).sum() == 1:  # truly isolated
            assert out[y, x].tolist() == [250, 250, 0, 255]


def test_filled_areas_and_line_ends_are_untouched():
    img = _canvas()
    img[3:8, 3:8] = INK
    img[10, 2:9] = INK
    assert np.array_equal(clean_outline(img), img)


def test_add_outline():
    img = _canvas()
    img[4:8, 4:8] = [200, 100, 50, 255]
    out = add_outline(img, (1, 2, 3))
    ring = (out[..., 3] == 255) & (img[..., 3] == 0)
    assert ring.sum() == 16  # 4-neighbour ring around a 4x4 square
    assert (out[ring][:, :3] == [1, 2, 3]).all()
    assert add_outline(img, diagonal=True)[3, 3, 3] == 255
    wrapped = np.zeros((6, 6, 4), np.uint8)
    wrapped[0, 0] = INK
    assert add_outline(wrapped, wrap=True)[5, 0, 3] == 255
    assert np.array_equal(add_outline(_canvas(1, 1)), _canvas(1, 1))
