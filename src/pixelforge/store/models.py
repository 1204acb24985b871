"""SQLAlchemy 2 models. The Alembic migrations in ``migrations/versions`` must match these exactly
(tests/store/test_migrations.py compares them on SQLite and PostgreSQL).

Money is integer micro-USD (``*_micros``, 1 USD = 1_000_000). Timestamps are timezone-aware UTC.
Ids are random strings (``acct_…``, ``key_…``, uuid4 for jobs, ``f_…`` for files): nothing is
enumerable from the outside.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint names, so migrations can name (and later drop) every constraint.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JOB_STATUSES = ("pending", "running", "succeeded", "failed", "cancelled")
FINISHED_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
LEDGER_KINDS = ("credit", "debit", "refund")

# SQLite only auto-increments an ``INTEGER PRIMARY KEY``; PostgreSQL gets a 64-bit identity.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive text and loses the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_account_id() -> str:
    return "acct_" + secrets.token_hex(8)


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)


def new_job_id() -> str:
    return str(uuid.uuid4())


def new_file_id() -> str:
    # 128 random bits: a file id is also part of its (signed) URL.
    return "f_" + secrets.token_urlsafe(16)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint("balance_micros >= 0", name="balance_not_negative"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_account_id)
    name: Mapped[str] = mapped_column(String(200))
    balance_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_key_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # Hex SHA-256 of the raw key (see keys.hash_key); the raw key itself is never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the raw key, so a person can tell keys apart in `keys list`.
    display_prefix: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class LedgerEntry(Base):
    """One change of one account's balance. Rows are only ever inserted, never updated or deleted;
    the sum of an account's ``amount_micros`` always equals its ``accounts.balance_micros``."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("kind IN ('credit', 'debit', 'refund')", name="kind"),
        CheckConstraint(
            "(kind = 'debit' AND amount_micros < 0) OR (kind <> 'debit' AND amount_micros > 0)",
            name="amount_sign",
        ),
        CheckConstraint("balance_after_micros >= 0", name="balance_after_not_negative"),
        # At most one debit and one refund per job: the database itself makes refunds idempotent.
        UniqueConstraint("job_id", "kind"),
        Index(None, "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    amount_micros: Mapped[int] = mapped_column(BigInteger)
    balance_after_micros: Mapped[int] = mapped_column(BigInteger)
    # No foreign key on purpose: the ledger outlives pruned jobs, and a debit may precede its job row.
    job_id: Mapped[str | None] = mapped_column(String(40), default=None)
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')", name="status"
        ),
        CheckConstraint("price_micros >= 0", name="price_not_negative"),
        Index(None, "status", "created_at"),
        Index(None, "account_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_job_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"), default=None)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    price_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    worker: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class StoredFile(Base):
    """Metadata of one file whose bytes live at ``<data_dir>/files/<path>``."""

    __tablename__ = "files"
    __table_args__ = (
        Index(None, "expires_at"),
        Index(None, "job_id"),
        CheckConstraint("size_bytes >= 0", name="size_not_negative"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_file_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str | None] = mapped_column(String(40), default=None)
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or utcnow())
