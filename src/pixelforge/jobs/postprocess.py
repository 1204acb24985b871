"""Post-processing of engine output: palette, background removal, integer upscale.

Uses the pixel toolkit. Background removal is offered only when the toolkit has it
(:func:`supports_background_removal`); the service refuses ``remove_bg`` before charging otherwise.

Order of the returned list, per generated image: the final image, then (if asked) the image before
the palette was applied, then (if asked) the image before the background was removed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pixelforge import pixel

MAX_PALETTE_COLORS = 256


def _background_remover() -> Callable[[np.ndarray], np.ndarray] | None:
    for name in ("remove_background", "remove_bg"):
        fn = getattr(pixel, name, None)
        if callable(fn):
            return fn
    return None


def supports_background_removal() -> bool:
    return _background_remover() is not None


def palette_colors(palette_img: np.ndarray) -> np.ndarray:
    """The colours of a palette image (its opaque pixels), at most MAX_PALETTE_COLORS of them."""
    colors, _ = pixel.unique_colors(palette_img)
    if len(colors) > MAX_PALETTE_COLORS:
        colors = pixel.extract_palette(palette_img, MAX_PALETTE_COLORS)
    if len(colors) == 0:
        raise ValueError("input_palette has no opaque pixels")
    return colors


def upscale_nearest(img: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return img
    return np.repeat(np.repeat(img, factor, axis=0), factor, axis=1)


def postprocess(
    images: list[np.ndarray],
    *,
    palette: np.ndarray | None = None,
    return_pre_palette: bool = False,
    remove_bg: bool = False,
    return_non_bg_removed: bool = False,
    upscale: int = 1,
) -> list[np.ndarray]:
    colors = palette_colors(palette) if palette is not None else None
    remover = _background_remover() if remove_bg else None
    if remove_bg and remover is None:
        raise ValueError("background removal is not available in this build of the pixel toolkit")
    out: list[np.ndarray] = []
    for img in images:
        extras: list[np.ndarray] = []
        if colors is not None:
            if return_pre_palette:
                extras.append(img)
            img = pixel.map_to_palette(img, colors)
        if remover is not None:
            if return_non_bg_removed:
                extras.append(img)
            img = remover(img)
        out.extend(upscale_nearest(x, upscale) for x in [img, *extras])
    return out
