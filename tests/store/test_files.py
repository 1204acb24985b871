from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from pixelforge.store import Database, files, keys
from pixelforge.store.models import utcnow


def test_save_get_read(db: Database, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    a, b = keys.create_account(db, "a").id, keys.create_account(db, "b").id
    stored = files.save_file(db, data_dir, a, "job-1", b"\x89PNG...", "image/png", ttl_s=3600)
    assert stored.id.startswith("f_") and len(stored.id) >= 20
    assert stored.size_bytes == 7 and stored.sha256 == hashlib.sha256(b"\x89PNG...").hexdigest()
    path = files.file_path(data_dir, stored)
    assert path.read_bytes() == b"\x89PNG..." and path.is_relative_to(data_dir / "files")
    assert files.get_file(db, stored.id).content_type == "image/png"
    assert files.get_file(db, stored.id, account_id=b) is None
    assert files.read_file(db, data_dir, stored.id, account_id=a) == b"\x89PNG..."
    assert files.get_file(db, "f_missing") is None
    assert [f.id for f in files.list_job_files(db, "job-1")] == [stored.id]
    assert not list(path.parent.glob(".tmp-*"))


def test_expiry_and_purge(db: Database, tmp_path: Path) -> None:
    a = keys.create_account(db, "a").id
    old = files.save_file(db, tmp_path, a, None, b"old", "image/png", ttl_s=60)
    keep = files.save_file(db, tmp_path, a, None, b"keep", "image/png", ttl_s=None)
    assert files.purge_expired(db, tmp_path) == 0
    later = utcnow() + timedelta(seconds=61)
    assert files.purge_expired(db, tmp_path, now=later) == 1
    assert not files.file_path(tmp_path, old).exists()
    assert files.get_file(db, old.id) is None
    assert files.read_file(db, tmp_path, keep.id) == b"keep"


def test_expired_file_is_not_served_before_purge(db: Database, tmp_path: Path) -> None:
    a = keys.create_account(db, "a").id
    gone = files.save_file(db, tmp_path, a, None, b"x", "image/png", ttl_s=-1)
    assert files.get_file(db, gone.id) is None
    assert files.read_file(db, tmp_path, gone.id) is None


def test_failed_insert_leaves_no_bytes_behind(db: Database, tmp_path: Path) -> None:
    with pytest.raises(IntegrityError):
        files.save_file(db, tmp_path, "acct_missing", None, b"orphan", "image/png")
    assert [p for p in (tmp_path / "files").rglob("*") if p.is_file()] == []
