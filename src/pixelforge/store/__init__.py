"""The store: SQLAlchemy models, Alembic migrations, accounts and keys, the ledger, jobs, files.

Public surface (see docs/dev/CONTRACTS.md, "Store"): ``Database`` and the modules ``keys``,
``ledger``, ``jobs``, ``files``, ``secrets``; errors from ``pixelforge.store.errors``.
"""

from pixelforge.store import files, jobs, keys, ledger, secrets
from pixelforge.store.db import Database
from pixelforge.store.errors import InsufficientBalance, InvalidAmount, NotFound, StoreError
from pixelforge.store.keys import AuthContext
from pixelforge.store.ledger import MICROS_PER_USD, micros_to_usd, usd_to_micros
from pixelforge.store.models import Account, ApiKey, Job, LedgerEntry, StoredFile

__all__ = [
    "MICROS_PER_USD",
    "Account",
    "ApiKey",
    "AuthContext",
    "Database",
    "InsufficientBalance",
    "InvalidAmount",
    "Job",
    "LedgerEntry",
    "NotFound",
    "StoreError",
    "StoredFile",
    "files",
    "jobs",
    "keys",
    "ledger",
    "micros_to_usd",
    "secrets",
    "usd_to_micros",
]
