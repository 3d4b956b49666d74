"""Every operation of the API definition probed with generated requests (schemathesis): no
5xx, and every answer declared there (status code, media type, problem+json body).

Bounded: EXAMPLES requests per operation, derandomised so a run repeats the last one, against a
real uvicorn serving the test database (so api.guard and the server's protocol are in the path),
once anonymously and once with an editor's API key (writes are then tried for real).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from geo.access.keys import create_key, create_organisation
from geo.core.settings import Settings

# About a minute for all operations on two busy cores.
EXAMPLES = 12
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)


# The document /api serves, built without a database (the test runs before any server is up).
SCHEMA = schemathesis.openapi.from_dict(create_app(Settings()).openapi())
# One test per operation with its own id: schemathesis's own parametrisation gives every
# operation the same node id, and pytest-xdist then runs only one of them.
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.fixture(scope="module")
def editor_key(engine) -> str:
    from sqlalchemy import text

    with engine.begin() as conn:
        create_organisation(conn, "t-fuzz", "Fuzzing")
        key = create_key(conn, "t-fuzz", "editor", "schemathesis", None)[0]
    yield key
    with engine.begin() as conn:
        conn.execute(
            text(
                "DELETE FROM deposits WHERE owner_org = (SELECT id FROM organisations WHERE code = 't-fuzz')"
            )
        )
        conn.execute(
            text(
                "DELETE FROM permits WHERE owner_org = (SELECT id FROM organisations WHERE code = 't-fuzz')"
            )
        )
        conn.execute(
            text(
                "DELETE FROM screening_reports WHERE owner_org = (SELECT id FROM organisations WHERE code = 't-fuzz')"
            )
        )
        conn.execute(text("DELETE FROM organisations WHERE code = 't-fuzz'"))


@pytest.mark.parametrize("who", ["anonymous", "editor"])
@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_generated_requests_get_declared_answers_and_never_a_5xx(
    operation, who, live_server, editor_key
):
    headers = {"Authorization": f"Bearer {editor_key}"} if who == "editor" else {}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def probe(case):
        response = case.call(base_url=live_server, timeout=60, headers=headers)
        case.validate_response(response, checks=CHECKS)

    probe()
