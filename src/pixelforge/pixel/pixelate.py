"""Turn any image (photo, painting, render) into pixel art at a target size and colour count.

1. Each output pixel is one cell of an even grid over the source. Its colour is the centroid of
   the cell's dominant colour cluster (k-centroid, k=2, on a bounded sample of the cell), which
   keeps edges crisp where a box average would blur them into mud; alpha is the cell's mean,
   hardened.
2. The result is reduced to ``colors`` colours by weighted k-means in OKLab, optionally dithered.
"""

from __future__ import annotations

import numpy as np

from pixelforge.pixel.alpha import _check_rgba, harden_alpha
from pixelforge.pixel.dither import dither
from pixelforge.pixel.palette import extract_palette


def target_size(h: int, w: int, size: int) -> tuple[int, int]:
    """(height, width) whose longer side is ``size``, aspect kept, never below 1 nor above the source."""
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    scale = min(1.0, size / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def kcentroid_resize(
    img: np.ndarray, out_h: int, out_w: int, samples: int = 256, iters: int = 4
) -> np.ndarray:
    """Resize down to (out_h, out_w): per even-grid cell, the centroid of its larger 2-means cluster."""
    _check_rgba(img)
    h, w = img.shape[:2]
    ye = np.linspace(0, h, out_h + 1)
    xe = np.linspace(0, w, out_w + 1)
    ch, cw = max(1, int(np.ceil(h / out_h))), max(1, int(np.ceil(w / out_w)))
    # A bounded, evenly spread sample grid of offsets inside every cell.
    ny = int(min(ch, max(1, np.sqrt(samples))))
    nx = int(min(cw, max(1, samples // ny)))
    fy = (np.arange(ny) + 0.5) / ny
    fx = (np.arange(nx) + 0.5) / nx
    ys = np.clip((ye[:-1, None] + fy[None] * np.diff(ye)[:, None]).astype(np.int64), 0, h - 1)  # (oh, ny)
    xs = np.clip((xe[:-1, None] + fx[None] * np.diff(xe)[:, None]).astype(np.int64), 0, w - 1)  # (ow, nx)
    pix = img[ys[:, None, :, None], xs[None, :, None, :]].astype(np.float32)  # (oh, ow, ny, nx, 4)
    pix = pix.reshape(out_h, out_w, ny * nx, 4)
    alpha = pix[..., 3].mean(axis=2)
    wgt = (pix[..., 3] > 127).astype(np.float32) + 1e-6
    rgb = pix[..., :3]
    # 2-means initialised with the darkest and brightest samples of each cell.
    lum = rgb.sum(axis=3)
    c0 = np.take_along_axis(rgb, lum.argmin(axis=2)[..., None, None], axis=2)[:, :, 0]
    c1 = np.take_along_axis(rgb, lum.argmax(axis=2)[..., None, None], axis=2)[:, :, 0]
    for _ in range(iters):
        d0 = ((rgb - c0[:, :, None]) ** 2).sum(axis=3)
        d1 = ((rgb - c1[:, :, None]) ** 2).sum(axis=3)
        m1 = (d1 < d0).astype(np.float32) * wgt
        m0 = wgt - m1
        n0, n1 = m0.sum(axis=2), m1.sum(axis=2)
        c0 = np.where(
            n0[..., None] > 0, (rgb * m0[..., None]).sum(axis=2) / np.maximum(n0, 1e-6)[..., None], c0
        )
        c1 = np.where(
            n1[..., None] > 0, (rgb * m1[..., None]).sum(axis=2) / np.maximum(n1, 1e-6)[..., None], c1
        )
    col = np.where((n1 > n0)[..., None], c1, c0)
    out = np.empty((out_h, out_w, 4), np.uint8)
    out[..., :3] = np.clip(np.round(col), 0, 255)
    out[..., 3] = np.clip(np.round(alpha), 0, 255)
    return harden_alpha(out)


def pixelate(
    img: np.ndarray,
    size: int = 64,
    colors: int = 16,
    *,
    dither_mode: str = "none",
    dither_strength: float = 50,
    seed: int = 0,
) -> np.ndarray:
    """Pixel art of ``img`` with its longer side ``size`` px and at most ``colors`` colours."""
    _check_rgba(img)
    if colors < 1:
        raise ValueError(f"colors must be >= 1, got {colors}")
    oh, ow = target_size(*img.shape[:2], size)
    small = kcentroid_resize(img, oh, ow)
    if not (small[..., 3] > 0).any():
        return small
    pal = extract_palette(small, colors, seed=seed)
    return dither(small, pal, dither_mode, dither_strength if dither_mode != "none" else 0)
