"""SQL written by code is typed apart from values (geo.core.sql.Sql): the type checker refuses a
plain string wherever the engine and the query builders expect SQL, and accepts code's own SQL
with the user's values bound."""

from __future__ import annotations

import re

from mypy import api

from geo.core.settings import PROJECT_ROOT

_HEAD = """\
from geo.core.sql import Params, Sql
from geo.features.extension import Extension
from geo.features.geojson import feature_text_sql
from geo.features.items import in_outline_sql

user: str = input()
params = Params()
"""
# A user's string where SQL is expected: each line must be refused.
REFUSED = [
    "feature_text_sql(Sql('t.id'), user, Sql('x'))",
    "in_outline_sql(Sql('t.geom'), f\"'{user}'\")",
    "Extension(conditions=(lambda p: 't.name = ' + user,))",
    "Extension(properties=(('name', lambda p: user),))",
]
# Code's SQL, the user's value bound: accepted.
ACCEPTED = [
    "Extension(conditions=(lambda p: Sql(f't.name = {p(user)}'),))",
    "in_outline_sql(Sql('t.geom'), params(b'outline'))",
    "feature_text_sql(Sql('t.id'), Sql('ST_AsGeoJSON(t.geom)'), params(user))",
]


def test_the_type_checker_refuses_a_string_where_sql_is_expected(monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)  # where geo is found
    program = _HEAD + "\n".join(REFUSED + ACCEPTED) + "\n"
    first = _HEAD.count("\n") + 1
    # The project's own modules are checked in CI; only this program's errors count here.
    out, err, _ = api.run(
        ["--config-file", "/dev/null", "--ignore-missing-imports", "--follow-imports=silent"]
        + ["-c", program]
    )
    errors = {
        int(m.group(1)): m.group(2)
        for m in re.finditer(r"^<string>:(\d+): error: (.*)$", out, re.M)
    }
    assert sorted(errors) == list(range(first, first + len(REFUSED))), out + err
    assert all('"str"' in message and '"Sql"' in message for message in errors.values()), out
