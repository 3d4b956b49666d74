"""MDoPI assessment of every deposit in one INSERT … SELECT: scores, class, inputs and reasons.

The method's score tables travel as JSON parameters and are looked up per row in SQL, so the
database reads each deposit once; the competing-land-use dimension uses the one zone rule
(geo/rules/protection.py, 3D included) as a single join of all deposits with the zone parts.
"""

from __future__ import annotations

import json
import re

from sqlalchemy.engine import Connection

from geo.core import vocabulary as v
from geo.core.sql import Params
from geo.planning.method import CRITERIA, RANKED_CLASSES, UNKNOWN, Method
from geo.rules.protection import zones_constraining_each


def run(conn: Connection, sql: str, params: Params):
    """Execute a statement written with geo.core.sql.Params ($n) through the sync driver (psycopg)."""
    return conn.exec_driver_sql(
        re.sub(r"\$(\d+)", r"%(p\1)s", sql.replace("%", "%%")),
        {f"p{i}": x for i, x in enumerate(params.values, 1)},
    )


def _lookup(table: str, value: str) -> str:
    """SQL: a method table's score for `value`, its `unknown` score when absent or unlisted."""
    return f"coalesce(({table} ->> {value})::float8, ({table} ->> '{UNKNOWN}')::float8)"


def _mean(parts: dict[str, str], weights: dict[str, float], params: Params) -> str:
    """SQL: the weighted mean of score expressions."""
    total = sum(weights.values())
    terms = " + ".join(f"{params(weights[k] / total)}::float8 * {sql}" for k, sql in parts.items())
    return f"({terms})"


def assess_sql(method: Method, params: Params, deposit_ids: list[int] | None = None) -> str:
    """SQL: INSERT one assessment per deposit (all, or those of `deposit_ids`); returns the count."""

    def js(value) -> str:
        return f"{params(json.dumps(value))}::jsonb"

    table = {key: js(scores) for key, scores in method.tables.items()}
    commodity, importance = js(method.commodity_scores()), js(method.commodity_importance)
    only = f"WHERE d.id = ANY({params(deposit_ids)}::int[])" if deposit_ids is not None else ""
    restricting = list(v.RESTRICTING_LEGAL_EFFECTS)
    zones = zones_constraining_each(
        f"(SELECT * FROM deposits d {only}) s", "id", restricting, params
    )
    lu = method.land_use
    criteria = {
        "occurrence_type": _lookup(table[("geological", "occurrence_type")], "d.occurrence_type"),
        "size_class": _lookup(table[("geological", "size_class")], "d.size_class"),
        "location_precision": _lookup(
            table[("geological", "location_precision")], "d.location_precision"
        ),
        "depth": _lookup(
            table[("geological", "depth")],
            "CASE WHEN d.depth_top_m IS NOT NULL OR d.depth_bottom_m IS NOT NULL THEN 'known' END",
        ),
        "commodity": f"(SELECT max(({commodity} ->> u.c)::float8 * ({importance} ->> u.i)::float8) "
        "FROM unnest(d.commodities, d.commodity_importance) u(c, i))",
        "mine_status": _lookup(table[("technical_economic", "mine_status")], "d.mine_status"),
        "land_use": f"CASE WHEN 'exclusion' = ANY(z.effects) THEN {params(lu['exclusion'])}::float8 "
        f"WHEN 'conditional' = ANY(z.effects) THEN {params(lu['conditional'])}::float8 "
        f"ELSE {params(lu['free'])}::float8 END",
        "societal": f"coalesce(ss.score, {params(method.societal_default)}::float8)",
    }
    dims = {
        dimension: _mean({c: f"c.{c}" for c in names}, method.criterion_weights[dimension], params)
        for dimension, names in CRITERIA.items()
    }
    # land_use and societal are one criterion each: c.* already carries them.
    score = _mean({d: f"g.{d}" for d in v.MDOPI_DIMENSIONS}, method.weights, params)
    klass = " ".join(
        f"WHEN g.score >= {params(method.thresholds[k])}::float8 THEN '{k}'" for k in RANKED_CLASSES
    )
    reasons = ", ".join(
        f"jsonb_build_object('dimension', '{dimension}', 'criterion', '{criterion}', "
        f"'value', g.inputs -> '{_input_of(criterion)}', 'score', round(g.{criterion}::numeric, 2))"
        for dimension, names in {
            **CRITERIA,
            "land_use": ("land_use",),
            "societal": ("societal",),
        }.items()
        for criterion in names
    )
    return f"""
WITH z AS (SELECT key AS deposit_id, array_agg(DISTINCT legal_effect) AS effects,
                  jsonb_agg(jsonb_build_object('id', id, 'name', name, 'legal_effect', legal_effect) ORDER BY id) AS zones
           FROM ({zones}) k GROUP BY key),
-- Materialised once: inlined, every criterion expression would be computed again for each
-- place a dimension, the total or the class reads it.
c AS MATERIALIZED (
    SELECT d.id,
           {", ".join(f"{sql} AS {name}" for name, sql in criteria.items())},
           jsonb_build_object('occurrence_type', d.occurrence_type, 'size_class', d.size_class,
               'location_precision', d.location_precision, 'depth_top_m', d.depth_top_m,
               'depth_bottom_m', d.depth_bottom_m, 'commodities', to_jsonb(d.commodities),
               'commodity_importance', to_jsonb(d.commodity_importance), 'mine_status', d.mine_status,
               'constraining_zones', coalesce(z.zones, '[]'::jsonb), 'societal_score', ss.score,
               'deposit_updated_at', d.updated_at) AS inputs
    FROM deposits d LEFT JOIN z ON z.deposit_id = d.id
    LEFT JOIN deposit_societal_scores ss ON ss.deposit_id = d.id
    {only}),
g AS (
    SELECT c.*, {", ".join(f"{sql} AS {d}" for d, sql in dims.items())} FROM c),
s AS MATERIALIZED (SELECT g.*, round({score}::numeric, 2)::float8 AS score FROM g),  -- classed as stored
classed AS (SELECT g.*, CASE {klass} ELSE 'none' END AS mdopi_class FROM s g)
INSERT INTO deposit_assessments (deposit_id, method_name, method_version, as_of, geological,
    technical_economic, land_use, societal, score, mdopi_class, inputs, reasons)
SELECT g.id, {params(method.name)}, {params(method.version)}, current_date,
       round(g.geological::numeric, 2), round(g.technical_economic::numeric, 2),
       round(g.land_use::numeric, 2), round(g.societal::numeric, 2), round(g.score::numeric, 2),
       g.mdopi_class, g.inputs,
       jsonb_build_array({reasons}, jsonb_build_object('rule',
           'score ' || round(g.score::numeric, 2) || ' gives class ' || g.mdopi_class
           || ' (thresholds: ' || {params(_thresholds(method))} || ')'))
FROM classed g
"""


def _input_of(criterion: str) -> str:
    return {
        "depth": "depth_top_m",
        "commodity": "commodities",
        "land_use": "constraining_zones",
        "societal": "societal_score",
    }.get(criterion, criterion)


def _thresholds(method: Method) -> str:
    return ", ".join(f"{k} >= {method.thresholds[k]:g}" for k in RANKED_CLASSES)


def assess(conn: Connection, method: Method, deposit_ids: list[int] | None = None) -> int:
    """Add an assessment of every deposit (or of `deposit_ids`) under `method`; how many."""
    params = Params()
    return run(conn, assess_sql(method, params, deposit_ids), params).rowcount
