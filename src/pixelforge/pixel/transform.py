"""Rotate and flip without inventing colours.

Quarter turns and flips are exact array operations. Other angles use a RotSprite-like scheme: the
image is enlarged by an integer factor with nearest neighbour, rotated by nearest-neighbour inverse
mapping, and shrunk back with a per-cell mode, so every output colour exists in the input and thin
lines keep their thickness better than with a direct nearest-neighbour rotation.
"""

from __future__ import annotations

import numpy as np

from pixelforge.pixel.alpha import _check_rgba, harden_alpha
from pixelforge.pixel.downscale import downscale


def flip(img: np.ndarray, horizontal: bool = True, vertical: bool = False) -> np.ndarray:
    _check_rgba(img)
    out = img
    if horizontal:
        out = out[:, ::-1]
    if vertical:
        out = out[::-1]
    return np.ascontiguousarray(out)


def rotate(img: np.ndarray, degrees: float, *, expand: bool = True, oversample: int = 4) -> np.ndarray:
    """Rotate counter-clockwise by ``degrees``.

    Multiples of 90 are exact. Other angles: with ``expand`` the canvas grows to hold the whole
    rotated image (new corners transparent), otherwise it keeps its size (corners cropped).
    """
    _check_rgba(img)
    d = float(degrees) % 360.0
    if np.isclose(d % 90.0, 0.0) or np.isclose(d % 90.0, 90.0):
        return np.ascontiguousarray(np.rot90(img, k=round(d / 90.0) % 4))
    h, w = img.shape[:2]
    k = max(1, int(oversample))
    while k > 1 and h * w * k * k > 16_000_000:
        k -= 1
    big = img.repeat(k, axis=0).repeat(k, axis=1) if k > 1 else img
    bh, bw = big.shape[:2]
    t = np.deg2rad(d)
    c, s = np.cos(t), np.sin(t)
    if expand:
        oh = int(np.ceil((abs(h * c) + abs(w * s)) - 1e-6))
        ow = int(np.ceil((abs(w * c) + abs(h * s)) - 1e-6))
    else:
        oh, ow = h, w
    OH, OW = oh * k, ow * k
    yy, xx = np.mgrid[0:OH, 0:OW].astype(np.float64)
    yy -= (OH - 1) / 2
    xx -= (OW - 1) / 2
    # Inverse mapping (image y axis points down, so counter-clockwise on screen).
    sx = c * xx - s * yy + (bw - 1) / 2
    sy = s * xx + c * yy + (bh - 1) / 2
    ix, iy = np.round(sx).astype(np.int64), np.round(sy).astype(np.int64)
    inside = (ix >= 0) & (ix < bw) & (iy >= 0) & (iy < bh)
    out = np.zeros((OH, OW, 4), np.uint8)
    out[inside] = big[iy[inside], ix[inside]]
    out = harden_alpha(out)
    return downscale(out, k, method="mode") if k > 1 else out
