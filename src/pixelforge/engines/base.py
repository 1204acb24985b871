"""The small protocol every image generator implements.

An engine turns a :class:`GenerationRequest` into ``num_images`` RGBA arrays. It never touches HTTP,
money or the database: the service layer validates and prices the request against the catalog, the
job layer calls :meth:`Engine.generate`, and the pixel toolkit post-processes what comes back.

Contract (tests in tests/engines/ hold every engine to it):

* ``generate`` returns exactly ``request.num_images`` arrays, each ``uint8`` of shape
  ``(request.height, request.width, 4)`` — art pixels, before ``upscale_output_factor``.
* Image ``i`` of a request with seed ``s`` is what image 0 of the same request with seed ``s + i``
  would be, so a batch is reproducible one image at a time and images of one batch differ.
* ``cancel.raise_if_cancelled()`` is checked at least once per denoising step; a cancelled call
  raises :class:`GenerationCancelled` and leaves the engine usable.
* A request the engine cannot honour raises :class:`UnsupportedFeature` *before* any heavy work;
  the service asks :meth:`Engine.capabilities` first so users get the error before any charge.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

ProgressCallback = Callable[[float], None]
"""Called with a fraction in [0, 1] as generation advances."""


class EngineError(Exception):
    """Base of every error an engine raises; the job layer turns it into a failed, refunded job."""


class GenerationCancelled(EngineError):
    """The job was cancelled or timed out; raised at a step boundary."""


class EngineOutOfMemory(EngineError):
    """The accelerator (or host) ran out of memory for this request."""


class EngineUnavailable(EngineError):
    """The engine could not be loaded (missing weights, missing optional dependency, bad config)."""


class UnsupportedFeature(EngineError):
    """The request asks for something this engine does not do (e.g. reference images on ``tiny``)."""

    def __init__(self, feature: str, engine: str) -> None:
        super().__init__(f"{feature} is not supported by the {engine!r} engine")
        self.feature = feature
        self.engine = engine


class CancelToken:
    """Cooperative cancellation shared between the job runner and an engine."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = "cancelled"

    def cancel(self, reason: str = "cancelled") -> None:
        self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise GenerationCancelled(self.reason)


@dataclass(frozen=True)
class EngineCapabilities:
    """What an engine can honour; the service checks requests against it before charging."""

    img2img: bool = False
    max_reference_images: int = 0
    tiling: bool = False
    negative_prompt: bool = False
    prompt_expansion: bool = False
    min_size: int = 1
    max_size: int = 1024


@dataclass(frozen=True)
class GenerationRequest:
    """One batch to generate. Sizes are in art pixels; images are RGBA ``uint8`` arrays (H, W, 4)."""

    prompt: str
    width: int
    height: int
    seed: int
    num_images: int = 1
    style_id: str = "rd_fast__default"
    family: str = "fast"
    negative_prompt: str | None = None
    init_image: np.ndarray | None = None
    strength: float = 0.75
    reference_images: tuple[np.ndarray, ...] = ()
    tile_x: bool = False
    tile_y: bool = False
    expand_prompt: bool = True
    extra_prompt: str | None = None
    extra_init_image: np.ndarray | None = None
    steps: int | None = None
    guidance_scale: float | None = None
    options: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError(f"width and height must be positive, got {self.width}x{self.height}")
        if self.num_images < 1:
            raise ValueError(f"num_images must be >= 1, got {self.num_images}")
        if not 0.0 <= self.strength <= 1.0:
            raise ValueError(f"strength must be in [0, 1], got {self.strength}")
        for name, img in (("init_image", self.init_image), ("extra_init_image", self.extra_init_image)):
            if img is not None and (img.ndim != 3 or img.shape[2] != 4 or img.dtype != np.uint8):
                raise ValueError(f"{name} must be an RGBA uint8 array (H, W, 4), got {img.shape} {img.dtype}")

    def image_seed(self, index: int) -> int:
        """Seed of image ``index`` of this batch (see the module contract)."""
        return (self.seed + index) % (2**32)


@runtime_checkable
class Engine(Protocol):
    """An image generator. Implementations load weights once and are reused across jobs."""

    name: str

    def capabilities(self) -> EngineCapabilities: ...

    def generate(
        self,
        request: GenerationRequest,
        cancel: CancelToken | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[np.ndarray]: ...

    def close(self) -> None: ...
