"""Post-processing of engine output through the pixel toolkit's ``pixel.postprocess``.

This module only maps job-spec fields onto the toolkit and flattens its ``(final, extras)`` pairs
into the order RD responses use: per generated image, the final image, then (if asked) the image
before the palette (``return_pre_palette``), then (if asked) the image before background removal
(``return_non_bg_removed``).
"""

from __future__ import annotations

import numpy as np

from pixelforge import pixel

MAX_PALETTE_COLORS = 256


def supports_background_removal() -> bool:
    return callable(getattr(pixel, "remove_background", None))


def palette_colors(palette_img: np.ndarray) -> np.ndarray:
    """The colours of an ``input_palette`` image. A swatch strip gives its colours; a picture with more
    than MAX_PALETTE_COLORS colours is reduced to that many (RD accepts any image as palette)."""
    try:
        return pixel.palette_from_image(palette_img, MAX_PALETTE_COLORS)
    except ValueError:
        colors = pixel.extract_palette(palette_img, MAX_PALETTE_COLORS)
        if len(colors) == 0:
            raise ValueError("input_palette has no opaque pixels") from None
        return colors


def postprocess(
    images: list[np.ndarray],
    *,
    palette: np.ndarray | None = None,
    return_pre_palette: bool = False,
    remove_bg: bool = False,
    return_non_bg_removed: bool = False,
    upscale: int = 1,
    tile_x: bool = False,
    tile_y: bool = False,
) -> list[np.ndarray]:
    colors = palette_colors(palette) if palette is not None else None
    pairs = pixel.postprocess(
        images,
        palette=colors,
        remove_bg=remove_bg,
        upscale_factor=upscale,
        tile_x=tile_x,
        tile_y=tile_y,
        want_pre_palette=return_pre_palette and colors is not None,
        want_non_bg_removed=return_non_bg_removed and remove_bg,
    )
    out: list[np.ndarray] = []
    for final, extras in pairs:
        out.append(final)
        for name in ("pre_palette", "non_bg_removed"):
            if name in extras:
                out.append(extras[name])
    return out
