"""`veta import`, `veta export` and `veta import-catastro`: files in and out."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import database_url as _url
from cli.common import end_process, loading_modules
from cli.common import os_user as _os_user
from geo.core.i18n import _, ngettext

app = typer.Typer()


@app.command("import")
def import_command(
    path: Path = typer.Argument(
        ...,
        help="GeoPackage, Shapefile (.shp, folder or .zip), GeoJSON, "
        "FlatGeobuf, GeoParquet, KML or CSV.",
    ),
    layer: str = typer.Option(
        None, help="deposits, permits, protection_zones or admin_areas (default: the mapping's)."
    ),
    mapping: str = typer.Option(
        None, help="A TOML mapping file, or preset:natura2000|wdpa|igme|miteco|mrds."
    ),
    crs: str = typer.Option(None, help="The file's CRS (EPSG:25830 …); overrides the file's own."),
    source: str = typer.Option(None, help="The records' source name (default: the mapping's)."),
    repair: bool = typer.Option(
        False, "--repair", help="Make invalid geometries valid, and report how."
    ),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Write the good rows, report the rest."
    ),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Validate only; write nothing (exit status 1 where the import would be refused).",
    ),
    replace_source: bool = typer.Option(
        False, "--replace-source", help="Delete the source's records that are not in the file."
    ),
    report: Path = typer.Option(None, help="Write the full report as JSON to this file."),
) -> None:
    """Import a file: every row is validated first; any problem writes nothing (exit status 1)."""
    with loading_modules():  # most of an import's start-up
        import json

        from rich.console import Console
        from rich.markup import escape

        from geo.core.errors import VetaError
        from geo.io.importing.pipeline import ImportOptions, import_file
        from geo.io.importing.progress import Stages, TerminalStages
        from geo.io.importing.report import ImportReport, print_report
        from geo.store.db import sync_engine

    console = Console(stderr=True)
    options = ImportOptions(
        path, layer, mapping, crs, source, repair, skip_invalid, dry_run, replace_source
    )
    stages = TerminalStages(console) if console.is_terminal else Stages()
    engine = sync_engine(_url())
    result: ImportReport | VetaError
    try:
        result = import_file(
            engine, options, stages, waiting=lambda message: console.print(escape(message))
        )
    except VetaError as exc:
        result = exc
    finally:
        engine.dispose()  # the connection closed before the process ends
    stages.close()
    if isinstance(result, VetaError):
        console.print(f"[red]{_('error')}[/]: {escape(result.detail)}")
        end_process(2)
    print_report(result, console)
    if report:
        report.write_text(json.dumps(result.as_dict(), default=str, ensure_ascii=False, indent=2))
    # A dry run fails where the import itself would: usable as a check.
    refused = result.outcome == "refused" or (dry_run and result.problems and not skip_invalid)
    end_process(1 if refused else 0)


@app.command("export")
def export_command(
    layer: str = typer.Option(
        ...,
        help="deposits (points), deposit_footprints (outlines), deposit_screening, "
        "permits, protection_zones or admin_areas.",
    ),
    format: str = typer.Option(..., "--format", help="gpkg, shp, geojson, fgb, parquet or csv."),
    output: Path = typer.Option(..., "-o", "--output", help="The file to write (replaced)."),
    crs: str = typer.Option(None, help="The output CRS (default EPSG:4326 lon/lat)."),
    filter: str = typer.Option(None, "--filter", help="A CQL2 text filter on the layer's fields."),
    org: str = typer.Option(
        None,
        "--org",
        help="Include this organisation's confidential records (default: public records only).",
    ),
) -> None:
    """Export a layer as a viewer sees it: public records, and the confidential ones of --org.

    Streamed from the database in batches (constant memory)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import Progress

    from geo.access.keys import organisation_id
    from geo.core.crs import remember_postgis_srids
    from geo.core.errors import VetaError
    from geo.io.export_plans import plan_export
    from geo.io.exporting import write_export
    from geo.store.db import spatial_ref_srids, sync_engine
    from geo.store.viewer import VIEWER, Viewer

    console = Console(stderr=True)
    try:
        if crs is not None:  # only a CRS PostGIS can transform to, as over HTTP
            remember_postgis_srids(spatial_ref_srids(_url()))
        plan = plan_export(layer, format, crs, filter)
        viewer = VIEWER.get()
        if org is not None:
            engine = sync_engine(_url())
            with engine.connect() as conn:
                viewer = Viewer(organisation_id(conn, org), org, "reader", viewer.actor, "cli")
            engine.dispose()
        with Progress(console=console, disable=not console.is_terminal) as bars:
            task = bars.add_task("exporting", total=None)
            counts = write_export(
                _url(), plan, output, lambda n: bars.advance(task, n), viewer=viewer
            )
    except VetaError as exc:
        console.print(f"[red]{_('error')}[/]: {escape(exc.detail)}")
        raise typer.Exit(2) from None
    console.print(f"{output} ({format}, {plan.crs.to_string()}):")
    for name, n in counts.items():
        console.print(
            f"  {name}: "
            + ngettext("{count} feature", "{count} features", n).format(count=f"{n:,}")
        )


@app.command("import-catastro")
def import_catastro(
    path: Path = typer.Argument(..., help="A MITECO Catastro Minero CSV export."),
) -> None:
    """Load the rights of a Catastro Minero export into the registry, by registry number.

    Every change is recorded in the rights' history as you. Any unreadable line writes nothing."""
    from geo.core.errors import VetaError
    from geo.io.catastro_minero import read_catastro_minero
    from geo.rules.registry import record_rights
    from geo.store.db import sync_engine

    try:
        records = read_catastro_minero(path)
    except VetaError as exc:
        typer.echo(_("error") + f": {exc.detail}", err=True)
        end_process(1)
    engine = sync_engine(_url())
    try:
        with engine.begin() as conn:
            counts = record_rights(conn, records, _os_user())
    finally:
        engine.dispose()
    typer.echo(
        f"{path}: {len(records)} rights; " + ", ".join(f"{k} {n}" for k, n in counts.items())
    )
    end_process(0)
