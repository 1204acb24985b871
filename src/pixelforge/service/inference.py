"""What an inference request means: validate, price, charge, create the job, wait or hand back a task.

Nothing here knows about HTTP. The API turns wire JSON into an :class:`InferenceInput`, calls
:meth:`InferenceService.quote` (``check_cost``) or :meth:`InferenceService.submit`, and renders the
:class:`Outcome` / :class:`TaskView` it gets back in whichever response shape the client asked for.

Order of operations for a paid request, so that no bad input is ever charged:
validate every field against the catalog → decode and size-check every image → check the engine's
capabilities → price → debit + create the job (one transaction) → hand the job to the runner.
A job that fails later is refunded by the runner.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, fields
from typing import Any

from pixelforge.catalog import UnknownStyle
from pixelforge.config import Settings
from pixelforge.jobs.images import ImageError, decode_base64_image
from pixelforge.jobs.postprocess import palette_colors
from pixelforge.service import store_adapter as store
from pixelforge.service.errors import (
    EngineUnavailable,
    InvalidImage,
    InvalidRequest,
    NotSupported,
    StyleNotFound,
    TaskNotFound,
)

MAX_PROMPT_CHARS = 4000
MAX_REFERENCE_IMAGES = 9
MAX_OUTPUT_SIDE = 4096
FRAMES_DURATIONS = (4, 6, 8, 10, 12, 16)

# Deprecated `model` values (seed docs) → the style a request without prompt_style gets.
MODEL_DEFAULT_STYLES = {
    "rd_fast": "rd_fast__default",
    "rd_flux": "rd_fast__default",  # "We just renamed RD_FLUX to RD_FAST"
    "rd_plus": "rd_plus__default",
    "rd_pro": "rd_pro__default",
}
DEFAULT_STYLE = "rd_fast__default"
# Wang tilesets need the assets layer (a later issue); single tiles, tile objects etc. are images.
UNBUILT_TILESETS = ("rd_tile__tileset", "rd_tile__tileset_advanced")


@dataclass
class InferenceInput:
    """Every documented request field except the control flags check_cost and async. None = not sent."""

    prompt: str = ""
    prompt_style: str | None = None
    model: str | None = None
    width: int | None = None
    height: int | None = None
    num_images: int | None = None
    seed: int | None = None
    input_image: str | None = None
    strength: float | None = None
    reference_images: list[str] | None = None
    input_palette: str | None = None
    return_pre_palette: bool | None = None
    remove_bg: bool | None = None
    return_non_bg_removed: bool | None = None
    tile_x: bool | None = None
    tile_y: bool | None = None
    frames_duration: int | None = None
    return_spritesheet: bool | None = None
    upscale_output_factor: int | None = None
    bypass_prompt_expansion: bool | None = None
    include_downloadable_data: bool | None = None
    extra_prompt: str | None = None
    extra_input_image: str | None = None
    negative: str | None = None
    upload_outputs: bool | None = None

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> InferenceInput:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class PreparedJob:
    """A validated, priced request; ``spec`` is the JSON the job row stores and the worker runs."""

    style_id: str
    model: str
    kind: str  # "txt2img" | "img2img"
    width: int
    height: int
    num_images: int
    price_micros: int
    spec: dict[str, Any]


@dataclass
class Outcome:
    """A finished generation, independent of the wire shape it will be rendered in."""

    task_id: str
    price_micros: int
    balance_micros: int
    model: str
    kind: str
    created_at: float
    file_ids: list[str]
    upload_outputs: bool
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskView:
    task_id: str
    status: str  # pending | running | succeeded | failed
    created_at: float | None
    style_id: str | None
    meta: dict[str, Any]
    outcome: Outcome | None = None
    error: dict[str, Any] | None = None
    progress: float | None = None


@dataclass
class Submission:
    task_id: str
    price_micros: int
    done: Future


class InferenceService:
    """Validates, prices and charges requests and turns them into jobs for the runner."""

    def __init__(
        self,
        settings: Settings,
        db: Any,
        catalog: Any,
        runner: Any,
        engine_capabilities: Callable[[], Any] | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.catalog = catalog
        self.runner = runner
        self._engine_capabilities = engine_capabilities or runner.engine_capabilities

    # ------------------------------------------------------------------ validation and price
    def prepare(self, inp: InferenceInput, *, check_engine: bool = True) -> PreparedJob:
        """Validate every field and price the request. Raises a ServiceError; touches no money."""
        style_key = self._style_key(inp)
        try:
            style = self.catalog.resolve(style_key)
        except UnknownStyle as exc:
            if style_key.startswith("user__"):
                raise StyleNotFound(
                    f"prompt_style {style_key!r} was not found: "
                    "user styles are not supported by this server yet"
                ) from None
            raise StyleNotFound(str(exc)) from None
        target_id = getattr(style, "target_id", None) or style.id
        self._refuse_unbuilt_style(style, target_id)

        prompt = (inp.prompt or "").strip()
        if len(prompt) > MAX_PROMPT_CHARS:
            raise InvalidRequest(f"prompt is {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}")

        width, height = self._size(inp, style)
        num_images = 1 if inp.num_images is None else int(inp.num_images)
        if num_images < 1:
            raise InvalidRequest(f"num_images must be at least 1, got {num_images}")
        refs = list(inp.reference_images or [])
        has_input = bool(inp.input_image)
        if not prompt and not has_input:
            raise InvalidRequest("prompt must not be empty")
        problems = list(
            style.problems(
                width,
                height,
                num_images,
                has_input,
                len(refs),
                has_extra_prompt=bool(inp.extra_prompt),
                has_extra_input_image=bool(inp.extra_input_image),
            )
        )
        if problems:
            raise InvalidRequest(" ".join(problems))

        self._check_fields(inp, style, target_id, width, height, refs)
        images = self._decode_images(inp, refs)
        if check_engine:
            self._check_engine(inp, refs, width, height)

        price = int(self.catalog.price_micros(style, width, height, num_images))
        seed = int(inp.seed) % 2**32 if inp.seed is not None else secrets.randbelow(2**32)
        kind = "img2img" if has_input else "txt2img"
        spec = {
            "version": 1,
            "prompt": prompt,
            "requested_style": style_key,
            "style_id": target_id,
            "family": str(getattr(style, "family", "")),
            "model": style.model,
            "type": kind,
            "width": width,
            "height": height,
            "num_images": num_images,
            "seed": seed,
            "strength": 0.75 if inp.strength is None else float(inp.strength),
            "input_image": inp.input_image,
            "reference_images": refs,
            "input_palette": inp.input_palette,
            "return_pre_palette": bool(inp.return_pre_palette),
            "remove_bg": bool(inp.remove_bg),
            "return_non_bg_removed": bool(inp.return_non_bg_removed),
            "tile_x": bool(inp.tile_x),
            "tile_y": bool(inp.tile_y),
            "upscale_output_factor": int(inp.upscale_output_factor or 1),
            "expand_prompt": not inp.bypass_prompt_expansion,
            "negative": inp.negative,
            "upload_outputs": bool(inp.upload_outputs),
        }
        del images  # decoded only to validate; the worker decodes again from the spec
        return PreparedJob(
            style_id=target_id,
            model=style.model,
            kind=kind,
            width=width,
            height=height,
            num_images=num_images,
            price_micros=price,
            spec=spec,
        )

    def _style_key(self, inp: InferenceInput) -> str:
        if inp.prompt_style:
            return inp.prompt_style.strip()
        if inp.model:
            key = inp.model.strip().lower()
            if key in MODEL_DEFAULT_STYLES:
                return MODEL_DEFAULT_STYLES[key]
            if key == "rd_classic":
                raise InvalidRequest("model RD_CLASSIC is no longer supported; pass a prompt_style")
            raise InvalidRequest(
                f"unknown model {inp.model!r} (the model field is deprecated: pass a prompt_style)"
            )
        return DEFAULT_STYLE

    def _refuse_unbuilt_style(self, style: Any, target_id: str) -> None:
        if style.tab in ("animation", "advanced-animation"):
            raise NotSupported(f"animation styles ({target_id}) are not supported by this server yet")
        if target_id in UNBUILT_TILESETS:
            raise NotSupported(f"full tilesets ({target_id}) are not supported by this server yet")

    def _size(self, inp: InferenceInput, style: Any) -> tuple[int, int]:
        fixed = style.fixed_size
        if inp.width is None or inp.height is None:
            if fixed:
                fw, fh = fixed
            else:
                fw = min(max(256, style.min_width), style.max_width)
                fh = min(max(256, style.min_height), style.max_height)
            return (int(inp.width) if inp.width is not None else int(fw)), (
                int(inp.height) if inp.height is not None else int(fh)
            )
        return int(inp.width), int(inp.height)

    def _check_fields(
        self, inp: InferenceInput, style: Any, target_id: str, width: int, height: int, refs: list[str]
    ) -> None:
        if inp.frames_duration is not None:
            if inp.frames_duration not in FRAMES_DURATIONS:
                raise InvalidRequest(f"frames_duration must be one of {FRAMES_DURATIONS}")
            raise InvalidRequest("frames_duration only applies to animation styles")
        if inp.return_spritesheet:
            raise InvalidRequest("return_spritesheet only applies to animation styles")
        if inp.extra_prompt or inp.extra_input_image:
            raise InvalidRequest("extra_prompt and extra_input_image only apply to rd_tile__tileset_advanced")
        if inp.include_downloadable_data:
            raise NotSupported(
                "include_downloadable_data is not supported by this server yet: "
                f"{target_id} produces no downloadable data here"
            )
        if inp.strength is not None and not 0.0 <= float(inp.strength) <= 1.0:
            raise InvalidRequest(f"strength must be between 0 and 1, got {inp.strength}")
        if inp.return_pre_palette and not inp.input_palette:
            raise InvalidRequest("return_pre_palette needs an input_palette")
        if inp.return_non_bg_removed and not inp.remove_bg:
            raise InvalidRequest("return_non_bg_removed needs remove_bg: true")
        if inp.remove_bg and not self.runner.supports_background_removal():
            raise NotSupported("remove_bg is not supported by this server yet")
        if len(refs) > MAX_REFERENCE_IMAGES:
            raise InvalidRequest(f"at most {MAX_REFERENCE_IMAGES} reference_images, got {len(refs)}")
        factor = inp.upscale_output_factor
        if factor is not None:
            if factor < 1:
                raise InvalidRequest(f"upscale_output_factor must be 1 or more, got {factor}")
            if max(width, height) * factor > MAX_OUTPUT_SIDE:
                raise InvalidRequest(
                    f"upscale_output_factor {factor} makes a {width * factor}x{height * factor} image; "
                    f"the largest output side is {MAX_OUTPUT_SIDE}"
                )

    def _decode_images(self, inp: InferenceInput, refs: list[str]) -> dict[str, Any]:
        limits = {"max_chars": self.settings.max_base64_chars, "max_pixels": self.settings.max_input_pixels}
        out: dict[str, Any] = {}
        try:
            if inp.input_image:
                out["input_image"] = decode_base64_image(inp.input_image, "input_image", **limits)
            if inp.input_palette:
                out["input_palette"] = decode_base64_image(inp.input_palette, "input_palette", **limits)
                try:
                    palette_colors(out["input_palette"])
                except ValueError as exc:
                    raise ImageError(f"input_palette: {exc}") from None
            for i, ref in enumerate(refs):
                decode_base64_image(ref, f"reference_images[{i}]", **limits)
        except ImageError as exc:
            raise InvalidImage(str(exc)) from None
        return out

    def _check_engine(self, inp: InferenceInput, refs: list[str], width: int, height: int) -> None:
        caps = self._capabilities()
        holder = getattr(self.runner, "engines", None)
        name = getattr(holder, "name", None) or self.settings.engine
        if inp.input_image and not caps.img2img:
            raise NotSupported(f"input_image (img2img) is not supported by this server's {name!r} engine yet")
        if refs and len(refs) > caps.max_reference_images:
            if caps.max_reference_images == 0:
                raise NotSupported(f"reference_images are not supported by this server's {name!r} engine yet")
            raise NotSupported(
                f"this server's {name!r} engine takes at most {caps.max_reference_images} reference_images"
            )
        if not (caps.min_size <= width <= caps.max_size and caps.min_size <= height <= caps.max_size):
            raise NotSupported(
                f"{width}x{height} is outside what this server's engine renders "
                f"({caps.min_size}..{caps.max_size} px)"
            )

    def _capabilities(self) -> Any:
        try:
            return self._engine_capabilities()
        except Exception as exc:
            raise EngineUnavailable(f"the image engine is unavailable: {exc}") from None

    # ------------------------------------------------------------------ money and jobs
    def quote(self, inp: InferenceInput) -> PreparedJob:
        """check_cost: the exact price. Nothing generated, nothing charged, the ledger untouched."""
        return self.prepare(inp, check_engine=False)

    def balance(self, account_id: str) -> int:
        return store.balance(self.db, account_id)

    def submit(self, auth: Any, inp: InferenceInput, meta: dict[str, Any] | None = None) -> Submission:
        """Validate, price, debit and queue. Raises InsufficientBalance (nothing charged) when short."""
        prepared = self.prepare(inp)
        spec = dict(prepared.spec)
        spec["meta"] = dict(meta or {})
        job_id = new_task_id()
        done = self.runner.expect(job_id)  # before the row exists: a fast worker cannot finish unseen
        try:
            store.create_paid_job(
                self.db,
                job_id=job_id,
                account_id=auth.account_id,
                key_id=auth.key_id,
                kind="inference",
                request=spec,
                price_micros=prepared.price_micros,
            )
        except BaseException:
            self.runner.forget(job_id)
            raise
        self.runner.notify()
        return Submission(task_id=job_id, price_micros=prepared.price_micros, done=done)

    def wait(self, sub: Submission, timeout: float | None = None) -> None:
        """Block until the job is finished (by this process, or by another one on the same database)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.settings.job_timeout_s + 600)
        while time.monotonic() < deadline:
            try:
                sub.done.result(timeout=2.0)
                return
            except FutureTimeout:
                job = store.get_job(self.db, sub.task_id)
                if job is not None and job.status in ("succeeded", "failed", "cancelled"):
                    return

    def generate(self, auth: Any, inp: InferenceInput, meta: dict[str, Any] | None = None) -> TaskView:
        """Submit and wait for the job (synchronous callers: the in-process CLI, tests)."""
        sub = self.submit(auth, inp, meta)
        self.wait(sub)
        return self.task(auth, sub.task_id)

    def task(self, auth: Any, task_id: str) -> TaskView:
        """The task, seen only by the key that submitted it (issue 2: others' tasks are 404)."""
        job = store.get_job(self.db, task_id, auth.account_id, auth.key_id)
        if job is None:
            raise TaskNotFound(f"task {task_id!r} was not found")
        return self._view(job, auth.account_id)

    def tasks(self, auth: Any, limit: int = 20) -> list[TaskView]:
        """The recent tasks of this key, newest first."""
        return [
            self._view(job, auth.account_id, with_balance=False)
            for job in store.list_jobs(self.db, auth.account_id, limit, auth.key_id)
        ]

    def _view(self, job: Any, account_id: str, with_balance: bool = True) -> TaskView:
        spec = job.request or {}
        status = job.status
        created = _ts(job.created_at)
        view = TaskView(
            task_id=job.id,
            status="failed" if status == "cancelled" else status,
            created_at=created,
            style_id=spec.get("requested_style"),
            meta=spec.get("meta", {}),
        )
        if status == "succeeded":
            result = job.result or {}
            view.outcome = Outcome(
                task_id=job.id,
                price_micros=int(job.price_micros),
                balance_micros=store.balance(self.db, account_id) if with_balance else 0,
                model=spec.get("model", ""),
                kind=spec.get("type", "txt2img"),
                created_at=float(result.get("finished_at") or created or time.time()),
                file_ids=list(result.get("file_ids", [])),
                upload_outputs=bool(spec.get("upload_outputs")),
                meta=view.meta,
            )
        elif status in ("failed", "cancelled"):
            view.error = dict(job.error or {"status_code": 500, "detail": "Unable to run inference."})
        elif status == "running":
            view.progress = self.runner.progress(job.id)
        return view

    def read_file(self, file_id: str) -> tuple[bytes, str] | None:
        return store.read_file(self.db, self.settings.data_dir, file_id)


def new_task_id() -> str:
    return str(uuid.uuid4())


def _ts(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if getattr(value, "tzinfo", None) is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value.timestamp()
