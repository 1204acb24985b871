"""The ``pixelforge`` command. Each area registers its commands from its own module."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(help="pixelforge: self-hosted pixel-art generation server", no_args_is_help=True)

# Modules that define register(app). Add yours here; the import stays cheap (no torch at import).
COMMAND_MODULES: tuple[str, ...] = ("keys", "serve", "generate", "models", "pixel")

for _name in COMMAND_MODULES:
    importlib.import_module(f"pixelforge.cli.{_name}").register(app)


@app.callback()
def _main() -> None:
    """pixelforge: self-hosted pixel-art generation server."""
