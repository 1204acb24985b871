"""Shared fixtures. Every test gets its own data directory (and so its own SQLite database)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("PIXELFORGE_DATA_DIR", str(d))
    return d
