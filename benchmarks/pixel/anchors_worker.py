"""Runs ONE open-source grid-recovery anchor over a list of PNGs, inside the anchors' own venv.

Not imported by the project: ``run_grid.py`` starts it with the anchors venv's Python, e.g.
``.work/anchors-venv/bin/python benchmarks/pixel/anchors_worker.py NAME jobs.json``.
Each anchor is called through its documented entry point (README / console script), once per image,
after one warm-up call, so the time is per image and excludes the package import.

jobs.json: ``{"inputs": [...png paths], "outdir": "..."}``; writes ``<outdir>/<name>/<i>.png`` and
``<outdir>/<name>/times.json``. A failure on one image is recorded and the run goes on.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image


def _pixel_snapper():
    from pixel_snapper import PixelSnapperConfig, process_image

    def run(path: str, out: str) -> None:
        data = process_image(Path(path).read_bytes(), PixelSnapperConfig())
        Path(out).write_bytes(bytes(data))

    return run


def _perfect_pixel():
    from perfect_pixel import get_perfect_pixel

    def run(path: str, out: str) -> None:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        with contextlib.redirect_stdout(io.StringIO()):
            _w, _h, img = get_perfect_pixel(rgb)
        Image.fromarray(np.asarray(img).astype(np.uint8)).save(out)

    return run


def _proper_pixel_art():
    from proper_pixel_art import pixelate

    def run(path: str, out: str) -> None:
        pixelate(Image.open(path)).image.save(out)

    return run


def _unfake():
    import unfake

    def run(path: str, out: str) -> None:
        unfake.process_image_sync(path)["image"].save(out)

    return run


def _spritegrid():
    import importlib

    main = importlib.import_module("spritegrid.cli").cli  # console script "spritegrid:cli.cli"

    def run(path: str, out: str) -> None:
        argv = sys.argv
        sys.argv = ["spritegrid", path, "-o", out]
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                main()
        finally:
            sys.argv = argv

    return run


def _ai2pixelart():
    # Non-commercial licence: driven only through its documented CLI (classical "simple" approach).
    from ai2pixelart.cli import main

    def run(path: str, out: str) -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                main(["clean", path, "-o", out, "--approach", "simple"], standalone_mode=False)
            except SystemExit as e:
                if e.code not in (0, None):
                    raise

    return run


ANCHORS = {
    "ai2pixelart": _ai2pixelart,
    "pixel-snapper": _pixel_snapper,
    "perfect-pixel": _perfect_pixel,
    "proper-pixel-art": _proper_pixel_art,
    "spritegrid": _spritegrid,
    "unfake": _unfake,
}


def main() -> None:
    name, jobs_path = sys.argv[1], sys.argv[2]
    jobs = json.loads(Path(jobs_path).read_text())
    outdir = Path(jobs["outdir"]) / name
    outdir.mkdir(parents=True, exist_ok=True)
    run = ANCHORS[name]()
    inputs = jobs["inputs"]
    with contextlib.suppress(Exception):
        run(inputs[0], str(outdir / "warmup.png"))
    times: dict[str, float | None] = {}
    errors: dict[str, str] = {}
    for i, path in enumerate(inputs):
        out = str(outdir / f"{i}.png")
        t = time.perf_counter()
        try:
            run(path, out)
            times[str(i)] = time.perf_counter() - t
        except Exception as e:  # an anchor failing on an input is a result, not a crash
            times[str(i)] = None
            errors[str(i)] = f"{type(e).__name__}: {e}"[:300]
    (outdir / "times.json").write_text(json.dumps({"times": times, "errors": errors}))


if __name__ == "__main__":
    main()
