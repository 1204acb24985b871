"""RD wire shapes: the request body of /v1/inferences and every response, for OpenAPI and clients.

Request fields follow the RD docs (seed docs 000_-002_ and retrodiffusion-current). Every optional
field also accepts ``null`` (= not sent). Unknown fields are ignored, like RD does.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ImageB64 = str


class InferenceRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    prompt: str = Field(
        description="Describe the subject; the style does the pixel-art look.", max_length=20_000
    )
    prompt_style: str | None = Field(
        None, max_length=200, description="Style id; default rd_fast__default. Determines the model."
    )
    model: str | None = Field(
        None,
        max_length=100,
        description="Deprecated: RD_FAST / RD_PLUS / RD_PRO when prompt_style is absent.",
    )
    width: int | None = Field(None, description="Art width in pixels (default 256, or the style's size).")
    height: int | None = Field(None, description="Art height in pixels (default 256, or the style's size).")
    num_images: int | None = Field(None, description="Batch size (default 1; the style's batch cap applies).")
    seed: int | None = Field(None, ge=-(2**63), le=2**64 - 1, description="Omit for random.")
    input_image: ImageB64 | None = Field(None, description="img2img source, raw base64 (no data: prefix).")
    strength: float | None = Field(None, description="0-1, default 0.75: how much input_image changes.")
    reference_images: list[ImageB64] | None = Field(None, max_length=64, description="Up to 9 (RD Pro).")
    input_palette: ImageB64 | None = Field(None, description="Palette image; outputs use only its colours.")
    return_pre_palette: bool | None = None
    remove_bg: bool | None = None
    return_non_bg_removed: bool | None = None
    tile_x: bool | None = None
    tile_y: bool | None = None
    frames_duration: int | None = Field(None, description="Animation styles: 4, 6, 8, 10, 12 or 16.")
    return_spritesheet: bool | None = None
    upscale_output_factor: int | None = Field(None, description="1 (default) = native pixel size.")
    bypass_prompt_expansion: bool | None = None
    include_downloadable_data: bool | None = None
    extra_prompt: str | None = Field(None, max_length=20_000)
    extra_input_image: ImageB64 | None = None
    check_cost: bool | None = Field(
        None, description="Free dry run: the price, nothing generated or charged."
    )
    async_: bool | None = Field(None, alias="async", description="Queue and poll /v1/inferences/tasks/{id}.")
    upload_outputs: bool | None = Field(None, description="Answer with signed output_urls instead of base64.")
    negative: str | None = Field(
        None, max_length=20_000, description="Placeholder; models ignore it (RD docs)."
    )


class InferenceResponse(BaseModel):
    """Response of POST /v1/inferences (and a succeeded task's ``result``); null fields omitted."""

    created_at: str
    balance_cost: float
    base64_images: list[str]
    output_images: list[str] | None = None
    output_urls: list[str] | None = None
    model: str
    remaining_balance: float


class LegacyInferenceResponse(BaseModel):
    """Response of POST /v1/inferences/legacy: the older credit-based shape."""

    created_at: int
    credit_cost: int
    base64_images: list[str]
    output_images: list[str] | None = None
    output_urls: list[str] | None = None
    type: str | None = None
    model: str | None = None
    remaining_credits: int


class AcceptedResponse(BaseModel):
    status: Literal["accepted"]
    task_id: str
    message: str


class TaskError(BaseModel):
    status_code: int
    detail: str


class TaskResponse(BaseModel):
    status: Literal["pending", "running", "succeeded", "failed"]
    task_id: str
    created_at: str | None = None
    prompt_style: str | None = None
    progress: float | None = None
    result: InferenceResponse | LegacyInferenceResponse | None = None
    error: TaskError | None = None


class TaskListResponse(BaseModel):
    tasks: list[TaskResponse]


class CreditsResponse(BaseModel):
    credits: int
    balance: float


class SelectorItem(BaseModel):
    prompt_style: str
    name: str
    description: str
    required_model: str
    required_tab: str
    min_width: int
    max_width: int
    min_height: int
    max_height: int
    max_number_of_images: int
    require_input_image: bool
    supports_reference_images: bool
    example_prompt: str


class StatusResponse(BaseModel):
    status: dict[str, str]
    updated_at: str
    engine: str


class ErrorCodeMessage(BaseModel):
    code: str
    message: str


class ErrorEnvelope(BaseModel):
    detail: ErrorCodeMessage


class ErrorMsg(BaseModel):
    model_config = ConfigDict(extra="allow")
    msg: str


class ErrorMsgList(BaseModel):
    detail: list[ErrorMsg]
