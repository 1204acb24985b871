from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from pixelforge.store import Database, InsufficientBalance, InvalidAmount, NotFound, StoreError, keys, ledger
from pixelforge.store.models import Account, LedgerEntry


def _account(db: Database, micros: int = 0) -> str:
    return keys.create_account(db, "acct", initial_micros=micros).id


def _assert_consistent(db: Database, account_id: str) -> None:
    assert ledger.ledger_sum(db, account_id) == ledger.balance(db, account_id)


@pytest.mark.parametrize(
    ("usd", "micros"),
    [("10", 10_000_000), (10, 10_000_000), (0.25, 250_000), ("0.001", 1_000), (Decimal("1.5"), 1_500_000)],
)
def test_usd_to_micros_is_exact(usd: object, micros: int) -> None:
    assert ledger.usd_to_micros(usd) == micros  # type: ignore[arg-type]
    assert ledger.micros_to_usd(micros) == float(Decimal(micros) / 1_000_000)


@pytest.mark.parametrize("bad", ["abc", "nan", "inf"])
def test_usd_to_micros_rejects_non_amounts(bad: str) -> None:
    with pytest.raises(InvalidAmount):
        ledger.usd_to_micros(bad)


def test_credit_debit_refund_keep_ledger_equal_to_balance(db: Database) -> None:
    acct = _account(db, 5_000_000)
    assert ledger.credit(db, acct, 1_000_000, "topup") == 6_000_000
    assert ledger.debit(db, acct, 2_500_000, "job-1", "gen") == 3_500_000
    assert ledger.balance(db, acct) == 3_500_000
    assert ledger.refund(db, "job-1") == 6_000_000
    _assert_consistent(db, acct)
    kinds = [e.kind for e in ledger.entries(db, acct)]
    assert kinds == ["refund", "debit", "credit", "credit"]


def test_debit_never_goes_below_zero(db: Database) -> None:
    acct = _account(db, 1_000)
    with pytest.raises(InsufficientBalance) as info:
        ledger.debit(db, acct, 1_001, "job-x")
    assert info.value.balance_micros == 1_000 and info.value.needed_micros == 1_001
    assert ledger.balance(db, acct) == 1_000
    assert ledger.debit(db, acct, 1_000, "job-y") == 0
    with pytest.raises(InsufficientBalance):
        ledger.debit(db, acct, 1, "job-z")
    _assert_consistent(db, acct)
    assert ledger.refund(db, "job-x") is None  # a failed debit leaves nothing to refund


def test_check_constraint_backs_the_conditional_update(db: Database) -> None:
    acct = _account(db, 10)
    with pytest.raises(IntegrityError), db.transaction() as s:
        s.execute(update(Account).where(Account.id == acct).values(balance_micros=-1))
    assert ledger.balance(db, acct) == 10


def test_refund_is_idempotent(db: Database) -> None:
    acct = _account(db, 1_000_000)
    ledger.debit(db, acct, 300_000, "job-r")
    assert ledger.refund(db, "job-r") == 1_000_000
    for _ in range(3):
        assert ledger.refund(db, "job-r") is None
    assert ledger.balance(db, acct) == 1_000_000
    with db.session() as s:
        n = len(list(s.scalars(select(LedgerEntry).where(LedgerEntry.job_id == "job-r"))))
    assert n == 2
    assert ledger.refund(db, "never-charged") is None
    _assert_consistent(db, acct)


def test_one_debit_per_job(db: Database) -> None:
    acct = _account(db, 1_000_000)
    ledger.debit(db, acct, 1_000, "job-d")
    with pytest.raises(StoreError):
        ledger.debit(db, acct, 1_000, "job-d")
    assert ledger.balance(db, acct) == 999_000
    _assert_consistent(db, acct)


def test_amounts_must_be_positive_integers(db: Database) -> None:
    acct = _account(db, 1_000)
    for bad in (0, -5, 1.5, True):
        with pytest.raises(InvalidAmount):
            ledger.credit(db, acct, bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        ledger.debit(db, acct, -1)
    assert ledger.debit(db, acct, 0, "free-job") == 1_000  # free: no entry, nothing to refund
    assert ledger.refund(db, "free-job") is None
    with pytest.raises(NotFound):
        ledger.debit(db, "acct_missing", 5)
    with pytest.raises(NotFound):
        ledger.balance(db, "acct_missing")


def _run_threads(n: int, target: Callable[[int], None]) -> None:
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            target(i)
        except BaseException as exc:  # reported below, not swallowed
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors[:3]


def test_concurrent_debits_exactly_k_succeed(make_db: Callable[..., Database]) -> None:
    """100 threads, each on its own connection, debit one account whose balance covers exactly k."""
    n, k, price = 100, 37, 12_000
    db = make_db(pool_size=n + 5)
    start = k * price + price - 1  # one micro short of k + 1
    acct = _account(db, start)
    ok: list[int] = []
    refused: list[int] = []
    lock = threading.Lock()

    def charge(i: int) -> None:
        try:
            ledger.debit(db, acct, price, f"job-{i}", "concurrent")
        except InsufficientBalance:
            with lock:
                refused.append(i)
        else:
            with lock:
                ok.append(i)

    _run_threads(n, charge)
    assert len(ok) == k and len(refused) == n - k
    assert ledger.balance(db, acct) == start - k * price == price - 1
    _assert_consistent(db, acct)
    with db.session() as s:
        debits = list(s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "debit")))
    assert sorted(int(e.job_id.split("-")[1]) for e in debits) == sorted(ok)
    assert all(e.balance_after_micros >= 0 for e in debits)


def test_concurrent_refunds_of_one_job_refund_once(make_db: Callable[..., Database]) -> None:
    n = 20
    db = make_db(pool_size=n + 5)
    acct = _account(db, 50_000)
    ledger.debit(db, acct, 20_000, "job-c")
    results: list[int | None] = []
    lock = threading.Lock()

    def give_back(_: int) -> None:
        r = ledger.refund(db, "job-c")
        with lock:
            results.append(r)

    _run_threads(n, give_back)
    assert [r for r in results if r is not None] == [50_000]
    assert ledger.balance(db, acct) == 50_000
    _assert_consistent(db, acct)


_ops = st.lists(
    st.tuples(st.sampled_from(["credit", "debit", "refund"]), st.integers(1, 5_000), st.integers(0, 6)),
    max_size=25,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_ops)
def test_any_sequence_keeps_the_invariants(db: Database, ops: list[tuple[str, int, int]]) -> None:
    """Whatever happens: balance >= 0, balance == ledger sum, each job refunded at most its debit."""
    acct = _account(db, 1_000)
    tag = keys.generate_key()[-8:]  # job ids unique to this example (the database is shared)
    expected = 1_000
    charged: dict[str, int] = {}
    refunded: set[str] = set()
    for op, amount, job in ops:
        job_id = f"{tag}-{job}"
        if op == "credit":
            ledger.credit(db, acct, amount)
            expected += amount
        elif op == "debit":
            try:
                ledger.debit(db, acct, amount, job_id)
            except InsufficientBalance:
                assert amount > expected
            except StoreError:
                assert job_id in charged
            else:
                charged[job_id] = amount
                expected -= amount
        else:
            got = ledger.refund(db, job_id)
            if job_id in charged and job_id not in refunded:
                refunded.add(job_id)
                expected += charged[job_id]
                assert got == expected
            else:
                assert got is None
        assert ledger.balance(db, acct) == expected >= 0
    _assert_consistent(db, acct)


_CHILD = """
import sys
from pixelforge.store import Database, InsufficientBalance, ledger
db = Database(sys.argv[1])
ok = 0
for i in range(int(sys.argv[4])):
    try:
        ledger.debit(db, sys.argv[2], int(sys.argv[3]), f"{sys.argv[5]}-{i}")
        ok += 1
    except InsufficientBalance:
        pass
print(ok)
"""


def test_debits_from_several_processes(make_db: Callable[..., Database], db_url: str) -> None:
    """The same guarantee across processes (a second server on one database): 2 × 12 debits, 13 fit."""
    db = make_db()
    price, k = 5_000, 13
    acct = _account(db, k * price)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, db_url, acct, str(price), "12", f"p{n}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    succeeded = [int(p.communicate(timeout=60)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(succeeded) == k
    assert ledger.balance(db, acct) == 0 == ledger.ledger_sum(db, acct)
