"""A proposed land-use plan: a GeoJSON Feature of a (Multi)Polygon with its land use and legal effect, validated."""

from __future__ import annotations

from dataclasses import dataclass

from geo.core import vocabulary as v
from geo.core.errors import InvalidParameter
from geo.queries.sites import DEPTH_MEMBERS, Site, parse_site

PLAN_PROPERTIES = ("land_use", "legal_effect", "name", *DEPTH_MEMBERS)
PLAN_FORM = (
    "a GeoJSON Feature whose geometry is a Polygon or MultiPolygon and whose properties give "
    "land_use and legal_effect (optionally name, depth_top_m, depth_bottom_m)"
)


@dataclass(frozen=True)
class Plan:
    """A validated plan: its footprint and depth interval (a Site), land use, legal effect, name."""

    site: Site
    land_use: str
    legal_effect: str
    name: str | None = None

    @property
    def sterilises(self) -> bool:
        """Whether the plan restricts mining where it applies (an exclusion or conditional effect)."""
        return self.legal_effect in v.RESTRICTING_LEGAL_EFFECTS


def parse_plan(body: object, content_crs: str | None, max_area_km2: float, path: str = "") -> Plan:
    """The plan of a POST /planning/impact body; every problem names its field."""
    if not isinstance(body, dict) or body.get("type") != "Feature":
        raise InvalidParameter(
            path + "type" if isinstance(body, dict) else "body",
            "expected a GeoJSON Feature",
            PLAN_FORM,
        )
    properties = body.get("properties")
    if not isinstance(properties, dict):
        raise InvalidParameter(f"{path}properties", "a plan needs properties", PLAN_FORM)
    for key in properties:
        if key not in PLAN_PROPERTIES:
            raise InvalidParameter(f"{path}properties.{key}", "unknown property", PLAN_PROPERTIES)
    land_use = _choice(properties, "land_use", v.PLAN_LAND_USES, path)
    legal_effect = _choice(properties, "legal_effect", v.LEGAL_EFFECTS, path)
    name = properties.get("name")
    if name is not None and not isinstance(name, str):
        raise InvalidParameter(f"{path}properties.name", f"expected text, got {name!r}", "a string")
    geometry = body.get("geometry")
    if isinstance(geometry, dict) and geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidParameter(
            f"{path}geometry.type",
            f"a plan cannot be a {geometry.get('type')!r}",
            ("Polygon", "MultiPolygon"),
        )
    depth = {k: properties[k] for k in DEPTH_MEMBERS if k in properties}
    site = parse_site({**body, "properties": depth}, content_crs, max_area_km2)
    return Plan(site, land_use, legal_effect, name)


def _choice(properties: dict, key: str, allowed: tuple[str, ...], path: str) -> str:
    value = properties.get(key)
    if value not in allowed:
        reason = "missing" if value is None else f"{value!r} is not one of the allowed values"
        raise InvalidParameter(f"{path}properties.{key}", reason, allowed)
    return value


def parse_alternatives(
    body: object, content_crs: str | None, max_area_km2: float, max_plans: int
) -> list[Plan]:
    """The alternatives of a POST /planning/impact/batch body: a FeatureCollection of plans."""
    allowed = f"a GeoJSON FeatureCollection of 1 to {max_plans} plans, each {PLAN_FORM}"
    if not isinstance(body, dict) or body.get("type") != "FeatureCollection":
        raise InvalidParameter("body", "expected a GeoJSON FeatureCollection", allowed)
    for key in body:
        if key not in ("type", "features", "name"):
            raise InvalidParameter(key, "unknown member", ("type", "features", "name"))
    features = body.get("features")
    if not isinstance(features, list) or not 1 <= len(features) <= max_plans:
        raise InvalidParameter("features", f"expected a list of 1 to {max_plans} features", allowed)
    plans = []
    for i, feature in enumerate(features):
        path = f"features[{i}]."
        try:
            plans.append(parse_plan(feature, content_crs, max_area_km2, path))
        except InvalidParameter as e:
            if e.parameter.startswith(path):
                raise
            # The geometry checks (geo.queries.sites) name fields from the feature down: say which feature.
            raise InvalidParameter(path + e.parameter, e.reason, e.allowed) from None
    return plans
