"""Palette extraction, reduction to N colours and mapping onto a given palette, in OKLab."""

from __future__ import annotations

import numpy as np

from pixelforge.pixel.alpha import _check_rgba
from pixelforge.pixel.color import oklab_to_rgb, rgb_to_oklab


def unique_colors(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Opaque colours of an RGBA image and their pixel counts: ``((n, 3) uint8, (n,) int)``."""
    _check_rgba(img)
    rgb = img[img[..., 3] > 0][:, :3]
    if rgb.size == 0:
        return np.zeros((0, 3), np.uint8), np.zeros((0,), np.int64)
    packed = (rgb[:, 0].astype(np.uint32) << 16) | (rgb[:, 1].astype(np.uint32) << 8) | rgb[:, 2]
    values, counts = np.unique(packed, return_counts=True)
    colors = np.stack([(values >> 16) & 255, (values >> 8) & 255, values & 255], axis=1).astype(np.uint8)
    return colors, counts


def extract_palette(img: np.ndarray, n_colors: int, seed: int = 0, iterations: int = 24) -> np.ndarray:
    """At most ``n_colors`` representative colours of the opaque pixels (weighted k-means in OKLab)."""
    if n_colors < 1:
        raise ValueError(f"n_colors must be >= 1, got {n_colors}")
    colors, counts = unique_colors(img)
    if len(colors) <= n_colors:
        return colors
    if len(colors) > 32768:
        # Photos: cluster on a 5-bit-per-channel histogram (mean colour of each bin), not 10^6 points.
        key = ((colors[:, 0] >> 3).astype(np.int64) << 10) | ((colors[:, 1] >> 3) << 5) | (colors[:, 2] >> 3)
        _bins, inv = np.unique(key, return_inverse=True)
        w = np.bincount(inv, weights=counts.astype(np.float64))
        sums = np.stack([np.bincount(inv, weights=colors[:, c] * counts) for c in range(3)], axis=1)
        colors, counts = np.round(sums / w[:, None]).astype(np.uint8), w
    lab = rgb_to_oklab(colors)
    weights = counts.astype(np.float64)
    centers = _kmeans_pp_init(lab, weights, n_colors, np.random.default_rng(seed))
    for _ in range(iterations):
        labels = _nearest(lab, centers)
        sums = np.zeros_like(centers)
        np.add.at(sums, labels, lab * weights[:, None])
        mass = np.bincount(labels, weights=weights, minlength=len(centers))
        moved = np.where(mass[:, None] > 0, sums / np.maximum(mass, 1e-12)[:, None], centers)
        if np.allclose(moved, centers, atol=1e-6):
            break
        centers = moved
    palette = oklab_to_rgb(centers)
    return np.unique(palette, axis=0)


def map_to_palette(img: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Replace each opaque pixel's colour with the perceptually nearest palette colour.

    Every opaque output pixel is exactly a palette entry; alpha is kept as is.
    """
    _check_rgba(img)
    palette = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    if len(palette) == 0:
        raise ValueError("palette is empty")
    out = img.copy()
    colors, _ = unique_colors(img)
    if len(colors) == 0:
        return out
    nearest = palette[_nearest(rgb_to_oklab(colors), rgb_to_oklab(palette))]
    lut_keys = (colors[:, 0].astype(np.uint32) << 16) | (colors[:, 1].astype(np.uint32) << 8) | colors[:, 2]
    opaque = out[..., 3] > 0
    rgb = out[opaque][:, :3]
    keys = (rgb[:, 0].astype(np.uint32) << 16) | (rgb[:, 1].astype(np.uint32) << 8) | rgb[:, 2]
    out[opaque, :3] = nearest[np.searchsorted(lut_keys, keys)]
    return out


def palette_from_image(img: np.ndarray, max_colors: int = 256) -> np.ndarray:
    """The colours of a palette image (e.g. an ``input_palette`` swatch strip): its distinct opaque
    colours, most used first. More than ``max_colors`` distinct colours is refused: that is a
    picture, not a palette (reduce it with :func:`extract_palette` instead)."""
    colors, counts = unique_colors(img)
    if len(colors) == 0:
        raise ValueError("palette image has no opaque pixels")
    if len(colors) > max_colors:
        raise ValueError(f"palette image has {len(colors)} colours; at most {max_colors} allowed")
    return colors[np.argsort(-counts, kind="stable")]


def nearest_palette_index(rgb: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Index of the perceptually nearest palette colour (OKLab) for ``(..., 3)`` RGB values."""
    pal_lab = rgb_to_oklab(np.asarray(palette, np.uint8).reshape(-1, 3))
    flat = np.asarray(rgb).reshape(-1, 3)
    out = np.empty(len(flat), np.int64)
    for i in range(0, len(flat), 65536):
        out[i : i + 65536] = _nearest(rgb_to_oklab(flat[i : i + 65536]), pal_lab)
    return out.reshape(np.asarray(rgb).shape[:-1])


def reduce_colors(img: np.ndarray, n_colors: int, seed: int = 0) -> np.ndarray:
    """Quantise the opaque pixels of ``img`` to at most ``n_colors`` colours."""
    return map_to_palette(img, extract_palette(img, n_colors, seed=seed)) if n_colors else img.copy()


def _nearest(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    # |p - c|^2 = |p|^2 - 2 p.c + |c|^2; |p|^2 does not change the argmin. Chunked to bound memory.
    out = np.empty(len(points), np.int64)
    c2 = (centers**2).sum(axis=1)
    step = max(1, 4_000_000 // max(len(centers), 1))
    for i in range(0, len(points), step):
        out[i : i + step] = np.argmin(c2[None, :] - 2 * points[i : i + step] @ centers.T, axis=1)
    return out


def _kmeans_pp_init(points: np.ndarray, weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    centers = [points[int(np.argmax(weights))]]
    d2 = ((points - centers[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        p = d2 * weights
        if p.sum() <= 0:
            break
        nxt = points[rng.choice(len(points), p=p / p.sum())]
        centers.append(nxt)
        d2 = np.minimum(d2, ((points - nxt) ** 2).sum(axis=1))
    return np.array(centers)
