from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from pixelforge.config import Settings
from pixelforge.store import Database
from pixelforge.store.db import normalize_url


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'db.sqlite3'}")
    db.migrate()
    yield db
    db.dispose()


def test_sqlite_pragmas(sqlite_db: Database) -> None:
    with sqlite_db.session() as s:
        assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert s.execute(text("PRAGMA busy_timeout")).scalar() == 30_000


def _other_writer_blocked(path: str) -> bool:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return True
    finally:
        other.close()


def test_sqlite_write_transactions_begin_immediate(sqlite_db: Database) -> None:
    path = sqlite_db.url.database
    with sqlite_db.transaction() as s:
        s.execute(text("SELECT 1"))  # no write yet, but the write lock is already held
        assert _other_writer_blocked(path)
    assert not _other_writer_blocked(path)
    with sqlite_db.session() as s:
        s.execute(text("SELECT count(*) FROM accounts"))  # readers take no write lock
        assert not _other_writer_blocked(path)


def test_sqlite_transaction_rolls_back_on_error(sqlite_db: Database) -> None:
    with pytest.raises(RuntimeError), sqlite_db.transaction() as s:
        s.execute(
            text(
                "INSERT INTO accounts (id, name, balance_micros, created_at)"
                " VALUES ('a', 'n', 0, '2026-01-01')"
            )
        )
        raise RuntimeError
    with sqlite_db.session() as s:
        assert s.execute(text("SELECT count(*) FROM accounts")).scalar() == 0


def test_sqlite_foreign_keys_enforced(sqlite_db: Database) -> None:
    with pytest.raises(Exception, match="FOREIGN KEY"), sqlite_db.transaction() as s:
        s.execute(
            text(
                "INSERT INTO api_keys (id, account_id, name, key_hash, display_prefix, created_at)"
                " VALUES ('k', 'missing', 'n', 'h', 'p', '2026-01-01')"
            )
        )


def test_url_normalisation_and_settings(tmp_path: Path) -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"
    db = Database.from_settings(Settings(data_dir=tmp_path / "d"))
    try:
        assert db.is_sqlite and db.url.database == str(tmp_path / "d" / "pixelforge.sqlite3")
        db.migrate()
        assert (tmp_path / "d" / "pixelforge.sqlite3").exists()
    finally:
        db.dispose()
    assert "secret" not in repr(Database("postgresql://u:secret@h/db"))


def test_read_first_needs_no_transaction(sqlite_db: Database) -> None:
    path = sqlite_db.url.database
    blocker = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another process is writing
        assert sqlite_db.read_first(text("SELECT count(*) FROM accounts"))[0] == 0  # WAL: reads go on
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    with sqlite_db.engine.connect() as conn:
        assert not conn.connection.dbapi_connection.in_transaction


def test_fetch_one_sees_other_writers_at_once_and_holds_no_snapshot(sqlite_db: Database) -> None:
    sql = "SELECT count(*) FROM accounts"
    assert sqlite_db.fetch_one(sql) == (0,)
    other = Database(str(sqlite_db.url))
    try:
        with other.transaction() as s:
            s.execute(text("INSERT INTO accounts VALUES ('a1', 'n', 0, '2026-01-01 00:00:00')"))
        assert sqlite_db.fetch_one(sql) == (1,)  # same thread, same raw connection, new data
        raw = sqlite_db._local.conn
        assert not raw.in_transaction
        # A checkpoint can run to completion: no reader is pinning an old snapshot.
        with other.engine.connect() as c:
            busy, _, _ = c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        assert busy == 0
    finally:
        other.dispose()
    sqlite_db.dispose()
    assert sqlite_db._raw_conns == []


def test_fetch_one_per_thread_connections(sqlite_db: Database) -> None:
    seen: list[object] = []

    def work() -> None:
        assert sqlite_db.fetch_one("SELECT 1") == (1,)
        seen.append(sqlite_db._local.conn)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in seen}) == 3
