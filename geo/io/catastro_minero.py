"""Reading MITECO Catastro Minero CSV exports into mining-right records.

The reading of the export (docs/domain.md) — one right per line, fields separated by `/`:

    nombre / empresa / organismo / situacion / tipo / frac / registro / sustancia / sustancia2 /
    superficie / uds / seccion / vertex / vertex / …

- Each vertex is one field, longitude then latitude in degrees-minutes-seconds, ETRS89:
  `6º18'00"W 42º56'00"N` and `-6:18:00 42:56:00` are both read (º, °, ', ′, ", ″ and ''
  accepted; W/O/S or a minus sign for west/south; decimal seconds with . or ,).
- The vertices are the perimeter in order; the ring closes itself. A vertex repeating the
  first one of its ring closes that ring and the next vertex starts another part.
- A first line starting with `nombre` is a header; lines starting with `#` are comments;
  the file is UTF-8 or, failing that, Windows-1252 (the Ministry's spreadsheets).
- registro (+ `-F` frac when the right is a fraction other than 0) is the registry number.
- situacion and tipo are mapped to Veta's code lists (SITUACIONES, TIPOS); a value not in
  them is an error naming the line. Substances that are not INSPIRE commodities, the declared
  area (superficie + uds: H hectares, C cuadrículas) and the original situacion/tipo are kept
  in `remarks`, so nothing in the file is dropped.
- ETRS89 coordinates are stored as they are under EPSG:4326 (the two agree within a metre,
  and the cuadrícula is defined on ETRS89).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import shapely
from shapely.geometry import MultiPolygon, Polygon

from geo.core import vocabulary as v
from geo.core.errors import InvalidParameter
from geo.rules.registry import RECORD_COLUMNS

SOURCE = "catastro-minero"
AUTHORITY_DEFAULT = (
    "Ministerio para la Transición Ecológica y el Reto Demográfico (Catastro Minero)"
)
FIELDS = (
    "nombre",
    "empresa",
    "organismo",
    "situacion",
    "tipo",
    "frac",
    "registro",
    "sustancia",
    "sustancia2",
    "superficie",
    "uds",
    "seccion",
)

# Folded situación (prefix) -> registry status.
SITUACIONES = {
    "solicitad": "applied",
    "en tramite": "applied",
    "tramite": "applied",
    "admitid": "admitted",
    "otorgad": "granted",
    "vigente": "granted",
    "prorrogad": "extended",
    "prorroga": "extended",
    "caducad": "lapsed",
    "extinguid": "lapsed",
    "renunciad": "renounced",
    "renuncia": "renounced",
    "denegad": "denied",
}
# Folded tipo (all words present) -> right type; the first match wins, most specific first.
TIPOS = (
    (("exploracion",), "exploration"),
    (("investigacion",), "investigation"),
    (("concesion", "derivada"), "exploitation_derived"),
    (("concesion", "directa"), "exploitation_direct"),
    # A concession named without its origin is read as direct: it rests on no permit here.
    (("concesion",), "exploitation_direct"),
)
UNITS = {"H": "ha", "C": "cuadrículas"}

# One angle: degrees, minutes and seconds with their marks (º ° ' ′ " ″ '') or colons, and an
# optional sign or hemisphere letter (O = oeste).
_ANGLE = re.compile(
    r"""(?P<sign>[-+])?\s*(?P<d>\d{1,3})\s*[º°:]\s*(?P<m>\d{1,2})\s*['′:]\s*"""
    r"""(?P<s>\d{1,2}(?:[.,]\d+)?)\s*(?:''|"|″)?\s*(?P<hemi>[NSEWO](?![A-Za-z]))?""",
    re.IGNORECASE,
)


@dataclass
class PermitRecord:
    """One right as read from the export, with the permits columns it fills."""

    line: int
    registry_number: str
    name: str
    holder: str | None
    authority: str | None
    status: str
    right_type: str
    section: str | None
    commodities: list[str]
    geometry: MultiPolygon
    remarks: str
    source: str = SOURCE
    source_id: str = field(init=False)

    def __post_init__(self) -> None:
        self.source_id = self.registry_number


def _degrees(match: re.Match, axis: str) -> float:
    text = match.group(0).strip()
    d, m = int(match["d"]), int(match["m"])
    s = Fraction(match["s"].replace(",", "."))
    if m >= 60 or s >= 60:
        raise ValueError(f"minutes and seconds must be below 60: {text!r}")
    hemi = (match["hemi"] or "").upper().replace("O", "W")
    if hemi and hemi not in ("EW" if axis == "lon" else "NS"):
        raise ValueError(f"{text!r} is not a {'longitude' if axis == 'lon' else 'latitude'}")
    if match["sign"] == "-" and hemi in ("W", "S"):
        raise ValueError(f"{text!r} is negative twice (a minus sign and {hemi})")
    # Exact arithmetic, then one rounding: 6°18′00″ is the very float 1134/180 the grid uses.
    value = float((d * 3600 + m * 60 + s) / 3600)
    value = -value if match["sign"] == "-" or hemi in ("W", "S") else value
    if abs(value) > (180 if axis == "lon" else 90):
        raise ValueError(f"{text!r} is out of range")
    return value


def parse_vertex(text: str) -> tuple[float, float]:
    """`6º18'00"W 42º56'00"N` or `-6:18:00 42:56:00` -> (-6.3, 42.9333…)."""
    angles = list(_ANGLE.finditer(text))
    rest = _ANGLE.sub("", text).strip(" ,;")
    if len(angles) != 2 or rest:
        raise ValueError(
            f"not a vertex (longitude and latitude in degrees-minutes-seconds): {text!r}"
        )
    return _degrees(angles[0], "lon"), _degrees(angles[1], "lat")


def _status(situacion: str) -> str:
    folded = v.fold(situacion)
    for prefix, status in SITUACIONES.items():
        if folded.startswith(prefix):
            return status
    raise ValueError(
        f"unknown situacion {situacion!r} (known: solicitado, admitido, otorgado, "
        "prorrogado, caducado, renunciado, denegado)"
    )


def _right_type(tipo: str) -> str:
    words = set(re.findall(r"[a-z]+", v.fold(tipo)))
    for needed, right_type in TIPOS:
        if set(needed) <= words:
            return right_type
    raise ValueError(
        f"unknown tipo {tipo!r} (known: permiso de exploración, permiso de "
        "investigación, concesión de explotación [derivada|directa])"
    )


def _geometry(vertices: list[tuple[float, float]]) -> MultiPolygon:
    rings: list[list[tuple[float, float]]] = []
    ring: list[tuple[float, float]] = []
    for vertex in vertices:
        if ring and vertex == ring[0] and len(ring) >= 3:
            rings.append(ring)
            ring = []
        else:
            ring.append(vertex)
    if ring:
        rings.append(ring)
    if any(len(r) < 3 for r in rings) or not rings:
        raise ValueError("a perimeter needs at least 3 vertices")
    geometry = MultiPolygon([Polygon(r) for r in rings])
    if not geometry.is_valid:
        raise ValueError(
            f"the perimeter is not a valid polygon: {shapely.is_valid_reason(geometry)}"
        )
    return geometry


def _record(line: int, fields: list[str]) -> PermitRecord:
    if len(fields) < len(FIELDS) + 3:
        raise ValueError(
            f"{len(fields)} fields; expected the {len(FIELDS)} attributes "
            f"({' / '.join(FIELDS)}) and at least 3 vertices"
        )
    row = dict(zip(FIELDS, (f.strip() for f in fields)))
    if not row["registro"]:
        raise ValueError("registro is empty")
    frac = row["frac"]
    number = row["registro"] + (f"-F{frac}" if frac not in ("", "0") else "")
    commodities, unknown = [], []
    for name in (row["sustancia"], row["sustancia2"]):
        if name:
            code = v.commodity_code(name)
            if code and code not in commodities:
                commodities.append(code)
            elif not code:
                unknown.append(name)
    section = row["seccion"].strip(" )").upper() or None
    if section is not None and section not in v.SECTIONS:
        raise ValueError(f"unknown seccion {row['seccion']!r} (known: {', '.join(v.SECTIONS)})")
    remarks = [f"Catastro Minero: situación {row['situacion']!r}, tipo {row['tipo']!r}"]
    if row["superficie"]:
        unit = UNITS.get(row["uds"].upper(), row["uds"] or "units not given")
        remarks.append(f"declared area {row['superficie']} {unit}")
    if unknown:
        remarks.append("substances not in the INSPIRE commodity list: " + ", ".join(unknown))
    vertices = [parse_vertex(f) for f in fields[len(FIELDS) :] if f.strip()]
    return PermitRecord(
        line=line,
        registry_number=number,
        name=row["nombre"] or number,
        holder=row["empresa"] or None,
        authority=row["organismo"] or AUTHORITY_DEFAULT,
        status=_status(row["situacion"]),
        right_type=_right_type(row["tipo"]),
        section=section,
        commodities=commodities,
        geometry=_geometry(vertices),
        remarks="; ".join(remarks),
    )


def _lines(path: Path) -> list[str]:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        return raw.decode("cp1252").splitlines()


def read_catastro_minero(path: Path) -> list[PermitRecord]:
    """Every right in an export; any unreadable line is an error naming it (nothing skipped)."""
    records: list[PermitRecord] = []
    problems: list[str] = []
    for number, text in enumerate(_lines(Path(path)), start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        if not records and not problems and v.fold(text).startswith("nombre"):
            continue
        try:
            records.append(_record(number, text.split("/")))
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
    if problems:
        raise InvalidParameter(
            "FILE",
            f"{path}: " + "; ".join(problems),
            "a Catastro Minero CSV export (see geo/io/catastro_minero.py)",
        )
    numbers = [r.registry_number for r in records]
    duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
    if duplicates:
        raise InvalidParameter(
            "FILE", f"{path}: registry numbers repeated: {', '.join(duplicates)}"
        )
    return records


def read_rights(path: Path):
    """The export as a GeoDataFrame (EPSG:4258) whose columns are permits fields, for the
    `miteco` preset of `veta import`."""
    import geopandas

    records = read_catastro_minero(path)
    return geopandas.GeoDataFrame(
        {c: [getattr(r, c) for r in records] for c in RECORD_COLUMNS},
        geometry=[r.geometry for r in records],
        crs="EPSG:4258",
    )
