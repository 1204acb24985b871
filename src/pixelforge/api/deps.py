"""Shared state of one app and the ``Annotated`` dependencies routers use (auth, rate limit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from pixelforge.api.errors import ApiError
from pixelforge.api.limits import RateLimiter, retry_after_header
from pixelforge.api.signing import UrlSigner
from pixelforge.config import Settings
from pixelforge.jobs import EngineHolder, JobRunner
from pixelforge.service import InferenceService
from pixelforge.store import AuthContext, keys


@dataclass
class AppContext:
    settings: Settings
    db: Any
    catalog: Any
    engines: EngineHolder
    runner: JobRunner
    service: InferenceService
    signer: UrlSigner
    limiter: RateLimiter


def get_context(request: Request) -> AppContext:
    return request.app.state.ctx


Context = Annotated[AppContext, Depends(get_context)]


def _token(x_rd_token: str | None, authorization: str | None) -> str | None:
    if x_rd_token:
        return x_rd_token.strip()
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def _authenticate(ctx: AppContext, token: str | None, invalid_status: int) -> AuthContext:
    if not token:
        raise ApiError(401, "unauthorized", "Missing X-RD-Token header.")
    auth = keys.authenticate(ctx.db, token)
    if auth is None:
        code = "forbidden" if invalid_status == 403 else "unauthorized"
        raise ApiError(invalid_status, code, "Invalid or revoked API key.")
    wait = ctx.limiter.check(auth.key_id)
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            "Too many requests for this API key; retry after the Retry-After delay.",
            headers={"Retry-After": retry_after_header(wait)},
        )
    return auth


def require_key(
    ctx: Context,
    x_rd_token: Annotated[str | None, Header(alias="X-RD-Token")] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> AuthContext:
    """401 for a missing or invalid key, 429 (Retry-After) over the key's rate."""
    return _authenticate(ctx, _token(x_rd_token, authorization), 401)


def require_key_credits(
    ctx: Context,
    x_rd_token: Annotated[str | None, Header(alias="X-RD-Token")] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> AuthContext:
    """As require_key, but an invalid token is 403 (the credits endpoint, as the RD docs say)."""
    return _authenticate(ctx, _token(x_rd_token, authorization), 403)


Auth = Annotated[AuthContext, Depends(require_key)]
CreditsAuth = Annotated[AuthContext, Depends(require_key_credits)]
