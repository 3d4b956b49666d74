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
