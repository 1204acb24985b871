"""Image generators behind one protocol. Engines import torch lazily: importing this package is cheap."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from pixelforge.engines.base import (
    CancelToken,
    Engine,
    EngineCapabilities,
    EngineError,
    EngineOutOfMemory,
    EngineUnavailable,
    GenerationCancelled,
    GenerationRequest,
    UnsupportedFeature,
)

if TYPE_CHECKING:
    from pixelforge.config import Settings

# name -> "module:factory"; a factory takes Settings and returns an Engine.
ENGINE_FACTORIES: dict[str, str] = {
    "tiny": "pixelforge.engines.tiny:create_engine",
    "diffusers": "pixelforge.engines.diffusers:create_engine",
}


def load_engine(name: str, settings: Settings) -> Engine:
    """Build the engine called ``name``; raises EngineUnavailable with the reason when it cannot."""
    try:
        target = ENGINE_FACTORIES[name]
    except KeyError:
        known = ", ".join(sorted(ENGINE_FACTORIES))
        raise EngineUnavailable(f"unknown engine {name!r}; known engines: {known}") from None
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EngineUnavailable(
            f"engine {name!r} needs the optional model dependencies: pip install 'pixelforge[model]' ({exc})"
        ) from exc
    factory = getattr(module, attr)
    return factory(settings)


__all__ = [
    "ENGINE_FACTORIES",
    "CancelToken",
    "Engine",
    "EngineCapabilities",
    "EngineError",
    "EngineOutOfMemory",
    "EngineUnavailable",
    "GenerationCancelled",
    "GenerationRequest",
    "UnsupportedFeature",
    "load_engine",
]
