"""Generation jobs: one row per request, the source of truth for its state.

States: ``pending`` → ``running`` → ``succeeded`` | ``failed``; ``pending`` → ``cancelled``.
``claim_next`` moves the oldest pending job to running for exactly one worker: on PostgreSQL with
``SELECT … FOR UPDATE SKIP LOCKED`` (workers never wait on each other's rows), on SQLite inside a
``BEGIN IMMEDIATE`` transaction (one claimer at a time).

Money: ``create_job(..., charge=True)`` debits the job's price in the same transaction as the
insert (no job without its payment, no payment without its job). ``fail_job``, ``cancel_job`` and
``fail_interrupted`` refund the job's debit in the same transaction as the state change by default;
refunds are idempotent, so a caller that also calls ``ledger.refund`` changes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from pixelforge.store import ledger
from pixelforge.store.db import Database
from pixelforge.store.models import Job, new_job_id, utcnow

INTERRUPTED_ERROR = {
    "code": "interrupted",
    "message": "the server stopped while this job was running; it was refunded",
}


def create_job(
    db: Database,
    account_id: str,
    kind: str,
    request: dict[str, Any],
    *,
    key_id: str | None = None,
    price_micros: int = 0,
    job_id: str | None = None,
    charge: bool = False,
    reason: str = "",
) -> Job:
    """Insert a pending job. With ``charge=True`` its price is debited in the same transaction
    (``InsufficientBalance`` then means no job was created)."""
    if price_micros < 0:
        raise ValueError(f"price_micros must not be negative, got {price_micros}")
    with db.transaction() as s:
        job = Job(
            id=job_id or new_job_id(),
            account_id=account_id,
            key_id=key_id,
            kind=kind,
            status="pending",
            request=request,
            price_micros=price_micros,
            created_at=utcnow(),
        )
        s.add(job)
        s.flush()
        if charge and price_micros:
            ledger.debit_in(s, account_id, price_micros, job.id, reason or f"{kind} job")
    return job


def get_job(
    db: Database, job_id: str, account_id: str | None = None, *, key_id: str | None = None
) -> Job | None:
    """The job, or None when it does not exist or (with ``account_id`` / ``key_id``) belongs to
    another account or was submitted with another key."""
    with db.session() as s:
        job = s.get(Job, job_id)
    if job is None or (account_id is not None and job.account_id != account_id):
        return None
    if key_id is not None and job.key_id != key_id:
        return None
    return job


def list_jobs(
    db: Database, account_id: str, limit: int = 50, *, status: str | None = None, key_id: str | None = None
) -> list[Job]:
    """The account's (or, with ``key_id``, that key's) most recent jobs, newest first."""
    stmt = (
        select(Job)
        .where(Job.account_id == account_id)
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(max(0, limit))
    )
    if status is not None:
        stmt = stmt.where(Job.status == status)
    if key_id is not None:
        stmt = stmt.where(Job.key_id == key_id)
    with db.session() as s:
        return list(s.scalars(stmt))


def claim_next(db: Database, worker: str | None = None, *, kinds: list[str] | None = None) -> Job | None:
    """Move the oldest pending job (of ``kinds``, if given) to running and return it; None when
    there is none. Each job is handed to exactly one caller, across threads and processes."""
    stmt = select(Job).where(Job.status == "pending")
    if kinds:
        stmt = stmt.where(Job.kind.in_(kinds))
    stmt = stmt.order_by(Job.created_at, Job.id).limit(1).with_for_update(skip_locked=True)
    with db.transaction() as s:
        job = s.scalars(stmt).first()
        if job is None:
            return None
        job.status = "running"
        job.started_at = utcnow()
        job.worker = worker
    return job


def _transition(
    db: Database, job_id: str, allowed: tuple[str, ...], status: str, refund: bool, **values: Any
) -> Job | None:
    with db.transaction() as s:
        job = s.scalars(select(Job).where(Job.id == job_id).with_for_update()).first()
        if job is None or job.status not in allowed:
            return None
        job.status = status
        job.finished_at = utcnow()
        for name, value in values.items():
            setattr(job, name, value)
        if refund:
            ledger.refund_in(s, job_id, f"refund: job {status}")
    return job


def finish_job(db: Database, job_id: str, result: dict[str, Any]) -> Job | None:
    """running → succeeded with ``result``. None when the job is not running (e.g. it was failed
    by restart recovery meanwhile): the caller must then not deliver it as a success."""
    return _transition(db, job_id, ("running",), "succeeded", False, result=result)


def fail_job(db: Database, job_id: str, error: dict[str, Any], *, refund: bool = True) -> Job | None:
    """pending/running → failed with ``error`` and (by default) the job's debit refunded in the same
    transaction. None when the job had already finished."""
    return _transition(db, job_id, ("pending", "running"), "failed", refund, error=error)


def cancel_job(
    db: Database, job_id: str, account_id: str | None = None, *, refund: bool = True
) -> Job | None:
    """pending → cancelled (refunded). None when not pending or not the owner's."""
    if account_id is not None and get_job(db, job_id, account_id) is None:
        return None
    return _transition(db, job_id, ("pending",), "cancelled", refund)


def fail_interrupted(db: Database, *, refund: bool = True) -> list[str]:
    """At start-up: every job left ``running`` by a previous process becomes ``failed`` (error code
    ``interrupted``) and, by default, is refunded. Returns their ids. Call it before starting
    workers; with several server processes on one PostgreSQL only the first one may call it."""
    with db.transaction() as s:
        jobs = list(s.scalars(select(Job).where(Job.status == "running").with_for_update()))
        now = utcnow()
        for job in jobs:
            job.status = "failed"
            job.error = dict(INTERRUPTED_ERROR)
            job.finished_at = now
            if refund:
                ledger.refund_in(s, job.id, "refund: job interrupted")
    return [job.id for job in jobs]
