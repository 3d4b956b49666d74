"""Names a user sends — queryables in a filter, sortby and properties fields, property equality
parameters, collection ids — never become SQL: every path that takes a name is walked with
names built to break out of an identifier or a string, on every collection, and each is refused
as a 400 naming its parameter (or 404 for a collection), with the tables untouched."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from sqlalchemy import text

from geo.catalog import CATALOG

HOSTILE = (
    "name; DROP TABLE deposits --",
    'name" OR 1=1 --',
    "name') OR ('1'='1",
    "t.id) FROM pg_user --",
    "pg_sleep(5)",
    "geom::text",
    "name/*",
    "ñame\u0000",
)
COLLECTIONS = [c.id for c in CATALOG]
GEOJSON = {"Accept": "application/geo+json"}


def _tables(engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ).scalars()
        )


@pytest.fixture(scope="module", autouse=True)
def tables_before(engine):
    """Taken before the module's first test."""
    return _tables(engine)


def _refused(response, parameter: str) -> None:
    assert response.status_code == 400, (response.status_code, response.text[:300])
    names = [p["name"] for p in response.json().get("invalid_params", [])]
    assert parameter in names, response.text[:300]


@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_name_in_sortby_and_properties_is_refused(client, collection, name):
    items = f"/collections/{collection}/items"
    _refused(client.get(items, params={"sortby": name}, headers=GEOJSON), "sortby")
    _refused(client.get(items, params={"sortby": f"-{name}"}, headers=GEOJSON), "sortby")
    _refused(client.get(items, params={"properties": name}, headers=GEOJSON), "properties")


@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_queryable_in_a_filter_is_refused(client, collection, name):
    items = f"/collections/{collection}/items"
    # cql2-text with the name as a quoted identifier, and cql2-json with it as a property.
    quoted = '"' + name.replace('"', '""') + '"'
    _refused(client.get(items, params={"filter": f"{quoted} = 'x'"}, headers=GEOJSON), "filter")
    as_json = json.dumps({"op": "=", "args": [{"property": name}, "x"]})
    _refused(
        client.get(items, params={"filter": as_json, "filter-lang": "cql2-json"}, headers=GEOJSON),
        "filter",
    )


# (A NUL anywhere in a query string is refused by api/guard.py before any route: tested there.)
@pytest.mark.parametrize("name", [n for n in HOSTILE if "\u0000" not in n])
def test_a_hostile_parameter_name_is_refused_not_ignored(client, name):
    response = client.get(f"/collections/deposits/items?{quote(name)}=1", headers=GEOJSON)
    _refused(response, name)


@pytest.mark.parametrize("name", HOSTILE[:4])
def test_a_hostile_collection_id_is_not_found(client, name):
    response = client.get(f"/collections/{quote(name, safe='')}/items", headers=GEOJSON)
    assert response.status_code in (400, 404) and response.headers["content-type"].startswith(
        "application/problem+json"
    )


def test_the_tables_survive_the_walk(engine, tables_before, client):
    """Run last in this module: every table there before is still there, and still read."""
    assert _tables(engine) == tables_before
    assert client.get("/deposits", params={"limit": 1}).status_code == 200
