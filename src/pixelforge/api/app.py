"""The app factory. Settings, database (migrated), catalog, engine and job runner are built in the
lifespan of the app — never at import time — so every test and command gets its own."""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from pixelforge import __version__
from pixelforge.api.deps import AppContext, AuthCache
from pixelforge.api.errors import install_error_handlers
from pixelforge.api.limits import BodySizeLimit, RateLimiter
from pixelforge.api.routes import inferences, misc, pixel
from pixelforge.api.signing import UrlSigner
from pixelforge.config import Settings
from pixelforge.engines import Engine

log = logging.getLogger("pixelforge.api")


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """A pixelforge app. ``engine`` injects a ready engine (tests); otherwise ``settings.engine`` is
    loaded lazily (and warmed up in the background at start-up)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from pixelforge.catalog import load_catalog
        from pixelforge.jobs import EngineHolder, JobRunner
        from pixelforge.service import InferenceService
        from pixelforge.store import Database, keys, secrets

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database.from_settings(settings)
        db.migrate()
        catalog = load_catalog(settings)
        holder = EngineHolder(settings, engine)
        runner = JobRunner(settings, db, holder)
        runner.start()
        service = InferenceService(settings, db, catalog, runner)
        app.state.ctx = AppContext(
            settings=settings,
            db=db,
            catalog=catalog,
            engines=holder,
            runner=runner,
            service=service,
            signer=UrlSigner(secrets.signing_key(settings.data_dir), settings.public_base_url),
            limiter=RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst),
            auth_cache=AuthCache(settings.auth_cache_ttl_s),
        )
        if not keys.list_keys(db, include_revoked=False):
            log.warning("no API keys yet: create one with `pixelforge keys create --name NAME --balance USD`")
        if not holder.loaded:

            def warm_up() -> None:
                try:
                    holder.get()
                except Exception as exc:
                    log.error("engine %r could not be loaded: %s", settings.engine, exc)
                    return
                # Loading a model leaves millions of long-lived Python objects (torch, transformers);
                # every full garbage collection would scan them all, a ~0.2 s pause that showed up as
                # the p99 of cheap requests. Frozen objects are skipped by the collector.
                gc.collect()
                gc.freeze()

            threading.Thread(target=warm_up, name="pixelforge-engine-warmup", daemon=True).start()
        try:
            yield
        finally:
            runner.stop()
            if engine is None:
                with contextlib.suppress(Exception):
                    holder.close()
            db.dispose()

    app = FastAPI(
        title="pixelforge",
        version=__version__,
        summary="Self-hosted pixel-art generation speaking the RetroDiffusion /v1 API",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(inferences.router)
    app.include_router(misc.router)
    app.include_router(pixel.router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app
