"""Mapbox Vector Tiles made by PostGIS: tile math, a tile layer per collection, one SQL per tile.

Every registered collection (geo/features/collections.py) gets tiles; a tile is one statement: the rows
whose bounding box meets the tile grown by its buffer (a GiST index scan), clipped and
quantised by ST_AsMVTGeom, encoded by ST_AsMVT into one layer named after the collection.
"""

from __future__ import annotations

from dataclasses import dataclass

import morecantile

from geo.core.errors import InvalidParameter
from geo.core.sql import Params, SqlQuery
from geo.features.collections import Collection, Property, get_collection
from geo.features.items import in_outline_sql

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


def tile_query(layer: TileLayer, tile: morecantile.Tile, area: bytes | None = None) -> SqlQuery:
    """One statement returning the tile's MVT bytes (empty when no feature falls in it), of the
    features in an admin area when `area` (its outline, EWKB) is given."""
    params = Params()
    z, x, y = params(tile.z), params(tile.x), params(tile.y)
    columns = [f"({layer.collection.id_sql})::bigint AS mvt_id"] if layer.integer_ids else []
    columns += [f"{p.sql} AS {name}" for name, p in layer.fields().items()]
    geometry = layer.collection.geometry_sql
    # The margin envelope is clipped to the world: past the antimeridian it would wrap round in
    # lon/lat and the bbox filter would cover the other side of the Earth.
    search_box = (
        f"ST_Transform(ST_ClipByBox2D(ST_TileEnvelope({z}, {x}, {y}, margin => {BUFFER / EXTENT}), "
        "ST_TileEnvelope(0, 0, 0)::box2d), 4326)"
    )
    columns.append(
        f"ST_AsMVTGeom(ST_Transform({geometry}, 3857), ST_TileEnvelope({z}, {x}, {y}), "
        f"{EXTENT}, {BUFFER}) AS mvt_geom"
    )
    feature_id = ", 'mvt_id'" if layer.integer_ids else ""
    in_area = f"AND {in_outline_sql(geometry, params(area))}" if area else ""
    # OFFSET 0 keeps the row subquery from being flattened into the outer one, which would
    # evaluate ST_AsMVTGeom twice per row (for the IS NOT NULL test and for the output):
    # 10–20 % of a z6 deposits tile.
    text = (
        f"SELECT ST_AsMVT(tile, {params(layer.id)}, {EXTENT}, 'mvt_geom'{feature_id}) "
        f"FROM (SELECT {', '.join(columns)} FROM {layer.rows.from_sql(params)} "
        f"WHERE {geometry} && {search_box} {in_area} OFFSET 0) tile WHERE tile.mvt_geom IS NOT NULL"
    )
    return SqlQuery(text, tuple(params.values))
