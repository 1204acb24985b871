"""The two documented error envelopes and the handlers that produce them.

- ``{"detail": {"code": "...", "message": "..."}}`` for most errors (auth, not found, not supported,
  rate limits, bad input the catalog refuses, failed inferences).
- ``{"detail": [{"msg": "..."}]}`` for insufficient balance (``"Not enough balance."``, as the docs
  show it) and for request-body validation (422, FastAPI's list shape without the echoed input).

No handler ever returns a stack trace: an unexpected exception is logged and answered with a 500
``internal_error`` envelope.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pixelforge.service import errors as svc

log = logging.getLogger("pixelforge.api")


class ApiError(Exception):
    """An error answered in the ``{"detail": {"code", "message"}}`` envelope."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def code_message(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": {"code": code, "message": message}}, status_code=status, headers=headers)


def msg_list(status: int, messages: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"detail": messages}, status_code=status)


SERVICE_STATUS: dict[type[svc.ServiceError], int] = {
    svc.StyleNotFound: 404,
    svc.TaskNotFound: 404,
    svc.EngineUnavailable: 503,
}

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def service_error_response(exc: svc.ServiceError) -> JSONResponse:
    if isinstance(exc, svc.InsufficientBalance):
        return msg_list(400, [{"msg": exc.message}])
    status = next((v for k, v in SERVICE_STATUS.items() if isinstance(exc, k)), 400)
    return code_message(status, exc.code, exc.message)


def _clean_validation_errors(errors: Any) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        loc = [str(x) if not isinstance(x, (int, str)) else x for x in err.get("loc", ())]
        out.append(
            {"loc": loc, "msg": str(err.get("msg", "invalid value")), "type": str(err.get("type", ""))}
        )
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return code_message(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(svc.ServiceError)
    async def _service_error(_: Request, exc: svc.ServiceError) -> JSONResponse:
        return service_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return msg_list(422, _clean_validation_errors(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return code_message(exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return code_message(500, "internal_error", "Temporary server-side failure; nothing was charged.")
