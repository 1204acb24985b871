"""Store fixtures: every test runs on SQLite (a fresh file) and on PostgreSQL (a fresh schema in the
database at PIXELFORGE_TEST_POSTGRES_URL, dropped afterwards). Without that URL the PostgreSQL
variants skip, except under CI=true where they fail: CI must prove both backends."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from pixelforge.store import Database

PG_URL_ENV = "PIXELFORGE_TEST_POSTGRES_URL"


def postgres_url_or_skip() -> str:
    url = os.environ.get(PG_URL_ENV)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {PG_URL_ENV} is not set: the PostgreSQL store tests must run in CI")
        pytest.skip(f"{PG_URL_ENV} not set (scripts/test.sh starts a throwaway PostgreSQL)")
    return url


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A URL whose connections use a schema of their own (search_path), dropped after the test."""
    base = make_url(postgres_url_or_skip())
    schema = "t_" + secrets.token_hex(6)
    admin = create_engine(base, poolclass=NullPool)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    return request.getfixturevalue("postgres_schema_url")


@pytest.fixture
def make_db(db_url: str) -> Iterator[Callable[..., Database]]:
    """Build migrated Databases on this test's database (e.g. a second one as 'another process')."""
    made: list[Database] = []

    def make(**kwargs: object) -> Database:
        db = Database(db_url, **kwargs)  # type: ignore[arg-type]
        db.migrate()
        made.append(db)
        return db

    yield make
    for db in made:
        db.dispose()


@pytest.fixture
def db(make_db: Callable[..., Database]) -> Database:
    return make_db()
