"""Stored output files: bytes on disk under ``<data_dir>/files/``, metadata rows in ``files``.

A file id (``f_`` + 128 random bits) names its bytes at ``files/<2 chars>/<id>``; the bytes are
written to a temporary name and renamed, so a reader never sees half a file. Signed, expiring URLs
are built in ``api/`` with ``store.secrets.signing_key``; the store only knows the expiry.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from pixelforge.store.db import Database
from pixelforge.store.models import StoredFile, new_file_id, utcnow

FILES_DIRNAME = "files"


def files_root(data_dir: Path | str) -> Path:
    return Path(data_dir) / FILES_DIRNAME


def file_path(data_dir: Path | str, stored: StoredFile) -> Path:
    return files_root(data_dir) / stored.path


def save_file(
    db: Database,
    data_dir: Path | str,
    account_id: str,
    job_id: str | None,
    data: bytes,
    content_type: str,
    ttl_s: float | None = None,
) -> StoredFile:
    """Write ``data`` and its row. ``ttl_s`` None means it never expires."""
    file_id = new_file_id()
    rel = f"{file_id[2:4]}/{file_id}"
    target = files_root(data_dir) / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    now = utcnow()
    try:
        with db.transaction() as s:
            stored = StoredFile(
                id=file_id,
                account_id=account_id,
                job_id=job_id,
                content_type=content_type,
                size_bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                path=rel,
                created_at=now,
                expires_at=None if ttl_s is None else now + timedelta(seconds=ttl_s),
            )
            s.add(stored)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return stored


def get_file(db: Database, file_id: str, account_id: str | None = None) -> StoredFile | None:
    """The file's row; None when unknown, expired, or (with ``account_id``) someone else's."""
    with db.session() as s:
        stored = s.get(StoredFile, file_id)
    if stored is None or stored.expired():
        return None
    if account_id is not None and stored.account_id != account_id:
        return None
    return stored


def read_file(
    db: Database, data_dir: Path | str, file_id: str, account_id: str | None = None
) -> bytes | None:
    stored = get_file(db, file_id, account_id)
    if stored is None:
        return None
    try:
        return file_path(data_dir, stored).read_bytes()
    except FileNotFoundError:
        return None


def list_job_files(db: Database, job_id: str) -> list[StoredFile]:
    with db.session() as s:
        return list(s.scalars(select(StoredFile).where(StoredFile.job_id == job_id).order_by(StoredFile.id)))


def purge_expired(db: Database, data_dir: Path | str, now: datetime | None = None) -> int:
    """Delete expired rows and their bytes; returns how many files were purged."""
    now = now or utcnow()
    with db.transaction() as s:
        expired = list(
            s.scalars(
                select(StoredFile).where(StoredFile.expires_at.is_not(None), StoredFile.expires_at <= now)
            )
        )
        for stored in expired:
            s.delete(stored)
    # Rows first, bytes after: a crash in between leaves unreachable bytes, never a row without bytes
    # that a signed URL could still point at.
    for stored in expired:
        file_path(data_dir, stored).unlink(missing_ok=True)
    return len(expired)
