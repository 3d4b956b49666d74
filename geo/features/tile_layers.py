"""Vector-tile layers: the tile matrix set, a collection as a tile layer, the tile's search box
and filters — what the features' and the clusters' tile queries share."""

from __future__ import annotations

from dataclasses import dataclass

import morecantile

from geo.core.errors import InvalidParameter
from geo.core.sql import Params
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
