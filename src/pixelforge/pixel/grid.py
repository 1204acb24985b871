"""Native-grid recovery: find the fake-pixel grid of an enlarged / blurred / compressed image and
sample it back to one pixel per cell.

How it works (per axis, x and y independently):

1. **Edge profiles.** ``p1[x]`` sums, over all rows, the absolute colour step between pixel columns
   ``x-1`` and ``x`` (peaks on cell boundaries of sharp or blurred nearest-neighbour upscales).
   ``p2`` sums the absolute second difference (peaks on the interpolation knots, i.e. the cell
   centres, of soft bilinear upscales, where ``p1`` is flat inside each cell). A robust noise floor
   (the median) is subtracted.
2. **Pitch.** The *coherence* ``c(f) = |sum p(x) exp(-2 pi i f x)| / sum p(x)`` is 1 when every edge
   sits on a grid of period ``1/f`` and near 0 for edges in random places. It is read for all
   frequencies at once from one zero-padded FFT of the (high-passed) profile, the best peak is
   refined by parabolic interpolation, then multiples of that period are tried (a grid of pitch
   ``s`` also explains every edge of the grid ``s/2``): the coarsest period that keeps most of the
   coherence wins. Blur lowers the coherence of harmonics far more than that of the fundamental,
   which is why soft inputs do not fall to half the pitch.
3. **Boundaries.** The profile is demodulated at the found frequency and low-passed over a couple
   of cells, which gives a *local* phase: a phase-locked cell coordinate ``u(x)`` whose integer
   crossings are the cell boundaries. It follows slowly drifting grids and non-integer pitches
   without ever assuming the first boundary is at 0. Partial cells narrower than half a cell at the
   image border are dropped (they are slivers of the neighbouring margin): the count of cells over
   the line length decides how many, and where a sharp nearest-neighbour step marks a border
   cell's exact width in pixels, the half rule decides which (both borders known: the half rule
   alone, as for a crop of full-bleed art).
4. **Colours.** Each cell is read from its inner half, and at least two blur sigmas (the measured
   spread of the edges) clear of its boundaries; on blurred opaque inputs what the blur still
   carries in from the two neighbours along each axis is undone (a tridiagonal solve), at the
   strength under which cells read most like their own-coloured neighbours (the measured spread
   also holds drift and JPEG ringing, which are not blur). Alpha is
   hardened at 128, and on noisy/compressed inputs near-identical cell colours are merged into one
   so a flat area comes back as one colour (on JPEG 4:2:0 inputs, told by chroma steps softer than
   luma steps, "near" is measured on luma with chroma at a third: JPEG moves hue, not lightness).
   The noisiest reads of a colour, which fall outside that distance, join a much bigger cluster
   when their read noise explains the difference.
   Colours read only from cells that straddle an edge (not flat inside) are blends: they take the
   colour of a nearby cluster of flat cells; a flat cell keeps its colour, however rare.
   Fake pixels are square: an axis at 2-3x the other's pitch (2-px strokes along it) is re-tracked
   at the finer pitch. Art drawn almost all in 2-px strokes is also read at half the chosen pitch:
   a few full colour steps inside the chosen cells (a 3-px bar) make that finer grid the answer.
   A seamless tile (``wrap_x`` / ``wrap_y``) is tracked over three periods of itself; one period
   of boundaries is kept, so the cell across the wrap seam is one cell and the result tiles too.
5. **Honesty.** ``detect_grid`` reports ``has_grid=False`` when the coherence peak does not stand
   out of the spectrum or the recovered cells are not flat (a photo, a native-resolution sprite, a
   tileset whose period is a tile, not a pixel); ``recover_native`` then returns the image unchanged.
   Flat means colour within a cell varies little against colour between cells; for one colour on
   transparency (a silhouette, a monochrome icon) it means cells read wholly opaque or wholly clear.
   Most edge energy must also sit on the grid's boundaries; on a noisy image an axis short of that
   is read again with the noise's own steps taken out of every pixel, at a stricter bar. Cells
   must also be flat read whole, strictly under 4 px and at the size of JPEG's 4- and 8-px
   blocks: a JPEG'd smooth photo has those periods, and cells flat only in their inner pixel or
   two.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from typing import TypeVar

import numpy as np
from scipy.ndimage import gaussian_filter1d, maximum_filter1d

from pixelforge.pixel.alpha import _check_rgba, harden_alpha

# A pitch below this is not distinguishable from native pixel noise; cells must repeat at least
# _MIN_CELLS times along an axis for a period to count as a grid.
MIN_CELL = 2.0
_MIN_CELLS = 3
_PAD = 8  # FFT zero-padding factor: frequency bins 1/8 of the coherence peak width
_ROW_CHUNK = 128  # lines summed at once; _column_sums relies on <= 128
_PROFILE_LINES = 192
_CELL_SAMPLES = 8  # per cell and axis; at most 16, or the uint16 sums in _sample_cells overflow


@dataclass(frozen=True)
class AxisGrid:
    """The grid along one axis: ``cell`` image pixels per native pixel (float), ``phase`` the image
    coordinate of the first full cell boundary in ``[0, cell)``, ``edges`` the ``n+1`` boundaries
    actually used (float image coordinates, first 0, last the image length), ``coherence`` in [0, 1].

    A ``wrapped`` axis (a seamless tile) has no border cells: its ``edges`` are the boundaries of
    one period, the first in ``[0, length)`` and the last the first plus the image length, so the
    cell across the wrap seam is one cell."""

    cell: float
    phase: float
    coherence: float
    peak_ratio: float
    edges: np.ndarray = field(repr=False)
    soft: bool = False  # bilinear-like ramps: colours are read from the cell centres only
    on_grid: float = 1.0  # share of the edge energy within a quarter cell of the grid's landmarks
    borrowed: bool = False  # too few edges on this axis: pitch taken from the other axis
    blur: float = 0.0  # spread (Gaussian sigma, image px) of the edges around the boundaries
    wrapped: bool = False  # edges span one period of a tile, across the wrap seam

    @property
    def count(self) -> int:
        return len(self.edges) - 1


@dataclass(frozen=True)
class GridInfo:
    """Result of :func:`detect_grid`.

    ``has_grid`` False is the honest "no fake-pixel grid here" answer (native-resolution art, photos,
    flat images, images too small to tell); ``cell_x``/``cell_y`` are then 1 and the native size is
    the image size. ``confidence`` in [0, 1] combines the coherence of the edge grid and how flat
    the recovered cells are.
    """

    has_grid: bool
    cell_x: float
    cell_y: float
    phase_x: float
    phase_y: float
    confidence: float
    width: int  # native size that recover_native returns
    height: int
    x: AxisGrid | None = field(default=None, repr=False)
    y: AxisGrid | None = field(default=None, repr=False)


def detect_grid(
    img: np.ndarray,
    min_cell: float = MIN_CELL,
    max_cell: float | None = None,
    *,
    wrap_x: bool = False,
    wrap_y: bool = False,
) -> GridInfo:
    """Find the fake-pixel grid of an RGBA image (see the module docstring for the method).

    ``wrap_x`` / ``wrap_y``: the image is a seamless tile along that axis, so its grid continues
    across the wrap seam: the cell count is whole periods (no border slivers) and the cell cut by
    the seam is read from both sides."""
    _check_rgba(img)
    h, w = img.shape[:2]
    info, _ = _detect(np.ascontiguousarray(img), min_cell, max_cell, (wrap_x, wrap_y))
    if info is None:
        return _no_grid(w, h)
    return info


def recover_native(
    img: np.ndarray,
    grid: GridInfo | None = None,
    *,
    merge_colors: bool = True,
    alpha_threshold: int = 128,
    wrap_x: bool = False,
    wrap_y: bool = False,
) -> np.ndarray:
    """Return the native-resolution RGBA image (one pixel per detected cell, hard alpha).

    Without a grid (``has_grid`` False) the input comes back unchanged, alpha hardened.
    ``merge_colors`` merges near-identical cell colours on noisy or compressed inputs; clean inputs
    keep their exact colours either way. ``wrap_x`` / ``wrap_y`` (when no ``grid`` is given): the
    image is a seamless tile along that axis (see :func:`detect_grid`); the result then tiles too.
    Its first column / row is the cell across the wrap seam when at least half of that cell lies
    at the image's start (as a border cell is kept without wrapping), else the next one.
    """
    _check_rgba(img)
    # Transposed or strided views (np.rot90, slicing) make every read below several times slower.
    img = np.ascontiguousarray(img)
    if grid is None:
        grid, cells = _detect(img, MIN_CELL, None, (wrap_x, wrap_y))
        if grid is None:
            return harden_alpha(img, alpha_threshold)
    else:
        if not grid.has_grid or grid.x is None or grid.y is None:
            return harden_alpha(img, alpha_threshold)
        cells = _sample_axes(img, grid.x, grid.y)
    return _finish(cells, merge_colors, alpha_threshold, img, _on_jpeg_blocks(grid))


def sample_grid(img: np.ndarray, x_edges: np.ndarray, y_edges: np.ndarray) -> np.ndarray:
    """Read one colour per cell given explicit boundaries (inner-half mean, hard alpha)."""
    _check_rgba(img)
    return _finish(_sample_cells(img, np.asarray(x_edges, float), np.asarray(y_edges, float)), False, 128)


# --------------------------------------------------------------------------------------------------


@dataclass
class _Cells:
    mean: np.ndarray  # (R, C, 4) float64
    var: np.ndarray  # (R, C) float64, mean per-channel RGB variance inside the inner region
    npix: np.ndarray  # (R, C)


def _no_grid(w: int, h: int) -> GridInfo:
    return GridInfo(False, 1.0, 1.0, 0.0, 0.0, 0.0, w, h)


def _detect(
    img: np.ndarray, min_cell: float, max_cell: float | None, wrap: tuple[bool, bool] = (False, False)
) -> tuple[GridInfo | None, _Cells | None]:
    if wrap[0] or wrap[1]:
        return _detect_wrapped(img, min_cell, max_cell, wrap)
    h, w = img.shape[:2]
    if min(h, w) < 2 * _MIN_CELLS or max(h, w) < 2 * _MIN_CELLS * min_cell:
        return None, None
    # Cleaned once: the spectrum and every tracker read the same noise-floor-free profiles.
    px, py, (seams_x, seams_y) = _profiles(img)
    (q1x, q2x), (q1y, q2y) = ((_clean(p1), _clean(p2)) for p1, p2 in (px, py))
    # Read at most once, and only where a decision needs them.
    subsampled = _once(lambda: bool(img[..., 3].min() == 255 and _chroma_subsampling(img) > _SUBSAMPLED))
    noise = _once(lambda: _pixel_noise(img))
    gx = _axis(q1x, q2x, w, min_cell, max_cell, seams_x, subsampled)
    gy = _axis(q1y, q2y, h, min_cell, max_cell, seams_y, subsampled)
    fits = _reconcile(gx, gy, q1x, q2x, q1y, q2y, w, h)
    if fits is None:
        return None, None
    fx, fy = fits
    gx, gy = _split_by_colour(img, fx, fy, min_cell, noise)
    if gx.count < 1 or gy.count < 1 or (gx.cell < min_cell and gy.cell < min_cell):
        return None, None
    cells = _sample_axes(img, gx, gy)
    flat = _flatness(img, cells)
    coh = min(gx.coherence if not gx.borrowed else 1.0, gy.coherence if not gy.borrowed else 1.0)
    ratio = min(gx.peak_ratio, gy.peak_ratio)
    confidence = float(np.clip(flat, 0, 1) * np.clip((ratio - 1.5) / 4.0, 0, 1) ** 0.5)
    confidence = float(min(1.0, confidence * (0.5 + coh)))
    # A real fake-pixel grid puts nearly all edge energy near its lines (>= 0.87 measured on every
    # degraded regime of the benchmark; photos and native art give 0.4-0.73).
    # Judged on the grids before any colour split: at half the pitch the same edges, blurred, spill
    # outside the narrower windows, and the split only refines a grid already found.
    on_grid = min(_judged_on_grid(img, fit, axis, noise) for axis, fit in ((1, fx), (0, fy)))
    # A peak that stands out of the spectrum on both axes; or, where few edges make broad spectral
    # lobes, nearly all edges of each axis on a period of its own, the two periods agreeing (square
    # cells found independently). Grid-free images: coherence <= 0.72 on 120 of them.
    agree = abs(gx.cell / gy.cell - 1) < 0.05 and not gx.borrowed and not gy.borrowed
    peaks_ok = ratio > 2.5 or (agree and min(gx.coherence, gy.coherence) >= _COHERENT)
    has_grid = flat > 0.6 and peaks_ok and coh > 0.4 and on_grid > _ON_GRID
    if has_grid:
        has_grid = _whole_cells_flat(img, gx, gy)
    if has_grid and min(gx.count, gy.count) <= 5:
        # A handful of cells is easy to fit by chance on native art (measured: 4x4 cells of
        # 20-24 px with 0.82 on-grid and 0.68 flatness); that few cells must be clean.
        has_grid = on_grid > 0.9 and flat > 0.8
    if not has_grid:
        return None, None
    info = GridInfo(True, gx.cell, gy.cell, gx.phase, gy.phase, confidence, gx.count, gy.count, gx, gy)
    return info, cells


def _whole_cells_flat(img: np.ndarray, gx: AxisGrid, gy: AxisGrid) -> bool:
    """The flatness test again on whole cells, strictest for grids that image structure other than
    fake pixels draws: cells under 4 px (the flatness test's inner half is one or two pixels, flat
    whatever the image), and cells of JPEG's 8-px blocks and 4-px half blocks (on smooth images
    its block seams are the only edges); other sharp grids of few cells at a looser bar. Measured on 150
    JPEG'd smooth photos: 85 % took a 2-px grid and 27 % then a 4- or 8-px one, all with a spread
    (see _cell_spread) of 0.12-0.13 at 2 px and >= 0.19 at 4 and 8 px (>= 0.43 where read as
    soft); upscales of sprites, JPEG'd, blurred or under noise sigma 10: <= 0.045 at 2-3.5x,
    <= 0.10 at 8x."""
    # Soft (bilinear) cells hold ramps: whole, they read like a smooth image (<= 0.19 measured on
    # the bilinear regime), so they are only held to JPEG photos' 8-px blocks read as soft (>= 0.43).
    soft = gx.soft or gy.soft
    if any(g.cell < _SMALL_CELL and not g.soft for g in (gx, gy)):
        bar = _SMOOTH_SPREAD
    elif any(abs(g.cell / b - 1) < 0.02 for g in (gx, gy) for b in (4.0, 8.0)):
        bar = _SOFT_BLOCK_SPREAD if soft else _BLOCK_SPREAD
    elif not soft and min(gx.count, gy.count) <= _FEW_CELLS:
        # A sharp grid of few cells: blurred native sprites fit 4.6-13 px grids with their few
        # strong edges (5 of 150 at blur sigma 0.5-1.2, 4-15 cells an axis) and read 0.17-0.34
        # whole; the benchmark's real grids <= 0.17 (real_ai_like, 14 regimes x 80-96 cases).
        # Many cells do not fit by chance, and reading them costs (+30 % on small images).
        bar = _WHOLE_CELL_SPREAD
    else:
        return True
    return _cell_spread(img, gx, gy) < bar


def _cell_spread(img: np.ndarray, gx: AxisGrid, gy: AxisGrid) -> float:
    """Colour variance over whole cells (their opaque pixels) against the mean squared step
    between neighbouring cells: ~0 for fake pixels, each one colour; >= 1/12 for a smooth image cut
    into cells (a linear ramp gives a cell variance of c^2/12 against steps of c).

    Read on at most _SPREAD_CELLS cells along each axis, the middle ones, and on every
    (cell / 4)-th pixel row and column of them (every pixel of a 1024^2 image took 40 ms; every
    third of a cell lost the blurred sprites of _whole_cells_flat)."""
    picks = []
    for g, n in ((gx, img.shape[1]), (gy, img.shape[0])):
        e = np.unique(np.clip(np.round(g.edges).astype(np.intp), 0, n))
        first = max(0, (len(e) - 1 - _SPREAD_CELLS) // 2)
        e = e[first : first + _SPREAD_CELLS + 1]
        if len(e) < 2:
            return 0.0
        # Every cell keeps at least one sample: the step is at most the narrowest cell.
        step = max(1, min(int(g.cell // 4), int(np.diff(e).min())))
        pos = np.arange(e[0], e[-1], step)
        picks.append((pos, np.searchsorted(pos, e[:-1])))
    (xpos, xs), (ypos, ys) = picks
    block = img[np.ix_(ypos, xpos)]

    def cell_sums(v: np.ndarray) -> np.ndarray:
        return np.add.reduceat(np.add.reduceat(v, ys, axis=0), xs, axis=1)

    # Over each cell's opaque pixels: a transparent pixel's colour is no colour.
    solid = (block[..., 3] >= 128).astype(np.float32)
    a = block[..., :3] * solid[..., None]
    n = cell_sums(solid)
    opaque = n > 0.5 * cell_sums(np.ones(block.shape[:2], np.float32))
    if not opaque.any():
        return 0.0
    n = np.maximum(n, 1.0)
    mean = cell_sums(a) / n[..., None]
    var = (cell_sums(a * a) / n[..., None] - mean**2).mean(axis=2)
    within = float((var * n)[opaque].sum() / n[opaque].sum())
    steps = [
        ((mean[:, 1:] - mean[:, :-1]) ** 2).mean(axis=2)[opaque[:, 1:] & opaque[:, :-1]],
        ((mean[1:] - mean[:-1]) ** 2).mean(axis=2)[opaque[1:] & opaque[:-1]],
    ]
    between = np.concatenate(steps)
    if not len(between) or float(between.mean()) <= 0:
        return 0.0 if within <= 1e-6 else np.inf
    return max(within, 0.0) / float(between.mean())


def _judged_on_grid(img: np.ndarray, fit: _AxisFit, axis: int, pixel_noise: Callable[[], float]) -> float:
    """The on-grid share the has-grid test reads for one axis (1: x, 0: y).

    Pixel noise adds a floor of small steps whose level varies with what a line crosses (noise
    clips at white, not inside a sprite): the median leaves part of it, and a real grid then
    holds as little as 0.77 of its edges (noise-2401: 14.6-px cells, sigma 9). An axis that fails
    on a noisy image is read again with the noise's own steps taken out (_denoised_on_grid), at a
    stricter bar. Measured (sigma 3-16): real grids of the noise, ai_like and jpeg regimes
    (seeds 0-300, 2400) keep >= 0.96 of their edges on grid that way; noisy native sprites and
    photos that pass every other test, <= 0.85. Only a rescue: JPEG'd icons (real_ai_like) read
    0.83-0.89 either way, so a low denoised share cannot veto a plain pass."""
    plain = fit.grid.on_grid
    if plain > _ON_GRID or fit.grid.soft:  # soft axes: landmarks read on the second difference
        return plain
    noise = pixel_noise()
    if not _NOISY <= noise <= _NOISY_MAX:
        return plain
    denoised = _denoised_on_grid(img, fit.grid, axis, noise)
    return denoised if denoised is not None and denoised > _ON_GRID_NOISY else plain


def _denoised_on_grid(img: np.ndarray, g: AxisGrid, axis: int, noise: float) -> float | None:
    """The on-grid share of ``g``'s boundaries along ``axis``, read on a profile of steps each
    lessened by three sigmas of the step noise (clipped at zero): pixel noise alone leaves next
    to nothing, a colour step nearly all of itself. None when no step is left to judge by."""
    # The same lines as the plain profile it stands in for.
    a = _premultiplied(np.ascontiguousarray(_profile_lines(img, axis))).view(np.int16)
    d = np.abs(np.diff(a, axis=axis))
    t = round(3.0 * float(np.sqrt(2.0)) * noise)  # a step between two noisy pixels: sigma * sqrt(2)
    np.subtract(d, t, out=d)
    np.maximum(d, 0, out=d)
    p = d.sum(axis=(0, 2) if axis == 1 else (1, 2), dtype=np.int64).astype(float)
    q = _clean(p)
    if q.sum() <= 0:
        return None  # _on_grid_share would call no edges at all a perfect fit
    marks = g.edges[1:-1]
    d = _landmark_distances(np.arange(len(q)) + 1.0, marks)
    return _on_grid_share(q, d, g.cell)


T = TypeVar("T")


def _once(f: Callable[[], T]) -> Callable[[], T]:
    """``f``, evaluated on the first call only."""
    memo: list[T] = []

    def call() -> T:
        if not memo:
            memo.append(f())
        return memo[0]

    return call


def _detect_wrapped(
    img: np.ndarray, min_cell: float, max_cell: float | None, wrap: tuple[bool, bool]
) -> tuple[GridInfo | None, _Cells | None]:
    """The grid of a seamless tile: detected on three periods of it along each wrapped axis (so
    every boundary of the middle one is tracked with context on both sides of the seam), then one
    period of boundaries is kept. (Half a period either side instead took a 4.28 px grid for
    one of 2.15 on one tile in 300; three whole periods got all of 1,800 random tiles.)"""
    h, w = img.shape[:2]
    ext = img
    pads = []
    for axis, on in ((1, wrap[0]), (0, wrap[1])):
        n = img.shape[axis]
        m = n if on else 0
        pads.append(m)
        if m:
            ext = np.concatenate([ext.take(range(n - m, n), axis), ext, ext.take(range(m), axis)], axis)
    info, _ = _detect(np.ascontiguousarray(ext), min_cell, max_cell)
    if info is None or info.x is None or info.y is None:
        return None, None
    gx, gy = info.x, info.y
    if wrap[0]:
        gx = _one_period(gx, pads[0], w)
    if wrap[1]:
        gy = _one_period(gy, pads[1], h)
    if gx is None or gy is None:
        return None, None
    info = GridInfo(True, gx.cell, gy.cell, gx.phase, gy.phase, info.confidence, gx.count, gy.count, gx, gy)
    return info, _sample_axes(img, gx, gy)


def _one_period(g: AxisGrid, offset: int, n: int) -> AxisGrid | None:
    """The boundaries of ``g`` (tracked on a tile extended by ``offset`` on either side) that fall in
    one period of the tile, as a wrapped axis."""
    inner = g.edges[1:-1] - offset
    # One period, cut half a pixel before the border: a boundary on the border itself comes out
    # of the tracker a hair either side of it, and exactly one of its two copies must be taken.
    b = inner[(inner >= -0.5) & (inner < n - 0.5)]
    if len(b) < _MIN_CELLS:
        return None  # cells as wide as the tile itself are no grid
    edges = np.append(b, b[0] + n)
    return replace(g, phase=float(b[0] % g.cell), edges=edges, wrapped=True)


_Profiles = tuple[np.ndarray, np.ndarray]


def _profiles(img: np.ndarray) -> tuple[_Profiles, _Profiles, tuple[bool, bool]]:
    """First/second absolute-difference profiles along x and y, summed over the other axis, and
    whether JPEG block seams were taken out of each (see _deblock).

    Large images are read on a subset of rows (for the x profiles) and columns (for y): a few hundred
    lines already carry every column boundary many times over.
    """
    px = _axis_profiles(_profile_lines(img, 1))
    py = _down_profiles(_profile_lines(img, 0))
    if img[..., 3].min() != 255:
        return px, py, (False, False)
    p1x, p2x, seams_x = _deblock(*px)
    p1y, p2y, seams_y = _deblock(*py)
    return (p1x, p2x), (p1y, p2y), (seams_x, seams_y)


def _profile_lines(img: np.ndarray, axis: int) -> np.ndarray:
    """The lines the profiles along ``axis`` (1: x, 0: y) are summed over: at most about
    _PROFILE_LINES rows (for x) or columns (for y), evenly spaced."""
    if axis == 1:
        return img[:: max(1, img.shape[0] // _PROFILE_LINES)]
    return img[:, :: max(1, img.shape[1] // _PROFILE_LINES)]


def _deblock(p1: np.ndarray, p2: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Remove JPEG's 8-px block seams from the profiles of an opaque image.

    JPEG adds small steps on every 8th boundary. Over a sparse sprite they add up to a grid of
    their own (pitch 8, phase 0). When the 8-px boundaries carry clearly more energy than their
    neighbours but not nearly all of it (a real 8-aligned pixel grid puts all its edges there and is
    left alone), each block-boundary sample is replaced by the mean of its two neighbours, and the
    third value says so.
    """
    n = len(p1)
    if n < 32:
        return p1, p2, False
    j = np.arange(7, n - 1, 8)  # p1[j]: step between pixels j and j+1, i.e. boundary j+1 = 8k
    rest = max(n - len(j), 1)
    # Seams must stand out of the raw profile (weaker ones do not make a grid of their own).
    if not p1[j].mean() > 1.3 * (p1.sum() - p1[j].sum()) / rest:
        return p1, p2, False
    # Whether a real grid made them is judged above the noise floor: pixel noise adds the same to
    # every boundary, and on a noisy image of 8-px cells it hid that the other boundaries carry no
    # edges at all (noise-1114: on/off 5 raw, 111 above the floor; its grid was taken for seams).
    c = _clean(p1)
    on = c[j].mean()
    off = (c.sum() - c[j].sum()) / rest
    # A real grid of pitch 4, 12, 20... puts several times the average energy on every 8k
    # boundary, but as much on every 8k+4 one; JPEG seams (measured: under 2x the average) do not.
    half = c[np.arange(3, n - 1, 8)].mean()
    if not on < 12 * off or (on > 3 * off and on < 1.5 * half):
        return p1, p2, False
    p1 = p1.copy()
    p1[j] = 0.5 * (p1[j - 1] + p1[j + 1])
    if len(p2) > 16:
        p2 = p2.copy()
        for k in (j - 1, j):  # p2[k] is centred on pixel k+1: pixels 8k-1 and 8k straddle the seam
            k = k[(k >= 1) & (k < len(p2) - 1)]
            p2[k] = 0.5 * (p2[k - 1] + p2[k + 1])
    return p1, p2, True


def _premultiplied(chunk: np.ndarray) -> np.ndarray:
    """uint16 copy of an RGBA block with colour premultiplied by alpha: transparent pixels of any
    RGB look the same. Premultiplying is per pixel, so any split into blocks gives the same."""
    alpha = chunk[..., 3]
    if alpha.min() == 255:
        # All four channels even though alpha steps are zero: dropping it is a strided copy, which
        # measured slower than summing the zeros.
        return chunk.astype(np.uint16)
    if ((alpha - np.uint8(1)) < 254).any():  # some alpha strictly between 0 and 255
        a = chunk.astype(np.uint16)
        a[..., :3] = a[..., :3] * a[..., 3:4] // 255  # <= 255 * 255, fits uint16
        return a
    # Hard alpha: premultiplying only zeroes the transparent pixels (3x cheaper).
    return (chunk * (chunk[..., 3:4] != 0)).astype(np.uint16)


def _down_profiles(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The y profiles: steps between consecutive rows of ``block`` (a column subset), summed along
    each row. Read in place rather than as transposed lines, whose gather cost more than the sums."""
    n = block.shape[0]
    p1 = np.zeros(max(n - 1, 0))
    p2 = np.zeros(max(n - 2, 0))
    if n < 2:
        return p1, p2
    flat = _premultiplied(np.ascontiguousarray(block)).view(np.int16).reshape(n, -1)
    d1 = flat[1:] - flat[:-1]  # |d1| <= 255
    if n >= 3:
        d2 = d1[1:] - d1[:-1]
        # A row step holds at most 510 * 4 * columns: int32 sums cannot overflow.
        p2[:] = np.abs(d2, out=d2).sum(axis=1, dtype=np.int32)
    p1[:] = np.abs(d1, out=d1).sum(axis=1, dtype=np.int32)
    return p1, p2


def _axis_profiles(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = lines.shape[1]
    p1 = np.zeros(max(n - 1, 0))
    p2 = np.zeros(max(n - 2, 0))
    if n < 2:
        return p1, p2
    for r0 in range(0, lines.shape[0], _ROW_CHUNK):
        a = _premultiplied(np.ascontiguousarray(lines[r0 : r0 + _ROW_CHUNK]))
        k = a.shape[2]
        flat = a.view(np.int16).reshape(a.shape[0], -1)  # (lines, n*k): neighbours k apart
        d1 = flat[:, k:] - flat[:, :-k]  # |d1| <= 255
        if n >= 3:
            d2 = d1[:, k:] - d1[:, :-k]
            p2 += _column_sums(np.abs(d2, out=d2)).reshape(n - 2, k).sum(axis=1)  # <= 510
        p1 += _column_sums(np.abs(d1, out=d1)).reshape(n - 1, k).sum(axis=1)
    return p1, p2


def _column_sums(d: np.ndarray) -> np.ndarray:
    """Column sums of non-negative int16 values <= 510 over at most _ROW_CHUNK (128) rows.

    Summed in uint16 (128 * 510 < 65536 cannot overflow): a reduction in the array's own dtype is
    several times faster than one that widens every element to int64."""
    return d.view(np.uint16).sum(axis=0, dtype=np.uint16).astype(np.int64)


def _clean(p: np.ndarray) -> np.ndarray:
    if p.size == 0:
        return p
    return np.maximum(p - _median(p), 0.0)


def _coherence_spectrum(p: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Coherence |P(f)| / sum(p) for f = k / (n * _PAD), high-passed to remove the sprite envelope."""
    total = p.sum()
    if total <= 0:
        return np.zeros(1), np.zeros(1)
    hp = p - gaussian_filter1d(p, sigma=max(len(p) / 10.0, 2.0), mode="constant")
    m = int(2 ** np.ceil(np.log2(max(n, 8) * _PAD)))  # same bins for every profile of an axis
    spec = np.abs(np.fft.rfft(hp, n=m)) / total
    freqs = np.arange(len(spec)) / m
    return freqs, spec


def _value_at(freqs: np.ndarray, spec: np.ndarray, f: float, bins: int = 2) -> float:
    """Coherence near frequency f: the max over the bins within ``bins`` of it (by default a
    quarter peak width)."""
    return float(_values_at(freqs, spec, np.array([f]), bins)[0])


def _values_at(freqs: np.ndarray, spec: np.ndarray, fs: np.ndarray, bins: int = 2) -> np.ndarray:
    """_value_at at each of the frequencies ``fs`` (0 beyond the spectrum), in one gather."""
    if len(freqs) < 2:
        return np.zeros(len(fs))
    k = fs / float(freqs[1])
    lo = np.maximum(np.floor(k - bins), 0).astype(np.int64)
    hi = np.minimum(np.ceil(k + bins), len(spec) - 1).astype(np.int64)
    # Each window spans at most 2 * bins + 2 bins; reading past its end repeats its last bin.
    j = np.minimum(lo[:, None] + np.arange(2 * bins + 2), hi[:, None])
    return np.where(hi >= lo, spec[j].max(axis=1), 0.0)


def _peak(freqs: np.ndarray, spec: np.ndarray, fmin: float, fmax: float) -> tuple[float, float, float]:
    """(frequency, coherence, peak-to-median ratio) of the strongest peak in [fmin, fmax]."""
    band = (freqs >= fmin) & (freqs <= fmax)
    if not band.any():
        return 0.0, 0.0, 0.0
    idx = np.flatnonzero(band)
    k = int(idx[np.argmax(spec[idx])])
    f = _parabolic(freqs, spec, k)
    med = _median(spec[idx]) + 1e-12
    return f, float(spec[k]), float(spec[k] / med)


def _parabolic(freqs: np.ndarray, spec: np.ndarray, k: int) -> float:
    if 0 < k < len(spec) - 1:
        a, b, c = spec[k - 1], spec[k], spec[k + 1]
        den = a - 2 * b + c
        off = 0.5 * (a - c) / den if den < 0 else 0.0
        return float(freqs[k] + np.clip(off, -0.5, 0.5) * (freqs[1] - freqs[0]))
    return float(freqs[k])


@dataclass
class _AxisCandidate:
    f: float
    coherence: float
    ratio: float
    use_p2: bool
    fine: list = field(default_factory=list)  # finer grids worth a look (see _axis)


def _axis(
    q1: np.ndarray,
    q2: np.ndarray,
    n: int,
    min_cell: float,
    max_cell: float | None,
    seams: bool = False,
    subsampled: Callable[[], bool] = lambda: False,
) -> _AxisCandidate | None:
    """The axis's pitch candidates from its cleaned first/second-difference profiles (``seams``:
    JPEG block seams were taken out of them; ``subsampled``: whether the image is a JPEG with
    halved chroma, asked only when it matters)."""
    if len(q2) < 2 * _MIN_CELLS:
        return None
    if q1.sum() <= 0:
        return None
    smax = n / _MIN_CELLS if max_cell is None else min(max_cell, n / _MIN_CELLS)
    fmin, fmax = 1.0 / smax, 1.0 / min_cell
    f1, s1 = _coherence_spectrum(q1, n)
    f2, s2 = _coherence_spectrum(q2, n)
    # Score each frequency by the better of the two profiles.
    m = min(len(s1), len(s2))
    if m < 4:
        return None
    spec = np.maximum(s1[:m], s2[:m])
    freqs = f1[:m]
    f, c, ratio = _peak(freqs, spec, fmin, fmax)
    if f <= 0:
        return None
    # The strongest period may be a multiple of the true pitch (art drawn mostly in 2-px strokes
    # puts most edges on every other boundary) or a fraction of it (sharp edges give strong
    # harmonics). Start from the finest harmonic that keeps half the coherence, list the multiples
    # of it that do too, and let the landmark test in _coarsest pick among them.
    c1v = _value_at(f1[:m], s1[:m], f)
    c2v = _value_at(f2[:m], s2[:m], f)
    # Step-like edges (sharp or blurred NN) put p1 peaks on boundaries; bilinear ramps leave p1
    # flat inside each cell (coherence ~0 at the pitch) and put p2 peaks on the cell centres.
    use_p2 = c1v < 0.35 * c2v
    if use_p2 and f / 2 >= fmin:
        # A blurred step has a second difference with one lobe either side of the edge: when the
        # lobes sit half a cell apart, p2 looks like a grid of half the pitch. Real soft ramps
        # leave p1 flat, so p1 being that coherent at twice the period means blurred steps.
        c1h, c2h = _value_at(f1[:m], s1[:m], f / 2), _value_at(f2[:m], s2[:m], f / 2)
        if c1h >= 0.5 * c and c2h < 0.35 * c1h:
            f, c, ratio = _peak(f1[:m], s1[:m], 0.75 * f / 2, 1.25 * f / 2)
            ratio = max(ratio, float(c / (_median(s1[:m][(freqs >= fmin) & (freqs <= fmax)]) + 1e-12)))
            spec, use_p2 = s1[:m], False
    # Finer grids worth a look: harmonics that keep most of the coherence. Each is tracked and
    # coarsened by the landmark test in _coarsest; the finest result that survives wins.
    harms = [h for h in (2, 3) if f * h <= fmax and _value_at(freqs, spec, f * h) >= 0.85 * c]
    # No harmonic under 3 px on a JPEG with halved chroma: its chroma steps spread over the 2-px
    # chroma blocks and put edges on every odd 2-px boundary of a 4x grid at phase 0, which kept
    # the 2-px grid (jpeg_integer-2706: 86x96 for 43x48); a 5x grid's 2.5-px harmonic has its odd
    # landmarks within half a pixel of those blocks' boundaries (jpeg_integer-3307: 90x82 for
    # 45x41). A real grid that fine is its own strongest peak.
    harms = [h for h in harms if 1.0 / (f * h) >= 3.0 or not subsampled()]

    def multiples(fh: float, first: int, last: int) -> list[int]:
        # Coarser grids worth a try from fh: multiples whose period keeps half the coherence within
        # a peak width of fh / m (one cycle over the line, which the tracker follows). A drifting
        # grid's peaks are not exact harmonics: drift-2515's 10.45-px peak was 3 % off twice its
        # 5.08-px harmonic, which fell in a dip, and the sprite came back at twice its size.
        ms = np.arange(first, last + 1)
        keep = (fh / ms >= fmin) & (_values_at(freqs, spec, fh / ms, _PAD) >= 0.5 * c)
        return ms[keep].tolist()

    # (frequency, multiples to try, a guess the spectrum does not vouch for, and whether that guess
    # may be judged on its own window against a misread two-cell period: see _finer_bar)
    fine_list = []
    for h in [1, *harms]:
        fine_list.append((f * h, (1, *multiples(f * h, 2, 16 * h)), False, False))
    if 2 not in harms and 2 * f <= fmax:
        # Art drawn mostly in 2-px strokes, few edges: the strongest period is about two cells and,
        # from so few edges, up to a tenth off (measured 1.7-2.6 cells on JPEG'd icons), so twice
        # it need not show in the spectrum at all. Its own nearby peak is still worth tracking;
        # it must show several clear edges off the coarser grid to be kept.
        fh = _peak(freqs, spec, 1.6 * f, min(2.5 * f, fmax))[0]
        # On a JPEG'd image whose block seams stood out, a guess of 8 px is what is left of them
        # (ai_like-2201: 8.00 next to 15.15 at 15x, the sprite came back 123x126 for 62x64).
        if fh > 0 and seams and abs(1.0 / fh - 8.0) < 0.15:
            fh = 0.0
        if fh > 0:
            # Not on its own window where it may be JPEG's blocks: 2-px chroma (also the parity
            # coincidence, see _parity_only), 8-px, 16-px chroma, seams or not (ai_like-3328: 8.00
            # next to 14.1 at 14x came back at 8 px, real_ai_like algorithm-sharp 2.00 next to
            # 4.54 "no grid"; noise can hide the halved chroma from _chroma_subsampling, so any
            # image).
            blocks = min(abs(1.0 / fh - b) for b in (2.0, 8.0, 16.0)) < 0.15
            # Twice that period is the strongest one, whatever the spectrum says exactly there.
            fine_list.append((fh, (1, 2, *multiples(fh, 3, 32)), True, not blocks))
    return _AxisCandidate(f, c, ratio, use_p2, fine_list)


def _reconcile(gx, gy, q1x, q2x, q1y, q2y, w, h) -> tuple[_AxisFit, _AxisFit] | None:
    """Square-ish cells: when one axis is weak (few edges, e.g. a 1xN strip) borrow the other."""
    if gx is None and gy is None:
        return None
    if gx is not None and gy is not None:
        ok_x, ok_y = _own_pitch_ok(gx), _own_pitch_ok(gy)
        if ok_x and not ok_y:
            gy = None
        elif ok_y and not ok_x:
            gx = None
    if gx is None:  # the weak axis borrows the pitch the strong one ends up with, not its peak
        gy, trk_y, ty = _fit_axis(gy, None, q1y, q2y, h)
        gx, trk_x, tx = _fit_axis(None, replace(gy, f=1.0 / ty.cell), q1x, q2x, w)
    else:
        gx, trk_x, tx = _fit_axis(gx, None, q1x, q2x, w)
        gy, trk_y, ty = _fit_axis(gy, replace(gx, f=1.0 / tx.cell), q1y, q2y, h)
    if not tx.borrowed and not ty.borrowed:
        # Fake pixels are square. Art drawn mostly in 2-px strokes can hide its odd boundaries
        # along one axis only, which then comes out at about twice the other's pitch: track it at
        # the other axis's pitch instead (finer never loses a detail; coarser does).
        # First, though, an axis whose few edges share a short period only by chance takes the
        # other's pitch (_chance_multiple, _coarser_fits); squaring up before it locked that
        # chance pitch in.
        tx = _chance_multiple(trk_x, gx, tx, gy, ty)
        ty = _chance_multiple(trk_y, gy, ty, gx, tx)
        if tx.cell > ty.cell:
            ty = _coarser_fits(trk_y, gy, ty, tx)
            tx = _square_up(trk_x, gx, tx, ty)
        else:
            tx = _coarser_fits(trk_x, gx, tx, ty)
            ty = _square_up(trk_y, gy, ty, tx)
        tx = _pitch_of_passing_axis(trk_x, gx, tx, ty)
        ty = _pitch_of_passing_axis(trk_y, gy, ty, tx)
        tx, ty = _peak_pitch_on_both(_AxisFit(tx, trk_x, gx), _AxisFit(ty, trk_y, gy))
    return _AxisFit(tx, trk_x, gx), _AxisFit(ty, trk_y, gy)


def _peak_pitch_on_both(fx: _AxisFit, fy: _AxisFit) -> tuple[AxisGrid, AxisGrid]:
    """Either axis failing the on-grid test after coarsening: either axis's own spectral peak, when
    finer than what was chosen, tracked on both axes, taken when both pass there.

    Only images with an axis failing the plain on-grid test get here: would-be "no grid"
    answers, unless pixel noise rescues that axis later (_judged_on_grid). Heavy blur on 5-px cells
    (blur-2410, seeds 2400) coarsened x from its 5.08-px peak to 25.4 px, holding 0.64 of its
    edges, while y took a 36-px peak; at 5.08 px both axes hold 0.91-0.94. One axis can pass
    at its coarse pitch: blur-3508 (seeds 3500, 10.7x) coarsened x's 10.73-px peak eightfold and
    held 0.802 there, y took a 121.6-px peak (0.31) and failed at x's pitch too; at 10.73 px
    both axes hold 0.88."""
    tx, ty = fx.grid, fy.grid
    if tx.on_grid > _ON_GRID and ty.on_grid > _ON_GRID:
        return tx, ty
    for cand in (fx.cand, fy.cand):
        if 1.0 / cand.f >= 0.9 * min(tx.cell, ty.cell):
            continue  # not finer than what both axes already fail at
        nx, ny = fx.trk.at(cand.f, fx.cand), fy.trk.at(cand.f, fy.cand)
        if nx.on_grid > _ON_GRID and ny.on_grid > _ON_GRID:
            return nx, ny
    return tx, ty


def _pitch_of_passing_axis(trk: _Tracker, cand: _AxisCandidate, own: AxisGrid, other: AxisGrid) -> AxisGrid:
    """An axis whose grid fails the on-grid test, next to one that passes it, tracked at the passing
    axis's pitch (its nominal one, then the mean width of its tracked cells) when that passes too.

    Only images that would otherwise be answered "no grid" get here (the test is on both axes).
    Few edges (JPEG'd icons) put an axis's own peak on a pitch between one and two cells, or a
    few percent off, and its grid then holds 0.75 of its edges: real_ai_like hotel-bed (seeds
    2000) took 7.88 px next to 5.10, card-plus (seeds 1500) 4.69 on both axes for 4.54."""
    if own.on_grid > _ON_GRID or other.on_grid <= _ON_GRID:
        return own
    pitches = [other.cell]
    if len(other.edges) >= 5:
        pitches.append(_interior_pitch(other.edges))
    for pitch in pitches:
        g = trk.at(1.0 / pitch, cand)
        if g.on_grid > _ON_GRID:
            return g
    return own


def _chance_multiple(
    trk: _Tracker, cand: _AxisCandidate, own: AxisGrid, other_cand: _AxisCandidate, other: AxisGrid
) -> AxisGrid:
    """An axis whose strongest period is the parity coincidence (about 2 px: few edges, all on
    even pixels) and whose pitch, a multiple of it, came out a little coarser than the other
    axis's, takes the other's pitch when its edges fit that grid as well.

    real_fractional cart (seeds 3000, 14.1x): its seven column edges share a 2.15-px period (x
    coherence 1.00), whose 7th multiple, 15.07 px, holds them all; at y's 14.13 px x holds them
    too, and with x at 15.07 the cells were not flat ("no grid"). Above 1.7 times the other's
    pitch _square_up decides; a finer pitch than the other's is _coarser_fits' case."""
    if not _parity_only(cand) or _parity_only(other_cand):
        return own  # the axis's own peak is a real pitch, or both are 2-px grids
    if not 1.02 < own.cell / other.cell < 1.7:
        return own
    return _fits_as_well(trk, cand, own, other.cell)


def _coarser_fits(trk: _Tracker, cand: _AxisCandidate, fine: AxisGrid, coarse: AxisGrid) -> AxisGrid:
    """An axis at several times finer a pitch than the other, whose edges all sit on the other's
    grid just as well, takes that pitch. Few edges can share a short period by chance (a 42.67-px
    grid repeats every 128 px; with the right phase all its edges fall on even pixels, period 2).

    From 2.8x: 2-px strokes hide odd boundaries at 1.7-2.6x (measured on JPEG'd icons), where
    the coarse axis squares up instead; large-1610 was 3.05x (72x72 for 24x24), and 1.7 turned
    11 real icons of 2,488 benchmark cases to half size. From any ratio when the axis's own
    strongest period is that parity coincidence (2 px): large-1801 took a 2-px period's 9th
    multiple, 18 px, at 2.37x the other axis's 42.67 (57x56 for 24x24)."""
    if coarse.cell / fine.cell <= (1.0 if _parity_only(cand) else 2.8):
        return fine
    return _fits_as_well(trk, cand, fine, coarse.cell)


def _parity_only(cand: _AxisCandidate) -> bool:
    """Whether the axis's own strongest period is the parity coincidence: about 2 px, which few
    edges that all fall on even pixels share by chance."""
    return cand.f >= 1.0 / 2.2


def _fits_as_well(trk: _Tracker, cand: _AxisCandidate, own: AxisGrid, pitch: float) -> AxisGrid:
    """The axis tracked at ``pitch`` instead of ``own``'s, when its edges fit that grid as well:
    at least 0.95 of the coherence at its own pitch, and an on-grid share within 0.02."""
    if _coherence_at(trk.q, 1.0 / pitch) < 0.95 * _coherence_at(trk.q, 1.0 / own.cell):
        return own
    g = trk.at(1.0 / pitch, cand)
    return g if g.on_grid >= own.on_grid - 0.02 else own


def _coherence_at(q: np.ndarray, f: float) -> float:
    total = q.sum()
    if total <= 0:
        return 0.0
    return float(abs((q * np.exp(-2j * np.pi * f * np.arange(len(q)))).sum()) / total)


def _fit_axis(
    cand: _AxisCandidate | None, strong: _AxisCandidate | None, q1: np.ndarray, q2: np.ndarray, n: int
) -> tuple[_AxisCandidate, _Tracker, AxisGrid]:
    """Track one axis: at its own best pitch, or (``cand`` None) at the strong axis's, borrowed."""
    borrowed = cand is None
    if borrowed:
        assert strong is not None
        cand = _AxisCandidate(strong.f, strong.coherence, strong.ratio, strong.use_p2)
    trk = _Tracker(q2 if cand.use_p2 else q1, n)
    return cand, trk, trk.track(cand, borrowed=True) if borrowed else _coarsest(trk, cand)


def _own_pitch_ok(cand: _AxisCandidate) -> bool:
    """Whether an axis can keep its own pitch next to a stronger one: its peak stands out of the
    spectrum, or nearly all its edges sit on that one period (few edges, e.g. a box outline, give
    a spectrum of broad lobes, so a low peak ratio, but still a coherence near 1)."""
    return cand.ratio > 2.5 or cand.coherence >= _COHERENT


# Coherence that alone vouches for an axis's period.
_COHERENT = 0.9
# Share of an axis's edge energy near its grid's landmarks that a real grid shows (see _detect).
_ON_GRID = 0.8
# Pixel noise (sigma, per channel) from which a failing axis is read again on denoised profiles,
# and the share it must then show (see _judged_on_grid). Flat art measures 0; JPEG 70-95 mostly < 2.
_NOISY = 2.0
_ON_GRID_NOISY = 0.9
# Above this the median step is not noise but dense detail (a native sprite of random pixels
# measures 93): the benchmark's noise goes to 16, and a grid of cells >= 3 px has most steps inside
# a cell.
_NOISY_MAX = 24.0
# Cells under this many pixels are also judged whole (see _whole_cells_flat), against this bar;
# cells of JPEG's 4- and 8-px (half) blocks against the next two (sharp, soft).
_SMALL_CELL = 4.0
_SMOOTH_SPREAD = 0.08
_BLOCK_SPREAD = 0.15
_SOFT_BLOCK_SPREAD = 0.3
_WHOLE_CELL_SPREAD = 0.25  # any other sharp grid of at most _FEW_CELLS cells along an axis
_FEW_CELLS = 16
_SPREAD_CELLS = 256  # cells read along each axis (see _cell_spread)


class _Tracker:
    """One axis's cleaned edge profile and the grids tracked on it.

    Picking a pitch tracks the same profile at many related frequencies (harmonics, their
    multiples, the other axis's pitch), often the same one twice: each is tracked once.
    """

    def __init__(self, q: np.ndarray, n: int) -> None:
        self.q = q  # cleaned (noise floor removed)
        self.n = n
        # The level above which a sample counts as a clear edge (for extrapolating margins).
        self.strong = 0.15 * _percentile(self.q, 99) if len(self.q) >= 2 else 0.0
        self._memo: dict[tuple, AxisGrid] = {}

    def track(self, cand: _AxisCandidate, borrowed: bool = False) -> AxisGrid:
        # 12 significant digits: f/m and (h f)/(h m) are the same grid, whatever the last bit says.
        key = (float(f"{cand.f:.12g}"), cand.use_p2, borrowed, cand.coherence, cand.ratio)
        grid = self._memo.get(key)
        if grid is None:
            grid = self._memo[key] = _track(self.q, cand, self.n, borrowed, self.strong)
        return grid

    def at(self, f: float, cand: _AxisCandidate) -> AxisGrid:
        """The grid of frequency ``f`` tracked like ``cand`` (same profile kind and confidence)."""
        return self.track(_AxisCandidate(f, cand.coherence, cand.ratio, cand.use_p2))


@dataclass
class _AxisFit:
    """The grid chosen for one axis, with the tracker and candidate it came from."""

    grid: AxisGrid
    trk: _Tracker
    cand: _AxisCandidate

    def halved(self) -> AxisGrid:
        """This axis tracked at half its chosen pitch (usually tracked already while choosing)."""
        c = _AxisCandidate(2.0 / self.grid.cell, self.cand.coherence, self.cand.ratio, self.cand.use_p2)
        return self.trk.track(c, borrowed=self.grid.borrowed)


# The colour test of a grid at half the chosen pitch: its cells must be at least this wide for
# their middle third to be read clear of the boundaries.
_SPLIT_MIN_CELL = 4.0
# Clear colour steps on boundaries the chosen grid lacks that make an axis take the finer grid.
_SPLIT_STEPS = 3
# A clear step: an RGB distance over this, the pixel noise's share and half the larger outer step
# (see _odd_steps).
_STEP_MIN = 30.0


def _split_by_colour(
    img: np.ndarray,
    fx: _AxisFit,
    fy: _AxisFit,
    min_cell: float,
    pixel_noise: Callable[[], float],
) -> tuple[AxisGrid, AxisGrid]:
    """The chosen grids, or the grids at half their pitch where the colours show cells that small.

    Icons drawn in 2-px strokes put nearly all their edges on every other boundary of the true
    grid; the few odd ones (a 3-px ray, a 1-px offset) are a few short edges, lost in profiles
    summed over whole lines (the sun icon's rays are 4 of 68 boundary segments), and the coarse
    tracker takes them for noise. Read in 2-D they are plain: two cells of the finer grid that the
    coarse grid holds as one differ by the full ink contrast. So each axis is also read at half
    its pitch and the boundaries the coarse grid lacks are looked at cell by cell (_odd_steps);
    an axis with a few clear steps there takes the finer grid, and so does the other axis when it
    is left at about twice that pitch (fake pixels are square). Never below ``min_cell``."""
    grids = (fx.grid, fy.grid)
    least = max(_SPLIT_MIN_CELL, min_cell)
    halves = tuple(f.halved() if f.grid.cell / 2 >= least else None for f in (fx, fy))
    if halves == (None, None):
        return grids
    hx, hy = (h if h is not None else g for h, g in zip(halves, grids, strict=True))
    reads, npix = _four_point_reads(img, hx, hy)
    cols, opaque = reads[..., :3], reads[..., 3] >= 128
    # Variance of a read's RGB distance from its true colour under the image's pixel noise. Read
    # only for an axis with three clear steps without it (noise only raises the bar): most images
    # have none, and the noise costs 0.2-1 ms.
    spread = _once(lambda: 3.0 * pixel_noise() ** 2 / npix)

    steps = []
    for i, (half, fit) in enumerate(zip(halves, (fx, fy), strict=True)):
        if half is None:
            steps.append(0)
            continue
        c, o = (cols, opaque) if i == 0 else (cols.transpose(1, 0, 2), opaque.T)
        steps.append(_odd_steps(c, o, spread if i == 0 else (lambda: spread().T), half, fit.grid))
        # Every axis read at half the pitch must show odd steps (_odd_steps answers 0 below
        # _SPLIT_STEPS clear ones, so: three clear ones, at least one of them a full edge): a
        # coarse grid that lags a drifting one by ~0.4 cell in places puts real edges on its odd
        # boundaries along that axis alone (drift-1013: 12 steps along y, none along x, and the
        # sprite came back at twice its size).
        if steps[-1] == 0:
            return grids
    split = [n >= _SPLIT_STEPS for n in steps]
    if not any(split):
        return grids
    out = [h if s else g for h, s, g in zip(halves, split, grids, strict=True)]
    for i in (0, 1):
        if not split[i] and halves[i] is not None and grids[i].cell >= 1.7 * out[1 - i].cell:
            out[i] = halves[i]
    squared = _square_halves(
        out, [h is not None and o is h for h, o in zip(halves, out, strict=True)], split, (fx, fy)
    )
    return squared if squared is not None else grids


def _square_halves(
    out: list[AxisGrid], halved: list[bool], split: list[bool], fits: tuple[_AxisFit, _AxisFit]
) -> tuple[AxisGrid, AxisGrid] | None:
    """``out`` if both axes are regular and square, else a halved axis tracked again at the other's
    pitch if that makes them so, else None.

    Few edges give a pitch up to a tenth off, and tracked at half of it the grid slips a cell
    where the edges are sparse (24 cells came back as 21 or 22). Fake pixels are square: the axis
    that slipped or disagrees is tracked at the regular one's pitch, first at the pitch of an axis
    the colours split."""
    widths = [_regular_widths(g) for g in out]
    if widths[0] is not None and widths[1] is not None and abs(widths[0] / widths[1] - 1) <= 0.1:
        return out[0], out[1]
    for i in sorted((0, 1), key=lambda i: not split[i]):
        j = 1 - i
        if widths[i] is None or not halved[j] or out[j].borrowed:
            continue
        other = fits[j].trk.at(1.0 / out[i].cell, fits[j].cand)
        w = _regular_widths(other)
        if w is not None and abs(w / widths[i] - 1) <= 0.1:
            out = list(out)
            out[j] = other
            return out[0], out[1]
    return None


def _regular_widths(g: AxisGrid) -> float | None:
    """The median interior cell width of ``g`` when every interior cell is within 40 % of it."""
    w = np.diff(g.edges[1:-1])
    if not len(w):
        return g.cell
    med = _median(w)
    return med if bool((np.abs(w / med - 1) <= 0.4).all()) else None


def _four_point_reads(img: np.ndarray, gx: AxisGrid, gy: AxisGrid) -> tuple[np.ndarray, np.ndarray]:
    """Mean RGBA of four pixels inside every cell (a quarter and three quarters of the way across
    its middle third), and how many of them are distinct (1, 2 or 4: a third of a narrow cell can
    be one pixel wide). Enough to tell full colour changes apart, at a fraction of the cost of a
    full read; the middle third keeps the reads clear of the true edges where the finer grid is
    tracked a pixel or two off (drift-2014 of seeds 2000: a read across an edge inside the coarse
    cell looked like an odd boundary, and the sprite came back at twice its size)."""
    picks, distinct = [], []
    for g, n in ((gy, img.shape[0]), (gx, img.shape[1])):
        lo, hi = _inner_ranges(g.edges, n, 0.4 if g.soft else 1 / 3, 2.0 * g.blur)
        size = np.maximum(hi - lo, 1)
        picks.append((lo[:, None] + (np.array([0.25, 0.75]) * size[:, None]).astype(np.int64)).ravel())
        distinct.append(np.minimum(size, 2))
    yi, xi = picks
    rows = img.take(yi, axis=0).astype(np.uint16)  # 4 * 255 fits
    rows = rows[0::2] + rows[1::2]
    sub = rows.take(xi, axis=1)
    return (sub[:, 0::2] + sub[:, 1::2]) / 4.0, np.outer(*distinct).astype(np.float64)


def _odd_steps(
    cols: np.ndarray,
    opaque: np.ndarray,
    spread: Callable[[], np.ndarray],
    fine: AxisGrid,
    coarse: AxisGrid,
) -> int:
    """Clear colour steps along axis 1 of ``cols`` (cells of ``fine``) on boundaries of ``fine``
    that lie well inside a cell of ``coarse`` (at least 0.6 fine cells from its boundaries).

    If ``coarse`` is right, the two fine cells either side of such a boundary are halves of one
    cell and differ only by what blur (and a boundary tracked a little off) carries in from the
    cells beyond, each half from its own side: a fraction of the larger of the two outer steps
    (half to outer neighbour). A dark cell between two light ones read as (50, 89) between 210 and
    253 (blur-115) is that, not an edge. A clear step is more than half that outer step
    plus _STEP_MIN (JPEG on a few pixels' read) plus four standard deviations of what pixel noise
    does to it (``spread()``: each read's variance), and at least half a typical real edge (the
    median clear step on boundaries both grids share): an odd boundary of pixel art is a full
    colour change, not a shade."""
    fe = fine.edges
    k = np.arange(2, len(fe) - 2)  # boundary fe[k] lies between cells k-1 and k, two cells each side
    if not len(k):
        return 0
    dist = _nearest_distance(fe[k], coarse.edges) / fine.cell

    def clear_steps(k: np.ndarray, var: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        step = np.sqrt(((cols[:, k - 1] - cols[:, k]) ** 2).sum(axis=2))
        outer = np.maximum(
            np.sqrt(((cols[:, k - 2] - cols[:, k - 1]) ** 2).sum(axis=2)),
            np.sqrt(((cols[:, k] - cols[:, k + 1]) ** 2).sum(axis=2)),
        )
        ok = opaque[:, k - 2] & opaque[:, k - 1] & opaque[:, k] & opaque[:, k + 1]
        floor = _STEP_MIN + (4.0 * np.sqrt(var[:, k - 1] + var[:, k]) if var is not None else 0.0)
        return step, ok & (step > 0.5 * outer + floor)

    odd = k[dist >= 0.6]
    if clear_steps(odd, None)[1].sum() < _SPLIT_STEPS:
        return 0  # most images: nothing more to read, not even the noise
    var = spread()
    step, clear = clear_steps(odd, var)
    if clear.sum() < _SPLIT_STEPS:
        return 0
    shared_step, shared_clear = clear_steps(k[dist <= 0.3], var)
    typical = shared_step[shared_clear]
    if not typical.size:
        return 0
    return int((clear & (step >= 0.5 * _median(typical))).sum())


def _square_up(trk: _Tracker, cand: _AxisCandidate, coarse: AxisGrid, fine: AxisGrid) -> AxisGrid:
    ratio = coarse.cell / fine.cell
    # At any ratio, too, when the coarse axis's own grid fails the on-grid test and the fine one
    # passes it: heavy blur on small cells left blur-1905 (seeds 1900, 4.9 px cells) with a 30-px
    # y period holding 0.40 of its edges, and the whole image was answered "no grid".
    lost = ratio > 3.3 and coarse.on_grid <= _ON_GRID and fine.on_grid > _ON_GRID
    if not (1.7 <= ratio <= 3.3 or lost):
        return coarse
    finer = trk.at(1.0 / fine.cell, cand)
    if lost:
        return finer if finer.on_grid > _ON_GRID else coarse
    return finer if finer.on_grid >= coarse.on_grid - 0.1 else coarse


def _coarsest(trk: _Tracker, cand: _AxisCandidate) -> AxisGrid:
    """Pick the pitch among the strongest period, its harmonics and their multiples.

    A grid of pitch s also "explains" every edge of s/2, and art drawn mostly with 2-px strokes
    puts most of its edges on every other boundary, so the spectrum alone cannot tell s, s/2 and
    2s apart. For each finer candidate the grid is tracked and coarsened by the largest multiple m
    whose dropped landmarks (those off the coarse grid) carry no more edge energy than the
    positions halfway between landmarks; one real edge off the coarse grid keeps the finer grid.
    The finest surviving grid wins.
    """
    best: AxisGrid | None = None
    for i, (f, mults, unseen, own_window) in enumerate(cand.fine or [(cand.f, (1,), False, False)]):
        c = _AxisCandidate(f, cand.coherence, cand.ratio, cand.use_p2)
        # Going finer than the strongest period needs clear edges on the extra landmarks.
        g = _coarsen(trk, c, mults, 0.1 if i == 0 else 0.3, unseen)
        if best is None or (
            g.cell < 0.9 * best.cell and g.on_grid >= _finer_bar(trk.q, best, g, own_window) - 0.05
        ):
            best = g
    assert best is not None
    # Blur hides the harmonics of a grid whose edges mostly fall on every other boundary; look for
    # real edges halfway between landmarks instead: more edge energy there than at the quarter
    # positions (where a blurred edge of this grid would leak) means the grid is twice as fine.
    if best.cell / 2 >= MIN_CELL and _edges_between(trk.q, best, cand.use_p2):
        finer = trk.at(2 / best.cell, cand)
        if finer.on_grid >= best.on_grid - 0.05:
            best = finer
    return best


def _finer_bar(q: np.ndarray, best: AxisGrid, finer: AxisGrid, own_window: bool) -> float:
    """The on-grid share a finer grid that survived its own coarsening must about reach to replace
    ``best``: best's own share, or, where best is a misread two-cell period, best's share read
    with the finer grid's window.

    Icons drawn in 2-px strokes give a strongest period of about two cells, read from so few
    edges up to a quarter off (12.3 px for 2 x 5.5 on circle-info-solid); their own nearby peak
    (``own_window``: that guess, unless it is JPEG's block size) then finds the true cells. Blur
    spreads each edge over the same pixels whatever the pitch, so a finer grid's quarter-cell
    window holds less of it: circle-info-solid's true 5.5-px grid held 0.85 against the 12.3-px
    one's 0.96, which holds 0.61 read alike. Only where best is about two finer cells but not
    twice one (1.75-2.6 times the finer pitch, at least 0.1 off 2): under a right pitch its half
    (drifting, JPEG'd grids) keeps the plain bar, and so do the other guesses (read alike, JPEG's
    16-px chroma blocks passed next to 19.7-px cells, 0.90 against 0.94, and pitches 1.6-1.7
    times finer passed next to right ones).
    """
    r = best.cell / finer.cell
    misread = own_window and 1.75 <= r <= 2.6 and abs(r - 2) >= 0.1
    if not misread:
        return best.on_grid
    marks = _landmarks(best.edges, best.soft)
    d = _landmark_distances(np.arange(len(q)) + _sample_offset(best.soft), marks)
    return _on_grid_share(q, d, finer.cell)


def _edges_between(q: np.ndarray, grid: AxisGrid, use_p2: bool) -> bool:
    marks = _landmarks(grid.edges, use_p2)
    if len(marks) < 4:
        return False
    a, b = marks[:-1], marks[1:]
    mids = (a + b) / 2
    quarters = np.concatenate([0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b])
    offset = _sample_offset(use_p2)
    win = max(0, round(0.1 * grid.cell))
    qmax = maximum_filter1d(q, 2 * win + 1) if win else q
    em, eq = _at(qmax, mids, offset), _at(qmax, quarters, offset)
    strong = em > 3.0 * _percentile(eq, 90) + 0.05 * _percentile(_at(qmax, marks, offset), 75)
    return bool(strong.sum() >= max(2, 0.1 * len(mids)) and em.mean() > 2.0 * eq.mean())


def _coarsen(
    trk: _Tracker, cand: _AxisCandidate, mults: tuple[int, ...], rel: float = 0.1, unseen: bool = False
) -> AxisGrid:
    """The coarsest multiple of ``cand``'s grid whose dropped landmarks hold no real edges.

    ``unseen``: ``cand`` is a pitch the spectrum does not vouch for; it is kept only on clear
    edges at several of the landmarks a coarser grid would drop."""
    q, n = trk.q, trk.n
    fine = trk.track(cand)
    s = fine.cell
    # Landmarks: where q peaks for this grid (boundaries for p1, cell centres for p2).
    marks = _landmarks(fine.edges, cand.use_p2)
    if len(marks) < 4:
        return fine
    mids = (marks[:-1] + marks[1:]) / 2
    offset = _sample_offset(cand.use_p2)
    win = max(1, round(0.25 * s))

    qmax = maximum_filter1d(q, 2 * win + 1)
    em, eb = _at(qmax, marks, offset), _at(qmax, mids, offset)
    # An off-grid landmark is a real edge when it stands above what the halfway positions (never
    # an edge of this grid) show -- the noise level, or blur spilling into them, capped at half a
    # typical on-grid edge -- and carries a fair share of a typical on-grid edge. The bar comes
    # from positions that cannot hold the edges being tested, so many real off-grid edges do not
    # raise it.
    noise_thr = 2.0 * _percentile(eb, 90) if len(eb) else 0.0
    # The same bar read without the window where that reaches a landmark (at pitch 2-3 it picks up
    # the landmarks' own edges); the sprite's extent is between its outermost edges above it.
    win_mid = int(np.ceil(s / 2 - 0.5)) - 1
    if win_mid >= win:
        bare_thr = noise_thr
    else:
        qmid = maximum_filter1d(q, 2 * win_mid + 1) if win_mid > 0 else q
        bare_thr = 2.0 * _percentile(_at(qmid, mids, offset), 90) if len(mids) else 0.0
    edged_idx = np.flatnonzero(em > bare_thr)
    span = (
        (marks >= marks[edged_idx[0]]) & (marks <= marks[edged_idx[-1]])
        if len(edged_idx)
        else np.ones(len(marks), bool)
    )
    best = fine
    for m in mults[1:]:
        if len(marks) < 2 * m or s * m > n / _MIN_CELLS:
            break
        # Which fine landmarks the coarse grid keeps: those near its own, separately tracked
        # landmarks (not every m-th fine one: on a drifting grid the fine tracker may slip a
        # landmark somewhere and the residue classes would swap halfway along).
        coarse = trk.at(cand.f / m, cand)
        ce = coarse.edges
        cmarks = _landmarks(ce, cand.use_p2)
        if len(cmarks) < 2:
            break
        widths = np.diff(ce[1:-1])
        if len(widths) and (np.abs(widths / coarse.cell - 1) > 0.33).any():
            # The tracker bent the coarse grid to pass through off-grid edges (a drifting grid
            # changes its pitch by a few percent per cell, never by a third): they are real.
            continue
        # The coarse grid merges a border cell narrower than half its pitch into its neighbour;
        # the boundary it dropped there is still one of its own, not an odd one. Art that reaches
        # the image border (a crop, a tile) has an edge there, which kept every finer harmonic of
        # clean full-bleed upscales.
        kept = _nearest_distance(marks, cmarks) <= 0.3 * s
        dropped = _nearest_distance(marks, cmarks[[0, -1]] + np.array([-1.0, 1.0]) * coarse.cell) <= 0.3 * s
        off, on = em[~kept & ~dropped], em[kept]
        if not len(on) or not len(off):
            continue
        typical = _median(on)
        if unseen:
            # Sparse art (a frame icon) leaves most landmarks of its grid edge-free, and their
            # median is the noise level: for a guessed pitch, judge by the landmarks with an edge.
            edged = on[on > 2.0 * _median(eb)] if len(eb) else on
            typical = _median(edged) if len(edged) else typical
        elif typical <= 0.5 * bare_thr and len(edged_idx) >= 4:
            # Most kept landmarks hold nothing but noise: a small sprite on a wide noisy margin,
            # whose landmarks beyond its outermost clear edges are edge-free on any grid. Judge by
            # the landmarks between those edges, when they clearly stand out of the noise there.
            inside = on[span[kept]]
            if len(inside) and _median(inside) >= 2.0 * bare_thr:
                typical = _median(inside)
        thr = max(min(noise_thr, 0.5 * typical), rel * typical)
        # One landmark just over the bar (within a quarter) among dozens is what noise does to a
        # bar set by the 90th percentile of a few dozen samples; a real edge clears it further.
        allowed = max(1, int(0.1 * len(off))) if unseen else int(0.02 * len(off))
        clear = (off > 1.25 * thr).sum() <= allowed and (off > thr).sum() <= allowed + 1
        if clear and off.mean() < 0.5 * on.mean():
            best = coarse
    return best


def _extrapolate_margins(q: np.ndarray, x: np.ndarray, u: np.ndarray, f: float, level: float) -> np.ndarray:
    """Continue the cell coordinate into edge-free margins at the pitch of the nearest cells.

    Without edges the phase simply runs on at the nominal (global) pitch. On a drifting grid the
    pitch near a border differs from the mean by several percent, enough for one cell too many
    or too few in a wide margin; the last few cells with clear edges know the local pitch.
    """
    if len(q) < 2:
        return u
    strong = np.flatnonzero(q >= level)
    if len(strong) < 2 or u[strong[-1]] - u[strong[0]] < 6:
        return u
    u = u.copy()
    a, b = strong[0], strong[-1]
    # Left margin: pitch over the first three cells of clear edges (their landmarks, not samples).
    k = strong[np.searchsorted(u[strong], u[a] + 3)]
    # min/max, not np.clip: see _nearest_distance
    f_left = min(max(float((u[k] - u[a]) / (x[k] - x[a])), 0.85 * f), 1.15 * f)
    u[:a] = u[a] - f_left * (x[a] - x[:a])
    k = strong[np.searchsorted(u[strong], u[b] - 3, side="right") - 1]
    f_right = min(max(float((u[b] - u[k]) / (x[b] - x[k])), 0.85 * f), 1.15 * f)
    u[b + 1 :] = u[b] + f_right * (x[b + 1 :] - x[b])
    return u


def _cell_coordinate(q: np.ndarray, x: np.ndarray, f: float, borrowed: bool) -> np.ndarray:
    """Phase-locked cell coordinate u(x) (integer crossings = landmarks) at nominal frequency f."""
    s = 1.0 / f
    z = q * np.exp(-2j * np.pi * f * x)
    glob = z.sum()
    if borrowed or abs(glob) <= 0:
        theta = np.zeros(len(q)) + (np.angle(glob) if abs(glob) > 0 else 0.0)
    else:
        # Local phase over ~2 cells; where there are no edges (margins, flat areas) the phase of
        # progressively wider neighbourhoods takes over, so it continues from the nearest edges
        # instead of jumping to a global average (which would slip a cycle on drifting grids).
        sigmas, weights, flat = [], [], 0.0
        for j, weight in enumerate((1.0, 0.2, 0.04, 0.008)):
            sigma = 1.25 * s * 4**j
            if j and sigma > len(q) / 2:
                flat = weight * (glob / len(q))  # that wide a neighbourhood is the whole line (its mean)
                break
            sigmas.append(sigma)
            weights.append(weight)
        zl = _smooth_sum(z, sigmas, weights) + flat + 1e-3 * glob / len(q)
        theta = _unwrap(np.arctan2(zl.imag, zl.real))
    return f * x + theta / (2 * np.pi)


def _unwrap(p: np.ndarray) -> np.ndarray:
    """``np.unwrap`` of a 1-D float array, exactly, the same operations without its axis and dtype
    handling (every tracked grid unwraps one phase line; the generic path cost a third of it)."""
    dd = p[1:] - p[:-1]
    ddmod = np.mod(dd + np.pi, 2 * np.pi) - np.pi
    # A jump of exactly +pi stays +pi (numpy's boundary rule).
    ddmod[(ddmod == -np.pi) & (dd > 0)] = np.pi
    correct = ddmod - dd
    correct[np.abs(dd) < np.pi] = 0
    up = p.copy()
    up[1:] += np.cumsum(correct)
    return up


def _track(q: np.ndarray, cand: _AxisCandidate, n: int, borrowed: bool, strong: float) -> AxisGrid:
    """Phase-lock onto the grid: local phase of the demodulated profile -> cell boundaries.

    ``strong``: the profile level of a clear edge (see :class:`_Tracker`)."""
    f = cand.f
    # Sample positions in continuous image coordinates (pixel i spans [i, i+1)).
    offset = _sample_offset(cand.use_p2)
    x = np.arange(len(q)) + offset
    u = _cell_coordinate(q, x, f, borrowed)
    if not borrowed:
        u = _extrapolate_margins(q, x, u, f, strong)
    s = 1.0 / f
    if cand.use_p2:
        u = u - 0.5  # knots are cell centres; boundaries lie half a cell away
    u = np.maximum.accumulate(u)
    # Extend to the image borders with the nominal pitch.
    xs = np.concatenate([[0.0], x, [float(n)]])
    us = np.concatenate([[u[0] - f * x[0]], u, [u[-1] + f * (n - x[-1])]])
    us = us + np.arange(len(us)) * 1e-9  # strictly increasing for interpolation
    ks = np.arange(np.ceil(us[0]), np.floor(us[-1]) + 1)
    bounds = np.interp(ks, us, xs)
    bounds = bounds[(bounds > 0) & (bounds < n)]
    edges = np.concatenate([[0.0], bounds, [float(n)]])
    if cand.use_p2:
        edges = _merge_small(edges, s)
    else:
        edges = _merge_small(
            edges, s, _border_edges_seen(q, edges, s, offset), _sharp_border_steps(q, edges, s)
        )
    phase = float(bounds[0] % s) if len(bounds) else 0.0
    marks = _landmarks(edges, cand.use_p2)
    d = _landmark_distances(x, marks)
    on_grid = _on_grid_share(q, d, s)
    blur = 0.0 if cand.use_p2 else _edge_spread(q, d, s)
    return AxisGrid(s, phase, cand.coherence, cand.ratio, edges, cand.use_p2, on_grid, borrowed, blur)


def _edge_spread(q: np.ndarray, d: np.ndarray | None, s: float) -> float:
    """How far the edge energy spreads around the boundaries, as a Gaussian sigma in image px
    (``d``: each sample's distance to the nearest landmark, None without landmarks).

    A blurred step puts its derivative in a Gaussian around the boundary; the energy-weighted
    median distance is 0.674 sigma. Misregistered (drifting) boundaries widen it too, which is
    what the colour reading should account for either way.
    """
    if d is None or q.sum() <= 0:
        return 0.0
    near = d <= 0.35 * s
    if not near.any() or q[near].sum() <= 0:
        return 0.0
    dn, wn = d[near], q[near]
    order = np.argsort(dn)
    cum = np.cumsum(wn[order])
    med = float(dn[order][np.searchsorted(cum, 0.5 * cum[-1])])
    return med / 0.674


def _on_grid_share(q: np.ndarray, d: np.ndarray | None, s: float) -> float:
    """Share of the profile energy within s/4 of a landmark (``d`` as in _edge_spread): ~1 for a
    real grid, ~0.5 for edges that ignore the grid (native-resolution art, photos)."""
    total = q.sum()
    if total <= 0:
        return 1.0  # no edges along this axis: nothing contradicts the grid
    if d is None:
        return 0.0
    return float(q[d <= 0.25 * s].sum() / total)


def _median(v: np.ndarray) -> float:
    """``np.median`` of a 1-D, NaN-free array, exactly, at a fifth of its cost.

    Grid recovery takes dozens of medians of short arrays per image; np.median's generic path
    (axis handling, NaN checks, a mean of the middle two) costs more than the partition."""
    n = len(v)
    k = n // 2
    if n % 2:
        return float(np.partition(v, k)[k])
    p = np.partition(v, (k - 1, k))
    return (float(p[k - 1]) + float(p[k])) / 2


def _percentile(v: np.ndarray, q: float) -> float:
    """``np.percentile(v, q)`` (linear method) of a 1-D, NaN-free array, exactly; see _median."""
    n = len(v)
    at = (n - 1) * (q / 100)
    lo = int(at)
    hi = min(lo + 1, n - 1)
    p = np.partition(v, (lo, hi))
    a, b = float(p[lo]), float(p[hi])
    t = at - lo
    # numpy's lerp, from whichever end is nearer (this is what makes it exact)
    return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t


def _landmarks(edges: np.ndarray, soft: bool) -> np.ndarray:
    """Where a grid's edges peak in its profile: the inner boundaries on the first difference, or
    (``soft``: bilinear ramps, read on the second difference) the cell centres."""
    return edges[1:-1] if not soft else (edges[:-1] + edges[1:]) / 2


def _sample_offset(soft: bool) -> float:
    """The image position of profile sample 0: the first difference's sample i is the step onto
    pixel i + 1, the second difference's is centred half a pixel further."""
    return 1.5 if soft else 1.0


def _landmark_distances(x: np.ndarray, marks: np.ndarray) -> np.ndarray | None:
    """Each profile position's distance to the nearest landmark, as _on_grid_share and
    _edge_spread read it: None where the grid has no landmarks."""
    return _nearest_distance(x, marks) if len(marks) else None


def _nearest_distance(x: np.ndarray, marks: np.ndarray) -> np.ndarray:
    """Distance from each position to the nearest of the sorted, non-empty ``marks``."""
    # np.minimum, not np.clip: this runs thousands of times per image and np.clip's Python-level
    # argument checks cost more than the work.
    j = np.minimum(np.searchsorted(marks, x), len(marks) - 1)
    return np.minimum(np.abs(x - marks[j]), np.abs(x - marks[np.maximum(j - 1, 0)]))


def _smooth_sum(z: np.ndarray, sigmas: list[float], weights: list[float]) -> np.ndarray:
    """Weighted sum of Gaussian low-passes of a complex line, zero outside it: one FFT pair for
    all of them (convolution is linear; padding for the widest keeps every one from wrapping)."""
    n = len(z)
    m = int(2 ** np.ceil(np.log2(n + 4 * max(sigmas) + 1)))
    freq2 = _squared_frequencies(m)
    gain = sum(w * np.exp(-2 * sigma**2 * freq2) for sigma, w in zip(sigmas, weights, strict=True))
    return np.fft.ifft(np.fft.fft(z, m) * gain)[:n]


@cache
def _squared_frequencies(m: int) -> np.ndarray:
    """(pi f)^2 for the bins of an m-point FFT; every tracked grid needs one of a few lengths."""
    freq2 = (np.pi * np.fft.fftfreq(m)) ** 2
    freq2.flags.writeable = False
    return freq2


def _border_edges_seen(q: np.ndarray, edges: np.ndarray, s: float, offset: float) -> tuple[bool, bool] | None:
    """Whether the first and last inner boundaries have a real edge under them (at least a fifth of
    a typical boundary's), or were only extrapolated across an edge-free margin."""
    if len(edges) < 6 or q.sum() <= 0:
        return None
    win = max(1, round(0.15 * s))
    inner = _max_around(q, edges[1:-1], offset, win)
    typical = _median(inner[1:-1])
    if typical <= 0:
        return None
    return bool(inner[0] > 0.2 * typical), bool(inner[-1] > 0.2 * typical)


def _max_around(q: np.ndarray, pos: np.ndarray, offset: float, win: int) -> np.ndarray:
    """``_at(maximum_filter1d(q, 2 * win + 1), pos, offset)``, read only at ``pos``: for a few
    dozen boundaries the filter over the whole profile costs more. (The filter's reflected border
    values lie inside the window anyway, so the window cut at the ends gives the same maximum.)"""
    i = _profile_index(len(q), pos, offset)
    j = np.minimum(np.maximum(i[:, None] + np.arange(-win, win + 1), 0), len(q) - 1)
    return q[j].max(axis=1)


def _at(qmax: np.ndarray, pos: np.ndarray, offset: float) -> np.ndarray:
    """Profile values (usually max-filtered) at image positions; profile sample i sits at i + offset."""
    return qmax[_profile_index(len(qmax), pos, offset)]


def _profile_index(n: int, pos: np.ndarray, offset: float) -> np.ndarray:
    """The profile sample nearest each image position (sample i sits at i + offset), within 0..n-1."""
    i = np.round(pos - offset).astype(np.int64)
    return np.minimum(np.maximum(i, 0), n - 1)  # not np.clip: see _nearest_distance


_AROUND = np.arange(-2, 3)


def _sharp_border_steps(q: np.ndarray, edges: np.ndarray, s: float) -> tuple[float | None, float | None]:
    """The exact image position of the first and last inner boundaries, where the axis is a
    nearest-neighbour upscale (nearly all the edge energy around its boundaries sits in single
    first-difference samples) and a sharp step lies within a pixel of that boundary; else None.
    ``q`` is the first-difference profile: sample i is the step onto pixel i + 1."""
    if len(edges) < 6 or len(q) < 5:
        return None, None
    idx = np.round(edges[1:-1] - 1).astype(np.int64)
    idx = idx[(idx >= 2) & (idx < len(q) - 2)]
    if len(idx) < 4:
        return None, None
    near = q[idx + _AROUND[:, None]]
    peak = near[1:4].max(axis=0)
    # Blur, drift and resampling spread a step over several samples (AI renders: ~0.5 of it in
    # the peak sample); JPEG's ringing leaves ~0.9 of a sharp upscale's there.
    if peak.sum() < 0.8 * near.sum():
        return None, None
    typical = _median(peak)
    out: list[float | None] = []
    for b in (edges[1], edges[-2]):
        i = round(b - 1)
        lo, hi = max(1, i - 1), min(len(q) - 1, i + 2)
        if hi <= lo:
            out.append(None)
            continue
        j = lo + int(np.argmax(q[lo:hi]))
        sharp = q[j] > 0.2 * typical and q[j - 1] + q[j + 1] <= 0.25 * q[j]
        out.append(float(j + 1) if sharp else None)
    return out[0], out[1]


def _interior_pitch(edges) -> float:
    """The mean width of the cells between the first and last inner boundaries (border cells,
    partial or merged, left out)."""
    return float(edges[-2] - edges[1]) / (len(edges) - 3)


def _merge_small(
    edges: np.ndarray,
    s: float,
    edged: tuple[bool, bool] | None = None,
    sharp: tuple[float | None, float | None] = (None, None),
) -> np.ndarray:
    e = edges.tolist()  # Python floats: this is scalar work, and numpy scalars cost several times more
    if len(e) > 5:
        # Border slivers: a partial cell at either end either is a cell or belongs to its neighbour.
        # Decide both together so the count matches the line length over the mean interior pitch
        # (for a uniform grid: slivers under half a cell merge). Among counts that fit about equally
        # well (within a tenth of a cell: float noise must not decide), an option that keeps a
        # clear sliver (under 0.35 of a cell) as a cell loses; then one that merges the other
        # border cell than the half rule would (below); then a boundary with a real edge under
        # it is kept, then the larger border cells (the smaller sliver merges), then the local
        # rule decides. (Edges first kept 1-3 px slivers of art cut by the image border and
        # merged the other border's unedged 0.75-0.9 cell instead: every cell one off.)
        pitch = _interior_pitch(e)
        target = (e[-1] - e[0]) / pitch
        first_small = e[1] - e[0] < pitch
        last_small = e[-1] - e[-2] < pitch
        local = (e[1] - e[0] < 0.5 * (e[2] - e[1]), e[-1] - e[-2] < 0.5 * (e[-2] - e[-3]))

        def smallest_border(df: int, dl: int) -> float:
            return min(e[1 + df] - e[0], e[-1] - e[-2 - dl])

        def half_rule(small: bool, width: float, exact: bool) -> int | None:
            # 1: merge. A tracked boundary is a few tenths of a pixel off: within a tenth of a
            # cell of half, the rule cannot tell (phase-2207: an edge-free 2.11 px of a 4.18-px
            # wide border cell, at 0.505 of a cell, is no cell). An exact width of half a cell
            # is a cell, whatever the last bits of the pitch say (5 px of 10.00002: merging both
            # borders of a 90-px crop of a 10x upscale left 0.77 of its edges on the grid).
            if not small:
                return 0
            if not exact and abs(width - 0.5 * pitch) < 0.1 * pitch:
                return None
            return int(width < 0.5 * pitch - 0.01)

        # The half rule at each border: exact where a sharp step lies under its boundary (the
        # pixel is known), else from the tracked boundary.
        halves = (
            half_rule(first_small, (sharp[0] if sharp[0] is not None else e[1]) - e[0], sharp[0] is not None),
            half_rule(
                last_small, e[-1] - (sharp[1] if sharp[1] is not None else e[-2]), sharp[1] is not None
            ),
        )
        # Sharp steps under both borders: the half rule decides, whatever the count says. A crop
        # of full-bleed art cuts both border cells anywhere, and the count took two 3-px slivers
        # of 6.09-px cells for one cell (crop-10). Under one border only, the count decides how
        # many border cells merge and the half rule which: a crop with a 3-px sliver of 4.61-px
        # cells at one border (a cell, its boundary edge-free) and a sharp 2-px one at the other
        # came out a column off when the edge-free one was dropped (crop-113). Not more: an
        # upscale at a sub-cell phase leaves one border cell wide (no step where the tracker
        # cuts it) and the other down to 0.47 of a cell in whole pixels, still a cell.
        fixed = halves if None not in sharp else (None, None)
        any_sharp = sharp != (None, None)
        options = [
            (
                round(abs(len(e) - 1 - df - dl - target) * 10) / 10,  # to a tenth, as numpy rounds
                smallest_border(df, dl) < 0.35 * pitch,
                any_sharp and None not in halves and df + dl == sum(halves) and (df, dl) != halves,
                (df and edged[0]) + (dl and edged[1]) if edged else 0,
                -smallest_border(df, dl),
                (df, dl) != local,
                df,
                dl,
            )
            for df in ((0, 1) if first_small else (0,))
            for dl in ((0, 1) if last_small else (0,))
            if fixed[0] in (None, df) and fixed[1] in (None, dl)
        ]
        *_, df, dl = min(options)
        if dl:
            del e[-2]
        if df:
            del e[1]
    else:
        # Border slivers narrower than half the neighbouring cell belong to that cell.
        if (len(e) > 3 and e[1] - e[0] < 0.5 * (e[2] - e[1])) or (len(e) == 3 and e[1] - e[0] < 0.5 * s):
            del e[1]
        if (len(e) > 3 and e[-1] - e[-2] < 0.5 * (e[-2] - e[-3])) or (
            len(e) == 3 and e[-1] - e[-2] < 0.5 * s
        ):
            del e[-2]
    e = np.asarray(e)
    # Interior cells squeezed below a third of the pitch by a phase slip: merge into a neighbour.
    widths = np.diff(e)
    if len(widths) > 2 and (widths < s / 3).any():
        keep = np.ones(len(e), bool)
        for i in np.flatnonzero(widths < s / 3):
            if 0 < i < len(widths) - 1:
                keep[i + 1] = False
        e = e[keep]
    return e


def _inner_ranges(
    edges: np.ndarray, n: int, frac: float = 0.25, min_margin: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Integer [lo, hi) of the inner part of each cell (``frac`` of it, and at least ``min_margin``
    pixels, trimmed each side), >= 1 pixel (the middle one when nothing is left).

    A border cell over a third wider than its neighbour holds a merged sliver of the cell beyond
    the image edge, wide enough to reach the inner part: it is read as if it were its neighbour's
    width, from the side away from the border."""
    a, b = edges[:-1].copy(), edges[1:].copy()
    if len(a) >= 2:
        if b[0] - a[0] > 4 / 3 * (b[1] - a[1]):
            a[0] = b[0] - (b[1] - a[1])
        if b[-1] - a[-1] > 4 / 3 * (b[-2] - a[-2]):
            b[-1] = a[-1] + (b[-2] - a[-2])
    width = b - a
    margin = np.maximum(frac * width, min_margin)
    lo = np.ceil(a + margin - 0.5).astype(np.int64)
    hi = np.floor(b - margin - 0.5).astype(np.int64) + 1
    mid = np.clip(np.floor((a + b) / 2).astype(np.int64), 0, n - 1)
    bad = hi <= lo
    lo[bad], hi[bad] = mid[bad], mid[bad] + 1
    return np.clip(lo, 0, n - 1), np.clip(hi, 1, n)


def _run_sums(a: np.ndarray, starts: np.ndarray, sizes: np.ndarray, axis: int, dtype: type) -> np.ndarray:
    """``np.add.reduceat(a, starts, axis, dtype)`` for consecutive runs of a few elements each
    (``sizes``, every run at least 1 and together all of ``a`` along ``axis``), in an integer
    ``dtype`` (exact in any order; reduceat adds floats in another order than this does).

    reduceat along the row axis of an image adds element by element, 20-40x slower here than
    adding the k-th element of every run at once, for k up to the longest run."""
    shape = list(a.shape)
    shape[axis] = len(starts)
    out = np.zeros(shape, dtype)
    for k in range(int(sizes.max(initial=0))):
        if k == 0 or (sizes > k).all():
            np.add(out, a.take(starts + k, axis=axis), out=out)
            continue
        sel = np.flatnonzero(sizes > k)
        part = a.take(starts[sel] + k, axis=axis)
        if axis == 0:
            out[sel] += part
        else:
            out[:, sel] += part
    return out


def _pick(lo: np.ndarray, hi: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Up to k evenly spread indices inside each [lo, hi): (indices, group starts, group sizes)."""
    n = hi - lo
    m = np.minimum(n, k)
    starts = np.cumsum(m) - m
    grp = np.repeat(np.arange(len(lo)), m)
    j = np.arange(int(m.sum())) - starts[grp]
    idx = lo[grp] + ((j + 0.5) * n[grp] / m[grp]).astype(np.int64)
    return idx, starts, m


def _sample_axes(img: np.ndarray, gx: AxisGrid, gy: AxisGrid) -> _Cells:
    if not (gx.wrapped or gy.wrapped):
        return _sample_cells(img, gx.edges, gy.edges, gx.soft, gy.soft, gx.blur, gy.blur)
    # A wrapped axis is read from the tile rolled so that its first boundary is (within half a
    # pixel) the image border: the cell across the seam is then whole, at the end.
    shifts, edges = [], []
    for axis, g in ((1, gx), (0, gy)):
        n = img.shape[axis]
        if not g.wrapped:
            shifts.append(0)
            edges.append(g.edges)
            continue
        r = int(np.round(g.edges[0]))  # the first boundary moves to within half a pixel of 0
        e = np.clip(g.edges - r, 0.0, float(n))
        e[0], e[-1] = 0.0, float(n)
        img = np.roll(img, -r, axis=axis)
        # The seam cell (now last) comes first when at least half of it lies at the image's
        # start, as a border cell would be kept without wrapping.
        seam = g.edges[-1] - g.edges[-2]
        shifts.append(len(e) - 2 if g.edges[0] >= 0.5 * seam else 0)
        edges.append(e)
    cells = _sample_cells(np.ascontiguousarray(img), edges[0], edges[1], gx.soft, gy.soft, gx.blur, gy.blur)
    mean, var, npix = cells.mean, cells.var, cells.npix
    for axis, k in ((1, shifts[0]), (0, shifts[1])):
        if k:
            mean, var, npix = (np.roll(a, -k, axis=axis) for a in (mean, var, npix))
    return _Cells(mean, var, npix)


def _sample_cells(
    img: np.ndarray,
    x_edges: np.ndarray,
    y_edges: np.ndarray,
    soft_x: bool = False,
    soft_y: bool = False,
    blur_x: float = 0.0,
    blur_y: float = 0.0,
) -> _Cells:
    """Mean colour and variance of the inner part of every cell, from at most _CELL_SAMPLES^2 pixels
    spread evenly over it (big cells need no more to be read reliably; this keeps 16 MP fast).

    The inner part stays two blur sigmas clear of the boundaries: a single-pixel detail read
    closer than that is pulled towards its neighbours' colours (measured on the blur regimes)."""
    h, w = img.shape[:2]
    xlo, xhi = _inner_ranges(x_edges, w, 0.4 if soft_x else 0.25, 2.0 * blur_x)
    ylo, yhi = _inner_ranges(y_edges, h, 0.4 if soft_y else 0.25, 2.0 * blur_y)
    xi, xs, xm = _pick(xlo, np.maximum(xhi, xlo + 1), _CELL_SAMPLES)
    yi, ys, ym = _pick(ylo, np.maximum(yhi, ylo + 1), _CELL_SAMPLES)
    sub = img.take(yi, axis=0).take(xi, axis=1)  # ~2x faster than fancy indexing
    # At most _CELL_SAMPLES^2 = 64 samples a cell: sums fit uint16 (64 * 255), squares uint16
    # (255^2) and their sums uint32 (64 * 255^2); the narrow types cost a third of int32/int64.
    sums = _run_sums(_run_sums(sub, ys, ym, 0, np.uint16), xs, xm, 1, np.uint16)
    sq = np.square(sub[..., :3], dtype=np.uint16)
    sq = _run_sums(_run_sums(sq, ys, ym, 0, np.uint32), xs, xm, 1, np.uint32)
    sums, sq = sums.astype(np.float64), sq.astype(np.float64)
    npix = np.outer(ym, xm).astype(np.float64)
    mean = sums / npix[..., None]
    var = np.maximum(sq / npix[..., None] - mean[..., :3] ** 2, 0).mean(axis=2)
    if (blur_x > _UNBLUR_MIN or blur_y > _UNBLUR_MIN) and (mean[..., 3] == 255).all():
        # The measured spread is blur plus whatever else widens the edges (drift the tracker
        # follows late, JPEG ringing, noise): undoing all of it as blur overshoots every cell next
        # to an edge. Of a few strengths around the measured one, keep the reading under which
        # cells agree best with their own-coloured neighbours (see _neighbour_mismatch).
        best, best_score = mean[..., :3], np.inf
        for strength in _UNBLUR_STRENGTHS:
            rgb_cols = mean[..., :3]
            if blur_x > _UNBLUR_MIN:
                rgb_cols = _unleak(rgb_cols, x_edges, xi, xs, xm, blur_x * strength, axis=1)
            if blur_y > _UNBLUR_MIN:
                rgb_cols = _unleak(rgb_cols, y_edges, yi, ys, ym, blur_y * strength, axis=0)
            score = _neighbour_mismatch(rgb_cols)
            if score < best_score:
                best, best_score = rgb_cols, score
        mean[..., :3] = np.clip(best, 0, 255)
    return _Cells(mean, var, npix)


def _neighbour_mismatch(cols: np.ndarray) -> float:
    """Mean distance from each cell's colour to the closest of its four neighbours' colours.

    Pixel art is flat: nearly every cell shares its colour with a neighbour, so a reading that
    leaves edge cells pulled towards the other side (too little unblurring) or pushed past their
    colour (too much) scores worse than the right one. A lone single-pixel detail has no such
    neighbour; its term is capped so it weighs alike under every reading."""
    closest = np.full(cols.shape[:2], _MISMATCH_CAP**2)
    across = ((cols[:, 1:] - cols[:, :-1]) ** 2).sum(axis=2)  # each step serves both its cells
    np.minimum(closest[:, 1:], across, out=closest[:, 1:])
    np.minimum(closest[:, :-1], across, out=closest[:, :-1])
    down = ((cols[1:] - cols[:-1]) ** 2).sum(axis=2)
    np.minimum(closest[1:], down, out=closest[1:])
    np.minimum(closest[:-1], down, out=closest[:-1])
    return float(np.sqrt(closest).mean())


# Measured edge spread of sharp fractional upscales (rounding of boundaries to whole pixels):
# below this there is no blur to undo.
_SHARP_SPREAD = 0.35
_UNBLUR_MIN = 0.6
# Multiples of the measured edge spread tried as the blur to undo (0: none). Chosen on seeds 0,
# 100 and 1300 (blur and real_ai_like); a finer grid (0.5-1.5 by 0.1) read no better.
_UNBLUR_STRENGTHS = (0.0, 0.7, 0.85, 1.0, 1.15, 1.3)
_MISMATCH_CAP = 24.0  # RGB distance; 12 and 48 picked the same readings


def _unleak(
    cols: np.ndarray,
    edges: np.ndarray,
    idx: np.ndarray,
    starts: np.ndarray,
    m: np.ndarray,
    blur: float,
    axis: int,
) -> np.ndarray:
    """Undo what a Gaussian blur carried into each cell's read window from its two neighbours.

    With a piecewise-constant image blurred by sigma, a pixel at centre c in cell [a, b) sees
    Phi((a - c) / sigma) of the left neighbour and Phi((c - b) / sigma) of the right one; averaged
    over the window that gives a tridiagonal mixing of the true cell colours along each axis
    (separable in 2D), solved exactly. Second neighbours are ignored (cells are >= 4 sigma wide
    wherever this matters). Opaque images only: blurred alpha mixes differently.
    """
    from scipy.linalg import solve_banded
    from scipy.special import ndtr

    # _edge_spread reads a median-subtracted profile that has lost the tails of wide blurs; 1.3
    # is its calibration on blurred upscales (sigma 0.6-2.5 px), chosen on seeds 0-7 and held on
    # unseen seeds 8-23 (blur cell accuracy 0.979 -> 0.983 and 0.999 -> 1.000).
    sigma = float(np.sqrt(max(blur**2 - _SHARP_SPREAD**2, 0.0))) * 1.3
    n = len(edges) - 1
    if n < 2 or sigma <= 0:
        return cols
    grp = np.repeat(np.arange(n), m)
    c = idx + 0.5
    wl = np.add.reduceat(ndtr((edges[:-1][grp] - c) / sigma), starts) / m
    wr = np.add.reduceat(ndtr((c - edges[1:][grp]) / sigma), starts) / m
    wl[0], wr[-1] = 0.0, 0.0  # beyond the image border the blur reflects the cell itself
    # obs[i] = wl[i] * t[i-1] + (1 - wl[i] - wr[i]) * t[i] + wr[i] * t[i+1], in banded form.
    band = np.zeros((3, n))
    band[0, 1:] = wr[:-1]  # upper diagonal: A[i, i+1] = wr[i]
    band[1] = 1.0 - wl - wr
    band[2, :-1] = wl[1:]  # lower diagonal: A[i+1, i] = wl[i+1]
    moved = np.moveaxis(cols, axis, 0)
    flat = moved.reshape(n, -1)
    out = solve_banded((1, 1), band, flat, check_finite=False)
    return np.moveaxis(out.reshape(moved.shape), 0, axis)


def _flatness(img: np.ndarray, cells: _Cells) -> float:
    """1 - (within-cell variance / total variance), over opaque cells: ~1 for a real grid."""
    opaque = cells.mean[..., 3] >= 128
    if not opaque.any():
        return 0.0
    within = float((cells.var * cells.npix)[opaque].sum() / cells.npix[opaque].sum())
    rgb = cells.mean[..., :3][opaque]
    between = float(rgb.var(axis=0).mean()) if len(rgb) > 1 else 0.0
    if within + between <= 1e-9:
        if opaque.all():
            return 0.0  # a flat image has no grid to speak of
        # One colour on transparency (a silhouette, a monochrome icon): the shape is in alpha.
        # A cell read inside one fake pixel is fully opaque or fully transparent; read across a
        # boundary it is partly both.
        a = cells.mean[..., 3] / 255.0
        return float(1.0 - (4.0 * a * (1.0 - a)).mean())
    return 1.0 - within / (within + between)


def _on_jpeg_blocks(grid: GridInfo) -> bool:
    """Whether every cell boundary of ``grid`` lies on JPEG's 8-px block grid (within half a
    pixel): an 8x or 16x upscale at phase 0, saved as JPEG. Each cell is then whole blocks, which
    JPEG shifts in colour as one (jpeg_integer-2900: 83 colours for 10, all cells flat)."""
    for g in (grid.x, grid.y):
        if g is None or g.wrapped or g.count < 2 or g.cell < 7.5:
            return False
        inner = g.edges[1:-1]
        if np.abs((inner + 4.0) % 8.0 - 4.0).max() >= 0.5:
            return False
    return True


def _finish(
    cells: _Cells,
    merge_colors: bool,
    alpha_threshold: int,
    img: np.ndarray | None = None,
    on_blocks: bool = False,
) -> np.ndarray:
    """The output image from the cell reads: hard alpha, and on noisy or compressed inputs
    near-identical colours merged (``on_blocks``: every cell boundary is a JPEG block seam, see
    _on_jpeg_blocks)."""
    mean = cells.mean
    rgb = np.clip(np.round(mean[..., :3]), 0, 255)
    opaque = mean[..., 3] >= alpha_threshold
    if merge_colors and opaque.any():
        noise = _median(np.sqrt(cells.var[opaque] / np.maximum(cells.npix[opaque], 1)))
        spread = _median(np.sqrt(cells.var[opaque]))
        read = _median(cells.npix[opaque])
        if img is not None and read < 4:
            # Cells read from one or two pixels (small, blurred cells) show no noise of their own:
            # read it from the image's pixel-to-pixel steps instead.
            spread = max(spread, _pixel_noise(img))
            noise = max(noise, spread / np.sqrt(read))
        subsampled = _once(lambda: img is not None and _chroma_subsampling(img) > _SUBSAMPLED)
        if spread > 1.0 or (on_blocks and subsampled()):
            # JPEG keeps luma sharp and exact but subsamples and coarsely quantises chroma: one
            # flat colour comes back as several of the same luma and shifted hue. Where the
            # image shows that, cluster on luma with chroma counted at a fraction.
            # Cells that are whole JPEG blocks read flat (each block shifts as one), so only the
            # halved chroma tells them from clean art; they cluster in plain RGB at the smallest
            # distance. On the 44 benchmark cases this changes (jpeg_integer, 8x and 16x), luma
            # with chroma at a third turned 21 better and 20 worse (true colours of one luma
            # merged); plain RGB 22 better, 1 worse by 0.001.
            rgb = _merge_colors(
                mean[..., :3],
                opaque,
                tol=float(np.clip(3.0 * noise + 4.0, 5.0, 16.0)),
                var=cells.var,
                space=_JPEG_SPACE if subsampled() and not on_blocks else None,
                sigma=spread / np.sqrt(np.maximum(cells.npix, 1)),
                noise=noise,
            )
    out = np.zeros((*mean.shape[:2], 4), np.uint8)
    out[..., :3] = np.where(opaque[..., None], rgb, 0).astype(np.uint8)
    out[..., 3] = np.where(opaque, 255, 0)
    return out


# Cell-to-cell scatter over the within-cell standard error above which reads are taken to share
# their errors. Measured: white noise (noise regime, 128 images) 0.67-1.32 but for 1.46 and 1.58;
# JPEG'd real icons (real_ai_like) 1.25-2.4, the ones with satellite colours 1.4-6.
_CORRELATED = 1.5


def _read_scatter(pts: np.ndarray, centre: np.ndarray, tol: float) -> float:
    """Robust per-channel spread of the reads of one colour (starting from ``centre``).

    The reads within 2.5 ``tol`` of it (well past the leader clustering's cut, so its cloud is not
    truncated) give the scale as 1.4826 MAD around their median; a few reads of a neighbouring
    colour in the window do not move it."""
    near = pts
    for _ in range(2):  # re-centre once on the window
        near = pts[((pts - centre) ** 2).sum(axis=1) <= (2.5 * tol) ** 2]
        if len(near) < 8:
            return 0.0
        centre = np.median(near, axis=0)
    return float(1.4826 * np.median(np.abs(near - centre)))


def _pixel_noise(img: np.ndarray) -> float:
    """Per-channel noise sigma of an image from its median absolute horizontal step (flat art: 0)."""
    rows = img[:: max(1, img.shape[0] // _CHROMA_LINES), :, :3].astype(np.int16)
    d = np.abs(np.diff(rows, axis=1)).reshape(-1, 3)
    return float(_column_medians(d).mean()) / (0.6745 * np.sqrt(2.0))


# BT.601 full-range RGB -> YCbCr, the space JPEG quantises in.
_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_YCC_T32 = _YCC.T.astype(np.float32)  # float32 for the per-image conversion in _chroma_subsampling
_SUBSAMPLED = 0.35
_CHROMA_LINES = 32
# Chroma's weight in that clustering: 1/2 and 1/3 both fixed the split colours on seeds 300-315,
# 1/4 lost cell accuracy on seeds 200-215 (jpeg 0.992 -> 0.982).
_JPEG_SPACE = _YCC * np.array([[1.0], [1 / 3], [1 / 3]])


def _chroma_subsampling(img: np.ndarray) -> float:
    """How much softer chroma steps are than luma steps (0 when equally sharp, ~0.5 for JPEG 4:2:0).

    For each channel R = sum(d2^2) / (2 sum(d1^2)) over 1- and 2-px differences is 1 for sharp steps
    and grows as steps spread over more pixels (1.5 for a 2-px ramp); white noise (its level read
    from the median step and taken off both sums) would pull it to 0.5. Blur softens every channel
    alike; chroma subsampling softens chroma only. Measured on the benchmark: pure JPEG
    0.44-0.68; blur, noise, drift, bilinear, sharp upscales -0.4-0.22."""
    h, w = img.shape[:2]
    if h < 8 or w < 8:
        return 0.0
    n = _CHROMA_LINES
    rows = img[:: max(1, h // n), :, :3].astype(np.float32) @ _YCC_T32
    cols = img[:, :: max(1, w // n), :3].astype(np.float32).transpose(1, 0, 2) @ _YCC_T32
    worst = np.inf
    for lines in (rows, cols):
        d1 = lines[:, 1:] - lines[:, :-1]
        d2 = lines[:, 2:] - lines[:, :-2]
        d1, d2 = d1.reshape(-1, 3), d2.reshape(-1, 3)
        floor = (_column_medians(np.abs(d1)).astype(np.float64) / 0.6745) ** 2
        d1, d2 = d1.astype(np.float64), d2.astype(np.float64)
        e1 = np.maximum(np.einsum("ij,ij->j", d1, d1) - len(d1) * floor, 1e-9)
        e2 = np.einsum("ij,ij->j", d2, d2) - len(d2) * floor
        r = e2 / (2 * e1)
        chroma = float((r[1] * e1[1] + r[2] * e1[2]) / (e1[1] + e1[2]))
        worst = min(worst, chroma - float(r[0]))
    return worst


def _leader_labels(points: np.ndarray, tol: float, max_clusters: int) -> np.ndarray | None:
    """Leader clustering in the given order: a point joins the nearest leader among those before
    it when that one is within ``tol``, else it leads a cluster of its own. None past
    ``max_clusters`` leaders.

    Computed one leader at a time over all later points (vectorised) rather than one point at a
    time: the same labels, with a Python step per cluster instead of per point."""
    n = len(points)
    best = np.full(n, np.inf)  # squared distance to the nearest earlier leader
    lab = np.zeros(n, np.int64)
    n_leaders, i, tol2 = 0, 0, tol * tol
    while i < n:
        free = np.flatnonzero(best[i:] >= tol2)
        if not len(free):
            break
        if n_leaders >= max_clusters:
            return None
        p = i + int(free[0])
        lab[p] = n_leaders
        d2 = ((points[p + 1 :] - points[p]) ** 2).sum(axis=1)
        closer = d2 < best[p + 1 :]  # strict: on a tie the earlier leader keeps the point
        best[p + 1 :][closer] = d2[closer]
        lab[p + 1 :][closer] = n_leaders
        n_leaders, i = n_leaders + 1, p + 1
    return lab


def _column_medians(a: np.ndarray) -> np.ndarray:
    """np.median(a, axis=0) for a 2-D array, partitioning contiguous rows of its transpose."""
    t = np.ascontiguousarray(a.T)
    n = t.shape[1]
    k = n // 2
    if n % 2:
        return np.partition(t, k, axis=1)[:, k]
    part = np.partition(t, [k - 1, k], axis=1)
    return (part[:, k - 1].astype(np.float64) + part[:, k]) / 2


def _merge_colors(
    rgb: np.ndarray,
    opaque: np.ndarray,
    tol: float,
    max_clusters: int = 512,
    var: np.ndarray | None = None,
    space: np.ndarray | None = None,
    sigma: np.ndarray | None = None,
    noise: float | None = None,
) -> np.ndarray:
    """Leader clustering of opaque cell colours (distance < tol in RGB, or in ``space @ rgb`` when a
    linear colour space is given), most frequent first; each cluster takes its members' mean colour.

    ``noise``: the standard error of a cell's read from the variation inside cells. When reads of
    the most common colour scatter from cell to cell well beyond it, the reads share their errors
    (JPEG blocks over cells of a few pixels, noise that undoing blur amplifies) and small clusters
    are checked for being the fringe of a bigger one (:func:`_climb_satellites`)."""
    cols = rgb[opaque]
    feat = cols if space is None else cols @ space.T
    inv, counts, centers = _colour_bins(feat, tol / 2)
    nk = len(counts)
    order = np.argsort(-counts, kind="stable")  # most frequent first
    lab = _leader_labels(centers[order], tol, max_clusters)
    if lab is None:
        return np.clip(np.round(rgb), 0, 255)  # too colourful to be a palette: leave as is
    n_leaders = int(lab.max()) + 1
    label = np.empty(nk, np.int64)
    label[order] = lab
    cell_label = label[inv]
    if sigma is not None and space is None and n_leaders > 1:
        cell_label, n_leaders = _absorb_satellites(cols, cell_label, n_leaders, sigma[opaque])
    if noise is not None and space is None and n_leaders > 1:
        scatter = _read_scatter(cols, centers[order[0]], tol)
        if scatter > _CORRELATED * noise:
            cell_label, n_leaders = _climb_satellites(cols, cell_label, n_leaders, scatter, tol)
    n = np.bincount(cell_label, minlength=n_leaders)[:, None]
    # Cells whose insides are not flat straddle a blurred edge and are pulled towards a neighbour:
    # weigh members by how flat they are (the noise variance sets the floor), so a cluster takes
    # the colour of its clean cells rather than a mean dragged by its contaminated ones.
    if var is not None:
        v = var[opaque]
        wgt = 1.0 / (v + _median(v) + 1.0)
    else:
        wgt = np.ones(len(cols))
    # Cells among neighbours of their own colour are read farthest from any other colour (blur
    # and JPEG's halved chroma pull a cell towards each neighbour of another colour).
    lab_img = np.full(opaque.shape, -1, np.int64)
    lab_img[opaque] = cell_label
    pad = np.pad(lab_img, 1, constant_values=-2)
    rows, cols_n = lab_img.shape
    same = sum(
        (pad[1 + dy : rows + 1 + dy, 1 + dx : cols_n + 1 + dx] == lab_img).astype(np.int64)
        for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0))
    )
    wgt = wgt * (4.0 ** same[opaque])
    sums = _group_sums(cols * wgt[:, None], cell_label, n_leaders)
    wsum = np.bincount(cell_label, weights=wgt, minlength=n_leaders)[:, None]
    means = sums / np.maximum(wsum, 1e-12)
    means = np.round(_unmix(means, cols, cell_label, lab_img, wgt))
    # Where most member cells read exactly the same colour (flat areas with a few contaminated
    # cells), that colour -- not the slightly pulled mean -- is the cluster's colour.
    rounded = np.clip(np.round(cols), 0, 255).astype(np.int64)
    key = (cell_label << 24) | (rounded[:, 0] << 16) | (rounded[:, 1] << 8) | rounded[:, 2]
    uk, uc = np.unique(key, return_counts=True)
    lab_of = uk >> 24
    order = np.lexsort((-uc, lab_of))
    first = order[np.r_[True, lab_of[order][1:] != lab_of[order][:-1]]]
    top_lab, top_cnt, top_key = lab_of[first], uc[first], uk[first]
    strong = top_cnt >= 0.3 * n[top_lab, 0]
    tk = top_key[strong]
    means[top_lab[strong]] = np.stack([(tk >> 16) & 255, (tk >> 8) & 255, tk & 255], axis=1)
    if var is not None and n_leaders > 1:
        means = _snap_blends(means, n[:, 0], var[opaque], cell_label, tol, space)
    out = np.clip(np.round(rgb), 0, 255)
    out[opaque] = means[cell_label]
    return out


def _climb_satellites(
    cols: np.ndarray, label: np.ndarray, k: int, h: float, tol: float
) -> tuple[np.ndarray, int]:
    """Give each small cluster that is only the fringe of a bigger one's cloud to that cluster.

    When reads share their errors (JPEG blocks over a few-pixel cell, noise that undoing blur
    amplifies) one colour's reads scatter further than any fixed cut, and the leader clustering
    leaves rings of satellites around it, coloured like nothing in the art. Hill-climbing the
    density of all reads (a Gaussian kernel of the measured scatter ``h``, i.e. mean shift) from
    a satellite's centre tells a fringe, which climbs into the bigger colour, from a colour of its
    own, which is a peak however few cells carry it. A satellite joins a cluster at least four times
    its size when its climb ends within ``tol`` of that cluster's centre.
    """
    n = np.bincount(label, minlength=k)
    centres = _group_sums(cols, label, k) / np.maximum(n, 1)[:, None]
    d = np.sqrt(((centres[:, None] - centres[None]) ** 2).sum(axis=2))
    bigger = n[None, :] >= 4 * n[:, None]
    target = np.arange(k)
    # The density from reads binned at half the kernel width (their mean per bin, weighted by the
    # count): the same climb to within a few hundredths of a kernel, at a cost that does not grow
    # with the image (16 MP: a million cells, a few thousand bins).
    _, counts, bins = _colour_bins(cols, 0.5 * h)
    # Only a satellite within climbing reach of a bigger cluster (a few kernel widths past its cut).
    reach = tol + 4.0 * h
    for i in np.flatnonzero((bigger & (d <= reach)).any(axis=1)):
        sel = ((bins - centres[i]) ** 2).sum(axis=1) <= (reach + 3.0 * h) ** 2
        near, weight = bins[sel], counts[sel]
        x = centres[i]
        for _ in range(50):
            w = weight * np.exp(-0.5 * ((near - x) ** 2).sum(axis=1) / h**2)
            nx = (w @ near) / max(float(w.sum()), 1e-12)
            done = float(np.abs(nx - x).max()) < 0.05
            x = nx
            if done:
                break
        dist = np.sqrt(((centres - x) ** 2).sum(axis=1))
        dist[~bigger[i]] = np.inf
        j = int(dist.argmin())
        if dist[j] < tol:
            target[i] = j
    if (target == np.arange(k)).all():
        return label, k
    # A satellite of a satellite: every link at least quadruples the count, so chains end.
    used, label = np.unique(_follow_chains(target)[label], return_inverse=True)
    return label.ravel(), len(used)


def _absorb_satellites(
    cols: np.ndarray, label: np.ndarray, k: int, sigma: np.ndarray
) -> tuple[np.ndarray, int]:
    """Give the cells of small clusters that a much bigger cluster explains to that cluster.

    Leader clustering cuts at a fixed distance, so the noisiest reads of a common colour (cells
    read from few pixels) fall just outside it and lead clusters of their own, a few cells each,
    coloured like nothing in the art. A cell joins a cluster at least four times the size of its
    own when it lies within four standard errors of that cluster's centre (the image's noise over
    the pixels the cell was read from): under white noise one read in a thousand lies further out.
    """
    n = np.bincount(label, minlength=k)
    centres = _group_sums(cols, label, k) / np.maximum(n, 1)[:, None]
    idx = np.flatnonzero(4 * n[label] <= n.max())
    if not len(idx):
        return label, k
    label = label.copy()
    for start in range(0, len(idx), 4096):  # bounded (cells x clusters) distance blocks
        part = idx[start : start + 4096]
        d = np.sqrt(((cols[part, None, :] - centres[None]) ** 2).sum(axis=2))
        ok = (n[None, :] >= 4 * n[label[part]][:, None]) & (d <= 4.0 * sigma[part][:, None])
        d = np.where(ok, d, np.inf)
        j = d.argmin(axis=1)
        moved = np.isfinite(d[np.arange(len(part)), j])
        label[part[moved]] = j[moved]
    used, label = np.unique(label, return_inverse=True)
    return label.ravel(), len(used)


def _unmix(
    means: np.ndarray, cols: np.ndarray, cell_label: np.ndarray, lab_img: np.ndarray, wgt: np.ndarray
) -> np.ndarray:
    """Take the pull of neighbouring colours out of each cluster's colour.

    Blur and JPEG's halved chroma leave every cell of a small-celled image partly the colour of
    its neighbours: read c_i = C_k + b (nb_i - C_k), with nb_i the mean cluster colour of cell i's
    eight neighbours and one leak b per YCbCr channel (chroma leaks more than luma), fitted over
    all cells. Three rounds of fitting b, then the colours C_k, take a quarter to a third of the
    pull out (measured on a 30 % leak); the exact joint fit took all of it but was 3x slower per
    image and lost single-pixel details on the noise regime (read as leak), so it is not used.
    On clean art b is 0 and nothing moves.
    """
    opaque = lab_img >= 0
    rows, cols_n = lab_img.shape
    k = len(means)
    ycc = cols @ _YCC.T
    wsum = np.maximum(np.bincount(cell_label, weights=wgt, minlength=k)[:, None], 1e-12)
    to_rgb = np.linalg.inv(_YCC).T
    for _ in range(3):
        own_img = np.zeros((rows + 2, cols_n + 2, 3))
        own_img[1:-1, 1:-1][opaque] = (means @ _YCC.T)[cell_label]
        seen = np.zeros((rows + 2, cols_n + 2))
        seen[1:-1, 1:-1] = opaque
        acc = np.zeros((rows, cols_n, 3))
        cnt = np.zeros((rows, cols_n))
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if dy or dx:
                    acc += own_img[1 + dy : rows + 1 + dy, 1 + dx : cols_n + 1 + dx]
                    cnt += seen[1 + dy : rows + 1 + dy, 1 + dx : cols_n + 1 + dx]
        own = own_img[1:-1, 1:-1][opaque]
        n_nb = cnt[opaque][:, None]
        nb = np.where(n_nb > 0, acc[opaque] / np.maximum(n_nb, 1), own)
        d, r = nb - own, ycc - own
        leak = (wgt[:, None] * r * d).sum(axis=0) / np.maximum((wgt[:, None] * d * d).sum(axis=0), 1e-9)
        leak = np.clip(leak, 0.0, 0.5)
        sums = _group_sums((ycc - leak * nb) * wgt[:, None], cell_label, k)
        means = np.clip((sums / wsum / (1 - leak)) @ to_rgb, 0, 255)
    return means


def _snap_blends(
    means: np.ndarray,
    n: np.ndarray,
    v: np.ndarray,
    cell_label: np.ndarray,
    tol: float,
    space: np.ndarray | None,
) -> np.ndarray:
    """Give colour clusters that are blends of neighbours the colour of the cluster they stray from.

    Cells whose insides are not flat straddle a blurred or misregistered edge; their colour is
    pulled towards a neighbour. Such a cluster is snapped to the nearest colour that flat cells
    agree on when it is seen in one or two cells (within 3 tol), or, seen more often, when a
    cluster at least twice its size lies within 2 tol (JPEG and blur split one colour into a big
    cluster and smaller satellites around it). Flat clusters are never moved: a single-pixel
    detail is read from a flat cell, however rare its colour.
    """
    k = len(means)
    med_var = _group_medians(v, cell_label, k)
    base = _median(v)
    blurred = med_var > 4 * base + 1.0
    reliable = (n >= 3) | ~blurred
    fm = means if space is None else means @ space.T
    d = np.sqrt(((fm[:, None] - fm[None]) ** 2).sum(axis=2))
    target = np.arange(k)
    if reliable.any():
        rel = np.flatnonzero(reliable)
        for i in np.flatnonzero(~reliable):
            j = rel[np.argmin(d[i, rel])]
            if d[i, j] < 3 * tol:
                target[i] = j
    # Satellites: seen in several cells, none of them flat, next to a cluster twice as common.
    for i in np.flatnonzero(reliable & (med_var > 2 * base + 1.0)):
        near = np.flatnonzero((n >= 2 * n[i]) & (d[i] < 2 * tol))
        if len(near):
            target[i] = near[np.argmin(d[i, near])]
    # Follow chains (a blend snapped to a satellite, a satellite of a satellite): every satellite
    # link at least doubles the count and blends only point at reliable clusters, so chains end.
    return means[_follow_chains(target)]


def _follow_chains(target: np.ndarray) -> np.ndarray:
    """Each index's final target along ``target`` links (chains that end; a fixed point ends one)."""
    for _ in range(len(target)):
        nxt = target[target]
        if (nxt == target).all():
            break
        target = nxt
    return target


def _colour_bins(points: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin colour points on a grid of ``step``: each point's bin, the bins' counts and mean points."""
    q = np.round(points / step).astype(np.int64)
    # One int64 key per quantised colour, in the same (lexicographic) order as its three values:
    # a 1-D unique is far cheaper than np.unique(axis=0).
    q -= q.min(axis=0) if len(q) else 0
    base = int(q.max()) + 1 if len(q) else 1
    packed = (q[:, 0] * base + q[:, 1]) * base + q[:, 2]
    _, inv, counts = np.unique(packed, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    return inv, counts, _group_sums(points, inv, len(counts)) / counts[:, None]


def _group_sums(values: np.ndarray, label: np.ndarray, n: int) -> np.ndarray:
    """Per-label sums of the rows of ``values`` (labels 0..n-1), one bincount per column."""
    return np.stack(
        [np.bincount(label, weights=values[:, i], minlength=n) for i in range(values.shape[1])], axis=1
    )


def _group_medians(v: np.ndarray, label: np.ndarray, n: int) -> np.ndarray:
    """np.median of ``v`` over each label 0..n-1 (every label present), in one sort."""
    order = np.lexsort((v, label))
    sv = v[order]
    count = np.bincount(label, minlength=n)
    start = np.cumsum(count) - count
    lo = start + (count - 1) // 2
    hi = start + count // 2
    return (sv[lo] + sv[hi]) / 2
