"""Service results → RD wire JSON (money as USD floats or legacy integer credits, converted only here)."""

from __future__ import annotations

import base64
import math
import time
from datetime import UTC, datetime
from typing import Any

from pixelforge.api.deps import AppContext
from pixelforge.service import Outcome, PreparedJob, TaskView

MICROS = 1_000_000
LEGACY = "legacy"


def usd(micros: int) -> float:
    return round(micros / MICROS, 6)


def iso(ts: float | None) -> str:
    return datetime.fromtimestamp(ts if ts is not None else time.time(), UTC).strftime("%Y-%m-%dT%H:%M:%S")


def credit_micros(ctx: AppContext) -> int:
    return max(1, round(ctx.settings.credit_value_usd * MICROS))


def credits_cost(ctx: AppContext, micros: int) -> int:
    return math.ceil(micros / credit_micros(ctx))


def credits_left(ctx: AppContext, micros: int) -> int:
    return micros // credit_micros(ctx)


def check_cost_body(ctx: AppContext, prepared: PreparedJob, balance: int, shape: str) -> dict[str, Any]:
    now = time.time()
    if shape == LEGACY:
        # Seed docs: check_cost answers remaining_credits 0 and generates nothing.
        return {
            "created_at": int(now),
            "credit_cost": credits_cost(ctx, prepared.price_micros),
            "output_images": [],
            "base64_images": [],
            "output_urls": [],
            "model": "check_cost",
            "remaining_credits": 0,
        }
    return {
        "created_at": iso(now),
        "balance_cost": usd(prepared.price_micros),
        "output_images": [],
        "base64_images": [],
        "output_urls": [],
        "model": "check_cost",
        "remaining_balance": usd(balance),
    }


def outcome_body(ctx: AppContext, outcome: Outcome, base_url: str = "") -> dict[str, Any]:
    """A finished generation in the shape its request asked for (meta["shape"])."""
    images: list[str] = []
    urls: list[str] | None = None
    if outcome.upload_outputs:
        expires = int(outcome.created_at + ctx.settings.output_ttl_s)
        urls = [ctx.signer.url(fid, expires, base_url) for fid in outcome.file_ids]
    else:
        for fid in outcome.file_ids:
            found = ctx.service.read_file(fid)
            if found is None:
                raise FileNotFoundError(fid)
            images.append(base64.b64encode(found[0]).decode("ascii"))
    if outcome.meta.get("shape") == LEGACY:
        body: dict[str, Any] = {
            "created_at": int(outcome.created_at),
            "credit_cost": credits_cost(ctx, outcome.price_micros),
            "base64_images": images,
            "type": outcome.kind,
            "remaining_credits": credits_left(ctx, outcome.balance_micros),
        }
    else:
        body = {
            "created_at": iso(outcome.created_at),
            "balance_cost": usd(outcome.price_micros),
            "base64_images": images,
            "model": outcome.model,
            "remaining_balance": usd(outcome.balance_micros),
        }
    if urls is not None:
        body["output_urls"] = urls
    return body


def task_body(ctx: AppContext, view: TaskView, base_url: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"status": view.status, "task_id": view.task_id}
    if view.created_at is not None:
        body["created_at"] = iso(view.created_at)
    if view.style_id:
        body["prompt_style"] = view.style_id
    if view.progress is not None:
        body["progress"] = round(view.progress, 4)
    if view.outcome is not None:
        try:
            body["result"] = outcome_body(ctx, view.outcome, base_url)
        except FileNotFoundError:
            body["status"] = "failed"
            body["error"] = {"status_code": 410, "detail": "The outputs of this task have expired."}
    if view.error is not None:
        body["error"] = {
            "status_code": int(view.error.get("status_code", 500)),
            "detail": str(
                view.error.get("detail") or view.error.get("message") or "Unable to run inference."
            ),
        }
    return body
