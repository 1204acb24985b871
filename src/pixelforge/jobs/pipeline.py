"""One job spec → finished RGBA images: engine call, then post-processing. No database, no HTTP.

The spec is the JSON the service stored in the job row (see service/inference.py ``prepare``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pixelforge.config import Settings
from pixelforge.engines import CancelToken, Engine, EngineError, GenerationRequest
from pixelforge.engines.base import ProgressCallback
from pixelforge.jobs.images import decode_base64_image
from pixelforge.jobs.postprocess import postprocess


def _decode(data: str | None, field: str, settings: Settings) -> np.ndarray | None:
    if not data:
        return None
    return decode_base64_image(
        data, field, max_chars=settings.max_base64_chars, max_pixels=settings.max_input_pixels
    )


def generation_request(spec: dict[str, Any], settings: Settings, engine: Engine) -> GenerationRequest:
    caps = engine.capabilities()
    family = str(spec.get("family") or "rd_fast")
    refs = tuple(
        img
        for i, ref in enumerate(spec.get("reference_images") or [])
        if (img := _decode(ref, f"reference_images[{i}]", settings)) is not None
    )
    return GenerationRequest(
        prompt=spec["prompt"],
        width=int(spec["width"]),
        height=int(spec["height"]),
        seed=int(spec["seed"]),
        num_images=int(spec["num_images"]),
        style_id=spec["style_id"],
        family=family.removeprefix("rd_"),
        # `negative` is a documented placeholder ("current models ignore it"); passed on only to an
        # engine that declares it can use one.
        negative_prompt=spec.get("negative") if caps.negative_prompt else None,
        init_image=_decode(spec.get("input_image"), "input_image", settings),
        strength=float(spec.get("strength", 0.75)),
        reference_images=refs,
        tile_x=bool(spec.get("tile_x")) and caps.tiling,
        tile_y=bool(spec.get("tile_y")) and caps.tiling,
        expand_prompt=bool(spec.get("expand_prompt", True)),
    )


def render(
    engine: Engine,
    spec: dict[str, Any],
    settings: Settings,
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
) -> list[np.ndarray]:
    """Run the engine on ``spec`` and post-process; returns the images in response order."""
    request = generation_request(spec, settings, engine)
    images = engine.generate(request, cancel, progress)
    if len(images) != request.num_images:
        raise EngineError(f"engine returned {len(images)} images, {request.num_images} requested")
    for img in images:
        if img.dtype != np.uint8 or img.shape != (request.height, request.width, 4):
            raise EngineError(
                f"engine returned an image {img.shape} {img.dtype}, "
                f"expected ({request.height}, {request.width}, 4) uint8"
            )
    if cancel is not None:
        cancel.raise_if_cancelled()
    palette = _decode(spec.get("input_palette"), "input_palette", settings)
    # An engine that cannot tile natively gets its seams repaired by the pixel toolkit instead.
    repair_seams = not engine.capabilities().tiling
    return postprocess(
        images,
        palette=palette,
        return_pre_palette=bool(spec.get("return_pre_palette")),
        remove_bg=bool(spec.get("remove_bg")),
        return_non_bg_removed=bool(spec.get("return_non_bg_removed")),
        upscale=int(spec.get("upscale_output_factor") or 1),
        tile_x=bool(spec.get("tile_x")) and repair_seams,
        tile_y=bool(spec.get("tile_y")) and repair_seams,
    )
