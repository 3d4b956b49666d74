"""`veta db …`, `veta load-sample` and `veta serve`: the database, the sample data and the server."""

from __future__ import annotations

import typer

from cli.common import database_url as _url
from geo.core.i18n import _
from geo.core.settings import get_settings

db_app = typer.Typer(help="The database: local cluster and migrations.", no_args_is_help=True)
app = typer.Typer()  # the top-level commands of this module, added to the `veta` app


@db_app.command("start")
def db_start() -> None:
    """Start the local cluster under .veta/ (created on first use) unless DATABASE_URL is set."""
    from geo.store.cluster import LocalCluster
    from geo.store.migrate import create_database

    settings = get_settings()
    if settings.database_url:
        typer.echo(_("DATABASE_URL is set: using that server, no local cluster."))
    else:
        LocalCluster(settings.state_dir).start()
    create_database(_url())
    typer.echo(_url())


@db_app.command("stop")
def db_stop() -> None:
    """Stop the local cluster (the data stays in .veta/)."""
    from geo.store.cluster import LocalCluster

    LocalCluster(get_settings().state_dir).stop()


@db_app.command("url")
def db_url() -> None:
    """Print the database URL Veta uses."""
    typer.echo(_url())


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply the migrations up to REVISION (default: the newest), and say which."""
    from geo.store.migrate import current_revision, upgrade

    url = _url()
    applied = upgrade(url, revision)
    for script in applied:
        typer.echo(_("applied {revision}: {doc}").format(revision=script.revision, doc=script.doc))
    now = current_revision(url)
    done = (
        _("database at revision {revision}")
        if applied
        else _("database at revision {revision} already; nothing to apply")
    )
    typer.echo(done.format(revision=now))


@app.command("load-sample")
def load_sample(
    if_empty: bool = typer.Option(
        False, "--if-empty", help="Do nothing when data is already loaded."
    ),
) -> None:
    """Load the León sample data (idempotent: loading twice changes nothing)."""
    from geo.rasters.sample import NAME, load_sample_raster
    from geo.store.db import sync_engine
    from geo.store.sample import load_sample as load

    engine = sync_engine(_url())
    counts = load(engine, if_empty=if_empty)
    for layer, n in counts.items():
        typer.echo(f"{layer}: {n}")
    if load_sample_raster(engine, get_settings()):
        typer.echo(f"rasters: {NAME}")


@app.command("serve")
def serve(
    host: str = typer.Option(None, help="Interface to listen on (default 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default 8000)."),
    workers: int = typer.Option(
        None, min=1, help="Server processes (default VETA_WORKERS, else 1)."
    ),
) -> None:
    """Serve the HTTP API."""
    import uvicorn

    from api.server import ProblemHttpToolsProtocol
    from api.telemetry import uvicorn_log_config

    settings = get_settings()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        proxy_headers=True,
        http=ProblemHttpToolsProtocol,
        workers=workers or settings.workers,
        # api.telemetry writes one JSON line per request; uvicorn's access log would write
        # every URL whole, query string (and any credential in it) included.
        access_log=False,
        log_config=uvicorn_log_config(),
    )


@db_app.command("leakproof")
def db_leakproof() -> None:
    """Mark PostGIS's index-backed predicates LEAKPROOF (a superuser's to do).

    So that row-level security leaves the spatial indexes usable; without the right to, print
    the statements."""
    from sqlalchemy import text

    from geo.store.db import sync_engine
    from geo.store.row_security import LEAKPROOF_FUNCTIONS, MISSING_SQL, mark_leakproof_sql

    engine = sync_engine(_url())
    try:
        with engine.begin() as conn:
            superuser = conn.execute(
                text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            ).scalar()
            if not superuser:
                typer.echo("not a superuser; ask one to run:", err=True)
                for statement in mark_leakproof_sql():
                    typer.echo(f"{statement};")
                raise typer.Exit(1)
            for statement in mark_leakproof_sql():
                conn.execute(text(statement))
            missing = (
                conn.execute(text(MISSING_SQL), {"functions": list(LEAKPROOF_FUNCTIONS)})
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    typer.echo(
        f"{len(LEAKPROOF_FUNCTIONS) - len(missing)} of {len(LEAKPROOF_FUNCTIONS)} marked LEAKPROOF"
    )
