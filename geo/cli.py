"""The `veta` command line: local database, migrations, sample data, serving."""

from __future__ import annotations

import typer

from geo.settings import get_settings

app = typer.Typer(help="Veta: deposits, mining rights and protection zones of Castilla y León.",
                  no_args_is_help=True)
db_app = typer.Typer(help="The database: local cluster and migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _url() -> str:
    from geo.db import database_url

    return database_url(get_settings())


@db_app.command("start")
def db_start() -> None:
    """Start the local cluster under .veta/ (created on first use) unless DATABASE_URL is set."""
    from geo.cluster import LocalCluster
    from geo.migrate import create_database

    settings = get_settings()
    if settings.database_url:
        typer.echo("DATABASE_URL is set: using that server, no local cluster.")
    else:
        LocalCluster(settings.state_dir).start()
    create_database(_url())
    typer.echo(_url())


@db_app.command("stop")
def db_stop() -> None:
    """Stop the local cluster (the data stays in .veta/)."""
    from geo.cluster import LocalCluster

    LocalCluster(get_settings().state_dir).stop()


@db_app.command("url")
def db_url() -> None:
    """Print the database URL Veta uses."""
    typer.echo(_url())


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("heads")) -> None:
    """Apply the migrations up to REVISION (default: the newest)."""
    from geo.migrate import upgrade

    upgrade(_url(), revision)


@app.command("load-sample")
def load_sample(
    if_empty: bool = typer.Option(False, "--if-empty", help="Do nothing when data is already loaded."),
) -> None:
    """Load the León sample data (idempotent: loading twice changes nothing)."""
    from geo.db import sync_engine
    from geo.sample import load_sample as load

    engine = sync_engine(_url())
    counts = load(engine, if_empty=if_empty)
    for layer, n in counts.items():
        typer.echo(f"{layer}: {n}")


@app.command("serve")
def serve(
    host: str = typer.Option(None, help="Interface to listen on (default 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default 8000)."),
) -> None:
    """Serve the HTTP API."""
    import uvicorn

    settings = get_settings()
    uvicorn.run("api.app:create_app", factory=True, host=host or settings.host,
                port=port or settings.port, proxy_headers=True)


if __name__ == "__main__":
    app()
