"""The balance ledger. Money is integer micro-USD (1 USD = 1_000_000).

Every change of a balance is one appended ``LedgerEntry`` written in the same transaction as the
change of ``accounts.balance_micros``, so the sum of an account's entries always equals its
balance. A debit is one conditional ``UPDATE … SET balance = balance - n WHERE balance >= n``: the
database serialises concurrent debits of one account on that row (a row lock on PostgreSQL, the
``BEGIN IMMEDIATE`` write lock on SQLite), the condition makes overdrawing impossible, and a CHECK
constraint backs it. Refunds are idempotent per job: at most one ``refund`` entry per job is
possible (a unique constraint on ``(job_id, kind)``), and a refund locks the job's debit entry
first so two concurrent refunds of one job queue instead of racing.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pixelforge.store.db import Database
from pixelforge.store.errors import InsufficientBalance, InvalidAmount, NotFound, StoreError
from pixelforge.store.models import Account, LedgerEntry, utcnow

MICROS_PER_USD = 1_000_000
_accounts = Account.__table__


def usd_to_micros(usd: str | int | float | Decimal) -> int:
    """``"10"``/``10``/``0.25`` USD → micro-USD, exactly (floats go through their shortest repr)."""
    try:
        d = Decimal(str(usd)) if not isinstance(usd, Decimal) else usd
    except InvalidOperation:
        raise InvalidAmount(f"not an amount of USD: {usd!r}") from None
    if not d.is_finite():
        raise InvalidAmount(f"not an amount of USD: {usd!r}")
    micros = (d * MICROS_PER_USD).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return int(micros)


def micros_to_usd(micros: int) -> float:
    return micros / MICROS_PER_USD


def _check_positive(micros: int, what: str) -> None:
    if isinstance(micros, bool) or not isinstance(micros, int) or micros <= 0:
        raise InvalidAmount(f"{what} must be a positive integer of micro-USD, got {micros!r}")


def balance(db: Database, account_id: str) -> int:
    row = db.fetch_one("SELECT balance_micros FROM accounts WHERE id = ?", (account_id,))
    if row is None:
        raise NotFound(f"no account {account_id!r}")
    return row[0]


def ledger_sum(db: Database, account_id: str) -> int:
    """Sum of the account's entries (equals ``balance``; an audit/test helper)."""
    with db.session() as s:
        return int(
            s.scalar(
                select(func.coalesce(func.sum(LedgerEntry.amount_micros), 0)).where(
                    LedgerEntry.account_id == account_id
                )
            )
        )


def entries(db: Database, account_id: str, limit: int = 100) -> list[LedgerEntry]:
    """The account's most recent entries, newest first."""
    with db.session() as s:
        return list(
            s.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.account_id == account_id)
                .order_by(LedgerEntry.id.desc())
                .limit(limit)
            )
        )


def credit(db: Database, account_id: str, micros: int, reason: str = "") -> int:
    """Add ``micros`` (> 0) to the balance; returns the new balance."""
    _check_positive(micros, "a credit")
    with db.transaction() as s:
        return credit_in(s, account_id, micros, reason)


def credit_in(s: Session, account_id: str, micros: int, reason: str = "") -> int:
    new = s.execute(
        update(_accounts)
        .where(_accounts.c.id == account_id)
        .values(balance_micros=_accounts.c.balance_micros + micros)
        .returning(_accounts.c.balance_micros)
    ).scalar_one_or_none()
    if new is None:
        raise NotFound(f"no account {account_id!r}")
    s.add(
        LedgerEntry(
            account_id=account_id,
            kind="credit",
            amount_micros=micros,
            balance_after_micros=new,
            reason=reason,
            created_at=utcnow(),
        )
    )
    s.flush()
    return new


def debit(db: Database, account_id: str, micros: int, job_id: str | None = None, reason: str = "") -> int:
    """Take ``micros`` from the balance atomically; returns the new balance. Raises
    ``InsufficientBalance`` (and changes nothing) when the balance is smaller. A zero amount is a
    no-op (nothing to refund later). At most one debit per ``job_id``."""
    with db.transaction() as s:
        return debit_in(s, account_id, micros, job_id, reason)


def debit_in(s: Session, account_id: str, micros: int, job_id: str | None = None, reason: str = "") -> int:
    if micros == 0:
        value = s.scalar(select(Account.balance_micros).where(Account.id == account_id))
        if value is None:
            raise NotFound(f"no account {account_id!r}")
        return value
    _check_positive(micros, "a debit")
    new = s.execute(
        update(_accounts)
        .where(_accounts.c.id == account_id, _accounts.c.balance_micros >= micros)
        .values(balance_micros=_accounts.c.balance_micros - micros)
        .returning(_accounts.c.balance_micros)
    ).scalar_one_or_none()
    if new is None:
        current = s.scalar(select(Account.balance_micros).where(Account.id == account_id))
        if current is None:
            raise NotFound(f"no account {account_id!r}")
        raise InsufficientBalance(account_id, micros, current)
    s.add(
        LedgerEntry(
            account_id=account_id,
            kind="debit",
            amount_micros=-micros,
            balance_after_micros=new,
            job_id=job_id,
            reason=reason,
            created_at=utcnow(),
        )
    )
    try:
        s.flush()
    except IntegrityError as exc:
        raise StoreError(f"job {job_id!r} has already been charged") from exc
    return new


def refund(db: Database, job_id: str, reason: str = "refund") -> int | None:
    """Give back a job's debit, once. Returns the new balance, or None when the job has no debit
    or was already refunded (so calling it again, from anywhere, is harmless)."""
    try:
        with db.transaction() as s:
            return refund_in(s, job_id, reason)
    except IntegrityError:
        # Lost a race with a concurrent refund of the same job: that one counted, this one did not.
        return None


def refund_in(s: Session, job_id: str, reason: str = "refund") -> int | None:
    charge = s.scalars(
        select(LedgerEntry).where(LedgerEntry.job_id == job_id, LedgerEntry.kind == "debit").with_for_update()
    ).first()
    if charge is None:
        return None
    already = s.scalar(
        select(LedgerEntry.id).where(LedgerEntry.job_id == job_id, LedgerEntry.kind == "refund")
    )
    if already is not None:
        return None
    amount = -charge.amount_micros
    new = s.execute(
        update(_accounts)
        .where(_accounts.c.id == charge.account_id)
        .values(balance_micros=_accounts.c.balance_micros + amount)
        .returning(_accounts.c.balance_micros)
    ).scalar_one()
    s.add(
        LedgerEntry(
            account_id=charge.account_id,
            kind="refund",
            amount_micros=amount,
            balance_after_micros=new,
            job_id=job_id,
            reason=reason,
            created_at=utcnow(),
        )
    )
    s.flush()
    return new
