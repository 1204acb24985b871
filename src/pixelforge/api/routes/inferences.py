"""POST /v1/inferences (+ /legacy), tasks, credits. Thin: parse, call the service, render."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from pixelforge.api import render
from pixelforge.api.deps import AppContext, Auth, Context, CreditsAuth, blocking_read
from pixelforge.api.errors import code_message
from pixelforge.api.schemas import (
    AcceptedResponse,
    CreditsResponse,
    ErrorEnvelope,
    ErrorMsgList,
    InferenceRequest,
    InferenceResponse,
    LegacyInferenceResponse,
    TaskListResponse,
    TaskResponse,
)
from pixelforge.service import InferenceInput, Submission
from pixelforge.store import AuthContext

router = APIRouter(prefix="/v1/inferences", tags=["inferences"])

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorEnvelope | ErrorMsgList, "description": "Invalid input or insufficient balance"},
    401: {"model": ErrorEnvelope, "description": "Missing or invalid X-RD-Token"},
    404: {"model": ErrorEnvelope, "description": "Style or task not found"},
    413: {"model": ErrorEnvelope, "description": "Request body too large"},
    422: {"model": ErrorMsgList, "description": "Body failed validation"},
    429: {"model": ErrorEnvelope, "description": "Rate limited (see Retry-After)"},
}
ACCEPTED_MESSAGE = "Inference accepted. Poll GET /v1/inferences/tasks/{task_id} for status."


async def _wait(ctx: AppContext, auth: AuthContext, sub: Submission) -> bool:
    """Await the job without holding a thread; re-check the row now and then (another process may
    run it). False when this server is shutting down before the job ended."""
    done = asyncio.wrap_future(sub.done)
    while True:
        try:
            await asyncio.wait_for(asyncio.shield(done), timeout=2.0)
            return True
        except TimeoutError:
            view = await run_in_threadpool(ctx.service.task, auth, sub.task_id)
            if view.status in ("succeeded", "failed"):
                return True
            if ctx.runner.stopping:
                return False


def _check_cost(ctx: AppContext, auth: AuthContext, inp: InferenceInput, shape: str) -> dict[str, Any]:
    prepared = ctx.service.quote(inp)
    balance = 0 if shape == render.LEGACY else ctx.service.balance(auth.account_id)
    return render.check_cost_body(ctx, prepared, balance, shape)


async def _infer(
    ctx: AppContext, auth: AuthContext, body: InferenceRequest, shape: str, base_url: str
) -> Any:
    inp = InferenceInput.from_mapping(body.model_dump(exclude={"check_cost", "async_"}))
    if body.check_cost:
        if inp.input_image or inp.input_palette or inp.reference_images or inp.extra_input_image:
            body_ = await run_in_threadpool(
                _check_cost, ctx, auth, inp, shape
            )  # image decoding: off the loop
        else:
            body_ = await blocking_read(ctx, _check_cost, ctx, auth, inp, shape)
        return JSONResponse(body_)
    sub = await run_in_threadpool(ctx.service.submit, auth, inp, {"shape": shape})
    if body.async_:
        return JSONResponse(
            {
                "status": "accepted",
                "task_id": sub.task_id,
                "message": ACCEPTED_MESSAGE.replace("{task_id}", sub.task_id),
            }
        )
    if not await _wait(ctx, auth, sub):
        message = f"The server is shutting down; poll GET /v1/inferences/tasks/{sub.task_id} for the result."
        return code_message(503, "shutting_down", message)
    view = await run_in_threadpool(ctx.service.task, auth, sub.task_id)
    if view.status != "succeeded" or view.outcome is None:
        error = view.error or {}
        status = int(error.get("status_code", 500))
        message = str(error.get("detail") or error.get("message") or "Unable to run inference.")
        return code_message(status if 400 <= status < 600 else 500, "inference_failed", message)
    return await run_in_threadpool(render.outcome_body, ctx, view.outcome, base_url)


@router.post(
    "",
    response_model=InferenceResponse | AcceptedResponse,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="Generate images (RD /v1/inferences)",
)
async def create_inference(request: Request, ctx: Context, auth: Auth, body: InferenceRequest) -> Any:
    return await _infer(ctx, auth, body, "v1", str(request.base_url))


@router.post(
    "/legacy",
    response_model=LegacyInferenceResponse | AcceptedResponse,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="Generate images, older response shape (credit_cost, remaining_credits, type)",
)
async def create_inference_legacy(request: Request, ctx: Context, auth: Auth, body: InferenceRequest) -> Any:
    return await _infer(ctx, auth, body, render.LEGACY, str(request.base_url))


@router.get(
    "/tasks",
    response_model=TaskListResponse,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="This key's recent tasks, newest first (to recover a lost task id)",
)
def list_tasks(ctx: Context, auth: Auth, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> Any:
    views = ctx.service.tasks(auth, limit)
    tasks = []
    for view in views:
        view.outcome = None  # summaries: fetch one task for its result
        tasks.append(render.task_body(ctx, view))
    return {"tasks": tasks}


@router.get(
    "/tasks/{task_id}",
    response_model=TaskResponse,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="One async task: pending, running, succeeded (with result) or failed (with error)",
)
def get_task(request: Request, ctx: Context, auth: Auth, task_id: str) -> Any:
    return render.task_body(ctx, ctx.service.task(auth, task_id), str(request.base_url))


@router.get(
    "/credits",
    response_model=CreditsResponse,
    responses={
        401: ERRORS[401],
        403: {"model": ErrorEnvelope, "description": "Invalid token"},
        429: ERRORS[429],
    },
    summary="Remaining balance (USD) and legacy credits",
)
async def credits(ctx: Context, auth: CreditsAuth) -> Any:
    micros = await blocking_read(ctx, ctx.service.balance, auth.account_id)
    return JSONResponse({"credits": render.credits_left(ctx, micros), "balance": render.usd(micros)})
