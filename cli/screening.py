"""`veta screen-batch`: screen every deposit of a search into a file, in the database or on Dask."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from cli.common import database_url
from geo.core.i18n import _

app = typer.Typer()


def _area_outline(url: str, area: str) -> bytes:
    import asyncio

    import asyncpg

    from geo.queries.areas import resolve_area
    from geo.store.db import libpq_url

    async def outline() -> bytes:
        conn = await asyncpg.connect(libpq_url(url))
        try:
            return (await resolve_area(conn, area)).outline
        finally:
            await conn.close()

    return asyncio.run(outline())


@app.command("screen-batch")
def screen_batch_command(
    output: Path = typer.Option(..., "-o", "--output", help="The file to write (replaced)."),
    format: str = typer.Option("csv", "--format", help="csv, geojson or gpkg."),
    commodity: list[str] = typer.Option(
        None,
        "--commodity",
        help="Commodity code, name, symbol or formula; comma-separated or repeated (default: all).",
    ),
    area: str = typer.Option(None, help="An admin area (INE code or name) the deposits meet."),
    legal_effect: list[str] = typer.Option(
        None,
        "--legal-effect",
        help="Legal effects that count towards the verdict: exclusion, conditional (default both).",
    ),
    day: datetime = typer.Option(
        None,
        "--date",
        formats=["%Y-%m-%d"],
        help="Zones and rights as they stand on this day (default today).",
    ),
    scheduler: str = typer.Option(
        None,
        "--scheduler",
        help="Screen on Dask: tcp://host:port of a scheduler, or local[:N] to start N local "
        "workers. Without it: one statement in the database.",
    ),
    partitions: int = typer.Option(
        None, "--partitions", min=1, help="Dask partitions (default: by deposits and workers)."
    ),
) -> None:
    """Screen every public deposit of the chosen commodities in an area, into a file.

    As GET /screening/deposits does (verdict, ground status, constraining zones, holding rights,
    municipalities), into a CSV, GeoJSON or GeoPackage file."""
    import time

    from geo.core import commodities
    from geo.core import vocabulary as v
    from geo.core.errors import VetaError
    from geo.io.screening_files import (
        BatchScreening,
        parse_batch_format,
        screen_in_database,
        write_batch,
    )
    from geo.queries.deposits import DepositSearch
    from geo.queries.screening import ScreeningOptions

    url = database_url()
    started = time.perf_counter()
    try:
        split = [x.strip() for value in legal_effect or [] for x in value.split(",") if x.strip()]
        effects = v.checked_choices(split, v.RESTRICTING_LEGAL_EFFECTS, "legal_effect")
        codes = commodities.searched_codes(
            [x.strip() for value in commodity or [] for x in value.split(",") if x.strip()]
        )
        batch = BatchScreening(
            DepositSearch(commodities=codes),
            ScreeningOptions(legal_effects=effects or v.RESTRICTING_LEGAL_EFFECTS),
            parse_batch_format(format),
            day.date() if day else None,
            area=_area_outline(url, area) if area is not None else None,
        )
        if scheduler is None:
            count = write_batch(screen_in_database(url, batch), output, batch.format)
            how = _("in the database")
        else:
            from geo.io.screening_dask import dask_client, parse_scheduler, screen_on_dask

            with dask_client(parse_scheduler(scheduler)) as client:
                run, rows = screen_on_dask(client, url, batch, partitions)
                count = write_batch(rows, output, batch.format)
            how = _("on Dask: {partitions} partitions, {threads} worker threads").format(
                partitions=run.partitions, threads=run.threads
            )
    except VetaError as exc:
        typer.echo(_("error") + f": {exc.detail}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        _("{output}: {count} deposits screened {how} in {seconds:.1f} s").format(
            output=output, count=f"{count:,}", how=how, seconds=time.perf_counter() - started
        )
    )
