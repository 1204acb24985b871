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
    mask = background_mask(
        img,
        tolerance=tolerance,
        enclosed=enclosed,
        min_enclosed=min_enclosed,
        transparency_threshold=transparency_threshold,
    )
    out = img.copy()
    if force_solid_pixels:
        out = harden_alpha(out, transparency_threshold)
        out[..., 3] = np.where(out[..., 3] > 0, 255, 0)
    fg_colors = _dehalo_colors(img, mask)
    if fg_colors is not None:
        idx, cols = fg_colors
        out[idx[0], idx[1], :3] = cols
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
    if enclosed not in ("auto", "keep", "remove"):
        raise ValueError(f"enclosed must be 'auto', 'keep' or 'remove', got {enclosed!r}")
    h, w = img.shape[:2]
    alpha_bg = img[..., 3] < transparency_threshold
    if h < 3 or w < 3:
        return alpha_bg
    border = _border(h, w)
    if alpha_bg[border].mean() > 0.05:
        return alpha_bg  # the background is already transparent
    rgb = img[..., :3].astype(np.float64)
    model, sigma = _fit_background(rgb, border)
    dist = np.sqrt(((rgb - model) ** 2).sum(axis=2))
    tol = float(tolerance) if tolerance is not None else max(18.0, 4.5 * sigma)
    cand = (dist <= tol) | alpha_bg
    labels, n = ndimage.label(cand)
    if n == 0:
        return alpha_bg
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
    mask = _halo_to_background(rgb, model, mask, tol)
    return mask


def _border(h: int, w: int) -> np.ndarray:
    b = np.zeros((h, w), bool)
    b[0, :] = b[-1, :] = b[:, 0] = b[:, -1] = True
    return b


def _design(ys: np.ndarray, xs: np.ndarray, h: int, w: int) -> np.ndarray:
    y = ys / max(h - 1, 1) - 0.5
    x = xs / max(w - 1, 1) - 0.5
    return np.stack([np.ones_like(x), x, y, x * x, y * y, x * y], axis=1)


def _fit_background(rgb: np.ndarray, border: np.ndarray) -> tuple[np.ndarray, float]:
    """Quadratic colour field fitted to the border (robustly); returns (model image, noise sigma)."""
    h, w = rgb.shape[:2]
    ys, xs = np.nonzero(border)
    vals = rgb[ys, xs]
    A = _design(ys.astype(float), xs.astype(float), h, w)
    keep = np.ones(len(vals), bool)
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
    gy, gx = np.mgrid[0:h, 0:w]
    model = (_design(gy.ravel().astype(float), gx.ravel().astype(float), h, w) @ coef).reshape(h, w, 3)
    return model, sigma


_N8 = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]


def _shift(a: np.ndarray, dy: int, dx: int, fill) -> np.ndarray:
    """a shifted so that out[y, x] = a[y + dy, x + dx] (fill outside)."""
    out = np.full_like(a, fill)
    h, w = a.shape[:2]
    ys, yd = slice(max(dy, 0), h + min(dy, 0)), slice(max(-dy, 0), h + min(-dy, 0))
    xs, xd = slice(max(dx, 0), w + min(dx, 0)), slice(max(-dx, 0), w + min(-dx, 0))
    out[yd, xd] = a[ys, xs]
    return out


def _reference(rgb: np.ndarray, model: np.ndarray, mask: np.ndarray):
    """For each pixel: colour of its 8-neighbour that is foreground and farthest from the background."""
    best = np.full(mask.shape, -1.0)
    ref = np.zeros_like(rgb)
    for dy, dx in _N8:
        nb = _shift(rgb, dy, dx, 0.0)
        nb_fg = ~_shift(mask, dy, dx, True)
        d = np.where(nb_fg, np.sqrt(((nb - model) ** 2).sum(axis=2)), -1.0)
        better = d > best
        best = np.where(better, d, best)
        ref[better] = nb[better]
    return ref, best


def _blend_factor(rgb, model, ref):
    fb = ref - model
    den = (fb**2).sum(axis=2)
    return np.where(den > 1e-9, ((rgb - model) * fb).sum(axis=2) / np.maximum(den, 1e-9), 1.0)


def _halo_to_background(rgb, model, mask, tol, rings: int = 2) -> np.ndarray:
    """Foreground fringe pixels that are mostly background (blend factor < 0.5) become background."""
    for ring in range(rings):
        edge = ~mask & ndimage.binary_dilation(mask, structure=np.ones((3, 3), bool))
        if not edge.any():
            break
        ref, best = _reference(rgb, model, mask | edge)
        has_ref = best >= 0
        alpha = _blend_factor(rgb, model, ref)
        dist = np.sqrt(((rgb - model) ** 2).sum(axis=2))
        blend = edge & has_ref & (alpha < 0.85) & (best > 2 * tol) & (dist < 0.85 * best)
        # Only a soft source has a fringe: when few edge pixels are blends the art is crisp and
        # a light pixel next to a dark one is a detail, not a halo.
        if ring == 0 and blend.sum() < 0.3 * edge.sum():
            break
        fringe = blend & (alpha < 0.5) & (dist < 0.5 * best)
        if not fringe.any():
            break
        mask = mask | fringe
    return mask


def _dehalo_colors(img: np.ndarray, mask: np.ndarray):
    """New colours for foreground fringe pixels that are partial blends with the background."""
    if mask.all() or not mask.any():
        return None
    rgb = img[..., :3].astype(np.float64)
    h, w = mask.shape
    border = _border(h, w)
    if (img[..., 3][border] < 128).mean() > 0.05:
        return None
    model, _ = _fit_background(rgb, border)
    edge = ~mask & ndimage.binary_dilation(mask, structure=np.ones((3, 3), bool))
    if not edge.any():
        return None
    ref, best = _reference(rgb, model, mask | edge)
    alpha = _blend_factor(rgb, model, ref)
    dist = np.sqrt(((rgb - model) ** 2).sum(axis=2))
    blend = edge & (best >= 0) & (alpha < 0.85) & (dist < 0.85 * best)
    tinted = blend & (alpha >= 0.5)
    if not tinted.any() or blend.sum() < 0.3 * edge.sum():
        return None
    idx = np.nonzero(tinted)
    return idx, np.round(ref[idx]).astype(np.uint8)
