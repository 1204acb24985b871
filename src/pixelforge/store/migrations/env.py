"""Alembic environment. Database.migrate() passes an open connection in
``config.attributes["connection"]``; run from the ``alembic`` command line it connects to
PIXELFORGE_DATABASE_URL (or the ini's sqlalchemy.url) through ``Database`` so SQLite gets the
same pragmas and transaction handling as the server."""

from __future__ import annotations

import os

from alembic import context

from pixelforge.store.models import Base

target_metadata = Base.metadata


def _configure_and_run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode recreates tables for later revisions.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=os.environ.get("PIXELFORGE_DATABASE_URL") or context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    from pixelforge.store.db import Database

    url = os.environ.get("PIXELFORGE_DATABASE_URL") or context.config.get_main_option("sqlalchemy.url")
    db = Database(url)
    try:
        with db._write_engine.connect() as conn:
            _configure_and_run(conn)
            conn.commit()
    finally:
        db.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
