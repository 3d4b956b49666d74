"""GET /vocabularies: the code lists Veta accepts, for clients building forms and filters."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from geo.core import commodities
from geo.core import vocabulary as v
from geo.core.errors import NotFound

router = APIRouter(tags=["vocabularies"])

CODE_LISTS: dict[str, tuple[str, ...]] = {
    "legal_effects": v.LEGAL_EFFECTS,
    "designation_schemes": v.DESIGNATION_SCHEMES,
    "occurrence_types": v.OCCURRENCE_TYPES,
    "deposit_types": v.DEPOSIT_TYPES,
    "size_classes": v.SIZE_CLASSES,
    "mine_statuses": v.MINE_STATUSES,
    "location_precisions": v.LOCATION_PRECISIONS,
    "right_types": v.RIGHT_TYPES,
    "sections": v.SECTIONS,
    "permit_statuses": v.PERMIT_STATUSES,
    "admin_levels": v.ADMIN_LEVELS,
    "commodity_importance": v.COMMODITY_IMPORTANCE,
}


def _commodities() -> list[dict]:
    """Each commodity with every commodity below it (`narrower`), which a search for it matches."""
    return [
        {**asdict(c), "narrower": list(commodities.narrower(c.code)[1:])} for c in v.COMMODITIES
    ]


@router.get("/vocabularies")
async def list_vocabularies() -> dict:
    """Every code list by name; commodities with labels, symbols, hierarchy and EU
    critical/strategic flags."""
    return {"commodities": _commodities(), **{k: list(x) for k, x in CODE_LISTS.items()}}


@router.get("/vocabularies/{name}")
async def get_vocabulary(name: str) -> list:
    """One code list."""
    if name == "commodities":
        return _commodities()
    if name not in CODE_LISTS:
        raise NotFound(f"no code list {name!r}; known: commodities, {', '.join(CODE_LISTS)}")
    return list(CODE_LISTS[name])
