"""The cuadrícula in PostGIS: cells of a bbox, one cell and who holds it, and free ground.

Cells are generated from their integer indices (geo.rules.cuadricula.sql_cells), never stored. A
cell *meets* an area when they share a positive area: the cell's core, inset by the 1e-9°
line tolerance, intersects it; a cell only touching an area along its side does not meet it.

**Free ground** is every cell meeting the area that meets no right holding ground today
(applied, admitted, granted or extended, read with the lapse rule) and no protection zone in
force with a counted legal effect (exclusion by default). A cell partly inside such a zone is
not free: a cell is indivisible, so a right taking it would take the protected part too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from geo.core.errors import InvalidParameter
from geo.core.sql import Params, Sql, SqlQuery
from geo.features.extension import Extension, constant
from geo.features.geojson import feature_text_sql
from geo.features.items import ItemsQuery, SortKey
from geo.rules import cuadricula as grid
from geo.rules.cuadricula import Cell
from geo.rules.ground import held_or_excluded
from geo.rules.protection import zone_in_force
from geo.rules.registry import HOLDING, effective_status_sql

# Cell corners are written exactly (17 significant digits round-trip every float), so a cell
# sent back to /permits/validate lies on the grid lines bit for bit.
EXACT = 17
CELL_PROPERTIES = (
    "json_build_object('id', c.id, 'i', c.i, 'j', c.j, 'area_ha', round(c.area_ha::numeric, 4))"
)


def check_cap(i_range: range, j_range: range, max_cells: int, parameter: str, what: str) -> None:
    """Refuse, before any SQL runs, a request that would generate more cells than allowed."""
    count = len(i_range) * len(j_range)
    if count > max_cells:
        raise InvalidParameter(
            parameter,
            f"{what} spans {count:,} cells ({len(i_range)} × "
            f"{len(j_range)}); at most {max_cells:,} per request",
            "a smaller area or bbox (one cell is 20″ × 20″, about 28 ha)",
        )


def _feature(properties: str) -> Sql:
    return feature_text_sql(Sql("c.id"), Sql(f"ST_AsGeoJSON(c.geom, {EXACT})"), Sql(properties))


def _envelope(i_range: range, j_range: range, params: Params) -> str:
    """SQL: the bbox exactly covering a block of cells, for sql_cells to regenerate them."""
    return (
        f"ST_MakeEnvelope({params(grid.line_of(i_range.start))}, {params(grid.line_of(j_range.start))}, "
        f"{params(grid.line_of(i_range.stop))}, {params(grid.line_of(j_range.stop))}, 4326)"
    )


def cells_query(cells: ItemsQuery, i_range: range, j_range: range) -> ItemsQuery:
    """The `grid_cells` items of a block of cells, in order of rows then columns, with the
    properties /grid/cells gives (its id too; `free` is for the single cell)."""

    def block(params: Params) -> Sql:
        return Sql(f"(SELECT c.* FROM {grid.sql_cells(_envelope(i_range, j_range, params))}) t")

    return replace(
        cells,
        sortby=(SortKey("j"), SortKey("i")),
        properties=("i", "j", "area_ha"),
        decimals=EXACT,
        extension=Extension(source=block, properties=(("id", constant(Sql("t.id"))),)),
    )


def cell_query(cell: Cell, legal_effects: tuple[str, ...]) -> SqlQuery:
    """One cell as a Feature, with the rights holding it today and the zones it meets."""
    params = Params()
    holders = (
        "(SELECT coalesce(json_agg(json_build_object('id', p.id, 'registry_number', p.registry_number, "
        f"'right_type', p.right_type, 'status', {effective_status_sql('p', 'current_date')}, 'holder', p.holder) "
        "ORDER BY p.applied_on NULLS LAST, p.id), '[]') FROM permits p "
        f"WHERE ST_Intersects(p.geom, c.core) AND {effective_status_sql('p', 'current_date')} = ANY({params(list(HOLDING))}::text[]))"
    )
    zones = (
        "(SELECT coalesce(json_agg(json_build_object('id', z.id, 'name', z.name, 'legal_effect', z.legal_effect) "
        "ORDER BY z.id), '[]') FROM protection_zones z "
        f"WHERE ST_Intersects(z.geom, c.core) AND {zone_in_force('z')})"
    )
    properties = (
        f"({CELL_PROPERTIES}::jsonb || jsonb_build_object('rights', {holders}, 'zones', {zones}, "
        f"'free', NOT {held_or_excluded('c', _counted(legal_effects, params))}))"
    )
    one = range(cell.i, cell.i + 1), range(cell.j, cell.j + 1)
    text = f"SELECT {_feature(properties)} FROM {grid.sql_cells(_envelope(*one, params))}"
    return SqlQuery(text, tuple(params.values))


def _counted(legal_effects: tuple[str, ...], params: Params) -> str:
    return f"{params(list(legal_effects))}::text[]"


@dataclass(frozen=True)
class GroundQuery:
    """Where to look for free ground: an admin area (by code) or a bbox, and what excludes."""

    area_code: str | None
    bbox: tuple[float, float, float, float] | None
    legal_effects: tuple[str, ...]
    merge: bool = False


def area_bounds_query(code: str) -> SqlQuery:
    """The bbox of an admin area, to count the cells it spans before generating them."""
    return SqlQuery(
        "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) "
        "FROM admin_areas WHERE code = $1",
        (code,),
    )


AREA_PART_VERTICES = 32


def free_query(ground: GroundQuery) -> SqlQuery:
    """(cell count, hectares, feature text) rows: one per free cell, or with merge one per
    merged polygon (cells joined along sides; corner-touching cells stay apart).

    Not an items query of `grid_cells`, though its features are written by the same
    feature_text_sql: free ground is one whole answer, bounded by the cell cap rather than
    paged, whose members total every row (cells and hectares, which the engine's rows of keys
    and feature text do not carry); merged, its features are polygons computed from the cells,
    which no collection holds."""
    params = Params()
    if ground.area_code:
        area = f"(SELECT geom FROM admin_areas WHERE code = {params(ground.area_code)})"
    else:
        assert ground.bbox is not None  # a GroundQuery has an area code or a bbox
        west, south, east, north = ground.bbox
        area = f"ST_MakeEnvelope({params(west)}, {params(south)}, {params(east)}, {params(north)}, 4326)"
    # The area is cut into small parts first, each generating only the cells of its own bbox:
    # testing cells against small parts is several times faster than against a province.
    free = (
        f"WITH parts AS (SELECT ST_Subdivide({area}, {AREA_PART_VERTICES}) AS geom), "
        f"meeting AS (SELECT DISTINCT ON (c.j, c.i) c.* FROM parts CROSS JOIN LATERAL {grid.sql_cells('parts.geom')} "
        "WHERE ST_Intersects(c.core, parts.geom) ORDER BY c.j, c.i), "
        f"free AS (SELECT c.* FROM meeting c WHERE NOT {held_or_excluded('c', _counted(ground.legal_effects, params))}) "
    )
    if not ground.merge:
        text = free + f"SELECT 1, c.area_ha, {_feature(CELL_PROPERTIES)} FROM free c"
    else:
        cells = f"round(ST_Area(m.geom) * {grid.PER_DEGREE * grid.PER_DEGREE})::int"
        hectares = "ST_Area(m.geom::geography) / 10000"
        # Runs of consecutive free cells along each row are merged arithmetically first:
        # GEOS then unions a few hundred strips instead of tens of thousands of cells.
        runs = (
            "runs AS (SELECT j, min(i) AS first, max(i) AS last FROM (SELECT i, j, "
            "i - row_number() OVER (PARTITION BY j ORDER BY i) AS run FROM free) r GROUP BY j, run) "
        )
        strip = (
            f"ST_MakeEnvelope(first::float8 / {grid.PER_DEGREE}, j::float8 / {grid.PER_DEGREE}, "
            f"(last + 1)::float8 / {grid.PER_DEGREE}, (j + 1)::float8 / {grid.PER_DEGREE}, 4326)"
        )
        text = (
            free
            + ", "
            + runs
            + (
                f"SELECT {cells}, {hectares}, "
                + feature_text_sql(
                    None,
                    Sql(f"ST_AsGeoJSON(m.geom, {EXACT})"),
                    Sql(
                        f"json_build_object('cell_count', {cells}, 'area_ha', "
                        f"round(({hectares})::numeric, 2))"
                    ),
                )
                + " "
                f"FROM (SELECT (ST_Dump(ST_Simplify(ST_UnaryUnion(ST_Collect({strip})), 0))).geom FROM runs) m "
                "ORDER BY ST_YMin(m.geom), ST_XMin(m.geom)"
            )
        )
    return SqlQuery(text, tuple(params.values))
