import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pixelforge.pixel import (
    extract_palette,
    harden_alpha,
    map_to_palette,
    nearest_palette_index,
    palette_from_image,
    reduce_colors,
    unique_colors,
)

images = arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12), st.just(4)))
palettes = arrays(np.uint8, st.tuples(st.integers(1, 16), st.just(3)))


def _in_palette(img, pal) -> bool:
    opaque = img[..., 3] > 0
    allowed = {tuple(c) for c in pal.tolist()}
    return all(tuple(c) in allowed for c in img[opaque][:, :3].tolist())


@settings(max_examples=60, deadline=None)
@given(img=images, pal=palettes)
def test_mapping_is_fully_in_palette_idempotent_and_keeps_alpha(img, pal):
    out = map_to_palette(img, pal)
    assert _in_palette(out, pal)
    assert np.array_equal(map_to_palette(out, pal), out)
    assert np.array_equal(out[..., 3], img[..., 3])


def test_mapping_is_perceptual():
    pal = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0]], np.uint8)
    img = np.array([[[230, 30, 30, 255], [20, 20, 20, 255], [240, 240, 240, 255]]], np.uint8)
    assert map_to_palette(img, pal)[0, :, :3].tolist() == [[255, 0, 0], [0, 0, 0], [255, 255, 255]]


def test_palette_from_image_orders_by_use_and_refuses_pictures():
    img = np.zeros((2, 3, 4), np.uint8)
    img[..., 3] = 255
    img[0, 0, :3] = [9, 9, 9]
    assert palette_from_image(img).tolist() == [[0, 0, 0], [9, 9, 9]]
    photo = np.random.default_rng(0).integers(0, 256, (32, 32, 4), dtype=np.uint8)
    photo[..., 3] = 255
    with pytest.raises(ValueError, match="at most"):
        palette_from_image(photo, max_colors=64)
    with pytest.raises(ValueError, match="no opaque"):
        palette_from_image(np.zeros((2, 2, 4), np.uint8))


def test_extract_and_reduce():
    rng = np.random.default_rng(4)
    img = harden_alpha(rng.integers(0, 256, (32, 32, 4), dtype=np.uint8))
    assert len(extract_palette(img, 8)) <= 8
    out = reduce_colors(img, 8)
    assert len(unique_colors(out)[0]) <= 8
    few = np.zeros((4, 4, 4), np.uint8)
    few[..., 3] = 255
    few[:2, :, :3] = 200
    assert len(extract_palette(few, 8)) == 2


def test_extract_palette_on_a_photo_sized_input():
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (400, 400, 4), dtype=np.uint8)
    img[..., 3] = 255
    pal = extract_palette(img, 16)
    assert 1 <= len(pal) <= 16


def test_nearest_index_shape():
    pal = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    idx = nearest_palette_index(np.array([[[10, 10, 10], [250, 250, 250]]], np.uint8), pal)
    assert idx.tolist() == [[0, 1]]
    with pytest.raises(ValueError, match="empty"):
        map_to_palette(np.zeros((1, 1, 4), np.uint8), np.zeros((0, 3), np.uint8))
