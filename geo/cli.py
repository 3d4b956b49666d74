"""The `veta` command line: local database, migrations, sample data, serving."""

from __future__ import annotations

from pathlib import Path

import typer

from geo.i18n import _, language_of_environment, ngettext, use_language
from geo.settings import get_settings

app = typer.Typer(help="Veta: deposits, mining rights and protection zones of Castilla y León.",
                  no_args_is_help=True)
db_app = typer.Typer(help="The database: local cluster and migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.callback()
def _speak_the_users_language() -> None:
    # Messages in VETA_LANG or the POSIX locale's language (es_ES.UTF-8: Spanish).
    use_language(language_of_environment())


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
        typer.echo(_("DATABASE_URL is set: using that server, no local cluster."))
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
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply the migrations up to REVISION (default: the newest), and say which."""
    from geo.migrate import current_revision, upgrade

    url = _url()
    applied = upgrade(url, revision)
    for script in applied:
        typer.echo(_("applied {revision}: {doc}").format(revision=script.revision, doc=script.doc))
    now = current_revision(url)
    done = _("database at revision {revision}") if applied else _("database at revision {revision} already; nothing to apply")
    typer.echo(done.format(revision=now))


@app.command("load-sample")
def load_sample(
    if_empty: bool = typer.Option(False, "--if-empty", help="Do nothing when data is already loaded."),
) -> None:
    """Load the León sample data (idempotent: loading twice changes nothing)."""
    from geo.db import sync_engine
    from geo.rasters.sample import NAME, load_sample_raster
    from geo.sample import load_sample as load

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
) -> None:
    """Serve the HTTP API."""
    import uvicorn

    from api.server import ProblemHttpToolsProtocol

    settings = get_settings()
    uvicorn.run("api.app:create_app", factory=True, host=host or settings.host,
                port=port or settings.port, proxy_headers=True, http=ProblemHttpToolsProtocol)


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
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate only; write nothing (exit status 1 "
                                 "where the import would be refused)."),
    replace_source: bool = typer.Option(False, "--replace-source",
                                        help="Delete the source's records that are not in the file."),
    report: Path = typer.Option(None, help="Write the full report as JSON to this file."),
) -> None:
    """Import a file: every row is validated first; any problem writes nothing (exit status 1)."""
    import json

    from rich.console import Console
    from rich.markup import escape

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
        result = import_file(engine, options, stages, waiting=lambda message: console.print(escape(message)))
    except VetaError as exc:
        stages.close()
        console.print(f"[red]{_('error')}[/]: {escape(exc.detail)}")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    stages.close()
    print_report(result, console)
    if report:
        report.write_text(json.dumps(result.as_dict(), default=str, ensure_ascii=False, indent=2))
    if result.outcome == "refused" or (dry_run and result.problems and not skip_invalid):
        raise typer.Exit(1)  # a dry run fails where the import itself would: usable as a check


@app.command("export")
def export_command(
    layer: str = typer.Option(..., help="deposits (points), deposit_footprints (outlines), deposit_screening, "
                              "permits, protection_zones or admin_areas."),
    format: str = typer.Option(..., "--format", help="gpkg, shp, geojson, fgb, parquet or csv."),
    output: Path = typer.Option(..., "-o", "--output", help="The file to write (replaced)."),
    crs: str = typer.Option(None, help="The output CRS (default EPSG:4326 lon/lat)."),
    filter: str = typer.Option(None, "--filter", help="A CQL2 text filter on the layer's fields."),
) -> None:
    """Export a layer, streamed from the database in batches (constant memory)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import Progress

    from geo.crs import remember_postgis_srids
    from geo.db import spatial_ref_srids
    from geo.errors import VetaError
    from geo.exporting import plan_export, write_export

    console = Console(stderr=True)
    try:
        if crs is not None:  # only a CRS PostGIS can transform to, as over HTTP
            remember_postgis_srids(spatial_ref_srids(_url()))
        plan = plan_export(layer, format, crs, filter)
        with Progress(console=console, disable=not console.is_terminal) as bars:
            task = bars.add_task("exporting", total=None)
            counts = write_export(_url(), plan, output, lambda n: bars.advance(task, n))
    except VetaError as exc:
        console.print(f"[red]{_('error')}[/]: {escape(exc.detail)}")
        raise typer.Exit(2) from None
    console.print(f"{output} ({format}, {plan.crs.to_string()}):")
    for name, n in counts.items():
        console.print(f"  {name}: " + ngettext("{count} feature", "{count} features", n).format(count=f"{n:,}"))


# --- The cuadrícula and the registry of mining rights (issue 5) ------------------------------

from datetime import datetime  # noqa: E402  (typer reads the option types at run time)

grid_app = typer.Typer(help="The cuadrícula minera: 20″ × 20″ cells.", no_args_is_help=True)
app.add_typer(grid_app, name="grid")
permits_app = typer.Typer(help="The registry of mining rights: status changes and history.",
                          no_args_is_help=True)
app.add_typer(permits_app, name="permits")


def _os_user() -> str:
    import getpass

    return getpass.getuser()


@grid_app.command("snap")
def grid_snap(
    path: Path = typer.Argument(..., help="A file of rights (GeoJSON, GeoPackage, Shapefile …), any CRS."),
    right_type: str = typer.Option(None, help="Right type for features without a right_type property."),
    output: Path = typer.Option(None, "-o", "--output",
                                help="Where to write the snapped rights (default: FILE.snapped.geojson)."),
) -> None:
    """Check every right in FILE against the cuadrícula and write the cell-aligned proposals;
    exit status 1 when any right has a problem."""
    import geopandas

    from geo.errors import VetaError
    from geo.permit_rules import validate_right

    frame = geopandas.read_file(path)
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    limits = get_settings().right_cell_limits
    rows, geometries, failed = [], [], 0
    for index, feature in frame.iterrows():
        declared = feature.get("right_type")  # NaN where a feature has none
        kind = declared if isinstance(declared, str) and declared else right_type
        if not kind:
            typer.echo(_("feature {index}: no right_type property and no --right-type option").format(index=index), err=True)
            raise typer.Exit(2)
        try:
            result = validate_right(feature.geometry, kind, limits)
        except VetaError as exc:
            typer.echo(_("feature {index}").format(index=index) + f": {exc.detail}", err=True)
            raise typer.Exit(2) from None
        failed += not result.valid
        for problem in result.problems:
            typer.echo(_("feature {index}").format(index=index) + f": {problem.code}: {problem.message}")
        rows.append({**{c: feature[c] for c in frame.columns if c != frame.geometry.name},
                     "right_type": result.right_type, "valid": result.valid,
                     "problems": "; ".join(p.code for p in result.problems),
                     "cell_count": len(result.proposal), "area_ha": round(result.area_ha, 4)})
        geometries.append(result.proposal_geometry() if result.proposal else None)
    output = output or path.with_suffix(".snapped.geojson")
    geopandas.GeoDataFrame(rows, geometry=geometries, crs=4326).to_file(output, driver="GeoJSON")
    typer.echo(f"{output}: " + _("{rights} rights, {failed} with problems").format(rights=len(rows), failed=failed))
    if failed:
        raise typer.Exit(1)


@permits_app.command("set-status")
def permits_set_status(
    registry_number: str = typer.Argument(..., help="The right's registry number."),
    status: str = typer.Argument(..., help="admitted, granted, extended, lapsed, renounced or denied."),
    on: datetime = typer.Option(None, "--on", formats=["%Y-%m-%d"],
                                help="The day the change takes effect (default: today)."),
    expires_on: datetime = typer.Option(None, "--expires-on", formats=["%Y-%m-%d"],
                                        help="New expiry date (when granting or extending)."),
) -> None:
    """Change a right's status, if its lifecycle allows it; recorded in its history as you."""
    from datetime import date

    from geo.db import sync_engine
    from geo.errors import VetaError
    from geo.registry import set_status

    engine = sync_engine(_url())
    try:
        with engine.begin() as conn:
            row = set_status(conn, registry_number, status, on=on.date() if on else date.today(),
                             changed_by=_os_user(), expires_on=expires_on.date() if expires_on else None)
    except VetaError as exc:
        typer.echo(_("error") + f": {exc.detail}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(", ".join(f"{k}: {v}" for k, v in row.items()))


@permits_app.command("history")
def permits_history(registry_number: str = typer.Argument(..., help="The right's registry number.")) -> None:
    """Every recorded change of a right: effective day, recorded time, who, what changed."""
    import asyncio
    import json

    import asyncpg

    from geo.db import libpq_url
    from geo.permits import history_query

    async def fetch() -> list[str]:
        conn = await asyncpg.connect(libpq_url(_url()))
        try:
            permit_id = await conn.fetchval("SELECT id FROM permits WHERE registry_number = $1", registry_number)
            if permit_id is None:
                return []
            query = history_query(permit_id)
            return [r[0] for r in await conn.fetch(query.text, *query.values)]
        finally:
            await conn.close()

    changes = asyncio.run(fetch())
    if not changes:
        typer.echo(f"error: no right with registry number {registry_number!r}", err=True)
        raise typer.Exit(1)
    for change in map(json.loads, changes):
        what = "new right" if change["action"] == "insert" else ", ".join(change["changes"])
        typer.echo(f"{change['effective_on']}  {change['action']:<6}  {change['status'] or '-':<9}  "
                   f"by {change['changed_by']} at {change['changed_at'][:19]}  {what}")


@app.command("import-catastro")
def import_catastro(
    path: Path = typer.Argument(..., help="A MITECO Catastro Minero CSV export."),
) -> None:
    """Load the rights of a Catastro Minero export into the registry (by registry number);
    every change is recorded in the rights' history as you. Any unreadable line writes nothing."""
    from geo.catastro_minero import read_catastro_minero
    from geo.db import sync_engine
    from geo.errors import VetaError
    from geo.registry import record_rights

    try:
        records = read_catastro_minero(path)
    except VetaError as exc:
        typer.echo(_("error") + f": {exc.detail}", err=True)
        raise typer.Exit(1) from None
    engine = sync_engine(_url())
    try:
        with engine.begin() as conn:
            counts = record_rights(conn, records, _os_user())
    finally:
        engine.dispose()
    typer.echo(f"{path}: {len(records)} rights; " + ", ".join(f"{k} {n}" for k, n in counts.items()))


if __name__ == "__main__":
    app()


# --- Rasters (issue 14) -----------------------------------------------------------------------

from geo.rasters.cli import raster_app  # noqa: E402

app.add_typer(raster_app, name="raster")


@app.command("constraints")
def constraints_command(
    output: Path = typer.Option(..., "-o", "--output", help="The classes, a GeoTIFF (COG) to write."),
    free_share_output: Path = typer.Option(None, "--free-share-output",
                                           help="Also write the free cuadrícula share (percent) on the same grid."),
    area: str = typer.Option(None, help="An admin area (INE code or name): its bbox, nodata outside it."),
    bbox: str = typer.Option(None, help="minx,miny,maxx,maxy in the CRS (instead of or within --area)."),
    crs: str = typer.Option("EPSG:25830", help="A projected CRS Veta serves."),
    resolution: float = typer.Option(25.0, help="Cell size in metres."),
    day: datetime = typer.Option(None, "--date", formats=["%Y-%m-%d"], help="Zones in force on this day (default today)."),
    depth_top_m: float = typer.Option(None, help="Top of the depth interval, metres below surface."),
    depth_bottom_m: float = typer.Option(None, help="Bottom of the depth interval."),
    register: str = typer.Option(None, "--register", help="Also register the map as a raster of this name."),
) -> None:
    """Render the constraint map (legal-effect classes and free ground) as a COG."""
    from geo.errors import VetaError
    from geo.rasters.constraints_run import run_constraints

    try:
        summary = run_constraints(get_settings(), output, free_share_output=free_share_output, area=area, bbox=bbox, crs=crs, resolution=resolution,
                                  day=day.date() if day else None, depth_top_m=depth_top_m,
                                  depth_bottom_m=depth_bottom_m, register=register)
    except VetaError as exc:
        typer.echo(_("error") + f": {exc.detail}", err=True)
        raise typer.Exit(2) from None
    typer.echo(summary)


# --- Land-use planning for minerals (issue 13) ---------------------------------------------------

from geo.planning.cli import mdopi_app  # noqa: E402

app.add_typer(mdopi_app, name="mdopi")
