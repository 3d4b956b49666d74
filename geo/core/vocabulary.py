"""The code lists of the domain: the one place every allowed value is defined.

The database enforces the same lists through CHECK constraints generated from this module
(see geo/store/models/), so a value added here needs a migration as well; commodities are the
exception, checked against the `commodities` table that `veta db upgrade` fills.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from unidecode import unidecode

from geo.core import commodities
from geo.core.errors import InvalidParameter

# The commodities are the CGI vocabulary with Veta's corrections (geo/core/commodities.py, geo/core/vocab/).
COMMODITIES = commodities.COMMODITIES
COMMODITY_CODES: tuple[str, ...] = commodities.CODES
COMMODITY_BY_CODE = commodities.BY_CODE

# Importance of a commodity within a deposit (EarthResourceML CommodityImportance, simplified).
COMMODITY_IMPORTANCE = ("main", "by_product", "trace")

# INSPIRE MineralOccurrenceTypeValue.
OCCURRENCE_TYPES = (
    "mineralDeposit",
    "oreDeposit",
    "occurrence",
    "prospect",
    "district",
    "field",
    "lode",
    "mineralizedZone",
    "project",
)

# INSPIRE ExplorationActivity / EarthResourceML deposit type (subset used in Iberia).
DEPOSIT_TYPES = (
    "greisen",
    "graniticIgneousRocksAndPegmatites",
    "porphyry",
    "skarnAndCarbonateReplacement",
    "orogenicGold",
    "quartzVein",
    "placer",
    "volcanogenicMassiveSulphide",
    "sedimentHosted",
    "coalBed",
    "stratabound",
    "lateriteAndSaprolite",
    "magmaticSulphide",
    "epithermal",
    "ironOxideCopperGold",
    "residual",
    "industrialMineral",
    "dimensionStone",
)

# INSPIRE MineralDepositSizeValue.
SIZE_CLASSES = (
    "veryLargeDeposit",
    "largeDeposit",
    "mediumSizedDeposit",
    "smallDeposit",
    "occurrence",
)

# INSPIRE MineStatusValue.
MINE_STATUSES = (
    "operating",
    "operatingContinuously",
    "operatingIntermittently",
    "notOperating",
    "closed",
    "abandoned",
    "careAndMaintenance",
    "historic",
    "underDevelopment",
    "feasibility",
    "pendingApproval",
    "notYetOperating",
    "retention",
)

# "unknown": the source does not say (the default when a file has no such column).
LOCATION_PRECISIONS = ("exact", "approximate", "unknown")

# Legal effect of a land-use protection zone (Minatura2020 practice, docs/domain.md).
LEGAL_EFFECTS = ("exclusion", "conditional", "safeguarding", "informative")
# The effects that restrict mining: the default for "is this deposit protected?".
RESTRICTING_LEGAL_EFFECTS = ("exclusion", "conditional")

DESIGNATION_SCHEMES = (
    "natura2000",
    "spanishNaturalSpaces",
    "unesco",
    "unescoMAB",
    "regionalNaturalSpaces",
    "mineralSafeguarding",
    "urbanPlanning",
    "other",
)

# Ley 22/1973 de Minas: kinds of mining right, resource sections, registry status.
RIGHT_TYPES = ("exploration", "investigation", "exploitation_derived", "exploitation_direct")
SECTIONS = ("A", "B", "C", "D")
PERMIT_STATUSES = ("applied", "admitted", "granted", "extended", "lapsed", "renounced", "denied")

ADMIN_LEVELS = ("country", "autonomous_community", "province", "municipality")


def fold(text: str) -> str:
    """Accent- and case-insensitive form of a name: 'León' and 'LEON' both give 'leon'."""
    return unidecode(text).strip().casefold()


def commodity_code(text: str) -> str | None:
    """The INSPIRE code for a commodity value ('W', 'Wolfram', '% Cu'), or None."""
    return commodities.code_of(text)


def suggest(value: str, allowed: tuple[str, ...] | list[str]) -> str | None:
    """The closest allowed value to a near miss, for error messages ('tungstne' -> 'tungsten')."""
    folded = {fold(a): a for a in allowed}
    match = difflib.get_close_matches(fold(value), list(folded), n=1, cutoff=0.75)
    return folded[match[0]] if match else None


def checked_choices(
    values: Iterable[str], allowed: tuple[str, ...], parameter: str
) -> tuple[str, ...]:
    """The values, each once, in order; an InvalidParameter naming `parameter` for one not
    allowed."""
    chosen: list[str] = []
    for item in values:
        if item not in allowed:
            hint = suggest(item, allowed)
            reason = f"unknown value {item!r}" + (f"; did you mean {hint!r}?" if hint else "")
            raise InvalidParameter(parameter, reason, allowed)
        if item not in chosen:
            chosen.append(item)
    return tuple(chosen)


def suggest_commodity(value: str) -> str | None:
    """The closest commodity code to an unknown commodity value."""
    return commodities.suggest(value)


# Land-use planning for minerals. Mineral Deposits of Public Importance (Minatura2020):
# the level at which a deposit is of public importance, highest first; `none`: of none.
MDOPI_CLASSES = ("eu", "national", "regional", "local", "none")
# The four Minatura2020 assessment dimensions.
MDOPI_DIMENSIONS = ("geological", "technical_economic", "land_use", "societal")
# What a proposed plan would make of its land.
PLAN_LAND_USES = ("protected_area", "urban", "infrastructure", "energy", "other")
# The one-word answer to a planner, worst first.
PLAN_VERDICTS = ("conflict", "caution", "clear")
