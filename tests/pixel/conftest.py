"""Helpers shared by the pixel toolkit tests: small seeded sprites and exact enlargements."""

from __future__ import annotations

import numpy as np
import pytest


def make_sprite(h: int, w: int, seed: int = 0, n_colors: int = 6, transparent: bool = True) -> np.ndarray:
    """Random pixel-art-like sprite: a few colours, hard alpha, transparent pixels RGB 0."""
    rng = np.random.default_rng(seed)
    pal = rng.integers(0, 256, (n_colors, 3), dtype=np.uint8)
    img = np.empty((h, w, 4), np.uint8)
    img[..., :3] = pal[rng.integers(0, n_colors, (h, w))]
    img[..., 3] = 255
    if transparent:
        clear = rng.random((h, w)) < 0.2
        img[clear] = 0
    return img


def enlarge(native: np.ndarray, k: int) -> np.ndarray:
    return native.repeat(k, axis=0).repeat(k, axis=1)


@pytest.fixture
def sprite() -> np.ndarray:
    return make_sprite(24, 20, seed=1)
