"""The deposit_assessments collection: every deposit's latest MDoPI assessment, on its geometry."""

from __future__ import annotations

from geo.catalog.collections import MAIN_COMMODITY
from geo.core import vocabulary as v
from geo.core.sql import Sql
from geo.features.collections import Collection, Property

# The latest assessment of each deposit (the highest id), with the deposit's name and geometry.
SOURCE = Sql(
    "(SELECT a.*, d.name, d.commodities, d.geom FROM deposits d "
    "JOIN LATERAL (SELECT * FROM deposit_assessments x WHERE x.deposit_id = d.id ORDER BY x.id DESC LIMIT 1) a "
    "ON TRUE) t"
)

DIMENSIONS = {
    "geological": "Geological knowledge: occurrence type, size class, location precision, known depth (0-100)",
    "technical_economic": "Technical-economic: commodities with their EU standing, mine status (0-100)",
    "land_use": "Competing land use: the zones that constrain the deposit, 3D rule (0-100, 100 = none)",
    "societal": "Societal: the score the authority recorded, or the method's neutral default (0-100)",
}

DEPOSIT_ASSESSMENTS = Collection(
    id="deposit_assessments",
    title="Mineral deposits of public importance (MDoPI)",
    description=(
        "Each deposit's latest MDoPI assessment: its class (eu, national, regional, local, none), "
        "the score of each of the four Minatura2020 dimensions, and the method that gave them. "
        "Ask e.g. filter=mdopi_class IN ('eu','national') AND land_use < 50. Every assessment of a "
        "deposit: /deposits/{id}/assessments."
    ),
    source=SOURCE,
    table="deposit_assessments",
    reads=("deposits",),
    properties=(
        Property("deposit_id", Sql("t.deposit_id"), "integer", "The deposit (collection deposits)"),
        Property("name", Sql("t.name"), "string", "Name of the deposit"),
        MAIN_COMMODITY,
        Property(
            "mdopi_class",
            Sql("t.mdopi_class"),
            "string",
            "Level at which the deposit is of public importance (none: of none)",
            enum=v.MDOPI_CLASSES,
        ),
        Property(
            "score", Sql("t.score"), "number", "Weighted score of the four dimensions (0-100)"
        ),
        *(
            Property(name, Sql(f"t.{name}"), "number", description)
            for name, description in DIMENSIONS.items()
        ),
        Property("method_name", Sql("t.method_name"), "string", "The MDoPI method"),
        Property(
            "method_version",
            Sql("t.method_version"),
            "string",
            "Its version (declared + content digest)",
        ),
        Property("as_of", Sql("t.as_of"), "string", "The day the data was assessed as of", "date"),
    ),
    temporal=("as_of",),
    keywords=("MDoPI", "Minatura2020", "land-use planning", "mineral safeguarding"),
)
