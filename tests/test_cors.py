"""Browsers on other sites may read the API (CORS): any origin by default, or only the
configured ones; preflights for the POSTed screening pass."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app

ORIGIN = "https://maps.example.org"


def test_any_origin_may_read_a_collection_and_see_its_etag(client):
    response = client.get("/collections/deposits/items?limit=1", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert {"etag", "content-crs"} <= exposed


def test_a_preflight_for_posting_a_site_with_its_crs_header_passes(client):
    response = client.options(
        "/screening",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, content-crs",
        },
    )
    assert response.status_code == 200
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"content-type", "content-crs"} <= allowed


@pytest.mark.parametrize(
    ("origins", "origin", "allowed"),
    [
        ([ORIGIN], ORIGIN, ORIGIN),
        ([ORIGIN], "https://elsewhere.example.com", None),
        ([], ORIGIN, None),
    ],
)
def test_only_the_configured_origins_are_allowed(settings, origins, origin, allowed):
    with TestClient(create_app(settings.model_copy(update={"cors_origins": origins}))) as client:
        response = client.get("/vocabularies", headers={"Origin": origin})
    assert response.status_code == 200
    assert response.headers.get("access-control-allow-origin") == allowed
