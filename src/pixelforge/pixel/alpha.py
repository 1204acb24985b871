"""Hard alpha: pixel art has fully opaque or fully transparent pixels, nothing in between."""

from __future__ import annotations

import numpy as np


def harden_alpha(img: np.ndarray, threshold: int = 128) -> np.ndarray:
    """Return a copy whose alpha is 0 or 255 (``>= threshold`` becomes opaque).

    Transparent pixels get RGB 0 so that equal-looking pixels are equal values (palette counts and
    mode filters rely on it).
    """
    _check_rgba(img)
    out = img.copy()
    opaque = out[..., 3] >= threshold
    out[..., 3] = np.where(opaque, 255, 0).astype(np.uint8)
    out[~opaque, :3] = 0
    return out


def _check_rgba(img: np.ndarray) -> None:
    if img.ndim != 3 or img.shape[2] != 4 or img.dtype != np.uint8:
        raise ValueError(f"expected an RGBA uint8 array (H, W, 4), got shape {img.shape} dtype {img.dtype}")
