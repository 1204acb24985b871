from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pixelforge.cli import keys as keys_cli
from pixelforge.store import Database, keys, ledger

KEY_RE = re.compile(r"rdpk-[A-Za-z0-9_\-]{40,}")


@pytest.fixture
def cli() -> typer.Typer:
    # The keys group on an app of its own, so other areas' command modules cannot break these tests.
    app = typer.Typer()

    @app.callback()
    def _main() -> None:
        pass

    keys_cli.register(app)
    return app


def _run(cli: typer.Typer, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["keys", *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def test_keys_are_registered_in_the_pixelforge_command() -> None:
    from pixelforge.cli import COMMAND_MODULES

    assert "keys" in COMMAND_MODULES


def test_create_against_a_running_servers_database(
    cli: typer.Typer, db_url: str, make_db: Callable[..., Database]
) -> None:
    server = make_db()  # opened before the key exists, like a running `pixelforge serve`
    out = _run(cli, "create", "--name", "demo", "--balance", "10", "--database-url", db_url)
    raw = KEY_RE.findall(out)
    assert len(raw) == 1, out
    ctx = keys.authenticate(server, raw[0])
    assert ctx is not None and ctx.key_name == "demo"
    assert ledger.balance(server, ctx.account_id) == 10_000_000 == ledger.ledger_sum(server, ctx.account_id)

    listing = _run(cli, "list", "--database-url", db_url)
    assert ctx.key_id in listing and "$10.00" in listing and raw[0] not in listing

    out = _run(cli, "topup", ctx.key_id, "--amount", "2.5", "--database-url", db_url)
    assert "$12.50" in out
    assert ledger.balance(server, ctx.account_id) == 12_500_000

    assert "revoked" in _run(cli, "revoke", ctx.key_id, "--database-url", db_url)
    assert keys.authenticate(server, raw[0]) is None  # no restart
    assert "already" in _run(cli, "revoke", ctx.key_id, "--database-url", db_url)
    assert ctx.key_id not in _run(cli, "list", "--active", "--database-url", db_url)


def test_data_dir_env_and_option(cli: typer.Typer, data_dir: Path, tmp_path: Path) -> None:
    raw = _run(cli, "create", "--name", "env", "--quiet").strip()  # PIXELFORGE_DATA_DIR (conftest)
    assert KEY_RE.fullmatch(raw)
    assert (data_dir / "pixelforge.sqlite3").exists()
    other = tmp_path / "other"
    _run(cli, "create", "--name", "opt", "--data-dir", str(other), "-q")
    assert (other / "pixelforge.sqlite3").exists()
    assert "env" in _run(cli, "list") and "opt" not in _run(cli, "list")
    assert "opt" in _run(cli, "list", "--data-dir", str(other))


def test_second_key_for_an_account_and_topup_by_name(cli: typer.Typer, data_dir: Path) -> None:
    _run(cli, "create", "--name", "team", "--balance", "1")
    db = Database(f"sqlite:///{data_dir / 'pixelforge.sqlite3'}")
    try:
        (acct,) = keys.find_accounts(db, "team")
        raw = _run(cli, "create", "--name", "ci", "--account", acct.id, "--balance", "0.5", "-q").strip()
        ctx = keys.authenticate(db, raw)
        assert ctx is not None and ctx.account_id == acct.id
        assert len(keys.list_keys(db, acct.id)) == 2
        assert "$3.50" in _run(cli, "topup", "team", "--amount", "2")
        assert "$4.50" in _run(cli, "topup", acct.id, "--amount", "1")
        assert ledger.balance(db, acct.id) == 4_500_000 == ledger.ledger_sum(db, acct.id)
    finally:
        db.dispose()


def test_errors(cli: typer.Typer, data_dir: Path) -> None:
    assert "no API key" in _run(cli, "revoke", "key_missing", code=1)
    assert "no key or account" in _run(cli, "topup", "nobody", "--amount", "1", code=1)
    assert "amount of USD" in _run(cli, "create", "--name", "x", "--balance", "ten", code=2)
    assert "more than 0" in _run(cli, "topup", "x", "--amount", "0", code=2)
    assert "no account" in _run(cli, "create", "--name", "x", "--account", "acct_nope", code=1)
    _run(cli, "create", "--name", "twin", "-q")
    _run(cli, "create", "--name", "twin", "-q")
    assert "several accounts" in _run(cli, "topup", "twin", "--amount", "1", code=1)


def test_usd_formatting() -> None:
    assert keys_cli.usd(10_000_000) == "$10.00"
    assert keys_cli.usd(1_500) == "$0.0015"
    assert keys_cli.usd(0) == "$0.00"
    assert keys_cli.usd(123_456_789) == "$123.456789"
