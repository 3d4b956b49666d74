"""The `veta` command line: local database, migrations, sample data, serving."""

from __future__ import annotations

from pathlib import Path

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


@app.command("import")
def import_command(
    path: Path = typer.Argument(..., help="GeoPackage, Shapefile (.shp, folder or .zip), GeoJSON, "
                                "FlatGeobuf, GeoParquet, KML or CSV."),
    layer: str = typer.Option(None, help="deposits, permits, protection_zones or admin_areas "
                              "(default: the mapping's)."),
    mapping: str = typer.Option(None, help="A TOML mapping file, or preset:natura2000|wdpa|igme|miteco|mrds."),
    crs: str = typer.Option(None, help="The file's CRS (EPSG:25830 …); overrides the file's own."),
    source: str = typer.Option(None, help="The records' source name (default: the mapping's)."),
    repair: bool = typer.Option(False, "--repair", help="Make invalid geometries valid, and report how."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Write the good rows, report the rest."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate only; write nothing."),
    replace_source: bool = typer.Option(False, "--replace-source",
                                        help="Delete the source's records that are not in the file."),
    report: Path = typer.Option(None, help="Write the full report as JSON to this file."),
) -> None:
    """Import a file: every row is validated first; any problem writes nothing (exit status 1)."""
    import json

    from rich.console import Console

    from geo.db import sync_engine
    from geo.errors import VetaError
    from geo.importing.pipeline import ImportOptions, import_file
    from geo.importing.progress import Stages, TerminalStages
    from geo.importing.report import print_report

    console = Console(stderr=True)
    options = ImportOptions(path, layer, mapping, crs, source, repair, skip_invalid, dry_run,
                            replace_source)
    stages = TerminalStages(console) if console.is_terminal else Stages()
    engine = sync_engine(_url())
    try:
        result = import_file(engine, options, stages)
    except VetaError as exc:
        stages.close()
        console.print(f"[red]error[/]: {exc.detail}")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    stages.close()
    print_report(result, console)
    if report:
        report.write_text(json.dumps(result.as_dict(), default=str, ensure_ascii=False, indent=2))
    if result.outcome == "refused":
        raise typer.Exit(1)


@app.command("export")
def export_command(
    layer: str = typer.Option(..., help="deposits, permits, protection_zones or admin_areas."),
    format: str = typer.Option(..., "--format", help="gpkg, shp, geojson, fgb, parquet or csv."),
    output: Path = typer.Option(..., "-o", "--output", help="The file to write (replaced)."),
    crs: str = typer.Option(None, help="The output CRS (default EPSG:4326 lon/lat)."),
    filter: str = typer.Option(None, "--filter", help="A CQL2 text filter on the layer's fields."),
) -> None:
    """Export a layer, streamed from the database in batches (constant memory)."""
    from rich.console import Console
    from rich.progress import Progress

    from geo.errors import VetaError
    from geo.exporting import plan_export, write_export

    console = Console(stderr=True)
    try:
        plan = plan_export(layer, format, crs, filter)
    except VetaError as exc:
        console.print(f"[red]error[/]: {exc.detail}")
        raise typer.Exit(2) from None
    with Progress(console=console, disable=not console.is_terminal) as bars:
        task = bars.add_task("exporting", total=None)
        write_export(_url(), plan, output, lambda n: bars.advance(task, n))
    console.print(f"{output}: {plan.layer.name} as {format}, {plan.crs.to_string()}")


if __name__ == "__main__":
    app()
