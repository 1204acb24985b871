"""Render a run_grid.py ``results.json`` as the per-metric tables BENCHMARKS.md shows.

    .venv/bin/python benchmarks/pixel/tables.py .work/pixel-bench/results.json

One table per score (regimes down, tools across), with the best value of each row in bold, so a
reader sees at a glance where pixelforge is ahead, tied or behind. Rendering only: every number
comes from the results file.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

METRICS = (
    ("exact", "Exact native size (within ±1 in brackets)", True),
    ("cell", "Per-cell colour accuracy (CIELAB ΔE76 ≤ 5)", True),
    ("detail", "Single-pixel detail retention (– : no such details in that regime)", True),
    ("palette", "Palette fidelity (share of output pixels within ΔE 5 of a true colour)", True),
    ("time", "Median seconds per image, PNG file in -> PNG file out for every tool (no imports)", False),
)


def _fmt(value: float, metric: str) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:.3f}" if metric == "time" else f"{value:.2f}"


def metric_table(results: dict, metric: str, higher_is_better: bool) -> list[str]:
    regimes = results["regimes"]
    tools = list(next(iter(regimes.values())))
    lines = [
        "| regime | " + " | ".join(f"**{t}**" if t == "pixelforge" else t for t in tools) + " |",
        "|---|" + "---|" * len(tools),
    ]
    for regime, per_tool in regimes.items():
        vals = [per_tool[t][metric] if t in per_tool else float("nan") for t in tools]
        shown = [_fmt(v, metric) for v in vals]
        # Compare what the reader sees: ties at the shown precision are all bold.
        finite = [float(s) for s in shown if s != "–"]
        if finite:
            best = max(finite) if higher_is_better else min(finite)
            shown = [f"**{s}**" if s != "–" and float(s) == best else s for s in shown]
        if metric == "exact":
            shown = [f"{s} ({per_tool[t]['within1']:.2f})" for s, t in zip(shown, tools, strict=True)]
        lines.append(f"| {regime} | " + " | ".join(shown) + " |")
    return lines


def summary_table(results: dict) -> list[str]:
    regimes = results["regimes"]
    tools = list(next(iter(regimes.values())))
    lines = [
        "| tool (mean over regimes) | exact size | within ±1 | cell acc | detail | palette "
        "| median s at 1024² |",
        "|---|---|---|---|---|---|---|",
    ]
    for tool in tools:
        rows = [per[tool] for per in regimes.values() if tool in per]

        def mean(key: str, rows: list = rows) -> float:
            vals = [r[key] for r in rows if not math.isnan(r[key])]
            return sum(vals) / len(vals) if vals else float("nan")

        t1024 = results.get("time_1024", {}).get(tool, float("nan"))
        name = f"**{tool}**" if tool == "pixelforge" else tool
        lines.append(
            f"| {name} | {mean('exact'):.3f} | {mean('within1'):.3f} | {mean('cell'):.3f} | "
            f"{mean('detail'):.3f} | {mean('palette'):.3f} | {t1024:.3f} |"
        )
    return lines


def array_time_table(results: dict) -> list[str]:
    regimes = {r: per["pixelforge"].get("time_array") for r, per in results["regimes"].items()}
    if not any(v is not None for v in regimes.values()):
        return ["(not recorded in this results file)"]
    lines = ["| " + " | ".join(regimes) + " |", "|" + "---|" * len(regimes)]
    lines.append("| " + " | ".join("–" if v is None else f"{v:.3f}" for v in regimes.values()) + " |")
    return lines


def render(results: dict) -> str:
    seeds = results.get("seeds")
    out = [f"Seeds {seeds[0]}-{seeds[1]} per regime." if seeds else "", ""]
    out += summary_table(results)
    for metric, title, higher in METRICS:
        out += ["", f"{title}:", ""]
        out += metric_table(results, metric, higher)
    out += ["", "pixelforge's `recover_native` alone (array in memory, no PNG decode/encode), median s:", ""]
    out += array_time_table(results)
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("results", type=Path, help="results.json written by run_grid.py")
    args = ap.parse_args()
    print(render(json.loads(args.results.read_text())))


if __name__ == "__main__":
    main()
