"""GET /v1/styles/selector, GET /v1/status (no key), GET /v1/files/{id} (signed URL only)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from pixelforge.api.deps import Auth, Context
from pixelforge.api.errors import ApiError
from pixelforge.api.render import iso
from pixelforge.api.routes.inferences import ERRORS
from pixelforge.api.schemas import ErrorEnvelope, SelectorItem, StatusResponse

router = APIRouter(tags=["styles", "status", "files"])


@router.get(
    "/v1/styles/selector",
    response_model=list[SelectorItem],
    responses={401: ERRORS[401], 429: ERRORS[429]},
    summary="The live style catalog: size limits, batch cap, input requirements, reference support",
)
def styles_selector(
    ctx: Context,
    auth: Auth,
    model: Annotated[
        str | None, Query(max_length=100, description="rd_fast, rd_plus, rd_pro, rd_mini, ...")
    ] = None,
    tab: Annotated[str | None, Query(max_length=100, description="tab:image, tab:animation, ...")] = None,
) -> Any:
    return ctx.catalog.selector(model=model, tab=tab)


@router.get("/v1/status", response_model=StatusResponse, summary="Service health (no key needed)")
def status(ctx: Context) -> Any:
    engines = ctx.engines
    if engines.loaded:
        engine_state = "ok"
    elif engines.error is not None:
        engine_state = "unavailable"
    else:
        engine_state = "starting"
    from pixelforge.jobs.postprocess import supports_background_removal

    return {
        "status": {
            "rd_fast": engine_state,
            "rd_plus": engine_state,
            "rd_pro": engine_state,
            "rd_mini": engine_state,
            "rd_tile": engine_state,
            "animations": "not_supported",
            "background_removal": "ok" if supports_background_removal() else "not_supported",
        },
        "updated_at": iso(time.time()),
        "engine": engines.name,
    }


@router.get(
    "/v1/files/{file_id}",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "The file"},
        403: {"model": ErrorEnvelope, "description": "Bad or expired signature"},
        404: {"model": ErrorEnvelope, "description": "No such file (or it expired)"},
    },
    summary="A generated file, through its signed expiring URL (from output_urls)",
)
async def get_file(
    ctx: Context,
    file_id: str,
    expires: Annotated[int, Query(ge=0, le=2**62)] = 0,
    signature: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    if not signature or not ctx.signer.verify(file_id, expires, signature):
        raise ApiError(403, "invalid_signature", "This file URL is not valid.")
    if expires < time.time():
        raise ApiError(403, "url_expired", "This file URL has expired.")
    found = await run_in_threadpool(ctx.service.read_file, file_id)
    if found is None:
        raise ApiError(404, "not_found", "This file does not exist or has expired.")
    data, content_type = found
    return Response(data, media_type=content_type, headers={"Cache-Control": "private, max-age=3600"})
