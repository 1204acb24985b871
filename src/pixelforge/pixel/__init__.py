"""Pure numpy pixel-art toolkit: no torch, no I/O. Images are RGBA ``uint8`` arrays ``(H, W, 4)``."""

from pixelforge.pixel.alpha import harden_alpha
from pixelforge.pixel.color import oklab_to_rgb, rgb_to_oklab
from pixelforge.pixel.downscale import downscale
from pixelforge.pixel.palette import extract_palette, map_to_palette, reduce_colors, unique_colors

__all__ = [
    "downscale",
    "extract_palette",
    "harden_alpha",
    "map_to_palette",
    "oklab_to_rgb",
    "reduce_colors",
    "rgb_to_oklab",
    "unique_colors",
]
