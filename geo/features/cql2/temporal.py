"""CQL2's temporal side: T_* functions over instants and intervals, dates and timestamps."""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from datetime import UTC, date, datetime

from geo.core.errors import InvalidParameter
from geo.features.cql2.terms import Terms, describe

# CQL2 temporal functions on [ls, le] and [rs, re], as in the standard's tables. An instant
# is the interval [t, t] (as cql2-rs and pgstac read it); open ends are -infinity / infinity.
# The CQL2 types a temporal predicate takes.
_TEMPORAL = ("date", "datetime")
_TEMPORAL_FUNCTIONS = {
    "t_after": "{ls} > {re}",
    "t_before": "{le} < {rs}",
    "t_contains": "{ls} < {rs} AND {le} > {re}",
    "t_disjoint": "NOT ({ls} <= {re} AND {le} >= {rs})",
    "t_during": "{ls} > {rs} AND {le} < {re}",
    "t_equals": "{ls} = {rs} AND {le} = {re}",
    "t_finishedby": "{ls} < {rs} AND {le} = {re}",
    "t_finishes": "{ls} > {rs} AND {le} = {re}",
    "t_intersects": "{ls} <= {re} AND {le} >= {rs}",
    "t_meets": "{le} = {rs}",
    "t_metby": "{ls} = {re}",
    "t_overlappedby": "{ls} > {rs} AND {ls} < {re} AND {le} > {re}",
    "t_overlaps": "{ls} < {rs} AND {rs} < {le} AND {le} < {re}",
    "t_startedby": "{ls} = {rs} AND {le} > {re}",
    "t_starts": "{ls} = {rs} AND {le} < {re}",
}


class TemporalTerms(Terms):
    """FilterTranslator's temporal methods."""

    def _temporal(self, op: str, left, right) -> str:
        formula = _TEMPORAL_FUNCTIONS[op]
        ends = dict(
            zip(("ls", "le", "rs", "re"), (*self._period(left, op), *self._period(right, op)))
        )
        types = {t for t, _ in ends.values()} - {"open"}
        common = "date" if types <= {"date"} else "timestamptz"
        # Only the ends the function reads are rendered: a literal bound but unused in the SQL
        # would leave a $n the server does not expect.
        used = {name for _, name, _, _ in string.Formatter().parse(formula) if name}
        sql = {
            name: _cast(render(), t, common) for name, (t, render) in ends.items() if name in used
        }
        return "(" + formula.format(**sql) + ")"

    def _period(self, node, op: str) -> list[tuple[str, Callable[[], str]]]:
        """Start and end as (type, SQL renderer); an instant is the interval [t, t]."""
        if isinstance(node, dict) and "interval" in node:
            bounds = node["interval"]
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise self._error(
                    "INTERVAL needs a start and an end", "INTERVAL('2020-01-01', '..')"
                )
            return [
                self._bound(x, open_end) for x, open_end in zip(bounds, ("-infinity", "infinity"))
            ]
        v = self.value(node)
        if v.type not in _TEMPORAL:
            raise self._error(
                f"{op.upper()} needs dates or timestamps, {describe(node)} is a {v.type}",
                "DATE(…), TIMESTAMP(…), INTERVAL(…), date and datetime properties",
            )
        return [(v.type, lambda: v.sql), (v.type, lambda: v.sql)]

    def _bound(self, node, open_end: str) -> tuple[str, Callable[[], str]]:
        """One end of an interval; '..' and NULL properties are open (±infinity)."""
        if node == "..":
            return "open", lambda: open_end
        if isinstance(node, str):
            node = (
                {"date": node} if re.fullmatch(r"\d{4}-\d{2}-\d{2}", node) else {"timestamp": node}
            )
        if isinstance(node, dict) and "date" in node:
            day = _date(node["date"])
            return "date", lambda: f"{self.params(day)}::date"
        if isinstance(node, dict) and "timestamp" in node:
            instant = _timestamp(node["timestamp"])
            return "datetime", lambda: f"{self.params(instant)}::timestamptz"
        v = self.value(node)
        if v.type not in _TEMPORAL:
            raise self._error(
                f"an INTERVAL bound must be a date or timestamp, got a {v.type}",
                "'2020-01-01', '2020-01-01T00:00:00Z', '..', date and datetime properties",
            )
        cast = "date" if v.type == "date" else "timestamptz"
        return v.type, lambda: f"coalesce({v.sql}, '{open_end}'::{cast})"


def _cast(sql: str, sql_type: str, common: str) -> str:
    """A temporal bound in the predicate's common type (dates as midnight UTC)."""
    if sql_type == "open":
        return f"'{sql}'::{common}"
    if common == "timestamptz" and sql_type == "date":
        return f"({sql}::timestamp AT TIME ZONE 'UTC')"
    return sql


def _date(text) -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise InvalidParameter(
            "filter", f"bad date {text!r}", "DATE('YYYY-MM-DD'), e.g. DATE('2020-01-31')"
        ) from None


def _timestamp(text) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise InvalidParameter(
            "filter",
            f"bad timestamp {text!r}",
            "TIMESTAMP('YYYY-MM-DDThh:mm:ssZ'), RFC 3339 in UTC",
        ) from None
    # CQL2 timestamps are UTC ('Z'); one without an offset is read as UTC too.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
