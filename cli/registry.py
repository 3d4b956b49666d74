"""`veta grid …` and `veta permits …`: the cuadrícula minera and the registry of mining rights."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from cli.common import database_url as _url
from cli.common import os_user as _os_user
from geo.core.i18n import _
from geo.core.settings import get_settings

grid_app = typer.Typer(help="The cuadrícula minera: 20″ × 20″ cells.", no_args_is_help=True)
permits_app = typer.Typer(
    help="The registry of mining rights: status changes and history.", no_args_is_help=True
)


@grid_app.command("snap")
def grid_snap(
    path: Path = typer.Argument(
        ..., help="A file of rights (GeoJSON, GeoPackage, Shapefile …), any CRS."
    ),
    right_type: str = typer.Option(
        None, help="Right type for features without a right_type property."
    ),
    output: Path = typer.Option(
        None,
        "-o",
        "--output",
        help="Where to write the snapped rights (default: FILE.snapped.geojson).",
    ),
) -> None:
    """Check every right in FILE against the cuadrícula; write the cell-aligned proposals.

    Exit status 1 when any right has a problem."""
    import geopandas

    from geo.core.errors import VetaError
    from geo.rules.permit_rules import validate_right

    frame = geopandas.read_file(path)
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    limits = get_settings().right_cell_limits
    rows, geometries, failed = [], [], 0
    for index, feature in frame.iterrows():
        declared = feature.get("right_type")  # NaN where a feature has none
        kind = declared if isinstance(declared, str) and declared else right_type
        if not kind:
            typer.echo(
                _("feature {index}: no right_type property and no --right-type option").format(
                    index=index
                ),
                err=True,
            )
            raise typer.Exit(2)
        try:
            result = validate_right(feature.geometry, kind, limits)
        except VetaError as exc:
            typer.echo(_("feature {index}").format(index=index) + f": {exc.detail}", err=True)
            raise typer.Exit(2) from None
        failed += not result.valid
        for problem in result.problems:
            typer.echo(
                _("feature {index}").format(index=index) + f": {problem.code}: {problem.message}"
            )
        rows.append(
            {
                **{c: feature[c] for c in frame.columns if c != frame.geometry.name},
                "right_type": result.right_type,
                "valid": result.valid,
                "problems": "; ".join(p.code for p in result.problems),
                "cell_count": len(result.proposal),
                "area_ha": round(result.area_ha, 4),
            }
        )
        geometries.append(result.proposal_geometry() if result.proposal else None)
    output = output or path.with_suffix(".snapped.geojson")
    geopandas.GeoDataFrame(rows, geometry=geometries, crs=4326).to_file(output, driver="GeoJSON")
    typer.echo(
        f"{output}: "
        + _("{rights} rights, {failed} with problems").format(rights=len(rows), failed=failed)
    )
    if failed:
        raise typer.Exit(1)


@permits_app.command("set-status")
def permits_set_status(
    registry_number: str = typer.Argument(..., help="The right's registry number."),
    status: str = typer.Argument(
        ..., help="admitted, granted, extended, lapsed, renounced or denied."
    ),
    on: datetime = typer.Option(
        None, "--on", formats=["%Y-%m-%d"], help="The day the change takes effect (default: today)."
    ),
    expires_on: datetime = typer.Option(
        None,
        "--expires-on",
        formats=["%Y-%m-%d"],
        help="New expiry date (when granting or extending).",
    ),
) -> None:
    """Change a right's status, if its lifecycle allows it; recorded in its history as you."""
    from datetime import date

    from geo.core.errors import VetaError
    from geo.rules.registry import set_status
    from geo.store.db import sync_engine

    engine = sync_engine(_url())
    try:
        with engine.begin() as conn:
            row = set_status(
                conn,
                registry_number,
                status,
                on=on.date() if on else date.today(),
                changed_by=_os_user(),
                expires_on=expires_on.date() if expires_on else None,
            )
    except VetaError as exc:
        typer.echo(_("error") + f": {exc.detail}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(", ".join(f"{k}: {v}" for k, v in row.items()))


@permits_app.command("history")
def permits_history(
    registry_number: str = typer.Argument(..., help="The right's registry number."),
) -> None:
    """Every recorded change of a right: effective day, recorded time, who, what changed."""
    import asyncio
    import json

    import asyncpg

    from geo.queries.permits import history_query
    from geo.store.db import libpq_url

    async def fetch() -> list[str]:
        conn = await asyncpg.connect(libpq_url(_url()))
        try:
            permit_id = await conn.fetchval(
                "SELECT id FROM permits WHERE registry_number = $1", registry_number
            )
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
        typer.echo(
            f"{change['effective_on']}  {change['action']:<6}  {change['status'] or '-':<9}  "
            f"by {change['changed_by']} at {change['changed_at'][:19]}  {what}"
        )
