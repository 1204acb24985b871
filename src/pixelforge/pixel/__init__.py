"""Pure numpy pixel-art toolkit: no torch, no I/O. Images are RGBA ``uint8`` arrays ``(H, W, 4)``.

The public surface is re-exported here (and guarded by tests/pixel/test_init.py).
"""

from pixelforge.pixel.alpha import harden_alpha
from pixelforge.pixel.background import background_mask, remove_background
from pixelforge.pixel.color import oklab_to_rgb, rgb_to_oklab
from pixelforge.pixel.dither import DITHER_MODES, bayer_matrix, dither, error_diffusion, one_bit
from pixelforge.pixel.downscale import downscale
from pixelforge.pixel.grid import GridInfo, detect_grid, recover_native, sample_grid
from pixelforge.pixel.outline import add_outline, clean_outline
from pixelforge.pixel.palette import (
    extract_palette,
    map_to_palette,
    nearest_palette_index,
    palette_from_image,
    reduce_colors,
    unique_colors,
)
from pixelforge.pixel.pixelate import pixelate
from pixelforge.pixel.postprocess import postprocess, upscale
from pixelforge.pixel.tiling import make_seamless, seam_score
from pixelforge.pixel.transform import flip, rotate

__all__ = [
    "DITHER_MODES",
    "GridInfo",
    "add_outline",
    "background_mask",
    "bayer_matrix",
    "clean_outline",
    "detect_grid",
    "dither",
    "downscale",
    "error_diffusion",
    "extract_palette",
    "flip",
    "harden_alpha",
    "make_seamless",
    "map_to_palette",
    "nearest_palette_index",
    "oklab_to_rgb",
    "one_bit",
    "palette_from_image",
    "pixelate",
    "postprocess",
    "recover_native",
    "reduce_colors",
    "remove_background",
    "rgb_to_oklab",
    "rotate",
    "sample_grid",
    "seam_score",
    "unique_colors",
    "upscale",
]
