from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest

from pixelforge.store import Database, InsufficientBalance, jobs, keys, ledger


def _acct(db: Database, micros: int = 1_000_000) -> str:
    return keys.create_account(db, "a", initial_micros=micros).id


def test_lifecycle_and_ownership(db: Database) -> None:
    a, b = _acct(db), _acct(db)
    key, _ = keys.create_key(db, a, "k")
    job = jobs.create_job(db, a, "inference", {"prompt": "cat"}, key_id=key.id, price_micros=1_000)
    assert job.status == "pending" and job.request == {"prompt": "cat"} and job.created_at.tzinfo
    assert jobs.get_job(db, job.id, a).id == job.id
    assert jobs.get_job(db, job.id, b) is None  # someone else's → None (the API answers 404)
    assert jobs.get_job(db, "nope", a) is None
    claimed = jobs.claim_next(db, "w1")
    assert claimed.id == job.id and claimed.status == "running" and claimed.worker == "w1"
    assert claimed.started_at is not None
    done = jobs.finish_job(db, job.id, {"images": ["x"]})
    assert done.status == "succeeded" and done.result == {"images": ["x"]} and done.finished_at
    assert jobs.finish_job(db, job.id, {}) is None
    assert jobs.fail_job(db, job.id, {"code": "late"}) is None  # a finished job stays finished
    assert jobs.get_job(db, job.id).status == "succeeded"


def test_list_jobs_newest_first_and_only_own(db: Database) -> None:
    a, b = _acct(db), _acct(db)
    ids = [jobs.create_job(db, a, "inference", {"i": i}).id for i in range(5)]
    jobs.create_job(db, b, "inference", {})
    listed = jobs.list_jobs(db, a, limit=3)
    assert [j.id for j in listed] == ids[::-1][:3]
    assert all(j.account_id == a for j in jobs.list_jobs(db, a))
    assert jobs.list_jobs(db, a, status="running") == []


def test_create_job_with_charge_is_atomic(db: Database) -> None:
    a = _acct(db, 5_000)
    job = jobs.create_job(db, a, "inference", {}, price_micros=3_000, charge=True)
    assert ledger.balance(db, a) == 2_000
    with pytest.raises(InsufficientBalance):
        jobs.create_job(db, a, "inference", {}, price_micros=3_000, charge=True)
    assert [j.id for j in jobs.list_jobs(db, a)] == [job.id]  # the refused one left no job row
    assert ledger.ledger_sum(db, a) == 2_000


def test_failed_job_is_refunded_exactly_once(db: Database) -> None:
    a = _acct(db, 10_000)
    job = jobs.create_job(db, a, "inference", {}, price_micros=4_000, charge=True)
    jobs.claim_next(db)
    failed = jobs.fail_job(db, job.id, {"code": "engine_error", "message": "boom"})
    assert failed.status == "failed" and failed.error["code"] == "engine_error"
    assert ledger.balance(db, a) == 10_000
    assert ledger.refund(db, job.id) is None  # the caller refunding as well changes nothing
    assert jobs.fail_job(db, job.id, {"code": "again"}) is None
    assert ledger.balance(db, a) == 10_000 == ledger.ledger_sum(db, a)
    assert [e.kind for e in ledger.entries(db, a)] == ["refund", "debit", "credit"]


def test_cancel_pending_refunds(db: Database) -> None:
    a, b = _acct(db, 10_000), _acct(db)
    job = jobs.create_job(db, a, "inference", {}, price_micros=1_000, charge=True)
    assert jobs.cancel_job(db, job.id, account_id=b) is None
    assert jobs.cancel_job(db, job.id, account_id=a).status == "cancelled"
    assert ledger.balance(db, a) == 10_000
    assert jobs.claim_next(db) is None


def test_fail_interrupted_fails_and_refunds_running_jobs(make_db: Callable[..., Database]) -> None:
    before = make_db()
    a = _acct(before, 10_000)
    running = jobs.create_job(before, a, "inference", {}, price_micros=2_000, charge=True)
    pending = jobs.create_job(before, a, "inference", {}, price_micros=3_000, charge=True)
    assert jobs.claim_next(before, "dead-worker").id == running.id
    before.dispose()  # the "process" dies with one job running

    after = make_db()
    assert jobs.fail_interrupted(after) == [running.id]
    job = jobs.get_job(after, running.id)
    assert job.status == "failed" and job.error["code"] == "interrupted"
    assert jobs.get_job(after, pending.id).status == "pending"  # pending work is not lost
    assert ledger.balance(after, a) == 10_000 - 3_000 == ledger.ledger_sum(after, a)
    assert jobs.fail_interrupted(after) == []


def test_claim_next_in_creation_order_and_by_kind(db: Database) -> None:
    a = _acct(db)
    j1 = jobs.create_job(db, a, "inference", {})
    j2 = jobs.create_job(db, a, "edit", {})
    assert jobs.claim_next(db, kinds=["edit"]).id == j2.id
    assert jobs.claim_next(db).id == j1.id
    assert jobs.claim_next(db) is None


def test_claim_next_never_hands_one_job_to_two_workers(make_db: Callable[..., Database]) -> None:
    n_workers, n_jobs = 8, 60
    db = make_db(pool_size=n_workers + 2)
    a = _acct(db)
    created = {jobs.create_job(db, a, "inference", {"i": i}).id for i in range(n_jobs)}
    claims: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n_workers)
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            barrier.wait(timeout=30)
            while (job := jobs.claim_next(db, name)) is not None:
                with lock:
                    claims.append(job.id)
                jobs.finish_job(db, job.id, {"by": name})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(n_workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors[:3]
    assert Counter(claims).most_common(1)[0][1] == 1  # nobody got a job twice
    assert set(claims) == created
    assert {j.status for j in jobs.list_jobs(db, a, limit=1000)} == {"succeeded"}
