"""Downscaling by a known integer factor: one representative colour per cell.

Used on model outputs rendered at native x k and by the dataset builder. ``mode`` keeps colours that
exist in the source (no new in-between shades), which is what pixel art wants; ``mean`` is the
alpha-weighted box average, better for photos and soft sources before palette reduction;
``kcentroid`` is the centroid of the larger of two colour clusters in each cell: robust to noise
like ``mean`` but not pulled towards a neighbouring colour that bleeds into the cell. Which to use
for noisy model outputs is measured in benchmarks/pixel (see BENCHMARKS.md).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from pixelforge.pixel.alpha import _check_rgba, harden_alpha

DownscaleMethod = Literal["mode", "mean", "kcentroid"]


def downscale(
    img: np.ndarray,
    factor: int | tuple[int, int],
    method: DownscaleMethod = "mode",
    alpha_threshold: int = 128,
) -> np.ndarray:
    """Shrink an RGBA image by an integer ``factor`` (or ``(fy, fx)``); trailing partial cells are cropped."""
    _check_rgba(img)
    fy, fx = (factor, factor) if isinstance(factor, int) else factor
    if fy < 1 or fx < 1:
        raise ValueError(f"factor must be >= 1, got {(fy, fx)}")
    h, w = img.shape[0] // fy, img.shape[1] // fx
    if h == 0 or w == 0:
        raise ValueError(f"factor {(fy, fx)} is larger than the image {img.shape[1]}x{img.shape[0]}")
    if fy == fx == 1:
        return harden_alpha(img, alpha_threshold)
    grid = img[: h * fy, : w * fx].reshape(h, fy, w, fx, 4)
    cells = grid.transpose(0, 2, 1, 3, 4).reshape(h, w, fy * fx, 4)
    if method == "mean":
        return _mean(cells, alpha_threshold)
    if method == "mode":
        return _mode(cells, alpha_threshold)
    if method == "kcentroid":
        from pixelforge.pixel.pixelate import kcentroid_resize

        return harden_alpha(kcentroid_resize(img[: h * fy, : w * fx], h, w), alpha_threshold)
    raise ValueError(f"unknown downscale method {method!r}; use 'mode', 'mean' or 'kcentroid'")


def _mean(cells: np.ndarray, alpha_threshold: int) -> np.ndarray:
    a = cells[..., 3:4].astype(np.float64)
    weight = a.sum(axis=2)
    rgb = (cells[..., :3] * a).sum(axis=2) / np.maximum(weight, 1e-9)
    alpha = cells[..., 3].mean(axis=2)
    out = np.concatenate([np.round(rgb), alpha[..., None]], axis=2).clip(0, 255).astype(np.uint8)
    return harden_alpha(out, alpha_threshold)


def _mode(cells: np.ndarray, alpha_threshold: int) -> np.ndarray:
    h, w, k, _ = cells.shape
    hard = harden_alpha(cells.reshape(h * w, k, 4), alpha_threshold)
    packed = hard.view(np.uint32).reshape(h * w, k)
    s = np.sort(packed, axis=1)
    idx = np.arange(k)
    starts = np.ones_like(s, dtype=bool)
    starts[:, 1:] = s[:, 1:] != s[:, :-1]
    run_start = np.maximum.accumulate(np.where(starts, idx, 0), axis=1)
    run_len = idx - run_start + 1
    best = np.argmax(run_len, axis=1)
    winner = s[np.arange(h * w), best]
    return winner.view(np.uint8).reshape(h, w, 4).copy()
