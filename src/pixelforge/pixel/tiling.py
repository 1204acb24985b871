"""Seamless tiles: a seam score and a repair that makes an image wrap around its edges.

``seam_score`` compares the colour step across the wrap-around seam (last column -> first column,
last row -> first row) with the typical step between neighbouring columns/rows inside the image:
about 1 for a seamless tile, well above 1 for a visible seam.

``make_seamless`` repairs a tile without changing its size or palette: the image is rolled by half
so the wrap seam lies in the middle, a window around the seam is replaced by a patch copied from
elsewhere in the image whose flanks best match the window's surroundings, and the patch is joined
on both sides along minimum-error cuts (dynamic programming, as in image quilting). Only existing
pixels are copied, so no new colours appear. The image is rolled back afterwards, so the interior
stays where it was and the repaired seam is the tile border.
"""

from __future__ import annotations

import numpy as np

from pixelforge.pixel.alpha import _check_rgba


def _step(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(((a.astype(np.float64) - b.astype(np.float64)) ** 2).sum(axis=-1))


def seam_score(img: np.ndarray, wrap_x: bool = True, wrap_y: bool = True) -> float:
    """Ratio of the mean wrap-seam colour step to the mean interior step (max over the axes asked).

    1.0 or less: the seam is no more visible than any column/row boundary inside the image.
    """
    _check_rgba(img)
    scores = []
    for axis, on in ((1, wrap_x), (0, wrap_y)):
        if not on:
            continue
        a = img if axis == 1 else img.transpose(1, 0, 2)
        if a.shape[1] < 3:
            continue
        seam = _step(a[:, -1], a[:, 0]).mean()
        inner = _step(a[:, 1:], a[:, :-1]).mean()
        scores.append(float(seam / max(inner, 1e-6)) if seam > 0 else 0.0)
    return max(scores) if scores else 0.0


def make_seamless(
    img: np.ndarray,
    tile_x: bool = True,
    tile_y: bool = False,
    *,
    seam_width: int | None = None,
    repair_window_size: int | None = None,
    seed: int | None = 0,
) -> np.ndarray:
    """Repair ``img`` so it tiles along the requested axes (see the module docstring).

    ``repair_window_size`` is the width of the replaced band around the seam (default an eighth of
    the image, at least 4 px); ``seam_width`` the overlap on each flank in which the cut is searched
    (default a quarter of the window, at least 2 px); ``seed`` picks among near-best source patches
    (None: always the best). Images too small to hold a source patch come back unchanged.
    """
    _check_rgba(img)
    if not (tile_x or tile_y):
        raise ValueError("seam tiling needs tile_x or tile_y")
    rng = np.random.default_rng(seed) if seed is not None else None
    out = img
    if tile_x:
        out = _repair_axis(out, seam_width, repair_window_size, rng)
    if tile_y:
        out = _repair_axis(out.transpose(1, 0, 2), seam_width, repair_window_size, rng).transpose(1, 0, 2)
    return np.ascontiguousarray(out)


def _repair_axis(img: np.ndarray, seam_width, window, rng) -> np.ndarray:
    h, w = img.shape[:2]
    r = int(window) if window else max(4, w // 8)
    o = int(seam_width) if seam_width else max(2, r // 4)
    pw = r + 2 * o  # patch width: window plus both overlaps
    if w < 2 * pw + 2 or h < 1:
        return img.copy()
    shift = w // 2
    rolled = np.roll(img, -shift, axis=1)  # old wrap seam now between columns w-shift-1 and w-shift
    c = w - shift
    x0 = c - r // 2 - o  # patch destination start
    left_ref = rolled[:, x0 : x0 + o].astype(np.float64)
    right_ref = rolled[:, x0 + o + r : x0 + pw].astype(np.float64)
    # Candidate sources: every window that does not contain the seam (and is not the target).
    starts = [s for s in range(0, w - pw + 1) if s + pw <= c - 1 or s >= c + 1]
    starts = [s for s in starts if abs(s - x0) >= pw // 2]
    if not starts:
        return img.copy()
    f = rolled.astype(np.float64)
    costs = np.array(
        [
            ((f[:, s : s + o] - left_ref) ** 2).sum() + ((f[:, s + o + r : s + pw] - right_ref) ** 2).sum()
            for s in starts
        ]
    )
    order = np.argsort(costs)
    if rng is not None:
        near = order[costs[order] <= costs[order[0]] * 1.1 + 1e-9][:4]
        pick = int(rng.choice(near))
    else:
        pick = int(order[0])
    src = starts[pick]
    patch = rolled[:, src : src + pw]
    target = rolled[:, x0 : x0 + pw]
    result = rolled.copy()
    # Left overlap: existing pixels left of the cut, patch pixels right of it.
    cut_l = _min_cut(_step(target[:, :o], patch[:, :o]))
    cut_r = _min_cut(_step(target[:, o + r :], patch[:, o + r :]))
    cols = np.arange(pw)[None, :]
    use_patch = (cols >= cut_l[:, None]) & (cols <= (o + r + cut_r)[:, None])
    result[:, x0 : x0 + pw] = np.where(use_patch[..., None], patch, target)
    return np.roll(result, shift, axis=1)


def _min_cut(err: np.ndarray) -> np.ndarray:
    """Column index per row of the minimum-error vertical path through ``err`` (rows x cols)."""
    h, w = err.shape
    cost = err.copy()
    back = np.zeros((h, w), np.int64)
    for y in range(1, h):
        prev = cost[y - 1]
        cand = np.stack([np.r_[np.inf, prev[:-1]], prev, np.r_[prev[1:], np.inf]])
        k = np.argmin(cand, axis=0)
        back[y] = np.arange(w) + k - 1
        cost[y] += cand[k, np.arange(w)]
    path = np.empty(h, np.int64)
    path[-1] = int(np.argmin(cost[-1]))
    for y in range(h - 1, 0, -1):
        path[y - 1] = back[y, path[y]]
    return path
