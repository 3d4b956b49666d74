"""The deposit search: which deposits hold a commodity, in an area, inside or outside protection.

/deposits is the `deposits` collection's items (geo/features/items.py: paging, bbox, area,
count, the features' text) with the search's own conditions added as an Extension: the
commodities (each with its narrower ones), protection inside or outside the counted zones, and
the MDoPI class. Deposits inside protection also name the zones that constrain them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from geo.catalog.collections import DEPOSITS
from geo.core import vocabulary as v
from geo.core.crs import CRS84
from geo.core.sql import Params, Sql, SqlQuery
from geo.features.extension import Extension, SqlPart, constant
from geo.features.items import ItemsQuery, item_query
from geo.rules.protection import zone_constrains

Protection = Literal["any", "inside", "outside"]


@dataclass(frozen=True)
class DepositSearch:
    """A deposit search's own terms, all values already checked against the vocabulary."""

    # Commodity codes, each broader one already expanded to its narrower ones.
    commodities: tuple[str, ...] = ()
    protection: Protection = "any"
    legal_effects: tuple[str, ...] = v.RESTRICTING_LEGAL_EFFECTS
    # MDoPI classes of the latest assessment; empty: any.
    mdopi: tuple[str, ...] = ()


def _constrained(search: DepositSearch, params: Params) -> Sql:
    return Sql(zone_constrains("z", "t", list(search.legal_effects), params))


def deposit_extension(search: DepositSearch) -> Extension:
    """The search's terms as conditions (and, inside protection, the zones as properties)."""
    conditions: list[SqlPart] = []
    if search.commodities:
        codes = list(search.commodities)
        conditions.append(lambda params: Sql(f"t.commodities && {params(codes)}::text[]"))
    if search.protection != "any":
        negation = "NOT " if search.protection == "outside" else ""
        conditions.append(
            lambda params: Sql(
                f"{negation}EXISTS (SELECT 1 FROM protection_zones z "
                f"WHERE {_constrained(search, params)})"
            )
        )
    if search.mdopi:
        classes = list(search.mdopi)
        latest = DEPOSITS.by_name["mdopi"].sql
        conditions.append(lambda params: Sql(f"{latest} = ANY({params(classes)}::text[])"))
    if search.protection != "inside":
        return Extension(conditions=tuple(conditions), reads=_reads(search))
    return Extension(
        conditions=tuple(conditions),
        joins=lambda params: Sql(
            "CROSS JOIN LATERAL (SELECT string_agg(z.name, '; ' ORDER BY z.name) AS names, "
            "string_agg(DISTINCT z.legal_effect, ', ') AS effects FROM protection_zones z "
            f"WHERE {_constrained(search, params)}) zones"
        ),
        properties=(
            ("protection_zones", constant(Sql("zones.names"))),
            ("legal_effects", constant(Sql("zones.effects"))),
        ),
        reads=_reads(search),
    )


def _reads(search: DepositSearch) -> tuple[str, ...]:
    # protection_zone_parts follows protection_zones (one trigger keeps them together).
    return ("protection_zones",) if search.protection != "any" else ()


def deposit_query(query: ItemsQuery, search: DepositSearch) -> ItemsQuery:
    """The items query of the `deposits` collection narrowed by the search."""
    return replace(query, extension=deposit_extension(search))


def one_query(deposit_id: int) -> SqlQuery:
    """One deposit as a GeoJSON Feature, with every attribute of its record."""
    return item_query(DEPOSITS, str(deposit_id), CRS84)
