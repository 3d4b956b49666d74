"""The registry of mining rights: lifecycle, lapse by date, history, as-of answers, conflicts.

The rights here are made by hand near 3°W 42°N, away from the León sample, and removed (with
their history) when the module ends.
"""

from __future__ import annotations

import getpass
from datetime import date
from fractions import Fraction

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import shape
from sqlalchemy import text

from geo.core.errors import InvalidParameter
from geo.rules.registry import record_as, set_status

STEP = Fraction(1, 180)
I0, J0 = -540, 7560  # 3°00′00″W 42°00′00″N
PREFIX = "T5-"
GEOD = Geod(ellps="GRS80")


def cells(i: int, j: int, width: int, height: int) -> set[tuple[int, int]]:
    return {(i + a, j + b) for a in range(width) for b in range(height)}


def polygon_of(cell_set: set[tuple[int, int]]) -> shapely.Geometry:
    return shapely.union_all(
        [
            shapely.box(
                float(i * STEP), float(j * STEP), float((i + 1) * STEP), float((j + 1) * STEP)
            )
            for i, j in cell_set
        ]
    )


def id_of(i: int, j: int) -> str:
    return ("E" if i >= 0 else "W") + f"{abs(i):05d}" + ("N" if j >= 0 else "S") + f"{abs(j):05d}"


def geodesic_ha(polygon) -> float:
    return abs(GEOD.geometry_area_perimeter(shapely.segmentize(polygon, 1 / 3600))[0]) / 10_000


class Registry:
    """Makes test rights, as a registrar would record them, and cleans them up."""

    def __init__(self, engine):
        self.engine = engine
        self.ids: dict[str, int] = {}

    def add(
        self,
        name: str,
        cell_set,
        right_type="investigation",
        status="applied",
        applied_on=date(2024, 1, 1),
        granted_on=None,
        expires_on=None,
        recorded_on=None,
    ) -> int:
        with self.engine.begin() as conn:
            record_as(conn, "pytest", recorded_on or applied_on)
            self.ids[name] = conn.execute(
                text(
                    "INSERT INTO permits (registry_number, name, right_type, status, applied_on, granted_on, "
                    "expires_on, commodities, source, geom) VALUES (:n, :label, :t, :s, :a, :g, :e, '{}', 'synthetic', "
                    "ST_Multi(ST_GeomFromWKB(decode(:wkb, 'hex'), 4326))) RETURNING id"
                ),
                {
                    "n": PREFIX + name,
                    "label": f"test right {name}",
                    "t": right_type,
                    "s": status,
                    "a": applied_on,
                    "g": granted_on,
                    "e": expires_on,
                    "wkb": polygon_of(cell_set).wkb_hex,
                },
            ).scalar()
        return self.ids[name]

    def set(self, name: str, status: str, on: date, expires_on: date | None = None) -> dict:
        with self.engine.begin() as conn:
            return set_status(
                conn, PREFIX + name, status, on=on, changed_by="pytest", expires_on=expires_on
            )

    def remove_all(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text("DELETE FROM permits WHERE registry_number LIKE :p"), {"p": PREFIX + "%"}
            )
            conn.execute(
                text("DELETE FROM permit_history WHERE registry_number LIKE :p"),
                {"p": PREFIX + "%"},
            )


@pytest.fixture(scope="module")
def registry(engine):
    made = Registry(engine)
    yield made
    made.remove_all()


def as_of(client, day: str | None, name: str) -> dict | None:
    """The right's properties in GET /permits (as of `day`), or None if it is not there."""
    params = {"bbox": "-3.2,41.9,-2.8,42.2", "limit": 1000} | ({"as_of": day} if day else {})
    body = client.get("/permits", params=params).json()
    found = [
        f["properties"]
        for f in body["features"]
        if f["properties"]["registry_number"] == PREFIX + name
    ]
    return found[0] if found else None


# --- lifecycle and as-of ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def lifecycle(registry):
    """applied 2020-01-10 → admitted 03-01 → granted 06-01 (until 2023-06-01) → extended
    2023-05-01 (until 2026-06-01), then lapsing by date."""
    registry.add("LIFE", cells(I0, J0, 2, 2), applied_on=date(2020, 1, 10))
    registry.set("LIFE", "admitted", date(2020, 3, 1))
    registry.set("LIFE", "granted", date(2020, 6, 1), expires_on=date(2023, 6, 1))
    registry.set("LIFE", "extended", date(2023, 5, 1), expires_on=date(2026, 6, 1))
    return "LIFE"


@pytest.mark.parametrize(
    "day, status",
    [
        ("2020-01-09", None),
        ("2020-01-10", "applied"),
        ("2020-02-29", "applied"),
        ("2020-03-01", "admitted"),
        ("2020-06-01", "granted"),
        ("2023-04-30", "granted"),
        ("2023-05-01", "extended"),
        ("2026-05-31", "extended"),
        ("2026-06-01", "lapsed"),
    ],
)
def test_as_of_answers_the_registry_as_it_stood_that_day(client, lifecycle, day, status):
    found = as_of(client, day, lifecycle)
    assert (found and found["status"]) == status


def test_a_right_past_its_expiry_reads_as_lapsed_but_keeps_its_recorded_status(client, lifecycle):
    now = as_of(client, None, lifecycle)
    assert now["status"] == "lapsed" and now["registry_status"] == "extended"
    assert now["expires_on"] == "2026-06-01" and now["granted_on"] == "2020-06-01"
    lapsed = client.get(
        "/permits", params={"status": "lapsed", "bbox": "-3.2,41.9,-2.8,42.2"}
    ).json()
    assert PREFIX + lifecycle in [f["properties"]["registry_number"] for f in lapsed["features"]]


def test_as_of_reads_the_geometry_the_right_had_then(client, registry, lifecycle):
    body = client.get(
        "/permits", params={"as_of": "2021-01-01", "bbox": "-3.2,41.9,-2.8,42.2"}
    ).json()
    feature = next(
        f for f in body["features"] if f["properties"]["registry_number"] == PREFIX + lifecycle
    )
    assert (
        shape(feature["geometry"]).symmetric_difference(polygon_of(cells(I0, J0, 2, 2))).area
        < 1e-15
    )
    assert feature["properties"]["cell_count"] == 4


def test_a_deleted_right_is_there_before_its_deletion_and_gone_after(client, registry):
    registry.add("GONE", cells(I0 + 6, J0, 1, 1), applied_on=date(2022, 1, 1))
    with registry.engine.begin() as conn:
        record_as(conn, "pytest", date(2023, 1, 1))
        conn.execute(text("DELETE FROM permits WHERE registry_number = :n"), {"n": PREFIX + "GONE"})
    assert as_of(client, "2022-06-01", "GONE")["status"] == "applied"
    assert as_of(client, "2023-01-01", "GONE") is None
    assert as_of(client, None, "GONE") is None


def test_the_history_records_every_change_with_its_day_and_author(client, registry, lifecycle):
    body = client.get(f"/permits/{registry.ids[lifecycle]}/history").json()
    steps = [
        (c["effective_on"], c["action"], c["status"], c["changed_by"]) for c in body["changes"]
    ]
    assert steps == [
        ("2020-01-10", "insert", "applied", "pytest"),
        ("2020-03-01", "update", "admitted", "pytest"),
        ("2020-06-01", "update", "granted", "pytest"),
        ("2023-05-01", "update", "extended", "pytest"),
    ]
    extension = body["changes"][-1]["changes"]
    assert extension["status"] == {"before": "granted", "after": "extended"}
    assert extension["expires_on"] == {"before": "2023-06-01", "after": "2026-06-01"}


# --- transitions -----------------------------------------------------------------------------


def test_a_right_cannot_skip_a_step_and_is_told_what_it_may_become(registry):
    registry.add("SKIP", cells(I0 + 10, J0, 1, 1))
    with pytest.raises(InvalidParameter) as refused:
        registry.set("SKIP", "granted", date(2024, 2, 1))
    assert refused.value.parameter == "status"
    assert "T5-SKIP is applied on 2024-02-01 and cannot become granted" in refused.value.reason
    assert refused.value.allowed == ["admitted", "denied", "renounced"]


def test_final_statuses_are_final(registry):
    registry.add("DENIED", cells(I0 + 12, J0, 1, 1))
    registry.set("DENIED", "denied", date(2024, 2, 1))
    with pytest.raises(InvalidParameter, match="cannot become admitted") as refused:
        registry.set("DENIED", "admitted", date(2024, 3, 1))
    assert refused.value.allowed == "nothing: the right is final"


def test_an_expired_right_cannot_be_extended_after_the_fact(registry):
    registry.add(
        "LATE",
        cells(I0 + 14, J0, 1, 1),
        status="granted",
        applied_on=date(2020, 6, 1),
        granted_on=date(2021, 1, 1),
        expires_on=date(2024, 1, 1),
        recorded_on=date(2021, 1, 1),
    )
    with pytest.raises(
        InvalidParameter, match=r"is lapsed on 2024-02-01 \(it expired on 2024-01-01\)"
    ):
        registry.set("LATE", "extended", date(2024, 2, 1), expires_on=date(2027, 1, 1))
    # Before the expiry the extension is allowed, with a later expiry date.
    registry.set("LATE", "extended", date(2023, 12, 1), expires_on=date(2027, 1, 1))


def test_changes_are_recorded_in_order_and_dates_make_sense(registry):
    registry.add("ORDER", cells(I0 + 16, J0, 1, 1), applied_on=date(2024, 1, 1))
    registry.set("ORDER", "admitted", date(2024, 5, 1))
    with pytest.raises(InvalidParameter, match="already has a change effective on 2024-05-01"):
        registry.set("ORDER", "denied", date(2024, 4, 1))
    with pytest.raises(InvalidParameter, match="2024-06-01 is not after 2024-06-01") as refused:
        registry.set("ORDER", "granted", date(2024, 6, 1), expires_on=date(2024, 6, 1))
    assert refused.value.parameter == "expires_on"
    registry.set("ORDER", "granted", date(2024, 6, 1), expires_on=date(2027, 6, 1))
    with pytest.raises(InvalidParameter, match="an extension needs a new expiry date"):
        registry.set("ORDER", "extended", date(2025, 1, 1))


def test_the_cli_records_the_operating_system_user(registry, db_url, monkeypatch):
    from typer.testing import CliRunner

    from cli import app
    from geo.core.settings import get_settings

    registry.add("CLI", cells(I0 + 18, J0, 1, 1), applied_on=date(2024, 1, 1))
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        done = runner.invoke(
            app, ["permits", "set-status", PREFIX + "CLI", "admitted", "--on", "2024-02-02"]
        )
        refused = runner.invoke(app, ["permits", "set-status", PREFIX + "CLI", "extended"])
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 0, done.output
    with registry.engine.connect() as conn:
        last = conn.execute(
            text(
                "SELECT changed_by, effective_on, after ->> 'status' FROM permit_history "
                "WHERE registry_number = :n ORDER BY id DESC LIMIT 1"
            ),
            {"n": PREFIX + "CLI"},
        ).one()
    assert tuple(last) == (getpass.getuser(), date(2024, 2, 2), "admitted")
    assert refused.exit_code == 1 and "cannot become extended" in refused.output


# --- conflicts -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ground(registry):
    """A granted right A; a later application B overlapping it by two cells; an earlier
    application C overlapping B by one; D granted but only touching A along a side; E granted
    but expired, over B; and two concessions K1 (granted) and K2 (applied later) sharing a cell."""
    i, j = I0 + 30, J0 + 30
    a, b, c = cells(i, j, 4, 3), cells(i + 3, j + 1, 3, 3), cells(i + 5, j + 3, 2, 2)
    registry.add(
        "A",
        a,
        status="granted",
        applied_on=date(2024, 1, 1),
        granted_on=date(2024, 3, 1),
        expires_on=date(2099, 3, 1),
    )
    registry.add("B", b, applied_on=date(2024, 6, 1))
    registry.add("C", c, applied_on=date(2024, 3, 1))
    registry.add(
        "D",
        cells(i - 2, j, 2, 3),
        status="granted",
        applied_on=date(2023, 1, 1),
        granted_on=date(2023, 2, 1),
        expires_on=date(2099, 1, 1),
    )
    registry.add(
        "E",
        cells(i + 4, j + 1, 1, 1),
        status="granted",
        applied_on=date(2019, 1, 1),
        granted_on=date(2019, 2, 1),
        expires_on=date(2022, 1, 1),
    )
    k1, k2 = cells(i + 20, j, 2, 2), cells(i + 21, j + 1, 2, 2)
    registry.add(
        "K1",
        k1,
        right_type="exploitation_direct",
        status="granted",
        applied_on=date(2020, 1, 1),
        granted_on=date(2020, 6, 1),
        expires_on=date(2050, 6, 1),
    )
    registry.add("K2", k2, right_type="exploitation_derived", applied_on=date(2025, 1, 1))
    return {"A": a, "B": b, "C": c, "K1": k1, "K2": k2}


def conflicts(client, registry, name: str) -> dict[str, dict]:
    body = client.get(f"/permits/{registry.ids[name]}/conflicts").json()
    assert body["permit"]["registry_number"] == PREFIX + name
    return {f["properties"]["registry_number"][len(PREFIX) :]: f for f in body["features"]}


def test_a_later_application_conflicts_with_a_granted_right_on_the_shared_cells(
    client, registry, ground
):
    found = conflicts(client, registry, "B")
    assert set(found) == {"A", "C"}  # not E: expired rights hold no ground
    a = found["A"]
    shared = ground["A"] & ground["B"]
    assert a["properties"]["reason"] == "granted_right"
    assert a["properties"]["shared_cell_count"] == len(shared) == 2
    assert a["properties"]["shared_cells"] == sorted(id_of(*c) for c in shared)
    assert a["properties"]["shared_area_ha"] == pytest.approx(
        geodesic_ha(polygon_of(shared)), abs=0.01
    )
    assert shape(a["geometry"]).symmetric_difference(polygon_of(shared)).area < 1e-15
    assert found["C"]["properties"]["reason"] == "earlier_application"
    assert found["C"]["properties"]["shared_cells"] == sorted(
        id_of(*c) for c in ground["B"] & ground["C"]
    )


def test_an_earlier_granted_right_has_no_conflict_with_later_applications_or_side_neighbours(
    client, registry, ground
):
    assert conflicts(client, registry, "A") == {}


def test_two_concessions_may_not_share_a_cell_whichever_came_first(client, registry, ground):
    shared = sorted(id_of(*c) for c in ground["K1"] & ground["K2"])
    for this, other in (("K1", "K2"), ("K2", "K1")):
        found = conflicts(client, registry, this)
        assert list(found) == [other]
        assert found[other]["properties"]["reason"] == "concession_overlap"
        assert found[other]["properties"]["shared_cells"] == shared


def test_conflicts_of_an_unknown_right_is_404(client):
    response = client.get("/permits/987654321/conflicts")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
