"""Background removal for sprites on simple backgrounds: flat colours, smooth gradients, noise.

Method:

1. **Background model.** A quadratic colour field ``c(x, y)`` (per channel) is fitted to the image
   border by least squares, twice, the second time without border pixels the first fit explains
   badly (a sprite touching the edge). The residual spread of the border gives the noise level.
2. **Candidates.** Pixels within ``tolerance`` of the model (default: 4.5 noise sigmas, at least 18
   RGB units) are background candidates.
3. **Connectivity.** Candidates 4-connected to the image border are background.
4. **Enclosed regions** (candidates cut off from the border: the hole of a ring, the gap between an
   arm and a body, but also a white eye on a white background) follow ``enclosed``:
   ``"keep"`` keeps them all; ``"remove"`` removes them all; ``"auto"`` (default) removes a region
   only when it is large (at least ``min_enclosed`` pixels, default 0.2 % of the image and never
   fewer than 9 cells' worth) and matches the background model within half the tolerance; small
   ones are kept, so single-pixel details are never punched out.
5. **No halo.** Foreground pixels touching the background are blends of sprite and background
   colour when the source was anti-aliased or blurred. For each, the blend factor towards the most
   foreground-looking neighbour is estimated; mostly-background blends become background, the rest
   take that neighbour's colour. Two rings are treated.

Output alpha is exactly 0 or 255 (transparent pixels get RGB 0), whatever the input alpha was.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage

from pixelforge.pixel.alpha import _check_rgba, harden_alpha

EnclosedPolicy = Literal["auto", "keep", "remove"]


def remove_background(
    img: np.ndarray,
    *,
    tolerance: float | None = None,
    enclosed: EnclosedPolicy = "auto",
    min_enclosed: int | None = None,
    transparency_threshold: int = 128,
    force_solid_pixels: bool = True,
) -> np.ndarray:
    """Return ``img`` with its background made transparent (hard 0/255 alpha, no halo).

    An image that already has transparent pixels on its border is taken to have its background
    removed already: its alpha is only hardened at ``transparency_threshold``. With
    ``force_solid_pixels`` False, partly transparent input pixels keep their alpha instead of being
    made solid (the output is then not guaranteed to be hard-alpha).
    """
    _check_rgba(img)
    mask, recolour = _analyse(img, tolerance, enclosed, min_enclosed, transparency_threshold)
    out = img.copy()
    if force_solid_pixels:
        out = harden_alpha(out, transparency_threshold)
        out[..., 3] = np.where(out[..., 3] > 0, 255, 0)
    if recolour is not None:
        (ys, xs), cols = recolour
        out[ys, xs, :3] = cols
    out[mask] = 0
    return out


def background_mask(
    img: np.ndarray,
    *,
    tolerance: float | None = None,
    enclosed: EnclosedPolicy = "auto",
    min_enclosed: int | None = None,
    transparency_threshold: int = 128,
) -> np.ndarray:
    """Boolean mask, True where ``img`` is background (see the module docstring)."""
    _check_rgba(img)
    return _analyse(img, tolerance, enclosed, min_enclosed, transparency_threshold)[0]


class _Model:
    """Quadratic colour field c(y, x) = a + b x + c y + d x^2 + e y^2 + f x y per channel."""

    def __init__(self, coef: np.ndarray, h: int, w: int) -> None:
        self.coef, self.h, self.w = coef, h, w

    def at(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        return _design(ys.astype(float), xs.astype(float), self.h, self.w) @ self.coef

    def distance(self, rgb8: np.ndarray) -> np.ndarray:
        """Per-pixel RGB distance to the field, float32, one channel at a time (16 MP friendly)."""
        y = (np.arange(self.h, dtype=np.float32) / max(self.h - 1, 1) - 0.5)[:, None]
        x = (np.arange(self.w, dtype=np.float32) / max(self.w - 1, 1) - 0.5)[None, :]
        d2 = np.zeros((self.h, self.w), np.float32)
        for ch in range(3):
            a, b, c, d, e, f = (np.float32(v) for v in self.coef[:, ch])
            field = (a + b * x + d * x * x) + (c * y + e * y * y) + f * (y * x)
            diff = rgb8[..., ch].astype(np.float32) - field
            d2 += diff * diff
        return np.sqrt(d2)


def _analyse(img, tolerance, enclosed, min_enclosed, transparency_threshold):
    """(background mask, fringe recolouring or None)."""
    if enclosed not in ("auto", "keep", "remove"):
        raise ValueError(f"enclosed must be 'auto', 'keep' or 'remove', got {enclosed!r}")
    h, w = img.shape[:2]
    alpha_bg = img[..., 3] < transparency_threshold
    if h < 3 or w < 3:
        return alpha_bg, None
    border = _border(h, w)
    if alpha_bg[border].mean() > 0.05:
        return alpha_bg, None  # the background is already transparent
    model, sigma = _fit_background(img, border)
    dist = model.distance(img)
    tol = float(tolerance) if tolerance is not None else max(18.0, 4.5 * sigma)
    cand = (dist <= tol) | alpha_bg
    labels, n = ndimage.label(cand)
    if n == 0:
        return alpha_bg, None
    touching = np.unique(labels[border])
    touching = touching[touching > 0]
    is_bg = np.zeros(n + 1, bool)
    is_bg[touching] = True
    if enclosed != "keep":
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        if enclosed == "remove":
            is_bg[1:] = True
        else:
            limit = min_enclosed if min_enclosed is not None else max(int(0.002 * h * w), 9)
            mean_d = np.bincount(labels.ravel(), weights=dist.ravel(), minlength=n + 1) / np.maximum(sizes, 1)
            is_bg |= (sizes >= limit) & (mean_d <= tol / 2)
            is_bg[0] = False
    mask = is_bg[labels] | alpha_bg
    del labels, cand
    return _dehalo(img, model, mask, tol)


def _border(h: int, w: int) -> np.ndarray:
    b = np.zeros((h, w), bool)
    b[0, :] = b[-1, :] = b[:, 0] = b[:, -1] = True
    return b


def _design(ys: np.ndarray, xs: np.ndarray, h: int, w: int) -> np.ndarray:
    y = ys / max(h - 1, 1) - 0.5
    x = xs / max(w - 1, 1) - 0.5
    return np.stack([np.ones_like(x), x, y, x * x, y * y, x * y], axis=1)


def _fit_background(img: np.ndarray, border: np.ndarray) -> tuple[_Model, float]:
    """Quadratic colour field fitted to the border (robustly); returns (model, noise sigma)."""
    h, w = img.shape[:2]
    ys, xs = np.nonzero(border)
    vals = img[ys, xs, :3].astype(np.float64)
    A = _design(ys.astype(float), xs.astype(float), h, w)
    # Start from the median colour: a sprite touching the border must not drag the first fit.
    med = np.median(vals, axis=0)
    r = np.sqrt(((vals - med) ** 2).sum(axis=1))
    keep = r <= max(np.percentile(r, 60) * 3, 12)
    coef = None
    for _ in range(3):
        if keep.sum() < 6:
            break
        coef, *_ = np.linalg.lstsq(A[keep], vals[keep], rcond=None)
        res = np.sqrt(((vals - A @ coef) ** 2).sum(axis=1))
        mad = np.median(res[keep]) * 1.4826 + 1e-6
        keep = res <= max(4 * mad, 6)
    if coef is None:
        coef = np.zeros((6, 3))
        coef[0] = med
    res = np.sqrt(((vals - A @ coef) ** 2).sum(axis=1))
    sigma = float(np.median(res[keep]) * 1.4826 / np.sqrt(3)) if keep.any() else 0.0
    return _Model(coef, h, w), sigma


_N8 = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]


def _fringe(img: np.ndarray, model: _Model, mask: np.ndarray):
    """Foreground pixels touching the background, with, for each, its blend factor towards the
    most foreground-looking interior 8-neighbour (colour ``ref``, distance ``best`` from the
    background; -1 when it has none), and its own distance to the background. Sparse: only the
    fringe is read, so cost follows the outline length, not the image size."""
    h, w = mask.shape
    edge = ~mask & ndimage.binary_dilation(mask, structure=np.ones((3, 3), bool))
    ys, xs = np.nonzero(edge)
    if len(ys) == 0:
        return None
    not_ref = mask | edge
    best = np.full(len(ys), -1.0)
    ref = np.zeros((len(ys), 3))
    for dy, dx in _N8:
        ny, nx = ys + dy, xs + dx
        ok = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        nyc, nxc = np.clip(ny, 0, h - 1), np.clip(nx, 0, w - 1)
        ok &= ~not_ref[nyc, nxc]
        nb = img[nyc, nxc, :3].astype(np.float64)
        d = np.where(ok, np.sqrt(((nb - model.at(nyc, nxc)) ** 2).sum(axis=1)), -1.0)
        better = d > best
        best = np.where(better, d, best)
        ref[better] = nb[better]
    bg = model.at(ys, xs)
    rgb = img[ys, xs, :3].astype(np.float64)
    fb = ref - bg
    den = (fb**2).sum(axis=1)
    alpha = np.where(den > 1e-9, ((rgb - bg) * fb).sum(axis=1) / np.maximum(den, 1e-9), 1.0)
    dist = np.sqrt(((rgb - bg) ** 2).sum(axis=1))
    return (ys, xs), alpha, best, dist, ref


def _dehalo(img: np.ndarray, model: _Model, mask: np.ndarray, tol: float, rings: int = 2):
    """Fringe pixels that are mostly background (blend factor < 0.5) become background; partly
    blended ones take the colour of their most foreground neighbour. Only a soft source has a
    fringe: when few edge pixels are blends the art is crisp, and a light pixel next to a dark one
    is a detail, not a halo -- nothing is changed then."""
    for ring in range(rings):
        fr = _fringe(img, model, mask)
        if fr is None:
            return mask, None
        (ys, xs), alpha, best, dist, _ = fr
        blend = (best >= 0) & (alpha < 0.85) & (best > 2 * tol) & (dist < 0.85 * best)
        if ring == 0 and blend.sum() < 0.3 * len(ys):
            return mask, None
        fringe = blend & (alpha < 0.5) & (dist < 0.5 * best)
        if not fringe.any():
            break
        mask = mask.copy()
        mask[ys[fringe], xs[fringe]] = True
    fr = _fringe(img, model, mask)
    if fr is None:
        return mask, None
    (ys, xs), alpha, best, dist, ref = fr
    tinted = (best >= 0) & (alpha >= 0.5) & (alpha < 0.85) & (dist < 0.85 * best)
    if not tinted.any():
        return mask, None
    return mask, ((ys[tinted], xs[tinted]), np.round(ref[tinted]).astype(np.uint8))
