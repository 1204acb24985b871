"""Colour-space conversions (sRGB <-> OKLab). Palette distances are measured in OKLab, where
Euclidean distance follows perceived difference far better than in RGB."""

from __future__ import annotations

import numpy as np


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055)


_M1 = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_M2 = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)


def rgb_to_oklab(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` uint8 or [0, 255] floats -> ``(..., 3)`` float64 OKLab."""
    lin = _srgb_to_linear(np.asarray(rgb, dtype=np.float64) / 255.0)
    lms = np.cbrt(lin @ _M1.T)
    return lms @ _M2.T


def oklab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """``(..., 3)`` OKLab -> ``(..., 3)`` uint8 sRGB (clipped to gamut)."""
    lms = np.asarray(lab, dtype=np.float64) @ np.linalg.inv(_M2).T
    lin = (lms**3) @ np.linalg.inv(_M1).T
    return np.round(_linear_to_srgb(lin) * 255.0).astype(np.uint8)
