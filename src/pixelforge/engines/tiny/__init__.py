"""The embedded ``tiny`` engine: a small text-to-pixel-art model trained here and shipped in the package.

Importing this package is cheap; torch and diffusers load in :func:`create_engine`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pixelforge.config import Settings
    from pixelforge.engines.tiny.engine import TinyEngine


def create_engine(settings: Settings | None = None) -> TinyEngine:
    """Build the tiny engine from the weights shipped in ``weights/`` (see MODEL_CARD.md)."""
    from pixelforge.engines.tiny.engine import TinyEngine

    return TinyEngine.from_settings(settings)


__all__ = ["create_engine"]
