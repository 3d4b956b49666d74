"""An MDoPI method file (TOML): loaded, checked key by key, and versioned by its content."""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from geo.core import vocabulary as v
from geo.core.errors import VetaError

DEFAULT_METHOD = Path(__file__).with_name("default_method.toml")
UNKNOWN = "unknown"
RANKED_CLASSES = v.MDOPI_CLASSES[:-1]  # every class but `none`, highest first
COMMODITY_STANDINGS = ("strategic", "critical", "other")
LAND_USE_OUTCOMES = ("exclusion", "conditional", "free")
CRITERIA = {
    "geological": ("occurrence_type", "size_class", "location_precision", "depth"),
    "technical_economic": ("commodity", "mine_status"),
}
# The values each scored table may name (besides `unknown`).
TABLE_VALUES = {
    ("geological", "occurrence_type"): v.OCCURRENCE_TYPES,
    ("geological", "size_class"): v.SIZE_CLASSES,
    ("geological", "location_precision"): v.LOCATION_PRECISIONS,
    ("geological", "depth"): ("known",),
    ("technical_economic", "mine_status"): v.MINE_STATUSES,
}


class MethodError(VetaError, title="Invalid MDoPI method", slug="invalid-method"):
    """A method file that cannot be used: the key is named, with what is wrong and what is allowed."""

    def __init__(self, key: str, reason: str, allowed: str):
        self.key = key
        super().__init__(f"{key}: {reason} (allowed: {allowed})")


@dataclass(frozen=True)
class Method:
    """A checked method. `version` is the file's own version plus a digest of its content, so
    that any change to a weight or score shows in the stored assessments."""

    name: str
    declared_version: str
    digest: str
    description: str
    weights: dict[str, float]
    thresholds: dict[str, float]
    tables: dict[tuple[str, str], dict[str, float]]
    criterion_weights: dict[str, dict[str, float]]
    commodity: dict[str, float]
    commodity_importance: dict[str, float]
    land_use: dict[str, float]
    societal_default: float
    safeguard_classes: tuple[str, ...]
    buffer_m: dict[str, float]
    commodity_buffer_m: dict[str, float]

    @property
    def version(self) -> str:
        return f"{self.declared_version}+{self.digest}"

    def commodity_scores(self) -> dict[str, float]:
        """Every commodity code's score from its standing in EU law."""
        return {
            c.code: self.commodity[
                "strategic" if c.strategic else "critical" if c.critical else "other"
            ]
            for c in v.COMMODITIES
        }


def load_method(path: Path | str | None = None) -> Method:
    """The method in `path` (default: the bundled default method), checked."""
    path = Path(path) if path else DEFAULT_METHOD
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MethodError("--method", f"no file {path}", "a TOML method file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise MethodError(
            str(path), f"not valid TOML: {e}", "a UTF-8 TOML file like the default method"
        ) from None
    return parse_method(raw)


def parse_method(raw: dict) -> Method:
    """Check a parsed method document; every problem names its key."""
    _keys(
        raw,
        "",
        (
            "method",
            "weights",
            "classes",
            "geological",
            "technical_economic",
            "land_use",
            "societal",
            "safeguarding",
        ),
    )
    meta = _table(raw, "method")
    _keys(meta, "method.", ("name", "version", "description"))
    name, version = (_text(meta, k, "method.") for k in ("name", "version"))
    description = meta.get("description", "")

    weights = _numbers(
        _table(raw, "weights"), "weights.", v.MDOPI_DIMENSIONS, 0, None, required=True
    )
    if sum(weights.values()) <= 0:
        raise MethodError(
            "weights", "the weights add up to 0", "non-negative numbers, at least one positive"
        )
    thresholds = _numbers(_table(raw, "classes"), "classes.", RANKED_CLASSES, 0, 100, required=True)
    ordered = [thresholds[c] for c in RANKED_CLASSES]
    if ordered != sorted(ordered, reverse=True) or len(set(ordered)) != len(ordered):
        raise MethodError(
            "classes",
            f"thresholds {ordered} do not fall from eu to local",
            "eu > national > regional > local",
        )

    tables, criterion_weights = {}, {}
    for dimension, criteria in CRITERIA.items():
        section = _table(raw, dimension)
        extra = ("commodity_importance",) if dimension == "technical_economic" else ()
        _keys(section, f"{dimension}.", ("weights", *criteria, *extra))
        cw = _numbers(
            _table(section, "weights", f"{dimension}."),
            f"{dimension}.weights.",
            criteria,
            0,
            None,
            required=True,
        )
        if sum(cw.values()) <= 0:
            raise MethodError(
                f"{dimension}.weights", "the weights add up to 0", "at least one positive weight"
            )
        criterion_weights[dimension] = cw
        for criterion in criteria:
            if (dimension, criterion) in TABLE_VALUES:
                key = f"{dimension}.{criterion}."
                values = (*TABLE_VALUES[(dimension, criterion)], UNKNOWN)
                table = _numbers(_table(section, criterion, f"{dimension}."), key, values, 0, 100)
                if UNKNOWN not in table:
                    raise MethodError(
                        f"{key}{UNKNOWN}",
                        "missing",
                        "the score of a missing or unlisted value, 0-100",
                    )
                tables[(dimension, criterion)] = table
    te = raw["technical_economic"]
    commodity = _numbers(
        _table(te, "commodity", "technical_economic."),
        "technical_economic.commodity.",
        COMMODITY_STANDINGS,
        0,
        100,
        required=True,
    )
    importance = _numbers(
        _table(te, "commodity_importance", "technical_economic."),
        "technical_economic.commodity_importance.",
        v.COMMODITY_IMPORTANCE,
        0,
        1,
        required=True,
    )
    land_use = _numbers(
        _table(raw, "land_use"), "land_use.", LAND_USE_OUTCOMES, 0, 100, required=True
    )
    societal = _numbers(_table(raw, "societal"), "societal.", ("default",), 0, 100, required=True)

    safeguarding = _table(raw, "safeguarding")
    _keys(safeguarding, "safeguarding.", ("classes", "buffer_m", "commodity_buffer_m"))
    classes = safeguarding.get("classes")
    if (
        not isinstance(classes, list)
        or not classes
        or any(c not in v.MDOPI_CLASSES for c in classes)
    ):
        raise MethodError(
            "safeguarding.classes",
            f"{classes!r} is not a list of MDoPI classes",
            ", ".join(v.MDOPI_CLASSES),
        )
    buffers = _numbers(
        _table(safeguarding, "buffer_m", "safeguarding."),
        "safeguarding.buffer_m.",
        v.MDOPI_CLASSES,
        0,
        50_000,
        required=True,
    )
    commodity_buffers = _numbers(
        safeguarding.get("commodity_buffer_m", {}),
        "safeguarding.commodity_buffer_m.",
        v.COMMODITY_CODES,
        0,
        50_000,
    )

    canonical = json.dumps(raw, sort_keys=True, default=str).encode()
    return Method(
        name=name,
        declared_version=version,
        digest=hashlib.sha256(canonical).hexdigest()[:12],
        description=str(description),
        weights=weights,
        thresholds=thresholds,
        tables=tables,
        criterion_weights=criterion_weights,
        commodity=commodity,
        commodity_importance=importance,
        land_use=land_use,
        societal_default=societal["default"],
        safeguard_classes=tuple(classes),
        buffer_m=buffers,
        commodity_buffer_m=commodity_buffers,
    )


def _keys(table: dict, prefix: str, allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            raise MethodError(f"{prefix}{key}", "unknown key", ", ".join(allowed))


def _table(parent: dict, key: str, prefix: str = "") -> dict:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise MethodError(
            f"{prefix}{key}",
            "missing" if value is None else "expected a table",
            f"a [{prefix}{key}] table",
        )
    return value


def _text(table: dict, key: str, prefix: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MethodError(
            f"{prefix}{key}",
            "missing" if value is None else f"expected text, got {value!r}",
            "a non-empty string",
        )
    return value.strip()


def _numbers(
    table: dict,
    prefix: str,
    allowed: tuple[str, ...],
    low: float,
    high: float | None,
    required: bool = False,
) -> dict[str, float]:
    """A table of numbers whose keys are in `allowed` (all of them when `required`)."""
    if not isinstance(table, dict):
        raise MethodError(
            prefix.rstrip("."),
            "expected a table",
            f"a table of numbers keyed by {', '.join(allowed)}",
        )
    _keys(table, prefix, allowed)
    span = f"a number from {low:g}" + (f" to {high:g}" if high is not None else " up")
    out = {}
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise MethodError(f"{prefix}{key}", f"expected a number, got {value!r}", span)
        if value < low or (high is not None and value > high):
            raise MethodError(f"{prefix}{key}", f"{value:g} is out of range", span)
        out[key] = float(value)
    if required:
        for key in allowed:
            if key not in out:
                raise MethodError(f"{prefix}{key}", "missing", span)
    return out
