"""The store's exception tree (everything the store raises on purpose derives from StoreError).

StoreError
 ├── InsufficientBalance   a debit larger than the account's balance; nothing was changed
 ├── NotFound              an account, key or job that does not exist (or is not the caller's)
 └── InvalidAmount         a money amount that is not a positive whole number of micro-USD
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of the store's deliberate errors."""


class InsufficientBalance(StoreError):
    def __init__(self, account_id: str, needed_micros: int, balance_micros: int) -> None:
        self.account_id = account_id
        self.needed_micros = needed_micros
        self.balance_micros = balance_micros
        super().__init__(
            f"account {account_id!r} has {balance_micros} micro-USD, {needed_micros} micro-USD needed"
        )


class NotFound(StoreError):
    pass


class InvalidAmount(StoreError, ValueError):
    pass
