"""Mapbox Vector Tiles made by PostGIS: one SQL per tile.

Every registered collection (geo/features/collections.py) gets tiles (its layer:
geo/features/tile_layers.py); a tile is one statement: the rows whose bounding box meets the
tile grown by its buffer (a GiST index scan) and that pass the request's filters (an admin
area, a CQL2 filter on the rows' queryables), clipped and quantised by ST_AsMVTGeom, encoded
by ST_AsMVT into one layer named after the collection. A collection with `tile_clusters` gets,
below their zoom, a layer of clusters instead (geo/features/clusters.py).
"""

from __future__ import annotations

import morecantile

from geo.core.sql import Params, SqlQuery
from geo.features.clusters import cluster_fields, cluster_query
from geo.features.items import CqlFilter
from geo.features.tile_layers import (
    BUFFER,
    EXTENT,
    FIELD_TYPES,
    MVT,
    TILE_MATRIX_SET,
    TileLayer,
    checked_tile,
    filters_sql,
    search_box,
    tile_layer,
)

# The names the API, the command line and the benchmarks take from here.
__all__ = [
    "FIELD_TYPES",
    "MVT",
    "TILE_MATRIX_SET",
    "TileLayer",
    "checked_tile",
    "cluster_fields",
    "tile_layer",
    "tile_query",
]


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
