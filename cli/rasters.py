"""`veta raster …` (register, list, mark for screening and remove rasters) and `veta constraints`."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import typer

from cli.common import database_url
from geo.core.i18n import _
from geo.core.settings import get_settings

raster_app = typer.Typer(
    help="Rasters: registered as Cloud-Optimised GeoTIFFs.", no_args_is_help=True
)


@contextmanager
def _engine():
    from geo.core.errors import VetaError
    from geo.store.db import sync_engine

    engine = sync_engine(database_url())
    try:
        yield engine
    except VetaError as exc:
        typer.echo(_("error") + f": {exc.detail}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()


@raster_app.command("add")
def raster_add(
    file: Path = typer.Argument(..., help="A GeoTIFF, COG or any raster GDAL reads, in any CRS."),
    name: str = typer.Option(..., help="The raster's name in URLs (lower-case, digits, - and _)."),
    title: str = typer.Option(None, help="A human-readable title."),
    units: str = typer.Option(None, help="Units of the values (e.g. m, ppm, %)."),
    description: str = typer.Option(None, help="What the values are and how they were made."),
    source: str = typer.Option(None, help="Where the raster comes from."),
    licence: str = typer.Option(None, help="Its licence (e.g. CC-BY-4.0)."),
    categorical: bool = typer.Option(False, "--categorical", help="Values are class codes."),
    screening: bool = typer.Option(
        False, "--screening", help="Include it in every screening report."
    ),
) -> None:
    """Register a raster: checked, converted to a COG with overviews, described in the database."""
    from geo.rasters.storage import register

    with _engine() as engine:
        info = register(
            engine,
            get_settings(),
            file,
            name,
            title=title,
            units=units,
            description=description,
            source=source,
            licence=licence,
            categorical=categorical,
            screening=screening,
        )
    typer.echo(
        f"{info.name}: {info.width} x {info.height} cells, {info.band_count} band(s) {info.data_type}, "
        f"{info.crs_label}, stored as {info.path}"
    )


@raster_app.command("list")
def raster_list() -> None:
    """The registered rasters."""
    from geo.rasters.storage import list_rasters

    with _engine() as engine:
        for info in list_rasters(engine, get_settings()):
            flags = "".join(
                (" categorical" if info.categorical else "", " screening" if info.screening else "")
            )
            typer.echo(
                f"{info.name}\t{info.width}x{info.height}\t{info.band_count} band(s)\t{info.data_type}\t"
                f"{info.crs_label}\t{info.title or ''}{flags}"
            )


@raster_app.command("remove")
def raster_remove(name: str = typer.Argument(..., help="The raster's name.")) -> None:
    """Unregister a raster and delete its COG."""
    from geo.rasters.storage import remove

    with _engine() as engine:
        remove(engine, get_settings(), name)
    typer.echo(f"{name}: removed")


@raster_app.command("screening")
def raster_screening(
    name: str = typer.Argument(..., help="The raster's name."),
    off: bool = typer.Option(False, "--off", help="Leave it out of screening reports again."),
) -> None:
    """Include a raster's statistics in every screening report (or, with --off, no longer)."""
    from geo.rasters.storage import set_screening

    with _engine() as engine:
        set_screening(engine, name, not off)
    typer.echo(f"{name}: {'not ' if off else ''}in screening reports")


app = typer.Typer()  # `veta constraints`, added to the `veta` app


@app.command("constraints")
def constraints_command(
    output: Path = typer.Option(
        ..., "-o", "--output", help="The classes, a GeoTIFF (COG) to write."
    ),
    free_share_output: Path = typer.Option(
        None,
        "--free-share-output",
        help="Also write the free cuadrícula share (percent) on the same grid.",
    ),
    area: str = typer.Option(
        None, help="An admin area (INE code or name): its bbox, nodata outside it."
    ),
    bbox: str = typer.Option(
        None, help="minx,miny,maxx,maxy in the CRS (instead of or within --area)."
    ),
    crs: str = typer.Option("EPSG:25830", help="A projected CRS Veta serves."),
    resolution: float = typer.Option(25.0, help="Cell size in metres."),
    day: datetime = typer.Option(
        None, "--date", formats=["%Y-%m-%d"], help="Zones in force on this day (default today)."
    ),
    depth_top_m: float = typer.Option(
        None, help="Top of the depth interval, metres below surface."
    ),
    depth_bottom_m: float = typer.Option(None, help="Bottom of the depth interval."),
    register: str = typer.Option(
        None, "--register", help="Also register the map as a raster of this name."
    ),
) -> None:
    """Render the constraint map (legal-effect classes and free ground) as a COG."""
    from geo.core.errors import VetaError
    from geo.rasters.constraints_run import run_constraints

    try:
        summary = run_constraints(
            get_settings(),
            output,
            free_share_output=free_share_output,
            area=area,
            bbox=bbox,
            crs=crs,
            resolution=resolution,
            day=day.date() if day else None,
            depth_top_m=depth_top_m,
            depth_bottom_m=depth_bottom_m,
            register=register,
        )
    except VetaError as exc:
        typer.echo(_("error") + f": {exc.detail}", err=True)
        raise typer.Exit(2) from None
    typer.echo(summary)


@raster_app.command("statistics")
def raster_statistics(
    name: str = typer.Argument(..., help="The raster's name."),
    file: Path = typer.Argument(
        None, help="A GeoJSON FeatureCollection of Polygons (or Points with buffer_m)."
    ),
    output: Path = typer.Option(
        ..., "-o", "--output", help="The file to write (replaced): .csv, .geojson or .json."
    ),
    deposits: bool = typer.Option(
        False, "--deposits", help="Instead of a file: the deposits of a search, grown by --buffer."
    ),
    filter: str = typer.Option(None, "--filter", help="CQL2 text choosing the deposits."),
    area: str = typer.Option(None, help="An admin area (INE code or name) the deposits meet."),
    buffer: float = typer.Option(None, "--buffer", help="Metres to grow each deposit by."),
    band: int = typer.Option(1, help="The band to summarise."),
    percentiles: str = typer.Option(None, help="Percentiles to add, e.g. 10,50,90."),
    org: str = typer.Option(
        None, "--org", help="Include this organisation's confidential deposits (default: public)."
    ),
) -> None:
    """Zonal statistics of a file's features, or of a search's deposits, into CSV or GeoJSON.

    Every feature of the file, or every deposit of the search grown by a buffer, as POST
    /rasters/NAME/statistics gives them."""
    import time

    from geo.core.errors import VetaError
    from geo.rasters.zonal import parse_percentiles
    from geo.rasters.zone_files import write_statistics

    started = time.perf_counter()
    try:
        body = _statistics_body(file, deposits, filter, area, buffer)
        count = write_statistics(
            get_settings(),
            database_url(),
            _viewer(org),
            name,
            body,
            output,
            band=band,
            percentiles=parse_percentiles(percentiles),
        )
    except VetaError as exc:
        typer.echo(_("error") + f": {exc.detail}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        _("{output}: statistics of {count} zones written in {seconds:.1f} s").format(
            output=output, count=f"{count:,}", seconds=time.perf_counter() - started
        )
    )


def _statistics_body(
    file: Path | None, deposits: bool, filter: str | None, area: str | None, buffer: float | None
) -> dict:
    """The request body the command stands for: the file's FeatureCollection or a search."""
    import json

    from geo.core.errors import InvalidParameter

    if deposits == (file is not None):
        raise InvalidParameter(
            "FILE", _("give a file or --deposits, not both"), "FILE | --deposits"
        )
    if file is None:
        selection = {"buffer_m": buffer, "filter": filter, "area": area}
        return {"deposits": {k: v for k, v in selection.items() if v is not None}}
    if filter is not None or area is not None or buffer is not None:
        raise InvalidParameter(
            "--filter", _("--filter, --area and --buffer choose deposits"), "--deposits"
        )
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidParameter("FILE", f"{file}: {exc}", "a GeoJSON FeatureCollection") from None


def _viewer(org: str | None):
    """The command's viewer: public records, and with --org that organisation's as a reader."""
    from geo.access.keys import organisation_id
    from geo.store.db import sync_engine
    from geo.store.viewer import VIEWER, Viewer

    viewer = VIEWER.get()
    if org is None:
        return viewer
    engine = sync_engine(database_url())
    try:
        with engine.connect() as conn:
            return Viewer(organisation_id(conn, org), org, "reader", viewer.actor, "cli")
    finally:
        engine.dispose()
