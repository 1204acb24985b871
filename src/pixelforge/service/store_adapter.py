"""The few store operations the service and the job runner use, in one place.

They are the store's contract functions (docs/dev/CONTRACTS.md), with the store's errors turned into
the service's. :func:`create_paid_job` writes the job row and its debit in ONE transaction, so a
request is never charged without a job nor queued without a charge, whatever crashes in between.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pixelforge.service.errors import InsufficientBalance
from pixelforge.store import errors as store_errors
from pixelforge.store import files, jobs, ledger


def balance(db: Any, account_id: str) -> int:
    return ledger.balance(db, account_id)


def create_paid_job(
    db: Any,
    *,
    job_id: str | None = None,
    account_id: str,
    key_id: str | None,
    kind: str,
    request: dict[str, Any],
    price_micros: int,
) -> str:
    """Insert a pending job and debit its price in ONE transaction; returns the job id.

    Raises :class:`InsufficientBalance` (nothing written) when the balance is short.
    """
    try:
        job = jobs.create_job(
            db,
            account_id,
            kind,
            request,
            key_id=key_id,
            price_micros=price_micros,
            job_id=job_id,
            charge=True,
            reason=f"{kind} job",
        )
    except store_errors.InsufficientBalance as exc:
        raise InsufficientBalance(exc.needed_micros, exc.balance_micros) from None
    return job.id


def get_job(db: Any, job_id: str, account_id: str | None = None, key_id: str | None = None) -> Any:
    return jobs.get_job(db, job_id, account_id, key_id=key_id)


def list_jobs(db: Any, account_id: str, limit: int, key_id: str | None = None) -> list[Any]:
    return list(jobs.list_jobs(db, account_id, limit, key_id=key_id))


def read_file(db: Any, data_dir: Path, file_id: str) -> tuple[bytes, str] | None:
    """(bytes, content type) of a live file, or None when it does not exist or has expired."""
    stored = files.get_file(db, file_id)
    if stored is None:
        return None
    try:
        return files.file_path(data_dir, stored).read_bytes(), stored.content_type
    except FileNotFoundError:
        return None
