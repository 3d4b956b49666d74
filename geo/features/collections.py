"""The registry of feature collections: what each collection is, its SQL, and its queryable properties.

Every collection served through OGC API – Features (and anything else that wants all of them,
such as vector tiles) is one `Collection`, registered once. A collection is declared, not coded:

    from geo.features.collections import Collection, Property, register

    register(Collection(
        id="grid_cells", title="Cuadrícula cells", description="...",
        table="grid_cells",                          # the table behind it: its rows (unless
                                                     # `source` names another FROM item aliased t,
                                                     # such as (SELECT …) t), extent and change
                                                     # tracking (SELECT track_table_changes(
                                                     # 'grid_cells') in its migration lets counts
                                                     # and tiles be remembered until it changes)
        properties=(
            Property("code", Sql("t.code"), "string", "Cell code"),
            Property("area_ha", Sql("t.area_ha"), "number", "Area in hectares", sortable=False),
        ),
        id_sql=Sql("t.code"), id_type="string",
    ))

The registry starts empty: whoever serves or exports the collections registers them first
(Veta's own are declared in geo.catalog and registered by geo.catalog.register_catalog).
Properties are flat scalars: they are the GeoJSON properties, the CSV columns, the queryables
(CQL2 and `/queryables`) and, when `sortable`, the `sortby` fields. Their SQL expressions read
the row alias `t` and are `Sql` (geo.core.sql): code's own text; `source` may be a function of geo.core.sql.Params when it needs bound values.
The SQL builders for pages, counts and single items are in geo/features/items.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from geo.core.errors import NotFound
from geo.core.sql import Params, Sql

# JSON Schema type (and format) -> the SQL type a keyset cursor value is cast back to.
SQL_TYPES = {
    ("string", None): "text",
    ("string", "date"): "date",
    ("string", "date-time"): "timestamptz",
    ("integer", None): "bigint",
    ("number", None): "double precision",
    ("boolean", None): "boolean",
}


@dataclass(frozen=True)
class Property:
    """A flat, scalar feature property; also a queryable and, if sortable, a sortby field."""

    name: str
    # An expression over the row `t`, declared by code (a registry constant, never a request's
    # text); typed str so that declarations elsewhere need no change, read as Sql by `expression`.
    sql: str
    type: str
    description: str
    format: str | None = None
    sortable: bool = True
    enum: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if (self.type, self.format) not in SQL_TYPES:
            raise ValueError(f"property {self.name}: unsupported type {self.type}/{self.format}")

    @property
    def expression(self) -> Sql:
        return Sql(self.sql)

    @property
    def sql_type(self) -> Sql:
        return Sql(SQL_TYPES[(self.type, self.format)])

    def json_schema(self) -> dict:
        schema: dict = {"title": self.name, "description": self.description, "type": self.type}
        if self.format:
            schema["format"] = self.format
        if self.enum:
            schema["enum"] = list(self.enum)
        return schema


@dataclass(frozen=True)
class ListQueryable:
    """A queryable over a list column, not shown as a property: CQL2 compares it element-wise,
    so `commodity = 'tin'` and `commodity IN ('tin','tungsten')` hold when any element does."""

    name: str
    sql: Sql
    description: str
    enum: tuple[str, ...] | None = None
    # For a hierarchical code list: what a value matches (itself and its narrower codes).
    narrower: Callable[[str], tuple[str, ...]] | None = None


@dataclass(frozen=True)
class ClusterSummary:
    """Tables the database keeps of a collection's features summed per cell of the cluster
    grid of one zoom (and per visibility, under the same row-level security as the features),
    from which unfiltered cluster tiles are made instead of from every feature under the tile.

    `cells`: columns cx, cy (the cell: a tile of `zoom`), members (how many features), x_sum,
    y_sum (of their positions in world units: veta_world_x / veta_world_y of the centre of
    their bounding box) and id_sum (of their integer ids). `values`: cx, cy, `value_column`
    (a value of the clusters' list queryable) and members (how many features hold it)."""

    cells: str
    values: str
    value_column: str
    zoom: int


@dataclass(frozen=True)
class TileClusters:
    """How a collection's tiles aggregate below a zoom: instead of its features, one point per
    occupied cell of a grid in the tile, carrying how many features fall in it, the most
    frequent values of one of its list queryables and, for a cell of one feature, that
    feature's id and label (so that it can still be opened). geo/features/clusters.py writes
    the SQL."""

    # Clusters at zooms below this one, the features themselves from it on.
    below_zoom: int
    # The list queryable whose most frequent values a cluster carries, and under what name.
    top_of: str
    top_field: str
    # The property a cluster of one feature carries as its label.
    label: str
    # How many of the most frequent values a cluster carries.
    top_count: int = 3
    # Where unfiltered clusters are summed from (None: from the features, always).
    summary: ClusterSummary | None = None


@dataclass(frozen=True)
class Collection:
    """A feature collection: its rows (`source`, aliased t), id, geometry and properties."""

    id: str
    title: str
    description: str
    # The table behind it: its extent and change tracking, and by default its rows.
    table: str
    properties: tuple[Property, ...]
    # The FROM item aliased t when it is not the table itself: (SELECT …) t, or made per request.
    source: Sql | Callable[[Params], Sql] | None = None
    id_sql: Sql = Sql("t.id")
    id_type: str = "integer"
    geometry_sql: Sql = Sql("t.geom")
    # GeoJSON geometry type for the schema ("Point", "MultiPolygon", or "Geometry" when mixed).
    geometry_type: str = "Geometry"
    # The temporal extent `datetime` is matched against: one property (an instant or day) or
    # two (start and end of validity, NULL = open).
    temporal: tuple[str, ...] = ()
    # More properties shown only on the single-item page (long texts, lists, time stamps).
    detail: tuple[Property, ...] = ()
    keywords: tuple[str, ...] = ()
    list_queryables: tuple[ListQueryable, ...] = ()
    # A fixed lon/lat extent (west, south, east, north) for generated collections, whose
    # extent would otherwise cost generating every row.
    extent: tuple[float, float, float, float] | None = None
    # Other tables whose changes change this collection's features (for remembered counts and tiles).
    reads: tuple[str, ...] = ()
    # The properties its vector tiles carry (what styling and popups need, to keep tiles
    # small); None: all of them. They may come from `tile_rows`'s properties.
    tile_properties: tuple[str, ...] | None = None
    # Another collection whose rows its tiles read (the same features with computed properties).
    tile_rows: str | None = None
    # Credit shown with its tiles.
    attribution: str | None = None
    # Low-zoom tiles as clusters instead of features (None: features at every zoom).
    tile_clusters: TileClusters | None = None
    by_name: dict[str, Property] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if "." in self.id or "/" in self.id:
            raise ValueError(
                f"collection id {self.id!r}: QGIS builds URLs from ids, no dots or slashes"
            )
        # json_build_object takes at most 100 arguments: 50 name/value pairs.
        if len(self.properties) > 50 or len(self.detail) > 50:
            raise ValueError(
                f"collection {self.id}: at most 50 properties (and 50 detail properties)"
            )
        names = [p.name for p in self.properties]
        if len(set(names)) != len(names):
            raise ValueError(f"collection {self.id}: duplicate property names")
        if {q.name for q in self.list_queryables} & set(names):
            raise ValueError(f"collection {self.id}: a list queryable has a property's name")
        for name in self.temporal:
            if name not in names:
                raise ValueError(
                    f"collection {self.id}: temporal property {name} is not a property"
                )
        object.__setattr__(self, "by_name", {p.name: p for p in self.properties})

    def from_sql(self, params: Params) -> Sql:
        """The FROM item, binding its values (if any) into params."""
        if self.source is None:
            return Sql(f"{self.table} t")
        return self.source(params) if callable(self.source) else self.source

    @property
    def id_sql_type(self) -> Sql:
        return Sql(SQL_TYPES[(self.id_type, None)])

    @property
    def tables(self) -> tuple[str, ...]:
        return (self.table, *self.reads)

    @property
    def sortable(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.properties if p.sortable)


_REGISTRY: dict[str, Collection] = {}


def register(collection: Collection) -> Collection:
    """Add a collection to the registry; ids are unique (registering the same one again is a no-op)."""
    known = _REGISTRY.get(collection.id)
    if known is not None and known != collection:
        raise ValueError(f"collection {collection.id!r} is already registered")
    _REGISTRY[collection.id] = collection
    return collection


def all_collections() -> tuple[Collection, ...]:
    """Every registered collection, in registration order."""
    return tuple(_REGISTRY.values())


def get_collection(collection_id: str) -> Collection:
    """The collection with this id, or NotFound naming the ones that exist."""
    try:
        return _REGISTRY[collection_id]
    except KeyError:
        known = ", ".join(_REGISTRY)
        raise NotFound(f"no collection {collection_id!r}; collections: {known}") from None
