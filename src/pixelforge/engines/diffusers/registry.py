"""The model registry: operator-editable TOML that maps model families and styles to weights.

A *family* (``fast``, ``plus``, ``pro`` or any name the operator adds) says which diffusers pipeline
to build, from which checkpoint (a local folder or file, or a Hugging Face id already in the local
cache), with which LoRAs, scheduler, steps, guidance and render scale. A *style* entry (exact style
id or a glob such as ``rd_plus__*``) adds a prompt template, a negative prompt and optional LoRAs on
top of its family. Size rules, prices and limits stay in the catalog (``pixelforge.catalog``).

The shipped ``default_models.toml`` is loaded first; the file named by ``Settings.models_config``
is merged over it table by table (a family or style of the same name replaces the shipped one), or
replaces it entirely with ``replace_defaults = true``. This module never imports torch.
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_REGISTRY_PATH = Path(__file__).with_name("default_models.toml")

PIPELINE_ALIASES: dict[str, str] = {
    "sd15": "StableDiffusionPipeline",
    "sd2": "StableDiffusionPipeline",
    "sdxl": "StableDiffusionXLPipeline",
    "flux": "FluxPipeline",
    "flux_kontext": "FluxKontextPipeline",
    "sd3": "StableDiffusion3Pipeline",
}
"""Short names for ``pipeline``; any other value is taken as a diffusers pipeline class name."""


class RegistryError(ValueError):
    """The registry file is missing, not TOML, or does not validate; the message names the culprit."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoraSpec(_Strict):
    """One LoRA: ``source`` is a local file/folder or a HF repo id; ``weight`` scales it."""

    source: str
    weight_name: str | None = Field(default=None, description="File inside a folder/repo source.")
    weight: float = 1.0
    adapter: str | None = Field(default=None, description="Adapter name; derived from the source if unset.")

    @property
    def adapter_name(self) -> str:
        if self.adapter:
            return self.adapter
        raw = f"{self.source}_{self.weight_name or ''}"
        return "".join(c if c.isalnum() else "_" for c in raw).strip("_")[-60:] or "lora"


class IPAdapterSpec(_Strict):
    """IP-Adapter weights that turn ``reference_images`` into image conditioning."""

    source: str
    subfolder: str = ""
    weight_name: str
    image_encoder_folder: str | None = Field(
        default="image_encoder", description="Relative to the adapter folder, or an absolute path / repo id."
    )
    scale: float = 0.6


class FamilySpec(_Strict):
    """How one model family is loaded and sampled."""

    pipeline: str = Field(
        description="sd15, sdxl, flux, flux_kontext, sd3, or a diffusers pipeline class name."
    )
    checkpoint: str = Field(description="Local folder/file (diffusers layout or single file) or HF repo id.")
    config: str | None = Field(
        default=None, description="Diffusers config folder/id for single-file checkpoints."
    )
    revision: str | None = None
    variant: str | None = Field(default=None, description="Weights variant, e.g. 'fp16'.")
    loras: tuple[LoraSpec, ...] = ()
    ip_adapter: IPAdapterSpec | None = None
    reference_mode: Literal["none", "ip_adapter", "edit"] | None = Field(
        default=None,
        description="How reference_images are used: ip_adapter, edit (passed as the pipeline's `image`), "
        "none. Default: ip_adapter when one is configured, else none.",
    )
    max_references: int | None = Field(
        default=None,
        ge=0,
        le=9,
        description="Most reference_images one request may bring; default 9 with an IP-Adapter, "
        "1 for an edit model (set more for pipelines that take a list, e.g. QwenImageEditPlusPipeline).",
    )
    batching: Literal["exact", "batched"] = Field(
        default="exact",
        description="exact: one pipeline call per image, so image i is bit-identical to image 0 of "
        "seed+i; batched: one call per batch (and per group of same-shape requests in generate_many), "
        "faster on GPUs, equal up to the rounding of batched kernels.",
    )
    dtype: str | None = Field(
        default=None,
        description="Weights dtype for this family (float16, bfloat16, float32); default "
        "PIXELFORGE_DIFFUSERS_DTYPE. Large transformer models (Qwen-Image) want bfloat16.",
    )
    scheduler: str = Field(
        default="default",
        description="default, euler, euler_a, dpmpp_2m, "
        "dpmpp_2m_karras, ddim, lcm, unipc, or a diffusers scheduler class name.",
    )
    steps: int = Field(default=25, ge=1)
    guidance: float = Field(default=7.0, ge=0)
    render_scale: int = Field(
        default=8, ge=1, description="Render at native size × this, then recover the grid."
    )
    min_render_size: int = Field(
        default=512, ge=8, description="Raise the scale until the long side reaches this."
    )
    max_render_size: int = Field(
        default=1024, ge=8, description="Lower the scale to keep the long side ≤ this."
    )
    size_multiple: int | None = Field(default=None, ge=1, description="Render sides are rounded up to this.")
    grid: Literal["detect", "fixed"] = Field(
        default="detect",
        description="detect: sample the grid the model drew (pixel.detect_grid) when it has the native "
        "cell count; fixed: one pixel per k×k block.",
    )
    downscale: Literal["mean", "mode"] = Field(default="mean", description="Block reduction for grid=fixed.")
    palette_colors: int = Field(
        default=0, ge=0, description="Reduce each output to at most N colours (0: off)."
    )
    negative_prompt: str = ""
    prompt_template: str = "{prompt}"
    max_sequence_length: int | None = Field(
        default=None, ge=1, description="Text length for T5-based pipelines."
    )
    extra_call_kwargs: dict[str, object] = Field(
        default_factory=dict, description="Passed to the pipeline call."
    )

    @field_validator("prompt_template")
    @classmethod
    def _template_has_prompt(cls, v: str) -> str:
        if "{prompt}" not in v:
            raise ValueError(f"prompt_template must contain '{{prompt}}', got {v!r}")
        return v

    @model_validator(mode="after")
    def _reference_mode_has_weights(self) -> FamilySpec:
        if self.reference_mode == "ip_adapter" and self.ip_adapter is None:
            raise ValueError("reference_mode = 'ip_adapter' needs an ip_adapter table")
        return self

    @property
    def pipeline_class(self) -> str:
        return PIPELINE_ALIASES.get(self.pipeline, self.pipeline)

    @property
    def effective_reference_mode(self) -> str:
        if self.reference_mode is not None:
            return self.reference_mode
        return "ip_adapter" if self.ip_adapter is not None else "none"

    @property
    def reference_limit(self) -> int:
        if self.max_references is not None:
            return self.max_references
        return {"ip_adapter": 9, "edit": 1}.get(self.effective_reference_mode, 0)

    @property
    def is_flux_like(self) -> bool:
        return self.pipeline_class.startswith(("Flux", "StableDiffusion3"))


class StyleSpec(_Strict):
    """Prompt and LoRA additions for one style id (or glob). Size rules live in the catalog."""

    family: str | None = Field(default=None, description="Override the family the catalog gives the style.")
    prompt_template: str | None = None
    negative_prompt: str | None = None
    loras: tuple[LoraSpec, ...] = ()
    llm_hint: str | None = Field(default=None, description="Extra instruction for LLM prompt expansion.")

    @field_validator("prompt_template")
    @classmethod
    def _template_has_prompt(cls, v: str | None) -> str | None:
        if v is not None and "{prompt}" not in v:
            raise ValueError(f"prompt_template must contain '{{prompt}}', got {v!r}")
        return v


class Registry(_Strict):
    """Families and styles; build it with :func:`load_registry`."""

    max_loaded_families: int = Field(default=2, ge=1, description="Pipelines kept warm at once (LRU).")
    preload: tuple[str, ...] = Field(
        default=(),
        description="Families loaded when the engine is created (the server does it in the background at "
        "start-up) rather than by the first request that needs them.",
    )
    families: dict[str, FamilySpec] = Field(default_factory=dict)
    styles: dict[str, StyleSpec] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _preload_known(self) -> Registry:
        unknown = [n for n in self.preload if n not in self.families]
        if unknown:
            raise ValueError(f"preload names families that are not in the registry: {unknown}")
        return self

    def family(self, name: str) -> FamilySpec:
        try:
            return self.families[name]
        except KeyError:
            known = ", ".join(sorted(self.families)) or "none"
            raise KeyError(f"model family {name!r} is not in the registry (known: {known})") from None

    def style(self, style_id: str) -> StyleSpec | None:
        """The entry for ``style_id``: exact match first, else the longest matching glob."""
        if style_id in self.styles:
            return self.styles[style_id]
        matches = [
            pat for pat in self.styles if any(c in pat for c in "*?[") and fnmatch.fnmatchcase(style_id, pat)
        ]
        if not matches:
            return None
        return self.styles[max(matches, key=len)]


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise RegistryError(f"model registry {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"model registry {path} is not valid TOML: {exc}") from exc


def _resolve_relative(data: dict, base: Path) -> dict:
    """Paths starting with ./ or ../ in a registry file are relative to that file."""

    def fix(value: object) -> object:
        if isinstance(value, str) and value.startswith(("./", "../")):
            return str((base / value).resolve())
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    return fix(data)  # type: ignore[return-value]


def load_registry(path: Path | str | None = None) -> Registry:
    """The shipped defaults merged with the operator's file at ``path`` (if any)."""
    merged = _resolve_relative(_read_toml(DEFAULT_REGISTRY_PATH), DEFAULT_REGISTRY_PATH.parent)
    if path is not None:
        path = Path(path).expanduser()
        user = _resolve_relative(_read_toml(path), path.parent)
        if user.pop("replace_defaults", False):
            merged = {"families": {}, "styles": {}}
        for table in ("families", "styles"):
            merged.setdefault(table, {}).update(user.pop(table, {}))
        merged.update(user)
    merged.pop("replace_defaults", None)
    try:
        return Registry.model_validate(merged)
    except ValidationError as exc:
        where = path or DEFAULT_REGISTRY_PATH
        raise RegistryError(f"model registry {where} is invalid:\n{exc}") from exc
