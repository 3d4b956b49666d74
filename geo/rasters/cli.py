"""`veta raster …`: register, list, mark for screening and remove rasters."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import typer

from geo.settings import get_settings

raster_app = typer.Typer(help="Rasters: registered as Cloud-Optimised GeoTIFFs.", no_args_is_help=True)


@contextmanager
def _engine():
    from geo.db import database_url, sync_engine
    from geo.errors import VetaError

    engine = sync_engine(database_url(get_settings()))
    try:
        yield engine
    except VetaError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
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
    screening: bool = typer.Option(False, "--screening", help="Include it in every screening report."),
) -> None:
    """Register a raster: checked, converted to a COG with overviews, described in the database."""
    from geo.rasters.storage import register

    with _engine() as engine:
        info = register(engine, get_settings(), file, name, title=title, units=units, description=description,
                        source=source, licence=licence, categorical=categorical, screening=screening)
    typer.echo(f"{info.name}: {info.width} x {info.height} cells, {info.band_count} band(s) {info.data_type}, "
               f"{info.crs_label}, stored as {info.path}")


@raster_app.command("list")
def raster_list() -> None:
    """The registered rasters."""
    from geo.rasters.storage import list_rasters

    with _engine() as engine:
        for info in list_rasters(engine, get_settings()):
            flags = "".join((" categorical" if info.categorical else "", " screening" if info.screening else ""))
            typer.echo(f"{info.name}\t{info.width}x{info.height}\t{info.band_count} band(s)\t{info.data_type}\t"
                       f"{info.crs_label}\t{info.title or ''}{flags}")


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
