"""Real hand-made pixel art for the benchmark: Pixelarticons (Gerrit Halfmann, MIT licence), 24x24
icons drawn on a pixel grid, taken from the npm package ``@iconify-json/pixelarticons@1.2.9``.

The package ships each icon as an SVG path of horizontal and vertical segments on integer
coordinates, which this module rasterises exactly (nonzero winding rule at pixel centres): the
result is the icon's true pixel grid. Icons are tinted with a random ink/background colour pair.

``ensure_icons()`` runs ``npm pack`` into ``.work/npm`` when the JSON is not there yet.
"""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
from pathlib import Path

import numpy as np

PACKAGE = "@iconify-json/pixelarticons@1.2.9"
LICENCE = "MIT (Pixelarticons by Gerrit Halfmann; npm @iconify-json/pixelarticons 1.2.9)"
_TOKEN = re.compile(r"[MmHhVvLlZz]|-?\d*\.?\d+")


def ensure_icons(workdir: Path) -> Path | None:
    target = workdir / "npm" / "pixelarticons" / "package" / "icons.json"
    if target.exists():
        return target
    (workdir / "npm").mkdir(parents=True, exist_ok=True)
    try:
        out = subprocess.run(
            ["npm", "pack", PACKAGE, "--silent"],
            cwd=workdir / "npm",
            capture_output=True,
            text=True,
            timeout=120,
        )
        tgz = workdir / "npm" / out.stdout.strip().splitlines()[-1]
        with tarfile.open(tgz) as tf:
            tf.extractall(workdir / "npm" / "pixelarticons", filter="data")
    except (OSError, subprocess.SubprocessError, IndexError, tarfile.TarError):
        return None
    return target if target.exists() else None


def rasterise(path_d: str, size: int = 24) -> np.ndarray | None:
    """Boolean (size, size) mask of an axis-aligned SVG path; None if it has a diagonal segment."""
    toks = _TOKEN.findall(path_d)
    wind = np.zeros((size, size + 1), np.int64)
    x = y = sx = sy = 0.0
    cmd = None
    i = 0

    def vertical(x0: float, y0: float, y1: float) -> None:
        # A vertical edge at x0 from y0 to y1 changes the winding of pixel centres right of it.
        if y0 == y1:
            return
        lo, hi = sorted((y0, y1))
        rows = np.arange(size)
        sel = (rows + 0.5 > lo) & (rows + 0.5 < hi)
        col = int(np.ceil(x0 - 0.5))
        if col <= size:
            wind[sel, max(col, 0)] += 1 if y1 > y0 else -1

    while i < len(toks):
        t = toks[i]
        if t.isalpha():
            cmd = t
            i += 1
            if cmd in "Zz":
                vertical(x, y, sy)
                if x != sx:
                    return None
                x, y = sx, sy
            continue
        if cmd in ("M", "m", "L", "l"):
            nx, ny = float(toks[i]), float(toks[i + 1])
            i += 2
            if cmd in "ml":
                nx, ny = x + nx, y + ny
            if cmd in "Mm":
                x, y, sx, sy = nx, ny, nx, ny
                cmd = "L" if cmd == "M" else "l"
                continue
            if nx != x and ny != y:
                return None
            vertical(x, y, ny)
            x, y = nx, ny
        elif cmd in ("H", "h"):
            v = float(toks[i])
            i += 1
            x = v if cmd == "H" else x + v
        elif cmd in ("V", "v"):
            v = float(toks[i])
            i += 1
            ny = v if cmd == "V" else y + v
            vertical(x, y, ny)
            y = ny
        else:
            return None
    return np.cumsum(wind, axis=1)[:, :size] != 0


def icons(icons_json: Path, count: int, seed: int) -> list[tuple[str, np.ndarray]]:
    """``count`` tinted RGBA icons (ink on an opaque background), chosen at random."""
    data = json.loads(icons_json.read_text())
    size = int(data.get("height", 24))
    names = sorted(data["icons"])
    rng = np.random.default_rng(seed)
    out: list[tuple[str, np.ndarray]] = []
    for name in rng.permutation(names):
        body = data["icons"][name]["body"]
        paths = re.findall(r'd="([^"]+)"', body)
        if not paths:
            continue
        masks = [rasterise(p, size) for p in paths]
        if any(m is None for m in masks):
            continue
        mask = np.logical_or.reduce(masks)
        if mask.sum() < 20:
            continue
        # Many icons are drawn with 2-px strokes on even coordinates: their true grid is 12x12.
        # Keep only icons whose 24-px grid is real along both axes.
        # (all edges along an axis on boundaries of one parity = a 12-px grid along that axis).
        cols = np.flatnonzero((mask[:, 1:] != mask[:, :-1]).any(axis=0)) + 1
        rows = np.flatnonzero((mask[1:] != mask[:-1]).any(axis=1)) + 1
        if len(set(cols % 2)) < 2 or len(set(rows % 2)) < 2:
            continue
        ink = rng.integers(0, 256, 3)
        bg = (ink + rng.integers(90, 166, 3)) % 256
        img = np.empty((size, size, 4), np.uint8)
        img[..., :3] = bg
        img[mask, :3] = ink
        img[..., 3] = 255
        out.append((str(name), img))
        if len(out) == count:
            break
    return out
