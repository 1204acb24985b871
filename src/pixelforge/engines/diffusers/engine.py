"""The diffusers engine: registry families → warm pipelines → RGBA art at native size.

One call: resolve the style and family (no heavy work, so unsupported requests fail before any
load), build the prompt (template, optional LLM), render at native × k with one CPU generator per
image seeded ``seed + i``, check the cancel token at every step boundary, then recover the native
grid with the pixel toolkit (``detect_grid``/``recover_native``, else ``downscale``). Palette,
background removal and output upscaling are the service's post-processing
(``pixelforge.pixel.postprocess``), applied to every engine alike; tiling is done here, by circular
padding (UNet families) or the toolkit's seam repair (transformer families).
"""

from __future__ import annotations

import gc
import inspect
import logging
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from pixelforge import pixel
from pixelforge.engines.base import (
    CancelToken,
    EngineCapabilities,
    EngineError,
    EngineOutOfMemory,
    GenerationCancelled,
    GenerationRequest,
    ProgressCallback,
    UnsupportedFeature,
)
from pixelforge.engines.diffusers import loading
from pixelforge.engines.diffusers.prompting import PromptExpander
from pixelforge.engines.diffusers.registry import FamilySpec, LoraSpec, Registry, StyleSpec, load_registry
from pixelforge.engines.diffusers.tiling import seamless

if TYPE_CHECKING:
    from pixelforge.config import Settings

log = logging.getLogger(__name__)

ENGINE_NAME = "diffusers"
MAX_REFERENCE_IMAGES = 9
_OOM_ERRORS: tuple[type[BaseException], ...] = (
    getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError),
)


@dataclass
class _Loaded:
    """A warm family: its text-to-image pipeline and, lazily, an image-to-image view of it."""

    name: str
    spec: FamilySpec
    pipe: Any
    img2img: Any | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class RenderPlan:
    """What one request resolves to, computed without loading anything."""

    family_name: str
    family: FamilySpec
    style: StyleSpec | None
    scale: int
    render_width: int
    render_height: int
    steps: int
    guidance: float
    negative_prompt: str
    template: str
    loras: tuple[LoraSpec, ...]


def render_size(width: int, height: int, spec: FamilySpec) -> tuple[int, int, int]:
    """``(k, render_width, render_height)``: the scale k and the sides rounded up to the size multiple."""
    long_side = max(width, height)
    k = max(spec.render_scale, math.ceil(spec.min_render_size / long_side))
    k = max(1, min(k, spec.max_render_size // long_side))
    m = spec.size_multiple or (16 if spec.is_flux_like else 8)
    return k, math.ceil(width * k / m) * m, math.ceil(height * k / m) * m


class DiffusersEngine:
    """Implements :class:`pixelforge.engines.base.Engine` on diffusers pipelines."""

    name = ENGINE_NAME

    def __init__(
        self,
        registry: Registry,
        *,
        device: str = "auto",
        dtype: str = "auto",
        offload: str = "none",
        allow_download: bool = False,
        expander: PromptExpander | None = None,
    ) -> None:
        self.registry = registry
        self.device = loading.pick_device(device)
        self.dtype_name = dtype
        self.offload = offload
        self.allow_download = allow_download
        self.expander = expander or PromptExpander()
        self._loaded: OrderedDict[str, _Loaded] = OrderedDict()
        self._load_lock = threading.Lock()
        self._family_locks: dict[str, threading.Lock] = {}
        self._call_params: dict[type, set[str]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> DiffusersEngine:
        expander = PromptExpander(
            base_url=settings.prompt_llm_url,
            model=settings.prompt_llm_model,
            api_key=settings.prompt_llm_api_key,
            timeout_s=settings.prompt_llm_timeout_s,
        )
        engine = cls(
            load_registry(settings.models_config),
            device=settings.diffusers_device,
            dtype=settings.diffusers_dtype,
            offload=settings.diffusers_offload,
            allow_download=settings.models_allow_download,
            expander=expander,
        )
        engine.preload()
        return engine

    # ------------------------------------------------------------------ protocol
    def capabilities(self) -> EngineCapabilities:
        families = list(self.registry.families.values())
        refs = min(MAX_REFERENCE_IMAGES, max((f.reference_limit for f in families), default=0))
        return EngineCapabilities(
            img2img=True,
            max_reference_images=refs,
            tiling=True,
            negative_prompt=True,
            prompt_expansion=True,
            min_size=1,
            max_size=max((f.max_render_size for f in families), default=1024),
        )

    def generate(
        self,
        request: GenerationRequest,
        cancel: CancelToken | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[np.ndarray]:
        cancel = cancel or CancelToken()
        plan = self.plan(request)
        cancel.raise_if_cancelled()
        prompt = self._prompt(request, plan)
        cancel.raise_if_cancelled()
        return self._run_group(plan, [(request, prompt, cancel)], progress)[0]

    def generate_many(
        self,
        requests: list[GenerationRequest],
        cancels: list[CancelToken | None] | None = None,
    ) -> list[list[np.ndarray] | EngineError]:
        """Generate several requests, batching those that can share one pipeline call.

        In families with ``batching = "batched"``, requests of the same size, steps, guidance,
        negative prompt and LoRAs, without init/reference images or tiling, run as one pipeline
        call (their prompts may differ); each image is still seeded ``seed + i`` of its own
        request, so results equal one-at-a-time calls up to the rounding of batched kernels.
        ``exact`` families render every image alone.
        Returns, per request and in order, its images or the EngineError it failed with; a
        cancelled request fails alone and the rest of its batch is rendered again without it.
        """
        cancels = list(cancels) if cancels is not None else [None] * len(requests)
        if len(cancels) != len(requests):
            raise ValueError(f"{len(cancels)} cancel tokens for {len(requests)} requests")
        results: list[list[np.ndarray] | EngineError | None] = [None] * len(requests)
        groups: dict[tuple, list[int]] = {}
        prepared: dict[int, tuple[RenderPlan, str, CancelToken]] = {}
        for i, (request, cancel) in enumerate(zip(requests, cancels, strict=True)):
            token = cancel or CancelToken()
            try:
                plan = self.plan(request)
                token.raise_if_cancelled()
                prepared[i] = (plan, self._prompt(request, plan), token)
            except EngineError as exc:
                results[i] = exc
                continue
            groups.setdefault(self._batch_key(request, plan, i), []).append(i)
        for members in groups.values():
            pending = list(members)
            while pending:
                plan = prepared[pending[0]][0]
                batch = [(requests[i], prepared[i][1], prepared[i][2]) for i in pending]
                try:
                    outs = self._run_group(plan, batch, None)
                except GenerationCancelled as exc:
                    cancelled = [i for i in pending if prepared[i][2].cancelled]
                    if not cancelled:
                        cancelled = list(pending)
                    for i in cancelled:
                        results[i] = exc
                    pending = [i for i in pending if i not in cancelled]
                    continue
                except EngineError as exc:
                    for i in pending:
                        results[i] = exc
                    break
                for i, out in zip(pending, outs, strict=True):
                    results[i] = out
                break
        return results  # type: ignore[return-value]

    @staticmethod
    def _batch_key(request: GenerationRequest, plan: RenderPlan, index: int) -> tuple:
        alone = request.init_image is not None or request.reference_images or request.tile_x or request.tile_y
        if alone or plan.family.batching == "exact":
            return ("alone", index)
        return (
            plan.family_name,
            request.width,
            request.height,
            plan.steps,
            plan.guidance,
            plan.negative_prompt,
            tuple(lo.adapter_name for lo in plan.loras),
            tuple(lo.weight for lo in plan.loras),
        )

    def _prompt(self, request: GenerationRequest, plan: RenderPlan) -> str:
        hint = plan.style.llm_hint if plan.style else None
        return self.expander.expand(request.prompt, plan.template, use_llm=request.expand_prompt, hint=hint)

    def _run_group(
        self,
        plan: RenderPlan,
        batch: list[tuple[GenerationRequest, str, CancelToken]],
        progress: ProgressCallback | None,
    ) -> list[list[np.ndarray]]:
        """Render requests that share ``plan``'s family, size and settings in one pipeline call."""
        request = batch[0][0]
        try:
            loaded = self._get(plan.family_name, plan.family)
            with loaded.lock:
                if plan.family.batching == "exact":
                    frames, conv_tiled = self._render_one_by_one(loaded, plan, batch, progress)
                else:
                    frames, conv_tiled = self._render(loaded, plan, batch, progress)
        except _OOM_ERRORS as exc:
            self._empty_cache()
            total = sum(r.num_images for r, _, _ in batch)
            raise EngineOutOfMemory(
                f"out of memory rendering {plan.render_width}x{plan.render_height} x{total} "
                f"with family {plan.family_name!r}"
            ) from exc
        except RuntimeError as exc:
            if "out of memory" in str(exc).lower():
                self._empty_cache()
                raise EngineOutOfMemory(str(exc)) from exc
            raise EngineError(f"family {plan.family_name!r}: pipeline failed: {exc}") from exc
        results: list[list[np.ndarray]] = []
        offset = 0
        for req, _, _ in batch:
            # A render made seamless in the convolutions is a tile: its grid wraps around.
            wrap = (req.tile_x, req.tile_y) if conv_tiled else (False, False)
            images = [self._to_art(f, req, plan, wrap) for f in frames[offset : offset + req.num_images]]
            offset += req.num_images
            if (request.tile_x or request.tile_y) and not conv_tiled:
                images = [pixel.make_seamless(img, request.tile_x, request.tile_y) for img in images]
            results.append(images)
        if progress is not None:
            progress(1.0)
        return results

    def close(self) -> None:
        with self._load_lock:
            self._loaded.clear()
        gc.collect()
        self._empty_cache()

    # ------------------------------------------------------------------ planning
    def plan(self, request: GenerationRequest) -> RenderPlan:
        """Resolve and check ``request``; raises UnsupportedFeature before any weights are touched."""
        style = self.registry.style(request.style_id)
        family_name = style.family if style and style.family else request.family
        try:
            spec = self.registry.family(family_name)
        except KeyError as exc:
            raise UnsupportedFeature(str(exc.args[0]), ENGINE_NAME) from None
        if request.reference_images:
            mode = spec.effective_reference_mode
            if mode == "none":
                raise UnsupportedFeature(
                    f"reference_images (family {family_name!r} has no ip_adapter or edit model configured)",
                    ENGINE_NAME,
                )
            limit = min(spec.reference_limit, MAX_REFERENCE_IMAGES)
            count = len(request.reference_images)
            if mode == "edit" and request.init_image is not None:
                count += 1  # an edit model gets the input image and the references as one list
            if count > limit:
                what = (
                    "input + reference images"
                    if count > len(request.reference_images)
                    else "reference_images"
                )
                raise UnsupportedFeature(
                    f"more than {limit} {what} on family {family_name!r} ({mode})", ENGINE_NAME
                )
        if request.extra_init_image is not None:
            raise UnsupportedFeature("extra_init_image", ENGINE_NAME)
        k, rw, rh = render_size(request.width, request.height, spec)
        template = (
            style.prompt_template if style and style.prompt_template else None
        ) or spec.prompt_template
        negative = ", ".join(
            p
            for p in (
                spec.negative_prompt,
                (style.negative_prompt if style else None),
                request.negative_prompt,
            )
            if p
        )
        return RenderPlan(
            family_name=family_name,
            family=spec,
            style=style,
            scale=k,
            render_width=rw,
            render_height=rh,
            steps=request.steps or spec.steps,
            guidance=spec.guidance if request.guidance_scale is None else request.guidance_scale,
            negative_prompt=negative,
            template=template,
            loras=_merge_loras(spec.loras, style.loras if style else ()),
        )

    # ------------------------------------------------------------------ loading
    def _get(self, name: str, spec: FamilySpec) -> _Loaded:
        """The warm family ``name``, loading it first if needed.

        Loading (minutes for SDXL/FLUX) holds only that family's lock, so requests for families
        that are already warm are not held up by it.
        """
        with self._load_lock:
            if name in self._loaded:
                self._loaded.move_to_end(name)
                return self._loaded[name]
            family_lock = self._family_locks.setdefault(name, threading.Lock())
        with family_lock:
            with self._load_lock:
                if name in self._loaded:
                    return self._loaded[name]
                evicted = []
                while len(self._loaded) >= self.registry.max_loaded_families:
                    evicted.append(self._loaded.popitem(last=False)[0])
            if evicted:
                log.info("unloaded families %s to make room for %r", evicted, name)
                gc.collect()
                self._empty_cache()
            dtype = loading.pick_dtype(spec.dtype or self.dtype_name, self.device, spec)
            log.info(
                "loading family %r: %s from %s (%s, %s)",
                name,
                spec.pipeline,
                spec.checkpoint,
                self.device,
                dtype,
            )
            pipe = loading.load_pipeline(name, spec, dtype, self.allow_download)
            for lora in spec.loras:
                loading.load_lora(pipe, lora, self.allow_download)
            pipe = loading.place(pipe, self.device, self.offload)
            loaded = _Loaded(name=name, spec=spec, pipe=pipe)
            with self._load_lock:
                self._loaded[name] = loaded
            return loaded

    def preload(self, families: list[str] | None = None) -> None:
        """Load ``families`` (default: the registry's ``preload`` list) now instead of on first use."""
        for name in self.registry.preload if families is None else families:
            self._get(name, self.registry.family(name))

    def loaded_families(self) -> list[str]:
        return list(self._loaded)

    def pipeline(self, family: str) -> Any:
        """The warm text-to-image pipeline of ``family`` (loads it if needed)."""
        return self._get(family, self.registry.family(family)).pipe

    def _img2img(self, loaded: _Loaded) -> Any:
        if loaded.img2img is None:
            from diffusers import AutoPipelineForImage2Image

            try:
                loaded.img2img = AutoPipelineForImage2Image.from_pipe(loaded.pipe)
            except ValueError as exc:
                raise UnsupportedFeature(
                    f"init_image on family {loaded.name!r} ({exc})", ENGINE_NAME
                ) from exc
            loaded.img2img.set_progress_bar_config(disable=True)
        return loaded.img2img

    def _params(self, pipe: Any) -> set[str]:
        """Names ``pipe.__call__`` accepts (per class: an id() could be reused after an eviction)."""
        key = type(pipe)
        if key not in self._call_params:
            self._call_params[key] = set(inspect.signature(pipe.__call__).parameters)
        return self._call_params[key]

    @staticmethod
    def _empty_cache() -> None:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        mps = getattr(torch, "mps", None)
        if mps is not None and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            mps.empty_cache()

    # ------------------------------------------------------------------ rendering
    def _render_one_by_one(
        self,
        loaded: _Loaded,
        plan: RenderPlan,
        batch: list[tuple[GenerationRequest, str, CancelToken]],
        progress: ProgressCallback | None,
    ) -> tuple[np.ndarray, bool]:
        """One pipeline call per image (``batching = "exact"``): batched kernels round differently
        from single-image ones, so this is what makes image i bit-identical to image 0 of seed s+i."""
        singles = [
            (replace(r, seed=r.image_seed(i), num_images=1), prompt, cancel)
            for r, prompt, cancel in batch
            for i in range(r.num_images)
        ]
        frames: list[np.ndarray] = []
        conv_tiled = True
        for n, single in enumerate(singles):
            sub = None
            if progress is not None:

                def sub(f: float, n: int = n) -> None:
                    progress(min(0.99, (n + f) / len(singles)))

            out, conv_tiled = self._render(loaded, plan, [single], sub)
            frames.append(out[0])
        return np.stack(frames), conv_tiled

    def _render(
        self,
        loaded: _Loaded,
        plan: RenderPlan,
        batch: list[tuple[GenerationRequest, str, CancelToken]],
        progress: ProgressCallback | None,
    ) -> tuple[np.ndarray, bool]:
        """The rendered frames of every request in ``batch`` (in order), and whether tiling (if
        asked) was done by padded convolutions. All requests share ``plan``; only the first may
        carry init/reference images or tiling (see ``_batch_key``)."""
        spec = plan.family
        pipe = loaded.pipe
        request = batch[0][0]
        cancels = [c for _, _, c in batch]
        if len(batch) == 1:
            prompt: str | list[str] = batch[0][1]
            per_prompt = request.num_images
        else:
            prompt = [p for r, p, _ in batch for _ in range(r.num_images)]
            per_prompt = 1
        seeds = [r.image_seed(i) for r, _, _ in batch for i in range(r.num_images)]
        kwargs: dict[str, Any] = {
            "prompt": prompt,
            "height": plan.render_height,
            "width": plan.render_width,
            "num_inference_steps": plan.steps,
            "guidance_scale": plan.guidance,
            "num_images_per_prompt": per_prompt,
            "generator": [torch.Generator("cpu").manual_seed(seed) for seed in seeds],
            "output_type": "np",
        }
        edit = spec.effective_reference_mode == "edit"
        if request.init_image is not None and not edit:
            pipe = self._img2img(loaded)
            kwargs["image"] = _to_pil(request.init_image, plan.render_width, plan.render_height)
            kwargs["strength"] = request.strength
        params = self._params(pipe)
        if plan.negative_prompt and "negative_prompt" in params:
            kwargs["negative_prompt"] = (
                plan.negative_prompt if len(batch) == 1 else [plan.negative_prompt] * len(seeds)
            )
        if "max_area" in params:
            # Edit pipelines (FLUX Kontext) rescale the output to max_area (default 1024²) otherwise.
            kwargs["max_area"] = plan.render_width * plan.render_height
        if spec.max_sequence_length and "max_sequence_length" in params:
            kwargs["max_sequence_length"] = spec.max_sequence_length
        kwargs.update(spec.extra_call_kwargs)
        for lora in plan.loras:
            loading.load_lora(loaded.pipe, lora, self.allow_download)
        loading.activate_loras(loaded.pipe, list(plan.loras))

        # Pixel-art references are enlarged with nearest neighbour, like init images, so that the
        # image encoder / edit model sees crisp cells rather than a 16 px thumbnail.
        refs = [_to_pil(r, plan.render_width, plan.render_height) for r in request.reference_images]
        use_ip = bool(refs) and spec.effective_reference_mode == "ip_adapter"
        if edit:
            # An edit model edits the input image (init_image first, then the references).
            sources = refs
            if request.init_image is not None:
                sources = [_to_pil(request.init_image, plan.render_width, plan.render_height), *refs]
            if sources:
                kwargs["image"] = sources if len(sources) > 1 else sources[0]
        if use_ip:
            if spec.ip_adapter is None:
                raise UnsupportedFeature(
                    f"reference_images (family {loaded.name!r} has no ip_adapter)", ENGINE_NAME
                )
            loading.load_ip_adapter(pipe, spec.ip_adapter, self.allow_download)
            kwargs["ip_adapter_image"] = [refs]

        def on_step_end(_pipe: Any, step: int, _t: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
            for cancel in cancels:
                cancel.raise_if_cancelled()
            if progress is not None:
                total = getattr(_pipe, "_num_timesteps", None) or plan.steps
                progress(min(0.99, (step + 1) / max(1, total)))
            return callback_kwargs

        kwargs["callback_on_step_end"] = on_step_end
        unknown = set(kwargs) - params
        if unknown and "kwargs" not in params:
            for key in unknown - {"callback_on_step_end"}:
                log.debug("pipeline %s does not take %s; dropped", type(pipe).__name__, key)
                kwargs.pop(key)
        if "callback_on_step_end" not in params:
            raise UnsupportedFeature(f"pipeline {type(pipe).__name__} without step callbacks", ENGINE_NAME)

        for cancel in cancels:
            cancel.raise_if_cancelled()
        denoiser = getattr(pipe, "unet", None)
        # Transformer denoisers (FLUX-class) have no convolutions to pad: their seams are repaired
        # on the art afterwards (generate), so the VAE is left alone too.
        axes = (request.tile_x, request.tile_y) if denoiser is not None else (False, False)
        try:
            with seamless([denoiser, getattr(pipe, "vae", None)], *axes), torch.inference_mode():
                out = pipe(**kwargs)
        finally:
            if use_ip:
                pipe.unload_ip_adapter()
        return np.asarray(out.images), denoiser is not None

    def _to_art(
        self,
        frame: np.ndarray,
        request: GenerationRequest,
        plan: RenderPlan,
        wrap: tuple[bool, bool] = (False, False),
    ) -> np.ndarray:
        """A rendered frame (float RGB at about native × k) → RGBA art at exactly the native size."""
        k = plan.scale
        rgb = (np.clip(frame[..., :3], 0.0, 1.0) * 255.0).round().astype(np.uint8)
        target = (request.width * k, request.height * k)
        if (rgb.shape[1], rgb.shape[0]) != target:
            rgb = np.asarray(Image.fromarray(rgb).resize(target, Image.Resampling.BILINEAR))
        rgba = np.concatenate([rgb, np.full((*rgb.shape[:2], 1), 255, np.uint8)], axis=2)
        art = recover_art(rgba, request.width, request.height, k, plan.family, wrap)
        if plan.family.palette_colors:
            art = pixel.reduce_colors(art, plan.family.palette_colors)
        return np.ascontiguousarray(art, dtype=np.uint8)


def recover_art(
    rgba: np.ndarray,
    width: int,
    height: int,
    k: int,
    spec: FamilySpec,
    wrap: tuple[bool, bool] = (False, False),
) -> np.ndarray:
    """Native-size art from a render at ``width*k × height*k``.

    ``grid = "detect"`` looks for the fake-pixel grid the model actually drew (pixel-art LoRAs draw
    cells of about k pixels, but not phase-aligned to the image corner) and samples it when it has
    exactly the native cell count; otherwise, and with ``grid = "fixed"``, each k×k block becomes
    one pixel (``pixel.downscale``). ``wrap`` (x, y): the render is a seamless tile along that axis,
    so the cell across its wrap seam is one cell, read from both sides, and the art tiles too.
    """
    if spec.grid == "detect" and k > 1:
        info = pixel.detect_grid(
            rgba, min_cell=max(2.0, 0.6 * k), max_cell=1.6 * k, wrap_x=wrap[0], wrap_y=wrap[1]
        )
        if info.has_grid and (info.width, info.height) == (width, height):
            return pixel.recover_native(rgba, info)
    return pixel.downscale(rgba, k, method=spec.downscale)


def _merge_loras(family: tuple[LoraSpec, ...], style: tuple[LoraSpec, ...]) -> tuple[LoraSpec, ...]:
    """Family LoRAs then style LoRAs; a style entry with a family LoRA's adapter name (or source)
    replaces it, which is how a style changes a family LoRA's weight (0 turns it off)."""
    merged: dict[str, LoraSpec] = {}
    for lora in (*family, *style):
        merged[lora.adapter_name] = lora
    return tuple(lo for lo in merged.values() if lo.weight != 0)


def _to_pil(img: np.ndarray, width: int | None = None, height: int | None = None) -> Image.Image:
    """RGBA art → RGB PIL image over white, upscaled with nearest neighbour to the render size."""
    rgba = np.asarray(img, dtype=np.uint8)
    if rgba.ndim == 3 and rgba.shape[2] == 4:
        a = rgba[..., 3:4].astype(np.float32) / 255.0
        rgb = (rgba[..., :3] * a + 255.0 * (1 - a)).round().astype(np.uint8)
    else:
        rgb = rgba[..., :3]
    pil = Image.fromarray(rgb, "RGB")
    if width and height and pil.size != (width, height):
        pil = pil.resize((width, height), Image.Resampling.NEAREST)
    return pil
