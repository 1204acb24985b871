"""A/B check of a change to the grid recovery: the working tree's `pixelforge.pixel.grid` against
the same module at a git revision, on the benchmark's cases, listing every case whose output differs.

    .venv/bin/python benchmarks/pixel/ab_grid.py --ref HEAD --sets 0,16,100,200,300
    .venv/bin/python benchmarks/pixel/ab_grid.py --ref c433f5b --sets 2200 --regimes crop,phase

Each differing case is printed with its true size, both outputs' sizes and cell accuracy (the
`score` of run_grid.py), and BETTER / WORSE / same by cell accuracy. A behaviour change should
come with this list: a change that only adds right answers lists only BETTER. Real icons need the
npm package run_grid.py fetches (see README.md in this folder).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import run_grid  # noqa: E402

from pixelforge.pixel import grid as new_grid  # noqa: E402


def load_grid_at(ref: str):
    """The grid module as it was at ``ref`` (its imports resolve to the working tree's package)."""
    source = subprocess.run(
        ["git", "show", f"{ref}:src/pixelforge/pixel/grid.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "grid_ref.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("grid_ref", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["grid_ref"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", default="HEAD", help="git revision to compare against")
    ap.add_argument("--sets", default="0", help="first seeds of 16-case sets, comma-separated")
    ap.add_argument("--regimes", default=",".join(run_grid.ALL_REGIMES))
    ap.add_argument("--workdir", type=Path, default=ROOT / ".work", help="where the real icons are kept")
    args = ap.parse_args()
    old_grid = load_grid_at(args.ref)
    regimes = args.regimes.split(",")
    counts = {"BETTER": 0, "WORSE": 0, "same": 0}
    total = 0
    for first in (int(a) for a in args.sets.split(",")):
        for c in run_grid.benchmark_cases(regimes, 16, first, args.workdir):
            img = np.ascontiguousarray(c.image)
            a, b = old_grid.recover_native(img), new_grid.recover_native(img)
            total += 1
            if a.shape == b.shape and np.array_equal(a, b):
                continue
            sa, sb = run_grid.score(a, c.native)["cell"], run_grid.score(b, c.native)["cell"]
            tag = "BETTER" if sb > sa + 1e-9 else "WORSE" if sb < sa - 1e-9 else "same"
            counts[tag] += 1
            th, tw = c.native.shape[:2]
            print(
                f"{first} {c.name:50s} true {tw}x{th}  {args.ref} {a.shape[1]}x{a.shape[0]} cell {sa:.3f}"
                f"  -> now {b.shape[1]}x{b.shape[0]} cell {sb:.3f}  {tag}",
                flush=True,
            )
    print(
        f"{total} cases: {counts['BETTER']} better, {counts['WORSE']} worse, {counts['same']} changed alike"
    )


if __name__ == "__main__":
    main()
