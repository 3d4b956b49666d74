"""`veta orgs …` and `veta keys …`: the organisations working in Veta and their API keys."""

from __future__ import annotations

from datetime import datetime

import typer

from cli.common import database_url as _url
from geo.core.i18n import _

orgs_app = typer.Typer(help="Organisations: owners of confidential records.", no_args_is_help=True)
keys_app = typer.Typer(
    help="API keys: made, listed and revoked (a key is shown once).", no_args_is_help=True
)


def _writing():
    from geo.store.db import sync_engine

    return sync_engine(_url())


def _fail(detail: str) -> None:
    typer.echo(_("error") + f": {detail}", err=True)
    raise typer.Exit(2)


@orgs_app.command("add")
def orgs_add(
    code: str = typer.Argument(..., help="Short and stable: lower case, digits, - _ ."),
    name: str = typer.Option(..., help="The organisation's name."),
) -> None:
    """Add an organisation."""
    from geo.access.keys import create_organisation
    from geo.core.errors import VetaError

    engine = _writing()
    try:
        with engine.begin() as conn:
            create_organisation(conn, code, name)
    except VetaError as exc:
        _fail(exc.detail)
    finally:
        engine.dispose()
    typer.echo(f"organisation {code}: {name}")


@orgs_app.command("list")
def orgs_list() -> None:
    """List the organisations."""
    from sqlalchemy import text

    engine = _writing()
    with engine.connect() as conn:
        for code, name in conn.execute(text("SELECT code, name FROM organisations ORDER BY code")):
            typer.echo(f"{code}\t{name}")
    engine.dispose()


@keys_app.command("create")
def keys_create(
    org: str = typer.Option(..., "--org", help="The organisation's code."),
    role: str = typer.Option(..., "--role", help="reader, editor, registry or admin."),
    holder: str = typer.Option(
        ..., "--holder", help="Who the key is for (recorded as the author of its writes)."
    ),
    expires: datetime = typer.Option(
        None, "--expires", formats=["%Y-%m-%d"], help="Last day the key works (default: never)."
    ),
) -> None:
    """Make a key and print it: it is shown this once, and only its hash is kept."""
    from datetime import UTC, timedelta

    from geo.access.keys import create_key
    from geo.core.errors import VetaError

    until = (expires.replace(tzinfo=UTC) + timedelta(days=1)) if expires else None
    engine = _writing()
    try:
        with engine.begin() as conn:
            key, key_id = create_key(conn, org, role, holder, until)
    except VetaError as exc:
        _fail(exc.detail)
    finally:
        engine.dispose()
    typer.echo(f"key {key_id} for {holder} ({org}, {role}); send it as `Authorization: Bearer …`")
    typer.echo(key)


@keys_app.command("list")
def keys_list() -> None:
    """List the keys (their first characters, never the keys)."""
    from geo.access.keys import list_keys

    engine = _writing()
    with engine.connect() as conn:
        keys = list_keys(conn)
    engine.dispose()
    for k in keys:
        state = (
            f"revoked {k.revoked_at:%Y-%m-%d}"
            if k.revoked_at
            else (f"expires {k.expires_at:%Y-%m-%d %H:%M}" if k.expires_at else "no expiry")
        )
        typer.echo(f"{k.id}\t{k.prefix}…\t{k.organisation}\t{k.role}\t{k.holder}\t{state}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: int = typer.Argument(..., help="The key's number (veta keys list)."),
) -> None:
    """Revoke a key: it stops working at once."""
    from geo.access.keys import revoke_key
    from geo.core.errors import VetaError

    engine = _writing()
    try:
        with engine.begin() as conn:
            revoke_key(conn, key_id)
    except VetaError as exc:
        _fail(exc.detail)
    finally:
        engine.dispose()
    typer.echo(f"key {key_id} revoked")
