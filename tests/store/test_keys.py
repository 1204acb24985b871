from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text

from pixelforge.store import Database, NotFound, keys, ledger


def test_key_is_prefixed_random_and_only_its_hash_is_stored(db: Database) -> None:
    acct = keys.create_account(db, "demo")
    key, raw = keys.create_key(db, acct.id, "laptop")
    assert raw.startswith("rdpk-") and len(raw) >= 40
    assert key.key_hash == keys.hash_key(raw) != raw
    assert raw.startswith(key.display_prefix) and len(key.display_prefix) < len(raw) // 2
    with db.session() as s:
        dump = " ".join(
            str(v)
            for table in ("accounts", "api_keys", "ledger_entries")
            for row in s.execute(text(f"SELECT * FROM {table}"))
            for v in row
        )
    assert raw not in dump and raw[len("rdpk-") :] not in dump


def test_authenticate(db: Database) -> None:
    acct = keys.create_account(db, "demo")
    key, raw = keys.create_key(db, acct.id, "laptop")
    ctx = keys.authenticate(db, raw)
    assert ctx == keys.AuthContext(account_id=acct.id, key_id=key.id, key_name="laptop")
    for bad in (None, "", "rdpk-nope", raw + "x", raw[:-1], "x" * 10_000):
        assert keys.authenticate(db, bad) is None


def test_several_keys_per_account_share_one_balance(db: Database) -> None:
    acct = keys.create_account(db, "team", initial_micros=2_000_000)
    (k1, raw1), (k2, raw2) = keys.create_key(db, acct.id, "a"), keys.create_key(db, acct.id, "b")
    assert raw1 != raw2 and k1.id != k2.id
    c1, c2 = keys.authenticate(db, raw1), keys.authenticate(db, raw2)
    assert c1 and c2 and c1.account_id == c2.account_id == acct.id
    assert [k.id for k in keys.list_keys(db, acct.id)] == [k1.id, k2.id]
    assert ledger.balance(db, acct.id) == 2_000_000 == ledger.ledger_sum(db, acct.id)


def test_revoked_key_is_rejected_at_once_in_another_process(make_db: Callable[..., Database]) -> None:
    server, cli = make_db(), make_db()  # two engines on one database: a server and a `keys` command
    acct = keys.create_account(cli, "demo")
    key, raw = keys.create_key(cli, acct.id, "k")
    assert keys.authenticate(server, raw) is not None  # created elsewhere, no restart needed
    assert keys.revoke_key(cli, key.id) is True
    assert keys.authenticate(server, raw) is None
    assert keys.revoke_key(cli, key.id) is False
    assert keys.get_key(server, key.id).revoked
    assert [k.id for k in keys.list_keys(server, acct.id, include_revoked=False)] == []
    with pytest.raises(NotFound):
        keys.revoke_key(cli, "key_missing")


def test_revoke_checks_the_owner(db: Database) -> None:
    a, b = keys.create_account(db, "a"), keys.create_account(db, "b")
    key, raw = keys.create_key(db, a.id, "k")
    with pytest.raises(NotFound):
        keys.revoke_key(db, key.id, account_id=b.id)
    assert keys.authenticate(db, raw) is not None


def test_accounts(db: Database) -> None:
    a = keys.create_account(db, "  demo ", initial_micros=5)
    assert a.name == "demo" and keys.get_account(db, a.id).balance_micros == 5
    assert [x.id for x in keys.find_accounts(db, "demo")] == [a.id]
    assert keys.get_account(db, "acct_missing") is None
    with pytest.raises(NotFound):
        keys.create_key(db, "acct_missing", "k")
    with pytest.raises(ValueError):
        keys.create_account(db, " ")
