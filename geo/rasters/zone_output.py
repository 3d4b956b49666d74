"""A batch of zonal statistics written out: a GeoJSON FeatureCollection of the zones, each with
its id, its properties and a `statistics` property added, or the same as CSV rows (the
properties flattened with dots: statistics.mean, statistics.percentiles.90)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence

from geo.rasters.storage import RasterInfo
from geo.rasters.zone_batches import Zone

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def statistics_collection(
    info: RasterInfo, band: int, zones: Sequence[Zone], statistics: Sequence[dict]
) -> dict:
    """The zones as a FeatureCollection, in order, each feature's statistics beside its own
    properties (a property already named `statistics` is replaced)."""
    return {
        "type": "FeatureCollection",
        "raster": info.name,
        "band": band,
        "units": info.units,
        "numberReturned": len(zones),
        "features": [
            {
                "type": "Feature",
                **({} if zone.id is None else {"id": zone.id}),
                "geometry": _geometry(zone),
                "properties": {**zone.properties, "statistics": stats},
            }
            for zone, stats in zip(zones, statistics)
        ],
    }


def _geometry(zone: Zone) -> dict:
    # Text PostGIS wrote (a deposit's point) is parsed once here: the batch is one JSON answer.
    return json.loads(zone.geometry) if isinstance(zone.geometry, str) else zone.geometry


def statistics_csv(zones: Sequence[Zone], statistics: Sequence[dict]) -> Iterator[str]:
    """CSV lines: id, the properties of every zone (first seen first), then the statistics."""
    rows = [_flat({**zone.properties, "statistics": s}) for zone, s in zip(zones, statistics)]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update((name, None) for name in row if not name.startswith("statistics."))
    for row in rows:
        columns.update((name, None) for name in row if name.startswith("statistics."))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", *columns])
    for zone, row in zip(zones, rows):
        writer.writerow(["" if zone.id is None else zone.id, *(row.get(c, "") for c in columns)])
        if buffer.tell() > 1 << 16:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _flat(properties: dict) -> dict:
    """The properties flattened: statistics' members with dots, classes by value; any other
    object or list as JSON text."""
    flat: dict = {}
    for name, value in properties.items():
        if name == "statistics":
            for key, stat in value.items():
                if key == "percentiles":
                    flat.update((f"statistics.percentiles.{p}", v) for p, v in stat.items())
                elif key == "classes":
                    for c in stat:
                        flat[f"statistics.classes.{c['value']}.hectares"] = c["hectares"]
                        flat[f"statistics.classes.{c['value']}.share"] = c["share"]
                else:
                    flat[f"statistics.{key}"] = "" if stat is None else stat
        elif isinstance(value, (dict, list)):
            flat[name] = json.dumps(value, ensure_ascii=False)
        else:
            flat[name] = "" if value is None else value
    return flat
