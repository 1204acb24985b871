from __future__ import annotations

from pathlib import Path

import pytest

from fakes import make_settings
from pixelforge.config import Settings
from pixelforge.store import Database


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return make_settings(data_dir, job_workers=1)


@pytest.fixture
def db(settings: Settings):
    database = Database.from_settings(settings)
    database.migrate()
    yield database
    database.dispose()
