"""Loading the León sample data (boundaries, zones, deposits, permits) idempotently, in one go."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Polygon, shape
from sqlalchemy import Date, Table, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection, Engine

from geo.core.settings import PROJECT_ROOT
from geo.core.vocabulary import fold
from geo.store.models import SRID, AdminArea, Deposit, Permit, ProtectionZone

SAMPLE_DATA = PROJECT_ROOT / "sample_data"
BOUNDARIES = SAMPLE_DATA / "boundaries"
IGN_SOURCE = "IGN (es-atlas 0.6.0)"
IGN_LICENCE = "CC BY 4.0, © Instituto Geográfico Nacional de España"
CASTILLA_Y_LEON = "07"

# table -> (file in sample_data/, the columns a record is known by)
LAYERS: dict[Table, tuple[str, tuple[str, ...]]] = {
    ProtectionZone.__table__: ("protection_zones.geojson", ("source", "source_id")),
    Deposit.__table__: ("deposits.geojson", ("source", "source_id")),
    Permit.__table__: ("permits.geojson", ("registry_number",)),
}
TABLES = (AdminArea.__table__, *LAYERS)


def load_sample(engine: Engine, *, if_empty: bool = False) -> dict[str, int]:
    """Upsert the sample in one transaction and return the rows per table. Rows that already
    match the files are left untouched; with if_empty, nothing is loaded once deposits exist."""
    with engine.begin() as conn:
        if not (if_empty and conn.execute(select(Deposit.id).limit(1)).first()):
            upsert(conn, AdminArea.__table__, admin_areas(), ("code",))
            for table, (file, key) in LAYERS.items():
                upsert(conn, table, layer_rows(table, SAMPLE_DATA / file), key)
        return {t.name: conn.scalar(select(func.count()).select_from(t)) for t in TABLES}


def upsert(conn: Connection, table: Table, rows: list[dict], key: tuple[str, ...]) -> None:
    """INSERT ... ON CONFLICT (key) DO UPDATE only where some column differs."""
    stmt = insert(table)
    columns = [c for c in rows[0] if c not in key]
    changed = tuple_(*(table.c[c] for c in columns)).is_distinct_from(
        tuple_(*(stmt.excluded[c] for c in columns))
    )
    values = {c: stmt.excluded[c] for c in columns}
    if "updated_at" in table.c:
        values["updated_at"] = func.now()
    conn.execute(stmt.on_conflict_do_update(index_elements=key, set_=values, where=changed), rows)


def admin_areas() -> list[dict]:
    """Castilla y León, its nine provinces and León's municipalities, parents first."""
    region = next(
        f
        for f in read_features("spain_autonomous_regions")
        if f["properties"]["id"] == CASTILLA_Y_LEON
    )
    levels = [
        ("autonomous_community", [region], lambda p: None),
        ("province", read_features("castilla_y_leon_provinces"), lambda p: CASTILLA_Y_LEON),
        ("municipality", read_features("leon_municipalities"), lambda p: p["prov_id"]),
    ]
    return [
        {
            "code": f["properties"]["id"],
            "name": f["properties"]["name"],
            "name_folded": fold(f["properties"]["name"]),
            "level": level,
            "parent_code": parent(f["properties"]),
            "source": IGN_SOURCE,
            "licence": IGN_LICENCE,
            "geom": geometry(f["geometry"], multi=True),
        }
        for level, features, parent in levels
        for f in features
    ]


def layer_rows(table: Table, path: Path) -> list[dict]:
    """The features of a sample file as rows of table (dates parsed, geometry in SRID 4326)."""
    dates = [c.name for c in table.c if isinstance(c.type, Date)]
    multi = table.name != "deposits"  # deposits are points or outlines; the rest MultiPolygons
    rows = []
    for feature in json.loads(path.read_text(encoding="utf-8"))["features"]:
        row = dict(feature["properties"])
        for name in dates:
            row[name] = row[name] and date.fromisoformat(row[name])
        row["geom"] = geometry(feature["geometry"], multi=multi)
        rows.append(row)
    return rows


def geometry(geojson: dict, *, multi: bool):
    geom = shape(geojson)
    if multi and isinstance(geom, Polygon):
        geom = MultiPolygon([geom])
    return from_shape(geom, srid=SRID)


def read_features(name: str) -> list[dict]:
    return json.loads((BOUNDARIES / f"{name}.geojson").read_text(encoding="utf-8"))["features"]
