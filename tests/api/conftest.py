from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes import FakeEngine, Harness, harness, make_settings


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def h(data_dir: Path, engine: FakeEngine) -> Iterator[Harness]:
    with harness(make_settings(data_dir), engine) as hh:
        yield hh


@pytest.fixture
def key(h: Harness) -> str:
    return h.new_key("10")
