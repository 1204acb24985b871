"""``pixelforge keys``: create, list, revoke and top up API keys.

Every command opens the same database a running ``pixelforge serve`` uses (``--data-dir`` /
PIXELFORGE_DATA_DIR, or PIXELFORGE_DATABASE_URL), upgrades its schema if needed, and changes it
directly: the server reads keys and balances from the database on every request, so nothing needs
a restart.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from pixelforge.cli import console as term

if TYPE_CHECKING:
    from pixelforge.store import Database

keys_app = typer.Typer(
    name="keys",
    help="Create, list, revoke and top up API keys (and the accounts whose balance they spend).",
    no_args_is_help=True,
)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="PIXELFORGE_DATA_DIR",
        help="Data directory (SQLite database, files). Default: $XDG_DATA_HOME/pixelforge.",
        show_default=False,
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="PIXELFORGE_DATABASE_URL",
        help="SQLAlchemy URL instead of the SQLite file in the data directory "
        "(postgresql+psycopg://user:pass@host/db).",
        show_default=False,
    ),
]


def usd(micros: int) -> str:
    """Micro-USD as a dollar string with 2 to 6 decimals: 10_000_000 → '$10.00', 1_500 → '$0.0015'."""
    text = f"{Decimal(micros) / 1_000_000:.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"


def _fail(message: str, code: int = 1) -> typer.Exit:
    term.err().print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


@contextmanager
def _database(data_dir: Path | None, database_url: str | None) -> Iterator[Database]:
    from pixelforge.config import Settings
    from pixelforge.store import Database

    overrides: dict[str, object] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url:
        overrides["database_url"] = database_url
    settings = Settings(**overrides)  # type: ignore[arg-type]
    db = Database.from_settings(settings)
    try:
        db.migrate()
        yield db
    finally:
        db.dispose()


def _micros(amount: str, what: str) -> int:
    from pixelforge.store import InvalidAmount, usd_to_micros

    try:
        micros = usd_to_micros(amount)
    except InvalidAmount:
        raise _fail(f"{what} must be an amount of USD such as 10 or 2.50, got {amount!r}", 2) from None
    if micros < 0:
        raise _fail(f"{what} must not be negative, got {amount!r}", 2)
    return micros


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", "-n", help="Name of the key (and of its new account).")],
    balance: Annotated[
        str, typer.Option("--balance", "-b", help="Opening balance in USD (a top-up with --account).")
    ] = "0",
    account: Annotated[
        str | None,
        typer.Option("--account", help="Add the key to this existing account id instead of a new account."),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the raw key (for scripts).")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key; prints the key ONCE (only its hash is stored)."""
    from pixelforge.store import NotFound, keys, ledger

    if not name.strip():
        raise _fail("--name must not be empty", 2)
    micros = _micros(balance, "--balance")
    with _database(data_dir, database_url) as db:
        if account is None:
            acct = keys.create_account(db, name, initial_micros=micros)
            account_id = acct.id
        else:
            account_id = account
            if keys.get_account(db, account_id) is None:
                raise _fail(f"no account {account_id!r} (see `pixelforge keys list`)")
        try:
            key, raw = keys.create_key(db, account_id, name)
        except NotFound as exc:
            raise _fail(str(exc)) from None
        if account is not None and micros:
            ledger.credit(db, account_id, micros, f"top-up with new key {key.id}")
        current = ledger.balance(db, account_id)
    if quiet:
        print(raw)
        return
    out = term.out()
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_row("key id", key.id)
    table.add_row("name", key.name)
    table.add_row("account", account_id)
    table.add_row("balance", usd(current))
    out.print(table)
    out.print("\n[bold]API key[/] (shown only now; store it somewhere safe):")
    out.print(raw, soft_wrap=True, markup=False)


@keys_app.command("list")
def list_(
    account: Annotated[str | None, typer.Option("--account", help="Only this account's keys.")] = None,
    active: Annotated[bool, typer.Option("--active", help="Hide revoked keys.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List keys with their account and balance (never the raw keys: they are not stored)."""
    from pixelforge.store import keys

    with _database(data_dir, database_url) as db:
        rows = keys.list_keys(db, account, include_revoked=not active)
        accounts = {a.id: a for a in keys.list_accounts(db)}
    out = term.out()
    if not rows:
        out.print("no API keys yet: create one with `pixelforge keys create --name NAME --balance USD`")
        return
    wide = out.width >= 120
    table = Table(title="API keys", box=box.SIMPLE_HEAVY, pad_edge=False, collapse_padding=True)
    table.add_column("key id", no_wrap=True, min_width=20)
    table.add_column("name", overflow="fold", min_width=6, max_width=None if wide else 14)
    if wide:
        table.add_column("key", no_wrap=True)
    table.add_column("account", overflow="fold", min_width=21, max_width=None if wide else 21)
    table.add_column("balance", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    if wide:
        table.add_column("created (UTC)", no_wrap=True)
    for k in rows:
        acct = accounts.get(k.account_id)
        cells = [
            k.id,
            k.name,
            f"{k.account_id} ({acct.name})" if acct and wide else k.account_id,
            usd(acct.balance_micros) if acct else "?",
            "[red]revoked[/]" if k.revoked else "[green]active[/]",
        ]
        if wide:
            cells.insert(2, f"{k.display_prefix}…")
            cells.append(k.created_at.strftime("%Y-%m-%d %H:%M"))
        table.add_row(*cells)
    out.print(table)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (key_…) shown by `keys list`.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key: it is refused from the next request on, also by a running server."""
    from pixelforge.store import NotFound, keys

    with _database(data_dir, database_url) as db:
        try:
            changed = keys.revoke_key(db, key_id)
        except NotFound:
            raise _fail(f"no API key {key_id!r} (see `pixelforge keys list`)") from None
    term.out().print(f"revoked {key_id}" if changed else f"{key_id} was already revoked")


@keys_app.command("topup")
def topup(
    target: Annotated[
        str, typer.Argument(help="A key id (key_…), an account id (acct_…) or an account name.")
    ],
    amount: Annotated[str, typer.Option("--amount", "-a", help="USD to add, e.g. 5 or 2.50.")],
    reason: Annotated[str, typer.Option("--reason", help="Note kept in the ledger.")] = "top-up",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add USD to the balance of a key's account."""
    from pixelforge.store import keys, ledger

    micros = _micros(amount, "--amount")
    if micros <= 0:
        raise _fail("--amount must be more than 0", 2)
    with _database(data_dir, database_url) as db:
        account_id = _resolve_account(db, target)
        new = ledger.credit(db, account_id, micros, reason)
        owner = keys.get_account(db, account_id)
        name = owner.name if owner else "?"
    term.out().print(f"added {usd(micros)} to {account_id} ({name}): balance {usd(new)}")


def _resolve_account(db: Database, target: str) -> str:
    from pixelforge.store import keys

    if target.startswith("key_"):
        key = keys.get_key(db, target)
        if key is None:
            raise _fail(f"no API key {target!r}")
        return key.account_id
    if target.startswith("acct_") and keys.get_account(db, target) is not None:
        return target
    found = keys.find_accounts(db, target)
    if len(found) == 1:
        return found[0].id
    if len(found) > 1:
        ids = ", ".join(a.id for a in found)
        raise _fail(f"several accounts are named {target!r} ({ids}); give a key or account id")
    raise _fail(f"no key or account {target!r} (see `pixelforge keys list`)")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
