"""Shared state of one app and the ``Annotated`` dependencies routers use (auth, rate limit)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool

from pixelforge.api.errors import ApiError
from pixelforge.api.limits import RateLimiter, retry_after_header
from pixelforge.api.signing import UrlSigner
from pixelforge.config import Settings
from pixelforge.jobs import EngineHolder, JobRunner
from pixelforge.service import InferenceService
from pixelforge.store import AuthContext, keys

T = TypeVar("T")


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
    auth_cache: AuthCache


async def blocking_read(ctx: AppContext, fn: Callable[..., T], *args: Any) -> T:
    """Run a short database read. On SQLite (a local file in WAL mode, where readers never wait for
    writers) it runs inline: cheaper than a thread hop. Elsewhere (network databases) in the thread pool."""
    if ctx.db.is_sqlite:
        return fn(*args)
    return await run_in_threadpool(fn, *args)


def get_context(request: Request) -> AppContext:
    return request.app.state.ctx


Context = Annotated[AppContext, Depends(get_context)]


def _token(x_rd_token: str | None, authorization: str | None) -> str | None:
    if x_rd_token:
        return x_rd_token.strip()
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


class AuthCache:
    """Verified keys remembered for ``ttl`` seconds (only hits: a new key is looked up at once)."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[AuthContext, float]] = {}

    @staticmethod
    def _digest(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()

    def get(self, token: str) -> AuthContext | None:
        if self.ttl <= 0:
            return None
        hit = self._entries.get(self._digest(token))
        if hit is None or hit[1] < time.monotonic():
            return None
        return hit[0]

    def put(self, token: str, auth: AuthContext) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[self._digest(token)] = (auth, time.monotonic() + self.ttl)


async def _authenticate(ctx: AppContext, token: str | None, invalid_status: int) -> AuthContext:
    if not token:
        raise ApiError(401, "unauthorized", "Missing X-RD-Token header.")
    auth = ctx.auth_cache.get(token)
    if auth is None:
        auth = await blocking_read(ctx, keys.authenticate, ctx.db, token)
        if auth is None:
            code = "forbidden" if invalid_status == 403 else "unauthorized"
            raise ApiError(invalid_status, code, "Invalid or revoked API key.")
        ctx.auth_cache.put(token, auth)
    wait = ctx.limiter.check(auth.key_id)
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            "Too many requests for this API key; retry after the Retry-After delay.",
            headers={"Retry-After": retry_after_header(wait)},
        )
    return auth


async def require_key(
    ctx: Context,
    x_rd_token: Annotated[str | None, Header(alias="X-RD-Token")] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> AuthContext:
    """401 for a missing or invalid key, 429 (Retry-After) over the key's rate."""
    return await _authenticate(ctx, _token(x_rd_token, authorization), 401)


async def require_key_credits(
    ctx: Context,
    x_rd_token: Annotated[str | None, Header(alias="X-RD-Token")] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> AuthContext:
    """As require_key, but an invalid token is 403 (the credits endpoint, as the RD docs say)."""
    return await _authenticate(ctx, _token(x_rd_token, authorization), 403)


Auth = Annotated[AuthContext, Depends(require_key)]
CreditsAuth = Annotated[AuthContext, Depends(require_key_credits)]
