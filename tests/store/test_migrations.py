from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from pixelforge.store import Database, StoreError
from pixelforge.store.db import alembic_config
from pixelforge.store.models import Base


def test_upgrade_from_empty_to_head_and_again(db_url: str) -> None:
    db = Database(db_url)
    try:
        assert db.current_revision() is None
        db.migrate()
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert db.current_revision() == head
        db.migrate()  # idempotent: every command runs it at start
        tables = set(inspect(db.engine).get_table_names())
        assert {"accounts", "api_keys", "ledger_entries", "jobs", "files"} <= tables
    finally:
        db.dispose()


def test_models_match_migrations(db: Database) -> None:
    """What `alembic check` does: autogenerate against the migrated schema must find nothing."""
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_single_head(make_db: Callable[..., Database]) -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_downgrade_to_base_and_back(db: Database) -> None:
    from alembic import command

    cfg = alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert db.current_revision() is None
    db.migrate()
    assert db.current_revision() is not None


def test_concurrent_first_migrations_agree(db_url: str) -> None:
    """`keys create` and `serve` starting at once on an empty database both succeed."""
    dbs = [Database(db_url) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(dbs))

    def run(db: Database) -> None:
        try:
            barrier.wait(timeout=30)
            db.migrate()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(db,)) for db in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert not errors, errors
        assert {db.current_revision() for db in dbs} == {
            ScriptDirectory.from_config(alembic_config()).get_current_head()
        }
    finally:
        for db in dbs:
            db.dispose()


def test_schema_newer_than_the_code_is_a_clear_error(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'from_the_future'"))
    with pytest.raises(StoreError, match="newer than this pixelforge"):
        db.migrate()
