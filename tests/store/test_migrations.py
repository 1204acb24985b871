from __future__ import annotations

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from pixelforge.store import Database
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
