"""Mapbox Vector Tiles made by PostGIS: tile math, a tile layer per collection, one SQL per tile.

Every registered collection (geo/features/collections.py) gets tiles; a tile is one statement: the rows
whose bounding box meets the tile grown by its buffer (a GiST index scan) and that pass the
request's filters (an admin area, a CQL2 filter on the rows' queryables), clipped and
quantised by ST_AsMVTGeom, encoded by ST_AsMVT into one layer named after the collection.
A collection with `tile_clusters` gets, below their zoom, a layer of clusters instead
(`cluster_query`).
"""

from __future__ import annotations

from dataclasses import dataclass

import morecantile

from geo.core.errors import InvalidParameter
from geo.core.sql import Params, SqlQuery
from geo.features.collections import Collection, Property, TileClusters, get_collection
from geo.features.items import CqlFilter, ItemsQuery, where_sql

TILE_MATRIX_SET = morecantile.tms.get("WebMercatorQuad")
EXTENT = 4096
# Pixels of the 4096 grid kept around the tile, so symbols and strokes at its edge are not cut.
BUFFER = 64
MVT = "application/vnd.mapbox-vector-tile"

# TileJSON field types and OGC geometry dimensions of the registry's JSON-Schema/GeoJSON types.
FIELD_TYPES = {"string": "String", "integer": "Number", "number": "Number", "boolean": "Boolean"}
GEOMETRY_DIMENSIONS = {
    "Point": 0,
    "MultiPoint": 0,
    "LineString": 1,
    "MultiLineString": 1,
    "Polygon": 2,
    "MultiPolygon": 2,
}


@dataclass(frozen=True)
class TileLayer:
    """A collection as a vector-tile layer: where its rows come from and which properties it carries."""

    collection: Collection
    rows: Collection
    properties: tuple[Property, ...]

    @property
    def id(self) -> str:
        return self.collection.id

    @property
    def integer_ids(self) -> bool:
        """MVT feature ids are unsigned integers: string-keyed collections carry only the property."""
        return self.collection.id_type == "integer"

    @property
    def tables(self) -> tuple[str, ...]:
        """The tables whose rows the layer's tiles are made from."""
        return tuple(dict.fromkeys((*self.collection.tables, *self.rows.tables)))

    @property
    def attribution(self) -> str | None:
        return self.collection.attribution

    @property
    def geometry_dimension(self) -> int | None:
        return GEOMETRY_DIMENSIONS.get(self.collection.geometry_type)

    @property
    def clusters(self) -> TileClusters | None:
        return self.collection.tile_clusters

    @property
    def clusters_id(self) -> str:
        """The name of the cluster layer in the tiles below the clusters' zoom."""
        return f"{self.id}_clusters"

    def features_from(self) -> int:
        """The lowest zoom whose tiles carry the features themselves."""
        return self.clusters.below_zoom if self.clusters else TILE_MATRIX_SET.minzoom

    def clustered(self, z: int) -> bool:
        return self.clusters is not None and z < self.clusters.below_zoom

    def fields(self) -> dict[str, Property]:
        """Every attribute of a tile feature: `id` (the item id) and the chosen properties."""
        item_id = Property(
            "id",
            self.collection.id_sql,
            self.collection.id_type,
            f"Item id in /collections/{self.id}/items",
        )
        return {"id": item_id, **{p.name: p for p in self.properties}}


def tile_layer(collection_id: str) -> TileLayer:
    """The tile layer of a registered collection (NotFound for an unknown one)."""
    collection = get_collection(collection_id)
    rows = get_collection(collection.tile_rows or collection.id)
    wanted = collection.tile_properties
    if wanted is None:
        return TileLayer(collection, rows, collection.properties)
    properties = tuple(collection.by_name.get(name) or rows.by_name[name] for name in wanted)
    return TileLayer(collection, rows, properties)


def checked_tile(z: int, x: int, y: int) -> morecantile.Tile:
    """The tile z/x/y of WebMercatorQuad, or InvalidParameter naming the coordinate out of range."""
    if not TILE_MATRIX_SET.minzoom <= z <= TILE_MATRIX_SET.maxzoom:
        raise InvalidParameter(
            "z",
            f"zoom {z} is out of range",
            f"{TILE_MATRIX_SET.minzoom} to {TILE_MATRIX_SET.maxzoom}",
        )
    matrix = TILE_MATRIX_SET.matrix(z)
    if not 0 <= x < matrix.matrixWidth:
        raise InvalidParameter(
            "x", f"column {x} does not exist at zoom {z}", f"0 to {matrix.matrixWidth - 1}"
        )
    if not 0 <= y < matrix.matrixHeight:
        raise InvalidParameter(
            "y", f"row {y} does not exist at zoom {z}", f"0 to {matrix.matrixHeight - 1}"
        )
    return morecantile.Tile(x, y, z)


def search_box(z: str, x: str, y: str, margin: float) -> str:
    """SQL: the tile z/x/y (bound parameters) grown by `margin` tile widths, in lon/lat, for the
    && test on the rows' GiST index."""
    # The margin envelope is clipped to the world: past the antimeridian it would wrap round in
    # lon/lat and the bbox filter would cover the other side of the Earth.
    return (
        f"ST_Transform(ST_ClipByBox2D(ST_TileEnvelope({z}, {x}, {y}, margin => {margin}), "
        "ST_TileEnvelope(0, 0, 0)::box2d), 4326)"
    )


def filters_sql(layer: TileLayer, params: Params, area: bytes | None, cql: CqlFilter | None) -> str:
    """SQL: the rows in the admin area `area` (its outline, EWKB) passing the CQL2 filter on the
    rows' queryables — the conditions the collection's items take for the same parameters."""
    return where_sql(ItemsQuery(layer.rows, area=area, filter=cql), params)


def tile_query(
    layer: TileLayer,
    tile: morecantile.Tile,
    area: bytes | None = None,
    cql: CqlFilter | None = None,
) -> SqlQuery:
    """One statement returning the tile's MVT bytes (empty when no feature falls in it), of the
    features in an admin area when `area` (its outline, EWKB) is given and passing the CQL2
    filter `cql`; below the layer's cluster zoom, its clusters."""
    if layer.clustered(tile.z):
        return cluster_query(layer, tile, area, cql)
    params = Params()
    z, x, y = params(tile.z), params(tile.x), params(tile.y)
    columns = [f"({layer.collection.id_sql})::bigint AS mvt_id"] if layer.integer_ids else []
    columns += [f"{p.sql} AS {name}" for name, p in layer.fields().items()]
    geometry = layer.collection.geometry_sql
    columns.append(
        f"ST_AsMVTGeom(ST_Transform({geometry}, 3857), ST_TileEnvelope({z}, {x}, {y}), "
        f"{EXTENT}, {BUFFER}) AS mvt_geom"
    )
    feature_id = ", 'mvt_id'" if layer.integer_ids else ""
    where = filters_sql(layer, params, area, cql)
    # OFFSET 0 keeps the row subquery from being flattened into the outer one, which would
    # evaluate ST_AsMVTGeom twice per row (for the IS NOT NULL test and for the output):
    # 10–20 % of a z6 deposits tile.
    text = (
        f"SELECT ST_AsMVT(tile, {params(layer.id)}, {EXTENT}, 'mvt_geom'{feature_id}) "
        f"FROM (SELECT {', '.join(columns)} FROM {layer.rows.from_sql(params)} "
        f"WHERE {geometry} && {search_box(z, x, y, BUFFER / EXTENT)} AND {where} OFFSET 0) tile "
        "WHERE tile.mvt_geom IS NOT NULL"
    )
    return SqlQuery(text, tuple(params.values))


# A cluster cell is 256 of the tile's 4096 units: 16 by 16 cells a tile, 32 screen pixels where
# MapLibre draws a vector tile 512 pixels wide. Cells are aligned on the zoom's tile grid, so a
# cell is the same cell in every tile. A tile also carries the ring of cells around it: a
# circle near its edge is then drawn whole, half by each tile, at the same place.
CLUSTER_CELL = 256
# The sphere of Web Mercator (EPSG:3857), metres.
EARTH_RADIUS = 6378137


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


def cluster_query(
    layer: TileLayer, tile: morecantile.Tile, area: bytes | None, cql: CqlFilter | None
) -> SqlQuery:
    """One statement returning the tile's cluster layer: one point per occupied cell (at the
    mean position of the features in it, kept inside the cell), from the same rows and filters
    as the features' tiles. A feature belongs to the cell of the centre of its bounding box (a
    point: the point itself), so each is counted in exactly one cell of the zoom."""
    spec = layer.clusters
    assert spec is not None  # only called for a clustered layer
    params = Params()
    z, x, y = params(tile.z), params(tile.x), params(tile.y)
    left, _, right, top = TILE_MATRIX_SET.xy_bounds(tile)
    west, north, scale = params(left), params(top), params(EXTENT / (right - left))
    fields = cluster_fields(layer)
    top_field, item_id, label = fields[spec.top_field], fields["id"], fields[spec.label]
    cell, first_cell, last_cell = CLUSTER_CELL, -1, EXTENT // CLUSTER_CELL
    geometry = layer.collection.geometry_sql
    where = filters_sql(layer, params, area, cql)
    # Tile units (y down, as MVT has it) from lon/lat by the spherical Mercator formulas of
    # EPSG:3857: cheaper than ST_Transform for every row of a z6 tile (tens of thousands). Each
    # row's bounding box is read once and its position computed once (OFFSET 0: not again for
    # each value of its list, as a flattened subquery would).
    lon = "radians((ST_XMin(m.b) + ST_XMax(m.b)) / 2)"
    lat = "radians((ST_YMin(m.b) + ST_YMax(m.b)) / 2)"
    members = (
        f"SELECT ({EARTH_RADIUS} * {lon} - {west}::float8) * {scale}::float8 AS px, "
        f"({north}::float8 - {EARTH_RADIUS} * ln(tan(pi() / 4 + {lat} / 2))) * {scale}::float8 "
        "AS py, m.item_id, m.vals "
        f"FROM (SELECT Box2D({geometry}) AS b, {item_id.sql} AS item_id, {top_field.sql} AS vals "
        f"FROM {layer.rows.from_sql(params)} "
        f"WHERE {geometry} && {search_box(z, x, y, cell / EXTENT)} AND {where} OFFSET 0) m OFFSET 0"
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
        f"FROM (SELECT floor(m.px / {cell})::int AS i, floor(m.py / {cell})::int AS j, m.vals, "
        "count(*) AS n, sum(m.px) AS sx, sum(m.py) AS sy, min(m.item_id) AS item_id "
        f"FROM ({members}) m GROUP BY 1, 2, 3 OFFSET 0) g "
        "LEFT JOIN LATERAL unnest(g.vals) WITH ORDINALITY u(v, o) ON TRUE "
        "GROUP BY 1, 2, 3 OFFSET 0"
    )
    cells = (
        "SELECT i, j, sum(n)::bigint AS n, sum(sx) / sum(n) AS px, sum(sy) / sum(n) AS py, "
        "min(item_id) AS item_id, array_to_string((array_agg(v ORDER BY holding DESC, v) "
        f"FILTER (WHERE v IS NOT NULL))[1:{spec.top_count}], ', ') AS top_values "
        f"FROM ({counted}) counted WHERE i BETWEEN {first_cell} AND {last_cell} "
        f"AND j BETWEEN {first_cell} AND {last_cell} GROUP BY i, j"
    )
    # The mean position, rounded, kept inside its cell (a tile then holds exactly the clusters
    # of its own cells inside its bounds, those of the ring outside).
    inside = f"greatest(least(round({{0}}), {{1}} * {cell} + {cell - 1}), {{1}} * {cell})"
    one_label = f"(SELECT {label.sql} FROM {layer.rows.from_sql(params)} WHERE {item_id.sql} = cell.item_id)"
    text = (
        f"SELECT ST_AsMVT(c, {params(layer.clusters_id)}, {EXTENT}, 'geom') FROM ("
        f"SELECT ST_MakePoint({inside.format('cell.px', 'cell.i')}, "
        f"{inside.format('cell.py', 'cell.j')}) AS geom, cell.n AS count, "
        f"cell.top_values AS {top_field.name}, "
        "CASE WHEN cell.n = 1 THEN cell.item_id END AS id, "
        f"CASE WHEN cell.n = 1 THEN {one_label} END AS {label.name} FROM ({cells}) cell) c"
    )
    return SqlQuery(text, tuple(params.values))
