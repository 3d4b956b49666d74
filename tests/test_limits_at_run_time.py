"""One settings object read at run time: every feature list takes its page size limits from
the app's settings (VETA_DEFAULT_LIMIT, VETA_MAX_LIMIT), not from the Settings class defaults."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from geo.core.settings import Settings


@pytest.fixture(scope="module")
def small_pages(settings):
    with TestClient(
        create_app(settings.model_copy(update={"default_limit": 7, "max_limit": 25}))
    ) as c:
        yield c


@pytest.mark.parametrize("path", ["/collections/deposits/items", "/deposits", "/permits"])
def test_every_list_takes_its_limits_from_the_apps_settings(small_pages, path):
    geojson = {"Accept": "application/geo+json"}
    default = small_pages.get(path, headers=geojson)
    assert default.status_code == 200, default.text
    assert default.json()["numberReturned"] == 7
    assert small_pages.get(f"{path}?limit=25", headers=geojson).json()["numberReturned"] == 25
    refused = small_pages.get(f"{path}?limit=26", headers=geojson)
    assert refused.status_code == 400
    problem = refused.json()
    assert problem["invalid_params"][0]["name"] == "limit"
    assert "1 to 25" in str(problem["invalid_params"][0]["allowed"])


def test_the_class_defaults_are_not_the_only_limits(client):
    """The default app (max 10,000) still takes a page the small one refuses."""
    assert Settings.model_fields["max_limit"].default == 10_000
    response = client.get(
        "/collections/deposits/items?limit=26", headers={"Accept": "application/geo+json"}
    )
    assert response.status_code == 200 and response.json()["numberReturned"] == 26
