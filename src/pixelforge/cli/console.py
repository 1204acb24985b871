"""Rich consoles shared by the CLI command modules."""

from __future__ import annotations

from rich.console import Console


def _console(stderr: bool) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        # Piped or captured: no 80-column squeeze, so ids and paths stay whole for grep and scripts.
        console = Console(stderr=stderr, highlight=False, width=max(console.width, 200))
    return console


def out() -> Console:
    """Console for a command's results (stdout)."""
    return _console(stderr=False)


def err() -> Console:
    """Console for errors and progress (stderr)."""
    return _console(stderr=True)
