"""The cuadrícula as an OGC API collection (`grid_cells`): the cells over León, generated.

Cells are pure arithmetic, so they are generated, never stored; the collection is bounded by a
fixed extent (EXTENT, León province on whole minutes: 432 × 225 = 97,200 cells) because the
whole graticule (1.7 billion cells) has no useful first page. The generic layer pages, filters
by bbox and counts after generating the extent, about 0.2 s a page; /grid/cells?bbox= generates
only the cells asked for and is the fast path for a map.
"""

from __future__ import annotations

from geo.core.sql import Sql, text_array
from geo.features.collections import Collection, Property
from geo.rules import cuadricula as grid
from geo.rules.ground import held_or_excluded

# west, south, east, north: León province (its bbox, rounded out to whole minutes).
EXTENT = (-7.1, 42.0, -4.7, 43.25)

_CELLS = grid.sql_cells("ST_MakeEnvelope({}, {}, {}, {}, 4326)".format(*map(repr, EXTENT)))
# As /grid/free by default: only exclusion zones take ground.
_FREE = f"NOT {held_or_excluded('t', text_array(('exclusion',)))}"

GRID_CELLS = Collection(
    id="grid_cells",
    title="Cuadrícula minera (León)",
    description=(
        "The 20″ × 20″ cells of the cuadrícula minera (Ley 22/1973 de Minas, Art. 75–76) over "
        f"León province (lon {EXTENT[0]} to {EXTENT[2]}, lat {EXTENT[1]} to {EXTENT[3]}), generated "
        "on request. The id is the south-west corner in 20″ units (W01080N07650 = 6°00′00″W "
        "42°30′00″N). `free` as in /grid/free: held by no right today and meeting no exclusion zone "
        "in force (a cell partly inside one is not free). For a map, /grid/cells?bbox= is faster."
    ),
    source=Sql(f"(SELECT c.* FROM {_CELLS}) t"),
    # The cells never change; their `free` flag changes with rights and zones.
    table="permits",
    reads=("protection_zones",),
    geometry_type="Polygon",
    extent=EXTENT,
    geometry_sql=Sql("t.geom"),
    id_sql=Sql("t.id"),
    id_type="string",
    properties=(
        Property(
            "i", Sql("t.i"), "integer", "Column: the west edge in 20″ units east of Greenwich"
        ),
        Property(
            "j", Sql("t.j"), "integer", "Row: the south edge in 20″ units north of the equator"
        ),
        Property(
            "area_ha",
            Sql("round(t.area_ha::numeric, 4)::float8"),
            "number",
            "Area on the GRS80 ellipsoid, hectares",
            sortable=False,
        ),
        Property(
            "free", Sql(_FREE), "boolean", "Free ground today (see /grid/free)", sortable=False
        ),
    ),
    keywords=("cuadrícula minera", "mining grid", "Ley de Minas", "free ground"),
)
