"""``pixelforge fix | pixelate | palette | remove-bg``: the pixel toolkit on image files.

File I/O lives here, not in ``pixelforge.pixel`` (which only sees RGBA arrays). Inputs are anything
Pillow reads; outputs are PNG (hard alpha). Nothing here touches the database or the data directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

In = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="Input image.")]
Out = Annotated[Path, typer.Option("-o", "--output", help="Output PNG.")]
DitherOpt = Annotated[
    str, typer.Option("--dither", help="none, bayer_2x2, bayer_4x4, bayer_8x8 or floyd_steinberg.")
]
StrengthOpt = Annotated[float, typer.Option("--strength", min=0, max=100, help="Dither strength 0-100.")]


def load_rgba(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGBA")).copy()
    except (UnidentifiedImageError, OSError) as e:
        raise typer.BadParameter(f"cannot read image {path}: {e}") from e


def save_png(img: np.ndarray, path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img, "RGBA").save(path, format="PNG")


def _check_dither(mode: str) -> None:
    from pixelforge.pixel import DITHER_MODES

    if mode not in DITHER_MODES:
        raise typer.BadParameter(f"unknown dither mode {mode!r}; use one of {', '.join(DITHER_MODES)}")


def fix(
    input: In,
    output: Out,
    preview_scale: Annotated[
        int, typer.Option("--preview-scale", min=1, help="Also enlarge the result this many times.")
    ] = 1,
    cell: Annotated[
        float | None, typer.Option("--cell", min=1.0, help="Known cell size in pixels (skips detection).")
    ] = None,
    tile: Annotated[
        bool,
        typer.Option(
            "--tile",
            help="The image is a seamless tile: its grid wraps around both edges (so does the result).",
        ),
    ] = False,
    tile_x: Annotated[bool, typer.Option("--tile-x", help="Seamless along x only.")] = False,
    tile_y: Annotated[bool, typer.Option("--tile-y", help="Seamless along y only.")] = False,
) -> None:
    """Recover the native pixel grid of an enlarged / blurred / compressed pixel-art image."""
    from pixelforge.pixel import detect_grid, recover_native, sample_grid, upscale

    wrap_x, wrap_y = tile or tile_x, tile or tile_y
    if cell is not None and (wrap_x or wrap_y):
        raise typer.BadParameter("--tile/--tile-x/--tile-y apply to detection; not with --cell")
    img = load_rgba(input)
    if cell is not None:
        h, w = img.shape[:2]
        xs = np.append(np.arange(0, w, cell), w)
        ys = np.append(np.arange(0, h, cell), h)
        xs = xs[np.append(np.diff(xs) >= cell / 2, True) | (xs == w)]
        ys = ys[np.append(np.diff(ys) >= cell / 2, True) | (ys == h)]
        out = sample_grid(img, np.unique(xs), np.unique(ys))
        typer.echo(f"cell {cell:g} px (given) -> {out.shape[1]}x{out.shape[0]}")
    else:
        grid = detect_grid(img, wrap_x=wrap_x, wrap_y=wrap_y)
        out = recover_native(img, grid)
        if grid.has_grid:
            typer.echo(
                f"grid {grid.cell_x:.2f}x{grid.cell_y:.2f} px, phase {grid.phase_x:.1f},{grid.phase_y:.1f}, "
                f"confidence {grid.confidence:.2f} -> {grid.width}x{grid.height}"
            )
        else:
            typer.echo("no pixel grid found: image kept at its size (alpha hardened)")
    save_png(upscale(out, preview_scale), output)


def pixelate(
    input: In,
    output: Out,
    size: Annotated[int, typer.Option("--size", min=1, help="Longer side of the result, pixels.")] = 64,
    colors: Annotated[int, typer.Option("--colors", min=1, max=256, help="Colour count.")] = 16,
    dither: DitherOpt = "none",
    strength: StrengthOpt = 50,
) -> None:
    """Turn any image (photo, painting) into pixel art of a given size and colour count."""
    from pixelforge.pixel import pixelate as run

    _check_dither(dither)
    out = run(load_rgba(input), size, colors, dither_mode=dither, dither_strength=strength)
    save_png(out, output)
    typer.echo(f"{out.shape[1]}x{out.shape[0]}, at most {colors} colours")


def palette(
    input: In,
    output: Out,
    palette_image: Annotated[
        Path,
        typer.Option(
            "--palette", exists=True, dir_okay=False, help="Palette image: its colours are the palette."
        ),
    ],
    dither: DitherOpt = "none",
    strength: StrengthOpt = 50,
) -> None:
    """Map an image onto the colours of a palette image (every output pixel is a palette colour)."""
    from pixelforge.pixel import dither as run
    from pixelforge.pixel import palette_from_image

    _check_dither(dither)
    try:
        pal = palette_from_image(load_rgba(palette_image))
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--palette") from e
    save_png(run(load_rgba(input), pal, dither, strength if dither != "none" else 0), output)
    typer.echo(f"mapped onto {len(pal)} colours")


def remove_bg(
    input: In,
    output: Out,
    enclosed: Annotated[
        str, typer.Option("--enclosed", help="Enclosed background-coloured regions: auto, keep or remove.")
    ] = "auto",
    tolerance: Annotated[
        float | None, typer.Option("--tolerance", min=0, help="RGB distance to the background model.")
    ] = None,
) -> None:
    """Make the background of a sprite transparent (hard alpha, no halo)."""
    from pixelforge.pixel import remove_background

    if enclosed not in ("auto", "keep", "remove"):
        raise typer.BadParameter("use auto, keep or remove", param_hint="--enclosed")
    out = remove_background(load_rgba(input), tolerance=tolerance, enclosed=enclosed)  # type: ignore[arg-type]
    save_png(out, output)
    typer.echo(f"{int((out[..., 3] == 0).sum())} px made transparent")


def register(app: typer.Typer) -> None:
    app.command("fix")(fix)
    app.command("pixelate")(pixelate)
    app.command("palette")(palette)
    app.command("remove-bg")(remove_bg)
