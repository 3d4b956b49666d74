"""Messages the code does not spell out in a gettext call, marked here for the catalogue
(geo/core/locale): problem titles, and the terms of the code lists a reader sees, in context."""

from __future__ import annotations


def N_(context: str, message: str) -> tuple[str, str]:
    """Mark a message for extraction (pybabel's keyword `N_:1c,2`); translated where it is shown."""
    return context, message


PROBLEM_TITLES = (
    N_("problem", "Bad request"),
    N_("problem", "Invalid parameter"),
    N_("problem", "Not found"),
    N_("problem", "Not Found"),
    N_("problem", "Method Not Allowed"),
    N_("problem", "Not acceptable"),
    N_("problem", "Content too large"),
    N_("problem", "URI too long"),
    N_("problem", "Internal server error"),
    N_("problem", "Service unavailable"),
    N_("problem", "Invalid MDoPI method"),
    N_("problem", "PDF not made"),
    N_("problem", "Unauthorized"),
    N_("problem", "Forbidden"),
    N_("problem", "Conflict"),
    N_("problem", "Precondition failed"),
    N_("problem", "Precondition required"),
    N_("problem", "Import refused"),
)

# Terms of geo.core.vocabulary's code lists, as the law and the registries write them in Spanish
# (Ley 22/1973 de Minas for the rights; Red Natura 2000 for ZEC and ZEPA).
TERMS = (
    N_("verdict", "excluded"),
    N_("verdict", "conditional"),
    N_("verdict", "free"),
    N_("ground status", "open"),
    N_("ground status", "applied_for"),
    N_("ground status", "held"),
    N_("legal effect", "exclusion"),
    N_("legal effect", "conditional"),
    N_("legal effect", "safeguarding"),
    N_("legal effect", "informative"),
    N_("right type", "exploration"),
    N_("right type", "investigation"),
    N_("right type", "exploitation_derived"),
    N_("right type", "exploitation_direct"),
    N_("section", "A"),
    N_("section", "B"),
    N_("section", "C"),
    N_("section", "D"),
    N_("right status", "applied"),
    N_("right status", "admitted"),
    N_("right status", "granted"),
    N_("right status", "extended"),
    N_("right status", "lapsed"),
    N_("right status", "renounced"),
    N_("right status", "denied"),
    N_("designation scheme", "natura2000"),
    N_("designation scheme", "spanishNaturalSpaces"),
    N_("designation scheme", "unesco"),
    N_("designation scheme", "unescoMAB"),
    N_("designation scheme", "regionalNaturalSpaces"),
    N_("designation scheme", "mineralSafeguarding"),
    N_("designation scheme", "urbanPlanning"),
    N_("designation scheme", "other"),
    # Designations as the sample and the usual sources name them (free text: others show as given).
    N_("designation", "SAC"),
    N_("designation", "SPA"),
    N_("designation", "SAC and SPA"),
    N_("designation", "national park"),
    N_("designation", "natural park"),
    N_("designation", "natural monument"),
    N_("designation", "biosphere reserve"),
    N_("designation", "World Heritage Site"),
    N_("designation", "mineral safeguarding area"),
    N_("designation", "landscape context (informative)"),
    N_("designation", "groundwater protection zone (3D)"),
    N_("plan verdict", "conflict"),
    N_("plan verdict", "caution"),
    N_("plan verdict", "clear"),
    N_("land use", "protected_area"),
    N_("land use", "urban"),
    N_("land use", "infrastructure"),
    N_("land use", "energy"),
    N_("land use", "other"),
    N_("site reference", "deposit"),
    N_("site reference", "permit"),
    N_("MDoPI class", "eu"),
    N_("MDoPI class", "national"),
    N_("MDoPI class", "regional"),
    N_("MDoPI class", "local"),
    N_("MDoPI class", "none"),
)

# The rules geo.queries.screening gives as reasons, for the default counted legal effects.
SCREENING_REASONS = (
    N_("screening reason", "exclusion zone overlaps the site in footprint and depth"),
    N_("screening reason", "conditional zone overlaps the site in footprint and depth"),
    N_(
        "screening reason",
        "footprints overlap but depth intervals do not (3D rule): the zone does not constrain the site",
    ),
    N_(
        "screening reason",
        "no zone of a counted legal effect (exclusion, conditional) in force overlaps the site in footprint and depth",
    ),
)

# The collections' titles (geo/catalog/collections.py and the layers registered beside it) and the service's
# description, as the HTML pages show them; the JSON documents keep them in English.
COLLECTION_TITLES = (
    N_("collection", "Mineral deposits"),
    N_("collection", "Deposit screening"),
    N_("collection", "Mining rights"),
    N_("collection", "Land-use protection zones"),
    N_("collection", "Administrative areas"),
    N_("collection", "Cuadrícula minera (León)"),
    N_("collection", "Mineral deposits of public importance (MDoPI)"),
    N_(
        "collection",
        "Mineral deposits, mining rights and land-use protection zones of Castilla y León.",
    ),
)
