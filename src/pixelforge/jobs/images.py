"""Decoding user-supplied base64 images safely: length cap, header-only size check, then decode.

The pixel count is read from the image header (Pillow's ``open`` is lazy) and refused before any
pixel data is decompressed, so a small file that claims to be 100 000 x 100 000 (a decompression
bomb) costs nothing.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings

import numpy as np
from PIL import Image


class ImageError(ValueError):
    """A user-supplied image is not valid base64, not an image, or too large; names the field."""


ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")


def check_base64_length(data: str, field: str, max_chars: int) -> None:
    if len(data) > max_chars:
        raise ImageError(f"{field} is {len(data)} base64 characters; the limit is {max_chars}")


def decode_base64_image(data: str, field: str, *, max_chars: int, max_pixels: int) -> np.ndarray:
    """Base64 (raw, or a ``data:`` URI) → RGBA ``uint8`` array; raises ImageError with the field name."""
    check_base64_length(data, field, max_chars)
    payload = data.strip()
    if payload.startswith("data:"):
        _, _, payload = payload.partition(",")
    try:
        raw = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ImageError(f"{field} is not valid base64") from None
    if not raw:
        raise ImageError(f"{field} is empty")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(raw), formats=ALLOWED_FORMATS)
        except Image.DecompressionBombError:
            raise ImageError(f"{field} has too many pixels (limit {max_pixels})") from None
        except Exception:
            raise ImageError(f"{field} is not a PNG, JPEG, WEBP, GIF or BMP image") from None
        width, height = img.size
        if width < 1 or height < 1:
            raise ImageError(f"{field} has no pixels")
        if width * height > max_pixels:
            raise ImageError(
                f"{field} is {width}x{height} = {width * height} pixels; the limit is {max_pixels}"
            )
        try:
            img.load()
            rgba = img.convert("RGBA")
        except Exception:
            raise ImageError(f"{field} could not be decoded (truncated or corrupt image)") from None
    return np.asarray(rgba, dtype=np.uint8).copy()


def encode_png(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img, "RGBA").save(buf, format="PNG")
    return buf.getvalue()
