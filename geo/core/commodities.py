"""Veta's commodities: the CGI vocabulary with Veta's corrections, and the one place where a
user's commodity value is read, a near miss suggested and a broader term expanded.

Every path that takes a commodity from a user (the /deposits and screening parameters, CQL2
filters of the OGC API, tiles and exports, the importer) goes through `read`, `suggest` and
`narrower` here; the EU critical/strategic flags are asked with `is_critical`/`is_strategic`.
The data is in geo/core/vocab/ (README.md there); the database's `commodities` table is a copy made
by `geo.store.commodity_table.sync_commodities`, which the triggers of migration 0011 check stored codes against.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from unidecode import unidecode

from geo.core.errors import InvalidParameter

_VOCAB = resources.files("geo.core") / "vocab"
# The CGI concepts whose narrower concepts are chemical elements, named by their symbol.
_ELEMENT_GROUPS = ("metal", "metalloid", "nonMetal")


@dataclass(frozen=True)
class Commodity:
    """A commodity: its INSPIRE code, labels, symbol or formula, place in the hierarchy and
    standing in EU law (Regulation (EU) 2024/1252)."""

    code: str
    name: str
    name_es: str | None = None
    symbol: str | None = None
    broader: tuple[str, ...] = ()
    critical: bool = False
    strategic: bool = False
    # The CGI concept id and tree position; None for the commodities Veta added.
    cgi_id: str | None = None
    hierarchy_key: str | None = None
    # Other names a value may use (CGI's alternative labels, Veta's aliases).
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reading:
    """How a user's value was read: the code, and why (None when the value is the code)."""

    code: str
    how: str | None = None


def fold(text: str) -> str:
    """Accent- and case-insensitive form of a name: 'Estaño' and 'ESTANO' both give 'estano'."""
    return " ".join(unidecode(text).casefold().split())


def camel_case(label: str) -> str:
    """The INSPIRE code of an English label: 'sand and gravel' -> 'sandAndGravel'; an
    all-capital label ('HREE') is kept as it is."""
    if label.isupper():
        return label
    words = [w for w in re.split(r"[^A-Za-z0-9]+", label) if w]
    return words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:])


def _split(cell: str) -> list[str]:
    return [x.strip() for x in cell.split(";") if x.strip()]


def _corrections() -> dict:
    return tomllib.loads((_VOCAB / "commodities.toml").read_text("utf-8"))


def _load() -> tuple[tuple[Commodity, ...], dict]:
    fixes = _corrections()
    crma = tomllib.loads((_VOCAB / "crma_2024_1252.toml").read_text("utf-8"))
    rows = list(
        csv.DictReader(
            io.StringIO((_VOCAB / "cgi_commodity_codes.csv").read_text("utf-8"), newline="")
        )
    )
    code_of_id = {r["code"]: camel_case(r["label_en"]) for r in rows}
    concepts: dict[str, dict[str, Any]] = {}
    for r in rows:
        code = code_of_id[r["code"]]
        concepts[code] = dict(
            code=code,
            name=r["label_en"],
            name_es=r["label_es"] or None,
            abbreviation=r["abbreviation"],
            broader=tuple(code_of_id[b] for b in _split(r["broader"])),
            cgi_id=r["code"],
            hierarchy_key=r["hierarchy_key"],
            aliases=tuple(_split(r["alt_en"]) + _split(r["alt_es"])),
        )
    for code, added in fixes["added"].items():
        concepts[code] = dict(
            code=code,
            name=added["label_en"],
            name_es=None,
            abbreviation="",
            broader=tuple(added["broader"]),
            cgi_id=None,
            hierarchy_key=None,
            aliases=tuple(added.get("alt_en", ())),
        )
    children: dict[str, list[str]] = {}
    for c in concepts.values():
        for b in c["broader"]:
            children.setdefault(b, []).append(c["code"])

    def below(code: str) -> list[str]:
        found, todo = [], [code]
        while todo:
            for child in children.get(todo.pop(), ()):
                if child not in found:
                    found.append(child)
                    todo.append(child)
        return found

    elements = {x for group in _ELEMENT_GROUPS for x in below(group)}
    critical = {x for code in crma["critical"] for x in (code, *below(code))}
    strategic = {x for code in crma["strategic"] for x in (code, *below(code))}
    unknown = (
        set(crma["critical"])
        | set(crma["strategic"])
        | set(fixes["label_es"])
        | set(fixes["symbol"])
        | set(fixes["aliases"].values())
        | set(fixes["formula"].values())
        | set(fixes["renamed"].values())
    ) - set(concepts)
    if unknown:
        raise ValueError(f"geo/core/vocab names commodities that do not exist: {sorted(unknown)}")
    commodities = []
    for code, c in concepts.items():
        abbreviation = c.pop("abbreviation")
        symbol = fixes["symbol"].get(code) or (
            abbreviation
            if code in elements and re.fullmatch(r"[A-Z][a-z]?", abbreviation)
            else abbreviation
            if re.search(r"\d", abbreviation)
            else None
        )
        commodities.append(
            Commodity(
                **{**c, "name_es": fixes["label_es"].get(code, c["name_es"])},
                symbol=symbol,
                critical=code in critical,
                strategic=code in strategic,
            )
        )
    return tuple(commodities), fixes


COMMODITIES, _FIXES = _load()
CODES: tuple[str, ...] = tuple(c.code for c in COMMODITIES)
BY_CODE: dict[str, Commodity] = {c.code: c for c in COMMODITIES}
# Codes Veta stored before it adopted the whole list -> the code now.
RENAMED: dict[str, str] = dict(_FIXES["renamed"])

_CHILDREN: dict[str, list[str]] = {}
for _c in COMMODITIES:
    for _b in _c.broader:
        _CHILDREN.setdefault(_b, []).append(_c.code)

_ALIASES = {fold(k): v for k, v in _FIXES["aliases"].items()}
_FORMULAS: dict[str, str] = dict(_FIXES["formula"])
_ELEMENTS = {
    c.symbol: c.code for c in COMMODITIES if c.symbol and re.fullmatch(r"[A-Z][a-z]?", c.symbol)
}
_SYMBOLS_FOLDED = {fold(c.symbol): c.code for c in COMMODITIES if c.symbol}
# Names by priority: a word that two concepts use means the first (English before Spanish).
_NAMES: dict[str, tuple[str, str]] = {}
for _how, _names in (
    ("name", lambda c: [c.code, c.name]),
    ("name", lambda c: c.aliases),
    ("Spanish name", lambda c: [c.name_es] if c.name_es else []),
):
    for _c in COMMODITIES:
        for _n in _names(_c):
            _NAMES.setdefault(fold(_n), (_c.code, _how))

_OXIDE = re.compile(r"([A-Z][a-z]?)\d*O\d*")
# A grade or unit around a commodity: '% Cu', '0.5%Cu', 'g/t Au', 'ppm Li', 'WO3 (%)'. A number
# glued to letters is part of a formula (WO3), not a grade.
_GRADE = re.compile(
    r"(?<![A-Za-z\d])\d+(?:[.,]\d+)?(?![A-Za-z\d])|(?i:wt\s*%|%|ppm|ppb|g/t|kg/t|oz/t|lb/t|gpt)"
    r"|[()\[\]]"
)


def read(value: str) -> Reading | None:
    """A user's commodity value as a code, or None when it names none: a code, symbol, formula
    or oxide, name (English or Spanish, any case or accents), mineral or alias, with grades
    and units around it ignored."""
    text = " ".join(str(value).split())
    if not text:
        return None
    folded = fold(text)
    if folded in _ALIASES:
        return Reading(_ALIASES[folded], "alias")
    if text in BY_CODE:
        return Reading(text)
    if text in _FORMULAS:
        return Reading(_FORMULAS[text], "formula")
    oxide = _OXIDE.fullmatch(text)
    if oxide and oxide.group(1) in _ELEMENTS:
        return Reading(_ELEMENTS[oxide.group(1)], "oxide")
    if text in _ELEMENTS:
        return Reading(_ELEMENTS[text], "symbol")
    # Symbols in any case ('CU'), and formulas or group symbols ('PGM') no name spells.
    if folded in _SYMBOLS_FOLDED and (len(folded) <= 2 or folded not in _NAMES):
        return Reading(_SYMBOLS_FOLDED[folded], "symbol")
    if folded in _NAMES:
        code, how = _NAMES[folded]
        return Reading(code, None if text == code else how)
    bare = " ".join(_GRADE.sub(" ", text).split())
    if bare and bare != text:
        found = read(bare)
        if found:
            return Reading(found.code, "grade")
    return None


def code_of(value: str) -> str | None:
    """The code a user's commodity value names, or None."""
    found = read(value)
    return found.code if found else None


def suggest(value: str) -> str | None:
    """The commodity a near miss probably meant ('paladium' -> 'palladium'), from every name in
    the vocabulary. Never a symbol or formula: 'Pt' is not a misspelt 'Pb', and a different
    element is never offered for an element's name."""
    bare = " ".join(_GRADE.sub(" ", str(value)).split())
    folded = fold(bare)
    if len(folded) < 4:
        return None
    names = [n for n in (*_NAMES, *_ALIASES) if len(n) >= 4]
    match = difflib.get_close_matches(folded, names, n=1, cutoff=0.8)
    if not match:
        return None
    return _ALIASES.get(match[0]) or _NAMES[match[0]][0]


def narrower(code: str) -> tuple[str, ...]:
    """The commodity and every commodity below it: platinumGroupMetal -> itself, platinum,
    palladium, ...; a commodity with nothing below is itself alone."""
    found, todo = [code], [code]
    while todo:
        for child in _CHILDREN.get(todo.pop(), ()):
            if child not in found:
                found.append(child)
                todo.append(child)
    return tuple(found)


def matching(value: str) -> tuple[str, ...]:
    """What a search for a value matches: the commodity it names and every narrower one
    ('PGM' -> platinumGroupMetal, platinum, palladium, ...); () when it names none."""
    code = value if value in BY_CODE else code_of(value)
    return narrower(code) if code else ()


def expand(codes: Iterable[str]) -> tuple[str, ...]:
    """Codes with their narrower ones, each once, in order: what a search for them matches."""
    found: dict[str, None] = {}
    for code in codes:
        found.update(dict.fromkeys(narrower(code)))
    return tuple(found)


def searched_codes(values: Iterable[str], parameter: str = "commodity") -> tuple[str, ...]:
    """Commodity values of any form the vocabulary reads ('W', 'tungsten', 'Li', '% Cu') -> the
    codes a search matches: each with its narrower ones ('PGM' -> platinum, palladium, ...)."""
    codes = []
    for item in values:
        code = code_of(item)
        if code is None:
            hint = suggest(item)
            reason = f"unknown commodity {item!r}" + (f"; did you mean {hint!r}?" if hint else "")
            raise InvalidParameter(
                parameter,
                reason,
                "an INSPIRE commodity code, name (English or Spanish), "
                "symbol or formula, see /vocabularies/commodities",
            )
        codes.append(code)
    return expand(codes)


def is_critical(code: str) -> bool:
    """Whether Regulation (EU) 2024/1252 lists the commodity as critical (Annex II)."""
    return code in BY_CODE and BY_CODE[code].critical


def is_strategic(code: str) -> bool:
    """Whether Regulation (EU) 2024/1252 lists the commodity as strategic (Annex I)."""
    return code in BY_CODE and BY_CODE[code].strategic


CRITICAL: tuple[str, ...] = tuple(c.code for c in COMMODITIES if c.critical)
STRATEGIC: tuple[str, ...] = tuple(c.code for c in COMMODITIES if c.strategic)


def notes_for(values: tuple[str, ...]) -> tuple[str, ...]:
    """Import-report lines for the values read as something other than themselves."""
    lines = []
    for value in values:
        found = read(value)
        if found and found.how:
            lines.append(f"commodity {value!r} read as {found.code!r} ({found.how})")
    return tuple(lines)
