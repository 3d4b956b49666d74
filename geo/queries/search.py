"""The map's search box: admin areas, deposits and mining rights by name (or registry number),
accent- and case-insensitive, names that start with the text first."""

from __future__ import annotations

from geo.core import vocabulary as v
from geo.core.sql import Params, SqlQuery, quoted_list

# What a search finds, in the order its results of equal rank are listed.
KINDS = ("area", "permit", "deposit")

# lower() then these letters without their accents: the SQL side of vocabulary.fold (unidecode),
# for the letters of Spain's place and mine names. admin_areas keeps its folded name in a column;
# deposits and rights are folded as they are read (a scan of 200,000 deposits takes about 0.1 s,
# see the README's map section), so no index or extension is needed.
_ACCENTED = "áàâäãåéèêëíìîïóòôöõúùûüñçýÿ"
_PLAIN = "aaaaaaeeeeiiiiooooouuuuncyy"


def fold_sql(expression: str) -> str:
    """SQL: the folded form of a text expression, as vocabulary.fold gives it for these letters."""
    return f"translate(lower({expression}), '{_ACCENTED}', '{_PLAIN}')"


def _like_escaped(text: str) -> str:
    """The text as a literal inside a LIKE pattern (its % and _ match themselves)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_query(text: str, limit: int) -> SqlQuery:
    """Rows (kind, key, title, detail, bbox as [w, s, e, n], geometry as GeoJSON text), at most
    `limit`: names that are the text first, then names starting with it, then names holding it;
    areas before rights before deposits; shorter names first."""
    params = Params()
    folded = v.fold(text)
    exact = params(folded)
    prefix = params(_like_escaped(folded) + "%")
    inside = params("%" + _like_escaped(folded) + "%")
    n = params(limit)

    def rank(*names: str) -> str:
        # 0: a name is the text; 1: a name starts with it; 2: a name holds it.
        whens = [f"WHEN {name} = {exact} THEN 0" for name in names]
        whens += [f"WHEN {name} LIKE {prefix} THEN 1" for name in names]
        return f"CASE {' '.join(whens)} ELSE 2 END"

    def matches(*names: str) -> str:
        return "(" + " OR ".join(f"{name} LIKE {inside}" for name in names) + ")"

    deposit_name = "coalesce(d.name, d.source_id)"
    deposit_folded = fold_sql(deposit_name)
    permit_name, permit_number = fold_sql("p.name"), fold_sql("p.registry_number")
    # Each kind keeps its own best `limit` rows before they are merged and ranked together.
    parts = [
        (
            "area",
            f"SELECT 'area' AS kind, a.code AS key, a.name AS title, a.level AS detail, "
            f"{rank('a.name_folded')} AS rank, a.geom FROM admin_areas a "
            f"WHERE {matches('a.name_folded')}",
            # The larger of two areas of one name first (León the province, then the town).
            "array_position(ARRAY['country','autonomous_community','province','municipality'], "
            "a.level), length(a.name), a.name",
        ),
        (
            "permit",
            f"SELECT 'permit', p.registry_number, p.name, p.status, "
            f"{rank(permit_number, permit_name)}, p.geom FROM permits p "
            f"WHERE {matches(permit_name, permit_number)}",
            "length(p.name), p.registry_number",
        ),
        (
            "deposit",
            f"SELECT 'deposit', d.id::text, {deposit_name}, d.commodities[1], "
            f"{rank(deposit_folded)}, d.geom FROM deposits d WHERE {matches(deposit_folded)}",
            f"length({deposit_name}), d.id",
        ),
    ]
    branches = " UNION ALL ".join(
        f"({select} ORDER BY 5, {order} LIMIT {n})" for _, select, order in parts
    )
    kind_order = f"array_position(ARRAY[{quoted_list(KINDS)}], h.kind)"
    text_sql = (
        "SELECT h.kind, h.key, h.title, h.detail, "
        "ARRAY[ST_XMin(h.geom), ST_YMin(h.geom), ST_XMax(h.geom), ST_YMax(h.geom)] AS bbox, "
        "ST_AsGeoJSON(h.geom, 6) AS geometry "
        f"FROM ({branches}) h ORDER BY h.rank, {kind_order}, length(h.title), h.title, h.key "
        f"LIMIT {n}"
    )
    return SqlQuery(text_sql, tuple(params.values))
