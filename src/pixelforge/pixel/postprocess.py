"""Generation post-processing: what the service applies to every engine's output.

Contract (the generation service calls this; the API maps the request fields onto it):

``postprocess(images, *, palette=None, remove_bg=False, upscale_factor=1, tile_x=False,
tile_y=False, dither_mode="none", dither_strength=0, want_pre_palette=False,
want_non_bg_removed=False) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]``

* ``images``: RGBA uint8 ``(H, W, 4)`` arrays at native resolution, as engines return them.
* ``palette``: ``None`` or an ``(N, 3)`` uint8 array of colours -- build it from the request's
  ``input_palette`` image with :func:`pixelforge.pixel.palette.palette_from_image`. Every opaque
  pixel of the final image is then exactly one of these colours.
* ``remove_bg``: make the background transparent (hard alpha, see ``pixel.background``).
* ``upscale_factor``: integer nearest-neighbour enlargement applied last (``upscale_output_factor``).
* ``tile_x`` / ``tile_y``: repair the wrap-around seams so the image tiles (``pixel.tiling``).
* For each input, returns ``(final, extras)``. ``extras`` holds, only when asked:
  ``"pre_palette"`` -- the same image without the palette mapping (``return_pre_palette``), and
  ``"non_bg_removed"`` -- the same image without background removal (``return_non_bg_removed``).
  Both extras went through every other step (tiling, the other of palette/background, upscaling),
  so they differ from ``final`` in exactly one respect.

Order: seam repair -> background mask (computed once on the unmapped image, so the palette cannot
change which pixels are background) -> palette mapping/dithering -> mask applied -> upscale.
Inputs are never modified. Alpha of every output is hard (0 or 255).
"""

from __future__ import annotations

import numpy as np

from pixelforge.pixel.alpha import _check_rgba, harden_alpha
from pixelforge.pixel.background import background_mask, remove_background
from pixelforge.pixel.dither import dither
from pixelforge.pixel.tiling import make_seamless


def upscale(img: np.ndarray, factor: int) -> np.ndarray:
    """Integer nearest-neighbour enlargement."""
    if int(factor) != factor or factor < 1:
        raise ValueError(f"upscale factor must be a positive integer, got {factor}")
    factor = int(factor)
    return img if factor == 1 else img.repeat(factor, axis=0).repeat(factor, axis=1)


def postprocess(
    images: list[np.ndarray],
    *,
    palette: np.ndarray | None = None,
    remove_bg: bool = False,
    upscale_factor: int = 1,
    tile_x: bool = False,
    tile_y: bool = False,
    dither_mode: str = "none",
    dither_strength: float = 0,
    want_pre_palette: bool = False,
    want_non_bg_removed: bool = False,
) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """Apply the requested post-processing to each image (see the module docstring)."""
    if palette is not None:
        palette = np.asarray(palette, np.uint8).reshape(-1, 3)
        if len(palette) == 0:
            raise ValueError("palette is empty")
    results = []
    for img in images:
        _check_rgba(img)
        base = harden_alpha(img)
        if tile_x or tile_y:
            base = make_seamless(base, tile_x, tile_y)
        mask = background_mask(base) if remove_bg else None
        mapped = dither(base, palette, dither_mode, dither_strength) if palette is not None else base
        final = _apply(mapped, mask, base)
        extras: dict[str, np.ndarray] = {}
        if want_pre_palette:
            extras["pre_palette"] = upscale(_apply(base, mask, base), upscale_factor)
        if want_non_bg_removed:
            extras["non_bg_removed"] = upscale(mapped, upscale_factor)
        results.append((upscale(final, upscale_factor), extras))
    return results


def _apply(img: np.ndarray, mask: np.ndarray | None, base: np.ndarray) -> np.ndarray:
    if mask is None:
        return img
    out = img.copy()
    # remove_background also recolours blended fringe pixels; take that from the unmapped image
    # only where no palette applies (the palette mapping already picked exact colours).
    if img is base:
        out = remove_background(base)
    out[mask] = 0
    out[..., 3] = np.where(mask, 0, np.where(out[..., 3] > 0, 255, 0))
    return out
