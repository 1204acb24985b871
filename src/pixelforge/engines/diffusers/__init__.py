"""The ``diffusers`` engine: real open-weight checkpoints (SD 1.5, SDXL, FLUX-class) + LoRAs.

Importing this package is cheap (no torch): :func:`create_engine` imports the heavy parts, and the
registry module is torch-free so ``pixelforge models list`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pixelforge.engines.diffusers.registry import (
    DEFAULT_REGISTRY_PATH,
    FamilySpec,
    IPAdapterSpec,
    LoraSpec,
    Registry,
    RegistryError,
    StyleSpec,
    load_registry,
)

if TYPE_CHECKING:
    from pixelforge.config import Settings
    from pixelforge.engines.diffusers.engine import DiffusersEngine


def create_engine(settings: Settings) -> DiffusersEngine:
    """Build the engine from settings; pipelines load lazily, once per family, on first use."""
    from pixelforge.engines.diffusers.engine import DiffusersEngine

    return DiffusersEngine.from_settings(settings)


__all__ = [
    "DEFAULT_REGISTRY_PATH",
    "FamilySpec",
    "IPAdapterSpec",
    "LoraSpec",
    "Registry",
    "RegistryError",
    "StyleSpec",
    "create_engine",
    "load_registry",
]
