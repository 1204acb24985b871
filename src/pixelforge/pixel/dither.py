"""Dithering onto a palette: ordered Bayer (2x2, 4x4, 8x8) with a 0-100 strength, Floyd-Steinberg
error diffusion, and 1-bit conversion.

Every opaque output pixel is exactly a palette entry; transparent pixels are left alone. Strength
follows the canvas edit tools (``dither_strength`` 0-100): 0 is plain nearest-colour mapping, 100
spreads each pixel by up to one full gap between neighbouring palette colours.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from pixelforge.pixel.alpha import _check_rgba
from pixelforge.pixel.color import rgb_to_oklab
from pixelforge.pixel.palette import map_to_palette, nearest_palette_index

DitherMode = Literal["none", "bayer_2x2", "bayer_4x4", "bayer_8x8", "floyd_steinberg"]
DITHER_MODES: tuple[str, ...] = ("none", "bayer_2x2", "bayer_4x4", "bayer_8x8", "floyd_steinberg")


def bayer_matrix(n: int) -> np.ndarray:
    """The n x n Bayer index matrix (n a power of two) scaled to thresholds in [-0.5, 0.5)."""
    if n < 2 or n & (n - 1):
        raise ValueError(f"Bayer matrix size must be a power of two >= 2, got {n}")
    m = np.array([[0, 2], [3, 1]])
    while m.shape[0] < n:
        m = np.block([[4 * m, 4 * m + 2], [4 * m + 3, 4 * m + 1]])
    return (m + 0.5) / (n * n) - 0.5


def palette_gap(palette: np.ndarray) -> float:
    """Median RGB distance from each palette colour to its nearest other colour."""
    pal = np.asarray(palette, np.float64).reshape(-1, 3)
    if len(pal) < 2:
        return 0.0
    d = np.sqrt(((pal[:, None] - pal[None]) ** 2).sum(axis=2))
    np.fill_diagonal(d, np.inf)
    return float(np.median(d.min(axis=1)))


def dither(
    img: np.ndarray,
    palette: np.ndarray,
    mode: DitherMode | str = "bayer_4x4",
    strength: float = 50,
    *,
    wrap: bool = True,
) -> np.ndarray:
    """Map ``img`` onto ``palette`` with the given dither ``mode`` and ``strength`` (0-100).

    Bayer patterns are anchored at the image origin, so a tile whose size is a multiple of the
    matrix size stays seamless when repeated (``wrap`` has no other effect for ordered modes).
    """
    _check_rgba(img)
    palette = np.asarray(palette, np.uint8).reshape(-1, 3)
    if len(palette) == 0:
        raise ValueError("palette is empty")
    if not 0 <= strength <= 100:
        raise ValueError(f"dither strength must be within 0..100, got {strength}")
    if mode == "none" or strength == 0:
        return map_to_palette(img, palette)
    if mode == "floyd_steinberg":
        return error_diffusion(img, palette, strength=strength)
    if mode not in ("bayer_2x2", "bayer_4x4", "bayer_8x8"):
        raise ValueError(f"unknown dither mode {mode!r}; use one of {', '.join(DITHER_MODES)}")
    n = int(mode[-1])
    h, w = img.shape[:2]
    m = bayer_matrix(n)
    thresh = np.tile(m, (-(-h // n), -(-w // n)))[:h, :w]
    spread = palette_gap(palette) * strength / 100.0
    rgb = img[..., :3].astype(np.float64) + (thresh * spread)[..., None]
    idx = nearest_palette_index(np.clip(rgb, 0, 255), palette)
    out = img.copy()
    opaque = img[..., 3] > 0
    out[opaque, :3] = palette[idx[opaque]]
    return out


def error_diffusion(img: np.ndarray, palette: np.ndarray, strength: float = 100) -> np.ndarray:
    """Floyd-Steinberg error diffusion onto ``palette`` (``strength`` scales the diffused error).

    Pixels are visited along anti-diagonals ``x + 2y = k``: every pixel a Floyd-Steinberg pixel
    receives error from lies on an earlier diagonal, so each diagonal is one vector step and the
    result is identical to the classic raster scan.
    """
    _check_rgba(img)
    palette = np.asarray(palette, np.uint8).reshape(-1, 3)
    pal_lab = rgb_to_oklab(palette)
    pal_f = palette.astype(np.float64)
    h, w = img.shape[:2]
    work = img[..., :3].astype(np.float64)
    opaque = img[..., 3] > 0
    out = img.copy()
    k_scale = strength / 100.0
    ys_all = np.arange(h)
    for k in range(w + 2 * (h - 1)):
        ys = ys_all[(k - 2 * ys_all >= 0) & (k - 2 * ys_all < w)]
        xs = k - 2 * ys
        sel = opaque[ys, xs]
        ys, xs = ys[sel], xs[sel]
        if len(ys) == 0:
            continue
        cur = np.clip(work[ys, xs], 0, 255)
        lab = rgb_to_oklab(cur)
        idx = np.argmin(((lab[:, None] - pal_lab[None]) ** 2).sum(axis=2), axis=1)
        out[ys, xs, :3] = palette[idx]
        err = (cur - pal_f[idx]) * k_scale
        for dy, dx, wgt in ((0, 1, 7 / 16), (1, -1, 3 / 16), (1, 0, 5 / 16), (1, 1, 1 / 16)):
            ty, tx = ys + dy, xs + dx
            ok = (ty < h) & (tx >= 0) & (tx < w)
            # Distinct source pixels of one diagonal hit distinct targets: plain += is exact.
            work[ty[ok], tx[ok]] += err[ok] * wgt
    return out


def one_bit(
    img: np.ndarray,
    mode: DitherMode | str = "none",
    strength: float = 100,
    colors: tuple[tuple[int, int, int], tuple[int, int, int]] = ((0, 0, 0), (255, 255, 255)),
) -> np.ndarray:
    """Two-colour conversion. Without dithering the split is Otsu's threshold on OKLab lightness
    (so a dark image does not turn all black); with dithering the two colours form the palette."""
    _check_rgba(img)
    pal = np.asarray(colors, np.uint8)
    if mode != "none":
        return dither(img, pal, mode, strength)
    lum = rgb_to_oklab(img[..., :3])[..., 0]
    opaque = img[..., 3] > 0
    t = _otsu(lum[opaque]) if opaque.any() else 0.5
    dark_first = rgb_to_oklab(pal)[:, 0].argsort()
    out = img.copy()
    bright = lum > t
    out[opaque & ~bright, :3] = pal[dark_first[0]]
    out[opaque & bright, :3] = pal[dark_first[1]]
    return out


def _otsu(values: np.ndarray, bins: int = 256) -> float:
    hist, edges = np.histogram(values, bins=bins)
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centers) / np.maximum(w0, 1)
    m1 = ((hist * centers).sum() - np.cumsum(hist * centers)) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(centers[int(np.argmax(between))])
