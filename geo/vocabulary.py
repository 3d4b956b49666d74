"""The code lists of the domain: the one place every allowed value is defined.

The database enforces the same lists through CHECK constraints generated from this module
(see geo/models.py), so a value added here needs a migration as well.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from unidecode import unidecode


@dataclass(frozen=True)
class Commodity:
    """An INSPIRE commodity with its chemical symbol and its standing in EU law."""

    code: str
    name: str
    symbol: str | None = None
    # Regulation (EU) 2024/1252 (Critical Raw Materials Act), Annex II and Annex I.
    critical: bool = False
    strategic: bool = False
    aliases: tuple[str, ...] = ()


# Codes follow the INSPIRE Mineral Resources CommodityCodeValue code list (camelCase names).
# Critical = Annex II, strategic = Annex I Section 1 of Regulation (EU) 2024/1252. The Act lists
# some materials only in a grade (battery-grade lithium, nickel, manganese and graphite; boron
# metallurgy grade); a deposit is flagged for the element.
COMMODITIES: tuple[Commodity, ...] = (
    Commodity("aluminium", "Aluminium / bauxite", "Al", True, True, ("bauxite", "alumina", "aluminum")),
    Commodity("antimony", "Antimony", "Sb", True, False, ("antimonio",)),
    Commodity("arsenic", "Arsenic", "As", True, False, ("arsenico",)),
    Commodity("baryte", "Baryte", None, True, False, ("barite", "barita")),
    Commodity("beryllium", "Beryllium", "Be", True, False, ("berilio",)),
    Commodity("bismuth", "Bismuth", "Bi", True, True, ("bismuto",)),
    Commodity("boron", "Boron", "B", True, True, ("boro",)),
    Commodity("cobalt", "Cobalt", "Co", True, True, ("cobalto",)),
    Commodity("cokingCoal", "Coking coal", None, True, False, ("coking coal", "metallurgical coal")),
    Commodity("coal", "Coal", None, False, False, ("hard coal", "anthracite", "carbon", "antracita", "hulla")),
    Commodity("copper", "Copper", "Cu", True, True, ("cobre",)),
    Commodity("feldspar", "Feldspar", None, True, False, ("feldespato",)),
    Commodity("fluorspar", "Fluorspar", None, True, False, ("fluorite", "fluorita")),
    Commodity("gallium", "Gallium", "Ga", True, True, ("galio",)),
    Commodity("germanium", "Germanium", "Ge", True, True, ("germanio",)),
    Commodity("gold", "Gold", "Au", aliases=("oro",)),
    Commodity("graphite", "Natural graphite", "C", True, True, ("natural graphite", "grafito")),
    Commodity("hafnium", "Hafnium", "Hf", True, False, ("hafnio",)),
    Commodity("helium", "Helium", "He", True, False, ("helio",)),
    Commodity("heavyRareEarthElements", "Heavy rare earth elements", None, True, True, ("hree",)),
    Commodity("iron", "Iron", "Fe", aliases=("hierro",)),
    Commodity("kaolin", "Kaolin", None, aliases=("caolin",)),
    Commodity("lead", "Lead", "Pb", aliases=("plomo",)),
    Commodity("lightRareEarthElements", "Light rare earth elements", None, True, True, ("lree", "rare earths", "ree")),
    Commodity("lithium", "Lithium", "Li", True, True, ("litio",)),
    Commodity("magnesium", "Magnesium", "Mg", True, True, ("magnesio", "magnesite")),
    Commodity("manganese", "Manganese", "Mn", True, True, ("manganeso",)),
    Commodity("molybdenum", "Molybdenum", "Mo", aliases=("molibdeno",)),
    Commodity("nickel", "Nickel", "Ni", True, True, ("niquel",)),
    Commodity("niobium", "Niobium", "Nb", True, False, ("niobio", "columbium")),
    Commodity("phosphateRock", "Phosphate rock", None, True, False, ("phosphate", "fosfato")),
    Commodity("platinumGroupMetals", "Platinum group metals", "PGM", True, True, ("pgm", "pge", "platinum")),
    Commodity("quartz", "Quartz / silica", None, aliases=("cuarzo", "silica")),
    Commodity("scandium", "Scandium", "Sc", True, False, ("escandio",)),
    Commodity("siliconMetal", "Silicon metal", "Si", True, True, ("silicon", "silicio")),
    Commodity("silver", "Silver", "Ag", aliases=("plata",)),
    Commodity("slate", "Slate", None, aliases=("pizarra", "roofing slate")),
    Commodity("strontium", "Strontium", "Sr", True, False, ("estroncio",)),
    Commodity("talc", "Talc", None, aliases=("talco",)),
    Commodity("tantalum", "Tantalum", "Ta", True, False, ("tantalo", "coltan")),
    Commodity("tin", "Tin", "Sn", aliases=("estano", "cassiterite", "casiterita")),
    Commodity("titanium", "Titanium metal", "Ti", True, True, ("titanio",)),
    Commodity("tungsten", "Tungsten", "W", True, True, ("wolfram", "wolframio", "wolframite", "scheelite")),
    Commodity("uranium", "Uranium", "U", aliases=("uranio",)),
    Commodity("vanadium", "Vanadium", "V", True, False, ("vanadio",)),
    Commodity("zinc", "Zinc", "Zn", aliases=("blende", "sphalerite")),
)

COMMODITY_CODES: tuple[str, ...] = tuple(c.code for c in COMMODITIES)
COMMODITY_BY_CODE: dict[str, Commodity] = {c.code: c for c in COMMODITIES}

# Importance of a commodity within a deposit (EarthResourceML CommodityImportance, simplified).
COMMODITY_IMPORTANCE = ("main", "by_product", "trace")

# INSPIRE MineralOccurrenceTypeValue.
OCCURRENCE_TYPES = (
    "mineralDeposit", "oreDeposit", "occurrence", "prospect", "district", "field", "lode",
    "mineralizedZone", "project",
)

# INSPIRE ExplorationActivity / EarthResourceML deposit type (subset used in Iberia).
DEPOSIT_TYPES = (
    "greisen", "graniticIgneousRocksAndPegmatites", "porphyry", "skarnAndCarbonateReplacement",
    "orogenicGold", "quartzVein", "placer", "volcanogenicMassiveSulphide", "sedimentHosted",
    "coalBed", "stratabound", "lateriteAndSaprolite", "magmaticSulphide", "epithermal",
    "ironOxideCopperGold", "residual", "industrialMineral", "dimensionStone",
)

# INSPIRE MineralDepositSizeValue.
SIZE_CLASSES = ("veryLargeDeposit", "largeDeposit", "mediumSizedDeposit", "smallDeposit", "occurrence")

# INSPIRE MineStatusValue.
MINE_STATUSES = (
    "operating", "operatingContinuously", "operatingIntermittently", "notOperating", "closed",
    "abandoned", "careAndMaintenance", "historic", "underDevelopment", "feasibility",
    "pendingApproval", "notYetOperating", "retention",
)

LOCATION_PRECISIONS = ("exact", "approximate")

# Legal effect of a land-use protection zone (Minatura2020 practice, DOMAIN.md).
LEGAL_EFFECTS = ("exclusion", "conditional", "safeguarding", "informative")
# The effects that restrict mining: the default for "is this deposit protected?".
RESTRICTING_LEGAL_EFFECTS = ("exclusion", "conditional")

DESIGNATION_SCHEMES = (
    "natura2000", "spanishNaturalSpaces", "unesco", "unescoMAB", "regionalNaturalSpaces",
    "mineralSafeguarding", "urbanPlanning", "other",
)

# Ley 22/1973 de Minas: kinds of mining right, resource sections, registry status.
RIGHT_TYPES = ("exploration", "investigation", "exploitation_derived", "exploitation_direct")
SECTIONS = ("A", "B", "C", "D")
PERMIT_STATUSES = ("applied", "admitted", "granted", "extended", "lapsed", "renounced", "denied")

ADMIN_LEVELS = ("country", "autonomous_community", "province", "municipality")

RESOURCE_CLASSIFICATIONS = ("JORC", "NI 43-101", "PERC", "CRIRSCO", "UNFC", "historic")
RESOURCE_CATEGORIES = ("measured", "indicated", "inferred", "proved", "probable", "historic")


def fold(text: str) -> str:
    """Accent- and case-insensitive form of a name: 'León' and 'LEON' both give 'leon'."""
    return unidecode(text).strip().casefold()


_COMMODITY_LOOKUP: dict[str, str] = {}
for _c in COMMODITIES:
    for _key in (_c.code, _c.name, *(_c.aliases)):
        _COMMODITY_LOOKUP[fold(_key)] = _c.code
    if _c.symbol:
        _COMMODITY_LOOKUP[fold(_c.symbol)] = _c.code


def commodity_code(text: str) -> str | None:
    """The INSPIRE code for a commodity name, alias or chemical symbol ('W', 'Wolfram'), or None."""
    return _COMMODITY_LOOKUP.get(fold(text))


def suggest(value: str, allowed: tuple[str, ...] | list[str]) -> str | None:
    """The closest allowed value to a near miss, for error messages ('tungstne' -> 'tungsten')."""
    folded = {fold(a): a for a in allowed}
    match = difflib.get_close_matches(fold(value), list(folded), n=1, cutoff=0.75)
    return folded[match[0]] if match else None


def suggest_commodity(value: str) -> str | None:
    """The closest commodity code to an unknown commodity name."""
    match = difflib.get_close_matches(fold(value), list(_COMMODITY_LOOKUP), n=1, cutoff=0.75)
    return _COMMODITY_LOOKUP[match[0]] if match else None
