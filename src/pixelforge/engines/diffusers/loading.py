"""Device/dtype choice and pipeline loading for one registry family.

Checkpoints come from a local folder (diffusers layout), a local single file (``.safetensors`` /
``.ckpt``, via ``from_single_file``) or a Hugging Face repo id. Repo ids are read from the user's
local cache only unless ``Settings.models_allow_download`` is on (``pixelforge models pull NAME``
fills the cache).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from pixelforge.engines.base import EngineUnavailable
from pixelforge.engines.diffusers.registry import FamilySpec, IPAdapterSpec, LoraSpec

log = logging.getLogger(__name__)

SCHEDULERS: dict[str, tuple[str, dict[str, object]]] = {
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "dpmpp_2m": ("DPMSolverMultistepScheduler", {}),
    "dpmpp_2m_karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "ddim": ("DDIMScheduler", {}),
    "lcm": ("LCMScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "flow_match_euler": ("FlowMatchEulerDiscreteScheduler", {}),
}

_DTYPES = {
    "float16": torch.float16,
    "fp16": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float32": torch.float32,
    "fp32": torch.float32,
}


def pick_device(name: str = "auto") -> torch.device:
    name = name.lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise EngineUnavailable(
            f"diffusers_device={name!r} but torch sees no CUDA device (torch {torch.__version__})"
        )
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise EngineUnavailable("diffusers_device='mps' but MPS is not available")
    if not (name == "cpu" or name == "mps" or name.startswith("cuda")):
        raise EngineUnavailable(f"unknown diffusers_device {name!r}; use auto, cuda, cuda:N, mps or cpu")
    return torch.device(name)


def pick_dtype(name: str, device: torch.device, family: FamilySpec | None = None) -> torch.dtype:
    name = name.lower()
    if name == "auto":
        if device.type == "cpu":
            return torch.float32
        if (
            family is not None
            and family.is_flux_like
            and device.type == "cuda"
            and torch.cuda.is_bf16_supported()
        ):
            return torch.bfloat16
        return torch.float16
    try:
        return _DTYPES[name]
    except KeyError:
        raise EngineUnavailable(
            f"unknown diffusers_dtype {name!r}; use auto, float16, bfloat16 or float32"
        ) from None


def _is_local(source: str) -> bool:
    return Path(source).expanduser().exists() or source.startswith(("/", "./", "../", "~"))


def load_pipeline(
    family_name: str,
    spec: FamilySpec,
    dtype: torch.dtype,
    allow_download: bool,
):
    """Build the text-to-image pipeline of ``spec`` (weights on CPU; the caller places it)."""
    import diffusers

    cls = getattr(diffusers, spec.pipeline_class, None)
    if cls is None:
        raise EngineUnavailable(
            f"family {family_name!r}: pipeline {spec.pipeline!r} is not a diffusers pipeline class "
            f"(diffusers {diffusers.__version__})"
        )
    source = spec.checkpoint
    local = _is_local(source)
    kwargs: dict[str, object] = {"dtype": dtype}  # diffusers 0.42 renamed torch_dtype
    if spec.revision:
        kwargs["revision"] = spec.revision
    if spec.variant:
        kwargs["variant"] = spec.variant
    if not allow_download:
        kwargs["local_files_only"] = True
    path = Path(source).expanduser()
    try:
        if local and path.is_file():
            if spec.config:
                kwargs["config"] = spec.config
            kwargs.pop("variant", None)
            pipe = cls.from_single_file(str(path), **kwargs)
        elif local:
            if not path.is_dir():
                raise FileNotFoundError(f"{path} does not exist")
            if not _has_variant(path, spec.variant):
                kwargs.pop("variant", None)
            pipe = cls.from_pretrained(str(path), **kwargs)
        else:
            pipe = cls.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        hint = (
            ""
            if local or allow_download
            else f" (run `pixelforge models pull {family_name}` where there is internet)"
        )
        raise EngineUnavailable(
            f"family {family_name!r}: cannot load checkpoint {source!r}: {exc}{hint}"
        ) from exc
    set_scheduler(pipe, spec.scheduler)
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    return pipe


def _has_variant(folder: Path, variant: str | None) -> bool:
    return bool(variant) and any(folder.rglob(f"*.{variant}.*"))


def set_scheduler(pipe, name: str) -> None:
    if name in ("", "default"):
        return
    import diffusers

    cls_name, extra = SCHEDULERS.get(name, (name, {}))
    cls = getattr(diffusers, cls_name, None)
    if cls is None:
        known = ", ".join(["default", *SCHEDULERS])
        raise EngineUnavailable(
            f"unknown scheduler {name!r}; use {known} or a diffusers scheduler class name"
        )
    pipe.scheduler = cls.from_config(pipe.scheduler.config, **extra)


def _split_source(source: str, weight_name: str | None) -> tuple[str, str | None]:
    path = Path(source).expanduser()
    if path.is_file():
        return str(path.parent), path.name
    return (str(path) if _is_local(source) else source), weight_name


def load_lora(pipe, lora: LoraSpec, allow_download: bool) -> str:
    """Load ``lora`` into ``pipe`` under its adapter name (once); returns the adapter name."""
    name = lora.adapter_name
    if name in _loaded_adapters(pipe):
        return name
    source, weight_name = _split_source(lora.source, lora.weight_name)
    kwargs: dict[str, object] = {"adapter_name": name}
    if weight_name:
        kwargs["weight_name"] = weight_name
    if not allow_download:
        kwargs["local_files_only"] = True
    try:
        pipe.load_lora_weights(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise EngineUnavailable(f"cannot load LoRA {lora.source!r}: {exc}") from exc
    return name


def _loaded_adapters(pipe) -> set[str]:
    getter = getattr(pipe, "get_list_adapters", None)
    if getter is None:
        return set()
    return {a for names in getter().values() for a in names}


def activate_loras(pipe, loras: list[LoraSpec]) -> None:
    """Enable exactly ``loras`` with their weights (and disable every other loaded adapter)."""
    loaded = _loaded_adapters(pipe)
    if not loaded:
        return
    if not loras:
        pipe.disable_lora()
        return
    pipe.enable_lora()
    pipe.set_adapters([lo.adapter_name for lo in loras], adapter_weights=[lo.weight for lo in loras])


def load_ip_adapter(pipe, spec: IPAdapterSpec, allow_download: bool) -> None:
    kwargs: dict[str, object] = {"subfolder": spec.subfolder, "weight_name": spec.weight_name}
    if spec.image_encoder_folder is not None:
        kwargs["image_encoder_folder"] = spec.image_encoder_folder
    if not allow_download:
        kwargs["local_files_only"] = True
    source = str(Path(spec.source).expanduser()) if _is_local(spec.source) else spec.source
    try:
        pipe.load_ip_adapter(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise EngineUnavailable(f"cannot load IP-Adapter {spec.source!r}: {exc}") from exc
    pipe.set_ip_adapter_scale(spec.scale)


def place(pipe, device: torch.device, offload: str):
    """Move ``pipe`` to ``device`` or set up CPU offload (CUDA only)."""
    offload = offload.lower()
    if offload not in ("none", "model", "sequential"):
        raise EngineUnavailable(f"unknown diffusers_offload {offload!r}; use none, model or sequential")
    if offload != "none" and device.type == "cuda":
        gpu_id = device.index or 0
        if offload == "model":
            pipe.enable_model_cpu_offload(gpu_id=gpu_id)
        else:
            pipe.enable_sequential_cpu_offload(gpu_id=gpu_id)
        return pipe
    return pipe.to(device)
