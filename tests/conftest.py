"""Shared fixtures. Every test gets its own data directory (and so its own SQLite database)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from fakes import make_settings
from pixelforge.config import Settings
from pixelforge.store import Database

# CI runs the property tests on a fixed set of examples: a red build must come from the change
# under test, not from the examples one run happened to draw. Run them locally (no CI set) to
# explore new examples; a failure found that way becomes a regression test of its own.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("PIXELFORGE_DATA_DIR", str(d))
    return d


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    """Settings on this test's data dir with one job worker (jobs and service tests)."""
    return make_settings(data_dir, job_workers=1)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    """A migrated SQLite database in this test's data dir (tests/store overrides it for PostgreSQL)."""
    database = Database.from_settings(settings)
    database.migrate()
    yield database
    database.dispose()
