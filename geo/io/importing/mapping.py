"""Mapping files (TOML) and built-in presets: which file column fills which Veta field.

```toml
layer = "deposits"
source = "minmod"            # default for --source
crs = "EPSG:4326"            # used when the file declares none
file_layer = "occurrences"   # which layer of a multi-layer file (GeoPackage)
region = [-10, 35, 5, 44]    # lon/lat box the data must lie in (default: Spain and its sea)
[geometry]
x = "lon"                    # or: wkt = "geometry_wkt"; no [geometry]: the file's own
y = "lat"
[fields]                     # Veta field = source column (a list of columns for commodities:
source_id = "record_id"      # main, by-product, trace, in that order)
name = "name"
commodities = "commodities"  # a list may be separated by ; or ,
[constants]                  # Veta field = the same value for every row
location_precision = "approximate"
[values.designation]         # source value = Veta value, for one field
A = "SPA"
```
Without a mapping, file columns named like Veta fields (any case, or the short names of a
Shapefile that Veta exported) fill those fields.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from geo.core.errors import InvalidParameter
from geo.io.importing.targets import LAYERS, SHAPEFILE_NAMES, Layer

PRESET_PREFIX = "preset:"
PRESETS = ("natura2000", "wdpa", "igme", "miteco", "mrds")
_KEYS = {
    "layer",
    "source",
    "crs",
    "file_layer",
    "reader",
    "region",
    "geometry",
    "fields",
    "constants",
    "values",
}


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping; empty fields mean "match columns to fields by name"."""

    name: str = "by column name"
    layer: str | None = None
    source: str | None = None
    crs: str | None = None
    file_layer: str | None = None
    # A reader other than GDAL's for formats GDAL cannot read (the Catastro Minero CSV).
    reader: str | None = None
    # Where every position must lie (west, south, east, north in lon/lat); farther is an error.
    # None: Spain's land and territorial sea (geo/queries/spain.py).
    region: tuple[float, float, float, float] | None = None
    x: str | None = None
    y: str | None = None
    wkt: str | None = None
    fields: dict[str, str | list[str]] = field(default_factory=dict)
    constants: dict[str, object] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)

    def columns_for(self, layer: Layer, columns: list[str]) -> dict[str, list[str]]:
        """Veta field -> the file columns that fill it."""
        if self.fields:
            return {f: ([c] if isinstance(c, str) else list(c)) for f, c in self.fields.items()}
        by_name = {c.casefold(): c for c in columns}
        found = {}
        for f in layer.fields:
            column = by_name.get(f) or by_name.get(SHAPEFILE_NAMES.get(f, f))
            if column is not None and f not in self.constants:
                found[f] = [column]
        return found

    def check_against(self, layer: Layer) -> None:
        """Every field, constant and value table names a field of the layer."""
        for section in ("fields", "constants", "values"):
            for name in getattr(self, section):
                if name not in layer.fields:
                    raise InvalidParameter(
                        f"mapping [{section}] {name}",
                        f"not a field of {layer.name}",
                        sorted(layer.fields),
                    )


def _load_text(text: str, name: str) -> Mapping:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidParameter("mapping", f"{name} is not valid TOML: {exc}") from None
    unknown = set(doc) - _KEYS
    if unknown:
        raise InvalidParameter("mapping", f"{name}: unknown keys {sorted(unknown)}", sorted(_KEYS))
    if doc.get("layer") is not None and doc["layer"] not in LAYERS:
        raise InvalidParameter("mapping layer", f"unknown layer {doc['layer']!r}", list(LAYERS))
    geometry = doc.get("geometry", {})
    if set(geometry) - {"x", "y", "wkt"} or ("x" in geometry) != ("y" in geometry):
        raise InvalidParameter(
            "mapping [geometry]",
            f"{name}: {geometry}",
            "x and y columns, or a wkt column, or no [geometry] section",
        )
    values = {
        f: {str(k): v for k, v in table.items()} for f, table in doc.get("values", {}).items()
    }
    region = doc.get("region")
    if region is not None and not (
        isinstance(region, list | tuple)
        and len(region) == 4
        and all(isinstance(x, int | float) for x in region)
    ):
        raise InvalidParameter(
            "mapping region", f"{name}: {region!r}", "[west, south, east, north] in degrees"
        )
    return Mapping(
        name=name,
        region=None if region is None else tuple(region),
        layer=doc.get("layer"),
        source=doc.get("source"),
        crs=doc.get("crs"),
        file_layer=doc.get("file_layer"),
        reader=doc.get("reader"),
        x=geometry.get("x"),
        y=geometry.get("y"),
        wkt=geometry.get("wkt"),
        fields=doc.get("fields", {}),
        constants=doc.get("constants", {}),
        values=values,
    )


def load_mapping(spec: str | None) -> Mapping:
    """The mapping a --mapping option names: a TOML file, preset:NAME, or none (by column name)."""
    if spec is None:
        return Mapping()
    if spec.startswith(PRESET_PREFIX):
        preset = spec[len(PRESET_PREFIX) :]
        if preset not in PRESETS:
            raise InvalidParameter(
                "mapping", f"unknown preset {preset!r}", [PRESET_PREFIX + p for p in PRESETS]
            )
        text = (
            resources.files("geo.io.importing.presets")
            .joinpath(f"{preset}.toml")
            .read_text("utf-8")
        )
        return _load_text(text, spec)
    path = Path(spec)
    if not path.is_file():
        raise InvalidParameter("mapping", f"no such file {spec!r}", "a TOML file or preset:NAME")
    return _load_text(path.read_text("utf-8"), str(path))
