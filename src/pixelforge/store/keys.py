"""Accounts and API keys.

A raw key is ``rdpk-`` + 43 URL-safe characters (256 random bits). The store keeps only its SHA-256
(with a domain-separation prefix). Why a fast unkeyed hash and not bcrypt/argon2 or an HMAC: slow
hashes exist to protect low-entropy passwords from guessing; a 256-bit random key cannot be guessed,
so one SHA-256 is as strong here and keeps authentication to one indexed lookup (microseconds, on
every request). An HMAC with a server secret would add nothing against guessing and would tie every
key to a secret file that several servers sharing one PostgreSQL would all need.

``authenticate`` reads the database on every call and caches nothing, so a key created or revoked
by another process (``pixelforge keys …`` next to a running server) takes effect at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update

from pixelforge.store.db import Database
from pixelforge.store.errors import InvalidAmount, NotFound
from pixelforge.store.models import Account, ApiKey, LedgerEntry, utcnow

KEY_PREFIX = "rdpk-"
_KEY_RANDOM_BYTES = 32
_HASH_DOMAIN = b"pixelforge-api-key-v1:"
# Longer than any key we issue; anything longer is rejected before hashing.
_MAX_KEY_LENGTH = 200
# Hand-written: it runs on every request (see Database.fetch_one). The unique index on key_hash serves it.
_AUTH_SQL = "SELECT account_id, id, name FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL"


@dataclass(frozen=True, slots=True)
class AuthContext:
    account_id: str
    key_id: str
    key_name: str


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(_KEY_RANDOM_BYTES)


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(_HASH_DOMAIN + raw_key.encode("utf-8")).hexdigest()


def create_account(
    db: Database, name: str, *, initial_micros: int = 0, reason: str = "initial balance"
) -> Account:
    """A new account; with ``initial_micros`` its opening credit is written in the same transaction."""
    if not name or not name.strip():
        raise ValueError("account name must not be empty")
    if initial_micros < 0:
        raise InvalidAmount(f"initial balance must not be negative, got {initial_micros}")
    with db.transaction() as s:
        account = Account(name=name.strip(), balance_micros=initial_micros, created_at=utcnow())
        s.add(account)
        s.flush()
        if initial_micros:
            s.add(
                LedgerEntry(
                    account_id=account.id,
                    kind="credit",
                    amount_micros=initial_micros,
                    balance_after_micros=initial_micros,
                    reason=reason,
                )
            )
    return account


def get_account(db: Database, account_id: str) -> Account | None:
    with db.session() as s:
        return s.get(Account, account_id)


def list_accounts(db: Database) -> list[Account]:
    with db.session() as s:
        return list(s.scalars(select(Account).order_by(Account.created_at, Account.id)))


def find_accounts(db: Database, name: str) -> list[Account]:
    with db.session() as s:
        return list(s.scalars(select(Account).where(Account.name == name).order_by(Account.created_at)))


def create_key(db: Database, account_id: str, name: str) -> tuple[ApiKey, str]:
    """A new key for an existing account. Returns the row and the raw key; the raw key is not
    stored anywhere and cannot be shown again."""
    raw = generate_key()
    with db.transaction() as s:
        if s.get(Account, account_id) is None:
            raise NotFound(f"no account {account_id!r}")
        key = ApiKey(
            account_id=account_id,
            name=name.strip() or "key",
            key_hash=hash_key(raw),
            display_prefix=raw[: len(KEY_PREFIX) + 6],
            created_at=utcnow(),
        )
        s.add(key)
    return key, raw


def authenticate(db: Database, raw_key: str | None) -> AuthContext | None:
    """The key's account and id, or None for a missing, unknown or revoked key."""
    if not raw_key or len(raw_key) > _MAX_KEY_LENGTH:
        return None
    digest = hash_key(raw_key)
    row = db.fetch_one(_AUTH_SQL, (digest,))
    if row is None:
        return None
    return AuthContext(account_id=row[0], key_id=row[1], key_name=row[2])


def get_key(db: Database, key_id: str) -> ApiKey | None:
    with db.session() as s:
        return s.get(ApiKey, key_id)


def list_keys(db: Database, account_id: str | None = None, *, include_revoked: bool = True) -> list[ApiKey]:
    """Keys of one account (or of all accounts when ``account_id`` is None), oldest first."""
    stmt = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if account_id is not None:
        stmt = stmt.where(ApiKey.account_id == account_id)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    with db.session() as s:
        return list(s.scalars(stmt))


def revoke_key(db: Database, key_id: str, account_id: str | None = None) -> bool:
    """Revoke a key (from the next request on, in every process). True when this call revoked it,
    False when it already was; NotFound when there is no such key (for ``account_id``)."""
    with db.transaction() as s:
        cond = [ApiKey.id == key_id]
        if account_id is not None:
            cond.append(ApiKey.account_id == account_id)
        if s.scalar(select(ApiKey.id).where(*cond)) is None:
            raise NotFound(f"no API key {key_id!r}")
        changed = s.execute(
            update(ApiKey).where(*cond, ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow())
        ).rowcount
    return bool(changed)
