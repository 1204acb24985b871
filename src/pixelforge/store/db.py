"""``Database``: one SQLAlchemy engine, two kinds of sessions, and the Alembic upgrade.

- ``db.session()``: a read session (SQLite: a deferred ``BEGIN``, so readers never block writers in
  WAL mode); closed, never committed, on exit. Use it for lookups.
- ``db.transaction()``: a write transaction, committed on success and rolled back on error. On
  SQLite it starts with ``BEGIN IMMEDIATE``: the write lock is taken up front, so two writers queue
  on the busy timeout instead of one failing with "database is locked" when it upgrades a read lock
  halfway through (the deadlock that a plain deferred ``BEGIN`` invites).

SQLite: the pysqlite driver's own transaction handling is switched off and SQLAlchemy's ``begin``
event emits the ``BEGIN`` itself (the recipe in SQLAlchemy's pysqlite dialect documentation,
"Serializable isolation / Savepoints / Transactional DDL"); every connection gets WAL,
``foreign_keys=ON`` and a busy timeout. PostgreSQL: psycopg 3 (``postgresql+psycopg://``; a bare
``postgresql://`` or ``postgres://`` URL is given that driver), READ COMMITTED, with row locks
where it matters (ledger debits use a conditional UPDATE, job claims ``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Row, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Executable

from pixelforge.store.errors import StoreError

if TYPE_CHECKING:
    from pixelforge.config import Settings

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any constant: serialises concurrent `migrate()` calls (a `keys create` racing a `serve` start).
_PG_MIGRATION_LOCK = 0x706978656C66  # "pixelf"
_WRITE_OPTION = "pixelforge_write"
_AUTOCOMMIT_OPTION = "pixelforge_autocommit"


def normalize_url(url: str | URL) -> URL:
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u


class Database:
    def __init__(self, url: str | URL, *, pool_size: int | None = None, echo: bool = False) -> None:
        self.url = normalize_url(url)
        self.dialect = self.url.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect == "sqlite":
            database = self.url.database
            if database and database != ":memory:" and not database.startswith("file:"):
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            kwargs["pool_pre_ping"] = True
        if pool_size is None:
            # SQLite connections are cheap and WAL readers run in parallel; PostgreSQL's default
            # max_connections (100) leaves room for several processes of 20 (pool + overflow).
            pool_size = 16 if self.dialect == "sqlite" else 10
        if not (self.dialect == "sqlite" and self._is_memory):
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = max(10, pool_size)
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            _install_sqlite_hooks(self.engine)
        self._write_engine = self.engine.execution_options(**{_WRITE_OPTION: True})
        # One-statement reads on the hot path (authenticate, balance) skip BEGIN/ROLLBACK: a single
        # SELECT is atomic by itself. SQLite: our begin hook emits nothing; PostgreSQL: AUTOCOMMIT.
        # (Not isolation_level on SQLite: resetting it would hand BEGIN back to pysqlite.)
        self._autocommit_engine = self.engine.execution_options(
            **({_AUTOCOMMIT_OPTION: True} if self.dialect == "sqlite" else {"isolation_level": "AUTOCOMMIT"})
        )
        # fetch_one's per-thread raw connections (SQLite files only).
        self._raw_sqlite_path: str | None = None
        if (
            self.dialect == "sqlite"
            and not self._is_memory
            and not str(self.url.database).startswith("file:")
        ):
            self._raw_sqlite_path = str(Path(str(self.url.database)).expanduser())
        self._local = threading.local()
        self._raw_lock = threading.Lock()
        self._raw_conns: list[sqlite3.Connection] = []
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)

    @property
    def _is_memory(self) -> bool:
        return self.url.database in (None, "", ":memory:")

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Database:
        return cls(settings.resolved_database_url, **kwargs)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reading; nothing it changes is committed (use ``transaction()`` to write).
        Objects it loaded stay usable after the block (detached, not expired)."""
        with self._read_sessions() as s:
            yield s

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        with self._write_sessions() as s, s.begin():
            yield s

    def fetch_one(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        """One row of a hand-written, read-only SELECT (``?`` placeholders), outside any transaction.

        For the per-request hot path (``keys.authenticate``, ``ledger.balance``). On a SQLite file
        each thread keeps one raw sqlite3 connection (same pragmas) and runs the SQL directly: about
        7 µs instead of ~150 µs through the pool and SQLAlchemy. Nothing is cached, so every call
        sees the latest commit of every process (WAL readers see committed data at once)."""
        if self._raw_sqlite_path is not None:
            conn = getattr(self._local, "conn", None)
            if conn is None or self._local.pid != os.getpid():  # never reuse a connection across fork
                conn = self._open_raw_sqlite()
            try:
                cur = conn.execute(sql, params)
                try:
                    return cur.fetchone()
                finally:
                    cur.close()  # resets the statement: no read snapshot outlives the call
            except sqlite3.Error:
                self._local.conn = None
                with self._raw_lock:
                    if conn in self._raw_conns:
                        self._raw_conns.remove(conn)
                conn.close()
                raise
        driver_sql = sql if self.is_sqlite else sql.replace("?", "%s")
        with self._autocommit_engine.connect() as c:
            row = c.exec_driver_sql(driver_sql, params).first()
        return None if row is None else tuple(row)

    def _open_raw_sqlite(self) -> sqlite3.Connection:
        assert self._raw_sqlite_path is not None
        conn = sqlite3.connect(
            self._raw_sqlite_path,
            timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # autocommit: each SELECT is its own (consistent) read
            check_same_thread=False,  # only its thread uses it; dispose() may close it from another
        )
        _apply_sqlite_pragmas(conn)
        self._local.conn = conn
        self._local.pid = os.getpid()
        with self._raw_lock:
            self._raw_conns.append(conn)
        return conn

    def read_first(self, stmt: Executable) -> Row[Any] | None:
        """First row of one read-only statement, outside any transaction (the cheapest read)."""
        with self._autocommit_engine.connect() as conn:
            return conn.execute(stmt).first()

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to ``revision`` with the Alembic scripts shipped in the package.
        Safe to call on every start, from several processes at once."""
        from alembic import command
        from alembic.util.exc import CommandError

        cfg = alembic_config()
        with self._write_engine.begin() as conn:
            if self.is_postgresql:
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
            cfg.attributes["connection"] = conn
            try:
                command.upgrade(cfg, revision)
            except CommandError as exc:
                if "Can't locate revision" in str(exc):
                    raise StoreError(
                        f"the database at {self!r} has a schema newer than this pixelforge knows "
                        f"({exc}); upgrade pixelforge or point it at another database"
                    ) from exc
                raise

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def dispose(self) -> None:
        with self._raw_lock:
            conns, self._raw_conns = self._raw_conns, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"


def alembic_config() -> Any:
    from alembic.config import Config

    cfg = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def _apply_sqlite_pragmas(dbapi_conn: Any) -> None:
    cur = dbapi_conn.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys = ON")
        _set_wal(cur)
        # Durable at each checkpoint, and safe against corruption: the usual WAL pairing.
        cur.execute("PRAGMA synchronous = NORMAL")
    finally:
        cur.close()


def _set_wal(cur: Any) -> None:
    """Switch the database to WAL (a property of the file: a no-op once set).

    The switch needs the exclusive lock. On a fresh database several connections opening at once
    (a `keys create` racing a `serve` start) each hold a read lock when they ask for it, and SQLite
    answers that with "database is locked" at once -- its deadlock avoidance -- rather than after
    the busy timeout. Retry within that same timeout (measured: 11 of 60 four-way races failed)."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(2 * delay, 0.1)


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy: pysqlite would otherwise BEGIN lazily (only before
        # DML) and commit behind our back before DDL.
        dbapi_conn.isolation_level = None
        _apply_sqlite_pragmas(dbapi_conn)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get(_AUTOCOMMIT_OPTION):
            return
        if options.get(_WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
