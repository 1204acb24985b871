"""``pixelforge serve``: run the HTTP server (uvicorn) on one process with its job workers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Address to bind (PIXELFORGE_HOST).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to bind (PIXELFORGE_PORT).")] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", envvar="PIXELFORGE_DATA_DIR", help="Data directory (database, files)."),
    ] = None,
    engine: Annotated[
        str | None, typer.Option("--engine", help="Image engine: tiny (embedded, CPU) or diffusers.")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", envvar="PIXELFORGE_DATABASE_URL", help="SQLAlchemy URL (PostgreSQL)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Generation jobs run at once (PIXELFORGE_JOB_WORKERS)."),
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
    access_log: Annotated[
        bool,
        typer.Option("--access-log/--no-access-log", help="Log every request (~10% more CPU per request)."),
    ] = False,
) -> None:
    """Serve the RetroDiffusion-compatible /v1 API (keys: `pixelforge keys create`)."""
    import uvicorn

    from pixelforge.api import create_app
    from pixelforge.config import Settings

    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "host": host,
            "port": port,
            "data_dir": data_dir,
            "engine": engine,
            "database_url": database_url,
            "job_workers": workers,
        }.items()
        if v is not None
    }
    settings = Settings(**overrides)
    typer.echo(
        f"pixelforge: serving on http://{settings.host}:{settings.port} "
        f"(engine {settings.engine}, data {settings.data_dir})"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=access_log,
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
