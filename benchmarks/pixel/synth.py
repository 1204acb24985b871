"""Ground truth the project makes itself: procedural sprites and the degradations a fixer must undo.

Every generator is seeded and pure numpy (+ Pillow for bilinear resampling and JPEG), so the set is
reproducible bit for bit. Degraded images carry the exact native sprite they came from.

Grid convention: native pixel ``i`` covers image coordinates ``[phase + i*s, phase + (i+1)*s)`` with
``|phase| < s/2`` and an image length of ``round(n*s)``, so the true native size is unambiguous: the
partial cells at the borders are slivers of the sprite's one-pixel background margin.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

# Appended, never reordered: a case's random stream is seeded by its regime's index.
REGIMES = (
    "integer",
    "fractional",
    "phase",
    "blur",
    "noise",
    "jpeg",
    "drift",
    "bilinear",
    "ai_like",
    "large",
    "mono",
    "crop",
    "jpeg_integer",
)


@dataclass
class Case:
    name: str
    regime: str
    native: np.ndarray  # (h, w, 4) uint8, ground truth
    image: np.ndarray  # (H, W, 4) uint8, degraded enlargement
    scale: float


def _ramp(rng: np.random.Generator, n: int) -> np.ndarray:
    """A shading ramp: n colours from dark to light around a random hue."""
    base = rng.uniform(40, 215, 3)
    steps = np.linspace(-0.55, 0.45, n)[:, None]
    shift = rng.uniform(-25, 25, 3)
    ramp = base + steps * 200 + np.outer(np.linspace(-1, 1, n), shift)
    return np.clip(ramp, 0, 255).astype(np.uint8)


def sprite(rng: np.random.Generator, h: int, w: int, transparent: bool | None = None) -> np.ndarray:
    """A symmetric creature/item sprite: shaded body from 2-3 ramps, 1-px dark outline, 1-px details
    (eyes, highlights, sparkles) and a 1-px background margin."""
    if transparent is None:
        transparent = bool(rng.random() < 0.5)
    hh, ww = h - 2, w - 2
    half = (ww + 1) // 2
    # Body mask: random blobs, mirrored.
    yy, xx = np.mgrid[0:hh, 0:half]
    mask = np.zeros((hh, half), bool)
    for _ in range(rng.integers(3, 7)):
        cy, cx = rng.uniform(0.15, 0.85) * hh, rng.uniform(0.3, 1.0) * half
        ry, rx = rng.uniform(0.12, 0.35) * hh, rng.uniform(0.15, 0.5) * half
        mask |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    mask |= rng.random((hh, half)) < 0.04
    full = np.concatenate([mask, mask[:, ::-1][:, ww % 2 :]], axis=1)[:, :ww]
    ramps = [_ramp(rng, int(rng.integers(3, 6))) for _ in range(int(rng.integers(2, 4)))]
    region = (np.mgrid[0:hh, 0:ww][0] * len(ramps) // max(hh, 1)).clip(0, len(ramps) - 1)
    # Shade by distance to the top-left light: lighter towards it.
    yy, xx = np.mgrid[0:hh, 0:ww]
    light = 1 - (yy / max(hh, 1) * 0.6 + np.abs(xx - ww / 2) / max(ww, 1) * 0.8)
    light = light + rng.normal(0, 0.08, light.shape)
    body = np.zeros((hh, ww, 3), np.uint8)
    for r, ramp in enumerate(ramps):
        sel = region == r
        idx = np.clip((light[sel] * len(ramp)).astype(int), 0, len(ramp) - 1)
        body[sel] = ramp[idx]
    # Outline: body pixels with a non-body 4-neighbour.
    pad = np.pad(full, 1)
    inner = pad[:-2, 1:-1] & pad[2:, 1:-1] & pad[1:-1, :-2] & pad[1:-1, 2:]
    outline = full & ~inner
    dark = np.clip(ramps[0][0].astype(int) * 0.35, 0, 255).astype(np.uint8)
    body[outline] = dark
    # Single-pixel details inside the body: eyes (mirrored) and highlights.
    interior = np.argwhere(inner & full)
    if len(interior):
        for _ in range(int(rng.integers(2, 5))):
            y, x = interior[rng.integers(len(interior))]
            col = rng.choice([np.array([250, 250, 240]), np.array([20, 20, 30]), _ramp(rng, 2)[1]])
            body[y, x] = col
            body[y, ww - 1 - x] = col
    bg = np.array([0, 0, 0, 0], np.uint8) if transparent else np.append(rng.integers(0, 256, 3), 255)
    out = np.empty((h, w, 4), np.uint8)
    out[:] = bg
    out[1:-1, 1:-1][full, :3] = body[full]
    out[1:-1, 1:-1][full, 3] = 255
    if transparent:
        out[out[..., 3] == 0, :3] = 0
    return out


# -- degradations ------------------------------------------------------------------------------------


def _coords(n: int, length: int, scale: float, phase: float, drift: float, rng) -> np.ndarray:
    """Native index of each image pixel centre along one axis (optionally with a smooth warp)."""
    x = np.arange(length) + 0.5
    if drift:
        # Zero at both borders (so the border convention holds), up to `drift` cells in between.
        k = int(rng.integers(1, 3))
        x = x + drift * scale * np.sin(np.pi * k * x / length) * rng.choice([-1, 1])
    return np.clip(np.floor((x - phase) / scale), 0, n - 1).astype(np.int64)


def enlarge(native: np.ndarray, scale: float, phase=(0.0, 0.0), drift: float = 0.0, rng=None) -> np.ndarray:
    h, w = native.shape[:2]
    rng = rng or np.random.default_rng(0)
    H, W = round(h * scale), round(w * scale)
    ys = _coords(h, H, scale, phase[0], drift, rng)
    xs = _coords(w, W, scale, phase[1], drift, rng)
    return native[ys][:, xs]


def flatten(img: np.ndarray, bg=(255, 255, 255)) -> np.ndarray:
    """Composite over a flat colour (JPEG and noise have no alpha)."""
    a = img[..., 3:4].astype(np.float64) / 255
    rgb = img[..., :3] * a + np.array(bg) * (1 - a)
    out = np.empty_like(img)
    out[..., :3] = np.round(rgb)
    out[..., 3] = 255
    return out


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    f = img.astype(np.float64)
    out = np.stack([gaussian_filter(f[..., c], sigma) for c in range(4)], axis=2)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def noise(img: np.ndarray, sigma: float, rng) -> np.ndarray:
    f = img.astype(np.float64)
    f[..., :3] += rng.normal(0, sigma, f[..., :3].shape)
    return np.clip(np.round(f), 0, 255).astype(np.uint8)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img[..., :3]).save(buf, format="JPEG", quality=int(quality))
    rgb = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return np.concatenate([rgb, np.full((*rgb.shape[:2], 1), 255, np.uint8)], axis=2)


def bilinear(native: np.ndarray, scale: float) -> np.ndarray:
    h, w = native.shape[:2]
    size = (round(w * scale), round(h * scale))
    return np.asarray(Image.fromarray(native, "RGBA").resize(size, Image.Resampling.BILINEAR))


def render_icon(icon: np.ndarray, regime: str, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A real icon degraded as its regime does, and the scale: real_fractional enlarges it 4-16x at
    a sub-cell phase; real_ai_like also drifts, blurs, adds noise and JPEGs it."""
    scale = float(rng.uniform(4, 16))
    phase = (float(rng.uniform(-0.45, 0.45) * scale), float(rng.uniform(-0.45, 0.45) * scale))
    if regime == "real_fractional":
        return enlarge(icon, scale, phase, 0.0, rng), scale
    img = enlarge(icon, scale, phase, float(rng.uniform(0.1, 0.25)), rng)
    img = blur(img, float(rng.uniform(0.5, max(0.5, 0.12 * scale))))
    img = noise(img, float(rng.uniform(3, 8)), rng)
    return jpeg(img, int(rng.integers(75, 96))), scale


def _crop_case(rng, n: int, m: int, scale: float, name: str) -> Case:
    """Full-bleed art (a scene, a texture) enlarged, then cut out of the enlargement at any pixel
    offset: art reaches every border and the border cells are cut anywhere, slivers included.
    The truth holds the cells of which at least half lies in the cut (the benchmark's convention
    for border cells)."""
    art = np.tile(sprite(rng, n, m, transparent=False), (2, 2, 1))
    art = art[int(rng.integers(0, n)) :][:, int(rng.integers(0, m)) :][: n + 2, : m + 2]
    off = (float(rng.uniform(0, scale)), float(rng.uniform(0, scale)))
    keep = []
    for cells, o in zip((n, m), off, strict=True):
        # An offset o into the enlargement is a phase of -o (no cell index reaches cells + 2).
        idx = _coords(cells + 2, round(cells * scale), scale, -o, 0.0, rng)
        counts = np.bincount(idx, minlength=cells + 2)
        kept = np.flatnonzero(counts >= scale / 2)
        keep.append((idx, kept))
    (iy, ky), (ix, kx) = keep
    img = art[iy][:, ix]
    native = art[ky][:, kx]
    return Case(name, "crop", np.ascontiguousarray(native), np.ascontiguousarray(img), scale)


def make_case(regime: str, seed: int) -> Case:
    rng = np.random.default_rng(seed * 1009 + REGIMES.index(regime))
    if regime == "large":
        n = int(rng.integers(16, 33))
        native = sprite(rng, n, n, transparent=False)
        scale = 1024 / n
    else:
        n = int(rng.integers(24, 65))
        m = int(np.clip(n + rng.integers(-8, 9), 16, 64))
        native = sprite(rng, n, m, transparent=True if regime == "mono" else None)
        lo, hi = 4.0, min(16.0, 1024 / max(n, m))
        scale = float(rng.uniform(lo, hi))
    phase = (0.0, 0.0)
    drift = 0.0
    if regime in ("integer", "jpeg_integer"):
        # jpeg_integer: a whole-pixel upscale at phase 0 saved as JPEG, the commonest real case, in
        # which the art's grid lines up with JPEG's 2-px chroma and 8-px blocks.
        scale = float(max(4, min(16, round(scale))))
    if regime == "crop":
        return _crop_case(rng, n, m, scale, f"{regime}-{seed}")
    if regime == "mono":
        # A silhouette / one-colour icon on transparency: the whole shape is in the alpha channel.
        ink = np.append(rng.integers(40, 256, 3), 255).astype(np.uint8)
        native = np.where(native[..., 3:4] > 0, ink, np.zeros(4, np.uint8))
    if regime in ("phase", "ai_like", "drift", "blur", "noise", "jpeg", "large", "mono"):
        phase = (float(rng.uniform(-0.45, 0.45) * scale), float(rng.uniform(-0.45, 0.45) * scale))
    if regime == "drift":
        drift = float(rng.uniform(0.25, 0.45))
    if regime == "ai_like":
        drift = float(rng.uniform(0.1, 0.25))
    if regime == "bilinear":
        img = flatten(bilinear(flatten(native), scale))
        return Case(f"{regime}-{seed}", regime, flatten(native), img, scale)
    img = enlarge(native, scale, phase, drift, rng)
    truth = native
    if regime in ("blur", "noise", "jpeg", "ai_like", "drift", "jpeg_integer"):
        img, truth = flatten(img), flatten(native)
    if regime == "blur":
        img = blur(img, float(rng.uniform(0.6, 0.22 * scale)))
    if regime == "noise":
        img = noise(img, float(rng.uniform(6, 16)), rng)
    if regime in ("jpeg", "jpeg_integer"):
        img = jpeg(img, int(rng.integers(70, 96)))
    if regime == "ai_like":
        img = blur(img, float(rng.uniform(0.5, max(0.5, 0.12 * scale))))
        img = noise(img, float(rng.uniform(3, 8)), rng)
        img = jpeg(img, int(rng.integers(75, 96)))
    return Case(f"{regime}-{seed}", regime, truth, img, scale)
