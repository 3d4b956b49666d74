"""Cluster tiles: below a collection's cluster zoom, one point per occupied cell of a 16 x 16 grid
of the tile (and of the ring of cells around it) with the count of the features in it, their
most frequent values of a list queryable, and the id and label of a feature alone in its cell.

One statement per tile, from one of two sources that give the same bytes for the same data:
the features themselves under the tile (filtered tiles: an area, a CQL2 filter), or, for
unfiltered tiles of a collection that has one, the summary the database keeps per cell of a
finer grid (geo/features/collections.py, ClusterSummary), a few thousand rows where the
features are a hundred thousand.

Positions are whole Web Mercator "world units" (2^40 across the Mercator square, y down:
the database's veta_world_x / veta_world_y of the centre of a feature's bounding box), so that
both sources sum them exactly, in any order, and a cell of any zoom is a shift of them.
"""

from __future__ import annotations

import morecantile

from geo.core.sql import Params, Sql, SqlQuery
from geo.features.collections import Property
from geo.features.items import CqlFilter
from geo.features.tile_layers import EXTENT, TileLayer, filters_sql, search_box

# A cluster cell is 256 of the tile's 4096 units: 16 by 16 cells a tile, 32 screen pixels where
# MapLibre draws a vector tile 512 pixels wide. Cells are aligned on the zoom's tile grid, so a
# cell is the same cell in every tile. A tile also carries the ring of cells around it: a
# circle near its edge is then drawn whole, half by each tile, at the same place.
CLUSTER_CELL = 256
CELLS_PER_TILE = EXTENT // CLUSTER_CELL
# World units: a tile of zoom z is 2^(WORLD_BITS - z) of them wide.
WORLD_BITS = 40
# 16 cells a tile: a cell of zoom z's grid is a tile of zoom z + 4.
CELL_ZOOMS = CELLS_PER_TILE.bit_length() - 1
# The cells of the tile and of the ring around it, relative to its first cell.
RING = f"BETWEEN -1 AND {CELLS_PER_TILE}"


def cluster_fields(layer: TileLayer) -> dict[str, Property]:
    """The attributes of a cluster: its count, the most frequent values of the list queryable
    the catalog names, and for a cluster of one feature that feature's id and label."""
    spec = layer.clusters
    assert spec is not None  # only asked of a clustered layer
    top_of = next(q for q in layer.rows.list_queryables if q.name == spec.top_of)
    label = layer.collection.by_name.get(spec.label) or layer.rows.by_name[spec.label]
    item_id = layer.fields()["id"]
    return {
        "count": Property("count", "count(*)", "integer", "How many features fall in the cell"),
        spec.top_field: Property(
            spec.top_field,
            top_of.sql,
            "string",
            f"The (at most {spec.top_count}) values of {top_of.name} held by most of the cell's "
            "features, the most frequent first (ties in alphabetical order), comma-separated",
        ),
        "id": Property("id", item_id.sql, item_id.type, "Item id, in a cell of one feature"),
        label.name: Property(
            label.name, label.sql, label.type, f"{label.description}; in a cell of one feature"
        ),
    }


def summarised(
    layer: TileLayer, tile: morecantile.Tile, area: bytes | None, cql: CqlFilter | None
) -> bool:
    """Whether the tile's clusters come from the layer's summary: unfiltered, with integer
    ids, and cells of the tile's grid made of whole summary cells."""
    spec = layer.clusters
    return (
        spec is not None
        and spec.summary is not None
        and tile.z + CELL_ZOOMS <= spec.summary.zoom
        and area is None
        and cql is None
        and layer.integer_ids
    )


def cluster_query(
    layer: TileLayer,
    tile: morecantile.Tile,
    area: bytes | None,
    cql: CqlFilter | None,
    from_summary: bool | None = None,
) -> SqlQuery:
    """One statement returning the tile's cluster layer: one point per occupied cell (at the
    mean position of the features in it, kept inside the cell), counting the rows the
    features' tiles show for the same filters. A feature belongs to the cell of the centre of
    its bounding box (a point: the point itself), so each is counted in exactly one cell of
    the zoom. `from_summary`: force the source (tests compare the two); by default the summary
    whenever it can answer."""
    spec = layer.clusters
    assert spec is not None  # only called for a clustered layer
    if from_summary is None:
        from_summary = summarised(layer, tile, area, cql)
    params = Params()
    # The tile's first cell and its world-unit origin, in both axes; cells of this zoom's grid
    # are world units shifted right by `shift`.
    shift = params(WORLD_BITS - tile.z - CELL_ZOOMS)
    first_i, first_j = params(tile.x * CELLS_PER_TILE), params(tile.y * CELLS_PER_TILE)
    if from_summary:
        cells = _summary_cells(layer, params, shift, first_i, first_j)
    else:
        cells = _feature_cells(layer, tile, params, area, cql, shift, first_i, first_j)
    origin = 1 << (WORLD_BITS - tile.z)
    west, north = params(tile.x * origin), params(tile.y * origin)
    unit = params(origin // EXTENT)
    fields = cluster_fields(layer)
    label, cell = fields[spec.label], CLUSTER_CELL
    # The mean position in tile units, rounded, kept inside its cell (a tile then holds exactly
    # the clusters of its own cells inside its bounds, those of the ring outside).
    # Exact (numeric) until the division: the same digits from either source.
    mean = "((cell.{0} - cell.n::numeric * {1}::bigint) / (cell.n::numeric * {2}::bigint))::float8"
    inside = f"greatest(least(round({{0}}), {{1}} * {cell} + {cell - 1}), {{1}} * {cell})"
    one_label = (
        f"(SELECT {label.sql} FROM {layer.rows.from_sql(params)} "
        f"WHERE {layer.fields()['id'].sql} = cell.item_id)"
    )
    # In the order of the cells: the same bytes whichever plan made them.
    text = (
        f"SELECT ST_AsMVT(c, {params(layer.clusters_id)}, {EXTENT}, 'geom') FROM ("
        f"SELECT ST_MakePoint({inside.format(mean.format('sx', west, unit), 'cell.i')}, "
        f"{inside.format(mean.format('sy', north, unit), 'cell.j')}) AS geom, cell.n AS count, "
        f"cell.top_values AS {spec.top_field}, "
        "CASE WHEN cell.n = 1 THEN cell.item_id END AS id, "
        f"CASE WHEN cell.n = 1 THEN {one_label} END AS {label.name} FROM ({cells}) cell "
        "ORDER BY cell.j, cell.i) c"
    )
    return SqlQuery(text, tuple(params.values))


def _feature_cells(
    layer: TileLayer,
    tile: morecantile.Tile,
    params: Params,
    area: bytes | None,
    cql: CqlFilter | None,
    shift: str,
    first_i: str,
    first_j: str,
) -> Sql:
    """SQL: per occupied cell (i, j relative to the tile's first), its count n, position sums
    sx, sy, the least item id and its most frequent values, from the features under the tile."""
    spec = layer.clusters
    assert spec is not None
    fields = cluster_fields(layer)
    top_field, item_id = fields[spec.top_field], fields["id"]
    z, x, y = params(tile.z), params(tile.x), params(tile.y)
    geometry = layer.collection.geometry_sql
    where = filters_sql(layer, params, area, cql)
    # Each row's bounding box is read once and its position computed once (OFFSET 0: not
    # again for each value of its list, as a flattened subquery would).
    members = (
        "SELECT veta_world_x(ST_XMin(m.b), ST_XMax(m.b)) AS wx, "
        "veta_world_y(ST_YMin(m.b), ST_YMax(m.b)) AS wy, m.item_id, m.vals "
        f"FROM (SELECT Box2D({geometry}) AS b, {item_id.sql} AS item_id, {top_field.sql} AS vals "
        f"FROM {layer.rows.from_sql(params)} "
        f"WHERE {geometry} && {search_box(z, x, y, CLUSTER_CELL / EXTENT)} AND {where} "
        "OFFSET 0) m OFFSET 0"
    )
    # Features with the same list in the same cell counted together first (a few thousand
    # groups out of tens of thousands of rows), then their lists unnested: per (cell, value),
    # how many features hold the value, and, on each group's first value (or its empty list),
    # the group's count, position sums and least id. OFFSET 0 keeps the cell range test below
    # from being pushed under these aggregates, where the planner would take it for selective
    # and sort instead of hashing.
    first = "coalesce(u.o, 1) = 1"
    counted = (
        "SELECT g.i, g.j, u.v, sum(g.n) FILTER (WHERE u.v IS NOT NULL) AS holding, "
        f"sum(g.n) FILTER (WHERE {first}) AS n, sum(g.sx) FILTER (WHERE {first}) AS sx, "
        f"sum(g.sy) FILTER (WHERE {first}) AS sy, min(g.item_id) FILTER (WHERE {first}) AS item_id "
        f"FROM (SELECT ((m.wx >> {shift}::int) - {first_i}::bigint)::int AS i, "
        f"((m.wy >> {shift}::int) - {first_j}::bigint)::int AS j, m.vals, "
        "count(*) AS n, sum(m.wx) AS sx, sum(m.wy) AS sy, min(m.item_id) AS item_id "
        f"FROM ({members}) m GROUP BY 1, 2, 3 OFFSET 0) g "
        "LEFT JOIN LATERAL unnest(g.vals) WITH ORDINALITY u(v, o) ON TRUE "
        "GROUP BY 1, 2, 3 OFFSET 0"
    )
    return Sql(
        "SELECT i, j, sum(n)::bigint AS n, sum(sx) AS sx, sum(sy) AS sy, "
        "min(item_id) AS item_id, array_to_string((array_agg(v ORDER BY holding DESC, v) "
        f"FILTER (WHERE v IS NOT NULL))[1:{spec.top_count}], ', ') AS top_values "
        f"FROM ({counted}) counted WHERE i {RING} AND j {RING} GROUP BY i, j"
    )


def _summary_cells(
    layer: TileLayer,
    params: Params,
    shift: str,
    first_i: str,
    first_j: str,
) -> Sql:
    """SQL: what _feature_cells gives, unfiltered, from the summary's cells under the tile (its
    finer cells summed: the same integers, so the same sums)."""
    spec = layer.clusters
    assert spec is not None and spec.summary is not None
    summary = spec.summary
    # Summary cells are world units shifted by (WORLD_BITS - zoom): this zoom's cells are
    # summary cells shifted by what remains.
    finer = params(WORLD_BITS - summary.zoom)
    coarser = f"({shift}::int - {finer}::int)"
    block = f"(1 << {coarser})"
    # The summary cells of the tile and its ring, as a range of each index (the unique index
    # on cx, cy serves it).
    ranges = (
        f"s.cx BETWEEN ({first_i}::int - 1) * {block} AND ({first_i}::int + {CELLS_PER_TILE + 1}) * {block} - 1 "
        f"AND s.cy BETWEEN ({first_j}::int - 1) * {block} AND ({first_j}::int + {CELLS_PER_TILE + 1}) * {block} - 1"
    )
    cell = f"(s.cx >> {coarser}) - {first_i}::int AS i, (s.cy >> {coarser}) - {first_j}::int AS j"
    totals = (
        f"SELECT {cell}, sum(s.members)::bigint AS n, sum(s.x_sum) AS sx, sum(s.y_sum) AS sy, "
        # The id sum of a lone feature is its id (only then read).
        "CASE WHEN sum(s.members) = 1 THEN sum(s.id_sum)::integer END AS item_id "
        f"FROM {summary.cells} s WHERE {ranges} GROUP BY 1, 2"
    )
    tops = (
        "SELECT i, j, array_to_string((array_agg(v ORDER BY holding DESC, v))"
        f"[1:{spec.top_count}], ', ') AS top_values FROM (SELECT {cell}, "
        f"s.{summary.value_column} AS v, sum(s.members) AS holding FROM {summary.values} s "
        f"WHERE {ranges} GROUP BY 1, 2, 3) held GROUP BY i, j"
    )
    return Sql(
        "SELECT t.i, t.j, t.n, t.sx, t.sy, t.item_id, h.top_values "
        f"FROM ({totals}) t LEFT JOIN ({tops}) h ON (h.i, h.j) = (t.i, t.j)"
    )
