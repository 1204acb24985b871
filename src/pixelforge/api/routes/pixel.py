"""Pixel Fixer (``POST /v1/pixel-fixer/standard``) and the algorithmic canvas edit tools
(``GET /v1/edit/tools``, ``POST /v1/edit/tools/{id}/estimate``, ``POST /v1/edit/tools/{id}``).

HTTP only: decoding, limits and the wire shapes; the work is ``pixelforge.pixel``. Every tool here
is algorithmic (no model), runs in the thread pool, and is free on a self-hosted server: estimates
and runs report a zero cost and never touch the ledger. Tools that need a model (image_edit,
inpainting, outpainting, color_style_transfer) are not listed, so they answer 404 like disabled
tools do. ``image_url`` input is not fetched by this server (422): there is no outbound network
access to guard, so private addresses cannot be reached through it.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from pixelforge.api.deps import Auth, Context, blocking_read
from pixelforge.api.errors import ApiError, msg_list
from pixelforge.api.limits import RateLimiter, retry_after_header
from pixelforge.api.schemas import ErrorEnvelope, ErrorMsgList

router = APIRouter(tags=["pixel"])

# Pixel Fixer limits (PIXEL_FIXER.md).
FIXER_MAX_REQUEST_BYTES = 900_000
FIXER_MAX_RESPONSE_BYTES = 850_000
FIXER_MIN_SIDE = 16
MAX_PIXELS = 16_000_000
FIXER_PER_MINUTE = 10
# Edit tools: largest input side accepted (px).
TOOL_MAX_INPUT_SIZE = 2048

_limiter_lock = threading.Lock()


class PixelFixerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input_image: str | None = None
    image_url: str | None = None


class PixelFixerResponse(BaseModel):
    base64_images: list[str]


class ToolEstimateResponse(BaseModel):
    tool_id: str
    balance_cost: float
    credit_cost: int
    estimate_seconds: float


class ToolRunResponse(BaseModel):
    tool_id: str
    inference_id: str
    balance_cost: float
    credit_cost: int
    charged: bool
    remaining_balance: float
    remaining_credits: int | None
    base64_images: list[str]
    output_urls: list[str]


class ToolInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    name: str
    balance_cost: float
    credit_cost: int
    is_free: bool
    requires_minimum_balance: bool
    max_input_size: int
    api_fields: list[dict[str, Any]]


FIXER_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorEnvelope, "description": "The body is not valid JSON"},
    401: {"model": ErrorEnvelope, "description": "Missing or invalid X-RD-Token"},
    413: {
        "model": ErrorEnvelope,
        "description": "pixel_fixer_request_too_large / pixel_fixer_output_too_large",
    },
    422: {
        "model": ErrorEnvelope | ErrorMsgList,
        "description": "invalid_pixel_fixer_image, or unknown fields",
    },
    429: {"model": ErrorEnvelope, "description": "pixel_fixer_rate_limit_exceeded (see Retry-After)"},
    500: {"model": ErrorEnvelope, "description": "pixel_fixer_failed"},
}
TOOL_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorEnvelope, "description": "Semantically invalid request or undecodable image"},
    401: {"model": ErrorEnvelope, "description": "Missing or invalid X-RD-Token"},
    404: {"model": ErrorEnvelope, "description": "Unknown or disabled tool"},
    413: {"model": ErrorEnvelope, "description": "Request body too large"},
    422: {
        "model": ErrorEnvelope | ErrorMsgList,
        "description": "Body is not JSON or does not match the tool's fields",
    },
    429: {"model": ErrorEnvelope, "description": "Rate limited (see Retry-After)"},
    500: {"model": ErrorEnvelope, "description": "The tool failed"},
}
TOOL_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["input_image"],
                    "properties": {"input_image": {"type": "string"}, "custom_id": {"type": "string"}},
                    "additionalProperties": True,
                    "description": "input_image plus the tool's api_fields (see GET /v1/edit/tools)",
                }
            }
        },
    }
}


class BadImage(ValueError):
    pass


def decode_image(
    data: str, *, formats: tuple[str, ...] | None = None, max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """Raw base64 or a ``data:image/...;base64,`` URI -> RGBA array (checks format and pixel count)."""
    from PIL import Image, UnidentifiedImageError

    if data.startswith("data:"):
        head, _, data = data.partition(",")
        if ";base64" not in head:
            raise BadImage("data URI must be base64-encoded")
    try:
        raw = base64.b64decode(data.strip(), validate=True)
    except (binascii.Error, ValueError) as e:
        raise BadImage("image is not valid base64") from e
    try:
        im = Image.open(io.BytesIO(raw))
        if formats is not None and im.format not in formats:
            raise BadImage(f"image must be {' or '.join(formats)}, got {im.format}")
        w, h = im.size
        if w * h > max_pixels:
            raise BadImage(f"image is {w}x{h}; at most {max_pixels // 1_000_000} megapixels allowed")
        im.seek(0)
        return np.asarray(im.convert("RGBA")).copy()
    except BadImage:
        raise
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise BadImage("image could not be decoded") from e


def encode_png(img: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img, "RGBA").save(buf, format="PNG", optimize=False)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _fixer_limiter(request: Request) -> RateLimiter:
    state = request.app.state
    with _limiter_lock:
        if getattr(state, "pixel_fixer_limiter", None) is None:
            state.pixel_fixer_limiter = RateLimiter(FIXER_PER_MINUTE, FIXER_PER_MINUTE)
        return state.pixel_fixer_limiter


def _fixer_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> ApiError:
    return ApiError(status, code, message, headers=headers)


@router.post(
    "/v1/pixel-fixer/standard",
    response_model=PixelFixerResponse,
    responses=FIXER_ERRORS,
    summary="Reconstruct enlarged / soft / compressed pixel art at its native grid (free)",
)
async def pixel_fixer_standard(request: Request, body: PixelFixerRequest, auth: Auth) -> Any:
    size = int(request.headers.get("content-length") or 0)
    if size > FIXER_MAX_REQUEST_BYTES:
        raise _fixer_error(
            413,
            "pixel_fixer_request_too_large",
            f"The request is {size} bytes; at most {FIXER_MAX_REQUEST_BYTES} bytes are accepted.",
        )
    wait = _fixer_limiter(request).check(auth.key_id)
    if wait is not None:
        raise _fixer_error(
            429,
            "pixel_fixer_rate_limit_exceeded",
            f"At most {FIXER_PER_MINUTE} Pixel Fixer requests per minute per API key.",
            headers={"Retry-After": retry_after_header(wait)},
        )
    if (body.input_image is None) == (body.image_url is None):
        raise _fixer_error(
            422, "invalid_pixel_fixer_image", "Provide exactly one of input_image or image_url."
        )
    if body.image_url is not None:
        raise _fixer_error(
            422, "invalid_pixel_fixer_image", "image_url is not supported by this server; send input_image."
        )

    def work() -> str:
        from pixelforge.pixel import recover_native

        img = decode_image(body.input_image or "", formats=("PNG", "JPEG"))
        h, w = img.shape[:2]
        if min(h, w) < FIXER_MIN_SIDE:
            raise BadImage(f"image is {w}x{h}; at least {FIXER_MIN_SIDE}x{FIXER_MIN_SIDE} is required")
        return encode_png(recover_native(img))

    try:
        png = await run_in_threadpool(work)
    except BadImage as e:
        raise _fixer_error(422, "invalid_pixel_fixer_image", str(e)) from e
    except Exception as e:
        raise _fixer_error(500, "pixel_fixer_failed", "Pixel Fixer failed on this image.") from e
    payload = json.dumps({"base64_images": [png]})
    if len(payload) > FIXER_MAX_RESPONSE_BYTES:
        raise _fixer_error(
            413,
            "pixel_fixer_output_too_large",
            f"The reconstructed PNG is too large to return (over {FIXER_MAX_RESPONSE_BYTES} bytes of JSON).",
        )
    return JSONResponse(content=json.loads(payload))


# -- canvas edit tools ----------------------------------------------------------------------------------


@dataclass
class ToolField:
    name: str
    type: str  # "boolean", "integer", "number", "string", "image"
    required: bool = False
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    options: list[str] | None = None
    description: str = ""

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "required": self.required}
        if self.default is not None:
            out["default"] = self.default
        if self.minimum is not None:
            out["min"] = self.minimum
        if self.maximum is not None:
            out["max"] = self.maximum
        if self.options is not None:
            out["options"] = self.options
        if self.description:
            out["description"] = self.description
        return out


DITHER_FIELDS = [
    ToolField(
        "dither_mode", "string", default="none", options=["none", "bayer_2x2", "bayer_4x4", "bayer_8x8"]
    ),
    ToolField("dither_strength", "integer", default=50, minimum=0, maximum=100),
]


@dataclass
class Tool:
    id: str
    name: str
    description: str
    run: Callable[[np.ndarray, dict[str, Any]], np.ndarray]
    fields: list[ToolField] = field(default_factory=list)
    check: Callable[[dict[str, Any]], str | None] | None = None

    def wire(self) -> dict[str, Any]:
        api_fields = [ToolField("input_image", "image", required=True).wire()] + [
            f.wire() for f in self.fields
        ]
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "balance_cost": 0.0,
            "credit_cost": 0,
            "is_free": True,
            "requires_minimum_balance": False,
            "max_input_size": TOOL_MAX_INPUT_SIZE,
            "api_fields": api_fields,
            "fields": api_fields,
        }


def _bg(img: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    from pixelforge.pixel import remove_background

    return remove_background(
        img, transparency_threshold=p["transparency_threshold"], force_solid_pixels=p["force_solid_pixels"]
    )


def _reduce(img: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    from pixelforge.pixel import dither, extract_palette

    pal = extract_palette(img, p["color_count"])
    if len(pal) == 0:
        return img
    return dither(img, pal, p["dither_mode"], p["dither_strength"] if p["dither_mode"] != "none" else 0)


def _palette(img: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    from pixelforge.pixel import dither, extract_palette, palette_from_image

    pal_img = p["input_palette"]
    try:
        pal = palette_from_image(pal_img)
    except ValueError:
        pal = extract_palette(pal_img, 256)
    if len(pal) == 0:
        raise BadImage("input_palette has no opaque pixels")
    return dither(img, pal, p["dither_mode"], p["dither_strength"] if p["dither_mode"] != "none" else 0)


def _kcentroid(img: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    from pixelforge.pixel.pixelate import kcentroid_resize

    return kcentroid_resize(img, min(p["height"], img.shape[0]), min(p["width"], img.shape[1]))


def _seam(img: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    from pixelforge.pixel import make_seamless

    return make_seamless(
        img,
        p["tile_x"],
        p["tile_y"],
        seam_width=p["seam_width"],
        repair_window_size=p["repair_window_size"],
        seed=p["seed"],
    )


def _rotate(img: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    from pixelforge.pixel import rotate

    return rotate(img, p["rotation_degrees"])


def _fix(img: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    from pixelforge.pixel import recover_native

    return recover_native(img)


TOOLS: dict[str, Tool] = {
    t.id: t
    for t in [
        Tool(
            "background_remover",
            "Background Remover",
            "Makes a simple (flat, gradient or noisy) background transparent, hard alpha, no halo.",
            _bg,
            [
                ToolField("force_solid_pixels", "boolean", default=True),
                ToolField("transparency_threshold", "integer", default=128, minimum=0, maximum=255),
            ],
        ),
        Tool(
            "color_reducer",
            "Color Reducer",
            "Reduces the image to N colours (OKLab k-means), optionally with ordered dithering.",
            _reduce,
            [ToolField("color_count", "integer", default=16, minimum=2, maximum=256), *DITHER_FIELDS],
        ),
        Tool(
            "pixel_correction",
            "Pixel Correction",
            "Snaps an enlarged or soft image to its native grid.",
            _fix,
        ),
        Tool(
            "palette_converter",
            "Palette Converter",
            "Maps every pixel onto the colours of a palette image (exact membership).",
            _palette,
            [ToolField("input_palette", "image", required=True), *DITHER_FIELDS],
        ),
        Tool(
            "k_centroid_downscale",
            "K-Centroid Downscale",
            "Downscales to width x height; each pixel is its cell's dominant colour cluster.",
            _kcentroid,
            [
                ToolField("width", "integer", required=True, minimum=1, maximum=TOOL_MAX_INPUT_SIZE),
                ToolField("height", "integer", required=True, minimum=1, maximum=TOOL_MAX_INPUT_SIZE),
            ],
        ),
        Tool(
            "seam_tiling",
            "Seam Tiling",
            "Repairs the wrap-around seams so the image tiles (same size, no new colours).",
            _seam,
            [
                ToolField("tile_x", "boolean", default=False),
                ToolField("tile_y", "boolean", default=False),
                ToolField("seam_width", "integer", minimum=1, maximum=256),
                ToolField("repair_window_size", "integer", minimum=2, maximum=1024),
                ToolField("seed", "integer", default=0, minimum=0),
            ],
            check=lambda p: None if p["tile_x"] or p["tile_y"] else "Seam tiling needs tile_x or tile_y.",
        ),
        Tool(
            "rotate",
            "Rotate",
            "Rotates counter-clockwise; quarter turns are exact, other angles invent no colours.",
            _rotate,
            [ToolField("rotation_degrees", "number", default=90, minimum=-360, maximum=360)],
        ),
    ]
}

ToolId = Annotated[str, Path(max_length=64)]


def _tool(tool_id: str) -> Tool:
    tool = TOOLS.get(tool_id)
    if tool is None:
        raise ApiError(404, "tool_not_found", f"Unknown or disabled edit tool {tool_id!r}.")
    return tool


def _parse(tool: Tool, body: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Typed parameters (defaults filled) and a list of 422-style problems."""
    if not isinstance(body, dict):
        return {}, [{"loc": ["body"], "msg": "expected a JSON object", "type": "type_error"}]
    errors: list[dict[str, Any]] = []
    known = {"input_image", "custom_id"} | {f.name for f in tool.fields}
    for name in body:
        if name not in known:
            errors.append({"loc": ["body", name], "msg": "unknown field", "type": "extra_forbidden"})
    params: dict[str, Any] = {}
    for f in [ToolField("input_image", "image", required=True), *tool.fields]:
        value = body.get(f.name)
        if value is None:
            if f.required:
                errors.append({"loc": ["body", f.name], "msg": "field required", "type": "missing"})
            params[f.name] = f.default
            continue
        ok = {
            "boolean": isinstance(value, bool),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
            "string": isinstance(value, str),
            "image": isinstance(value, str),
        }[f.type]
        if not ok:
            errors.append({"loc": ["body", f.name], "msg": f"expected {f.type}", "type": "type_error"})
            continue
        if (f.minimum is not None and value < f.minimum) or (f.maximum is not None and value > f.maximum):
            errors.append(
                {
                    "loc": ["body", f.name],
                    "msg": f"must be within {f.minimum}..{f.maximum}",
                    "type": "value_error",
                }
            )
        if f.options is not None and value not in f.options:
            errors.append(
                {"loc": ["body", f.name], "msg": f"must be one of {f.options}", "type": "value_error"}
            )
        params[f.name] = value
    if "custom_id" in body and body["custom_id"] is not None and not isinstance(body["custom_id"], str):
        errors.append({"loc": ["body", "custom_id"], "msg": "expected string", "type": "type_error"})
    return params, errors


async def _body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError as e:
        raise ApiError(422, "invalid_json", "The request body is not valid JSON.") from e


def _prepare(tool: Tool, body: Any) -> dict[str, Any] | JSONResponse:
    params, errors = _parse(tool, body)
    if errors:
        return msg_list(422, errors)
    if tool.check is not None and (problem := tool.check(params)):
        raise ApiError(400, "invalid_tool_request", problem)
    return params


def _decode_inputs(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    for name in ("input_image", "input_palette"):
        if isinstance(out.get(name), str):
            try:
                img = decode_image(out[name])
            except BadImage as e:
                raise ApiError(400, "invalid_image", f"{name}: {e}") from e
            if name == "input_image" and max(img.shape[:2]) > TOOL_MAX_INPUT_SIZE:
                raise ApiError(
                    400, "image_too_large", f"input_image sides must be at most {TOOL_MAX_INPUT_SIZE} px"
                )
            out[name] = img
    return out


@router.get(
    "/v1/edit/tools",
    response_model=list[ToolInfo],
    summary="The enabled canvas edit tools, their prices and API fields",
)
def list_tools() -> Any:
    return [t.wire() for t in TOOLS.values()]


@router.post(
    "/v1/edit/tools/{tool_id}/estimate",
    response_model=ToolEstimateResponse,
    responses=TOOL_ERRORS,
    openapi_extra=TOOL_BODY,
    summary="Validate a tool request and report its cost",
)
async def estimate_tool(request: Request, tool_id: ToolId, auth: Auth) -> Any:
    tool = _tool(tool_id)
    prepared = _prepare(tool, await _body(request))
    if isinstance(prepared, JSONResponse):
        return prepared
    params = await run_in_threadpool(_decode_inputs, prepared)
    h, w = params["input_image"].shape[:2]
    return {
        "tool_id": tool.id,
        "balance_cost": 0.0,
        "credit_cost": 0,
        "estimate_seconds": round(0.05 + h * w / 2_000_000, 2),
    }


@router.post(
    "/v1/edit/tools/{tool_id}",
    response_model=ToolRunResponse,
    responses=TOOL_ERRORS,
    openapi_extra=TOOL_BODY,
    summary="Run a canvas edit tool",
)
async def run_tool(request: Request, tool_id: ToolId, auth: Auth, ctx: Context) -> Any:
    from pixelforge.api.render import usd
    from pixelforge.store import ledger

    tool = _tool(tool_id)
    prepared = _prepare(tool, await _body(request))
    if isinstance(prepared, JSONResponse):
        return prepared

    def work() -> str:
        params = _decode_inputs(prepared)
        try:
            out = tool.run(params["input_image"], params)
        except BadImage as e:
            raise ApiError(400, "invalid_image", str(e)) from e
        return encode_png(out)

    try:
        png = await run_in_threadpool(work)
    except ApiError:
        raise
    except Exception as e:
        raise ApiError(500, "tool_failed", f"The {tool.id} tool failed on this image.") from e
    balance = await blocking_read(ctx, ledger.balance, ctx.db, auth.account_id)
    return {
        "tool_id": tool.id,
        "inference_id": uuid.uuid4().hex,
        "balance_cost": 0.0,
        "credit_cost": 0,
        "charged": False,
        "remaining_balance": usd(balance),
        "remaining_credits": None,
        "base64_images": [png],
        "output_urls": [],
    }
