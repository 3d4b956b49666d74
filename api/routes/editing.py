"""OGC API – Features Part 4 (Create, Replace, Update, Delete) on deposits, permits and zones;
a right's registry transitions; the audit trail.

Writes run in a worker thread on the service's synchronous engine (geo.store.db.sync_engine:
each transaction starts by telling PostgreSQL who writes), so that the checks a write shares
with `veta import` run as they do there, and row-level security and the audit triggers see
the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from api.body_parsing import json_body
from api.links import base_url
from api.params import parse_day
from geo.core.errors import Forbidden, InvalidParameter, NotFound, Unauthenticated
from geo.core.limits import path_id
from geo.editing import records
from geo.editing.audit import audit_entries
from geo.rules.registry import set_status
from geo.store.viewer import VIEWER

router = APIRouter(tags=["editing"])

FEATURE_BODY = "a GeoJSON Feature"
MERGE_PATCH = "application/merge-patch+json"
IF_MATCH = Header(
    None,
    alias="If-Match",
    description="The ETag of the version being changed (from GET of the item); required.",
)
CONTENT_CRS = Header(None, alias="Content-Crs", description="CRS of the body's coordinates.")


def _editable(collection_id: str) -> str:
    if collection_id not in records.WRITERS:
        raise NotFound(
            f"no editable collection {collection_id!r}; editable: {', '.join(records.WRITERS)}"
        )
    return collection_id


def _writable(collection_id: str, feature_id: int | None = None) -> str:
    """The editable collection named, once the caller is known to be allowed to write it:
    checked before the body is read, so a refused write never reads a large one."""
    collection = _editable(collection_id)
    if feature_id is not None:
        path_id(feature_id, f"feature in {collection} with id")
    records.check_may_write(VIEWER.get(), collection)
    return collection


@dataclass(frozen=True)
class WritableItem:
    """The record a replace, update or delete names in its path, in an editable collection the
    caller may write (checked before the body is read)."""

    collection: str
    feature_id: int


async def writable_item(
    collection_id: str = Path(alias="collectionId"), feature_id: int = Path(alias="featureId")
) -> WritableItem:
    """FastAPI dependency of the routes that change one record (run before the body is read)."""
    return WritableItem(_writable(collection_id, feature_id), feature_id)


async def _in_transaction(request: Request, work):
    """work(connection) in one transaction of the writing engine, off the event loop."""
    engine = request.app.state.writer

    def run():
        with engine.begin() as conn:
            return work(conn)

    return await run_in_threadpool(run)


async def _write(request: Request, collection: str, status: int, write, *args) -> Response:
    """`write(conn, collection, *args, viewer, settings)` (records.create, replace or patch) in
    one transaction; the answer names the record written and its new version (ETag)."""
    viewer, settings = VIEWER.get(), request.app.state.settings
    written: records.Written = await _in_transaction(
        request, lambda conn: write(conn, collection, *args, viewer, settings)
    )
    location = f"{base_url(request)}/collections/{collection}/items/{written.id}"
    body = orjson.dumps({"id": written.id, "links": [{"rel": "self", "href": location}]})
    headers = {"ETag": written.version}
    if status == 201:
        headers["Location"] = location
    return Response(body, status_code=status, media_type="application/json", headers=headers)


@router.post("/collections/{collectionId}/items", status_code=201)
async def create_item(
    request: Request,
    collection_id: str = Path(alias="collectionId"),
    content_crs: str | None = CONTENT_CRS,
):
    """Add a record (a GeoJSON Feature; `confidential: true` keeps it to your organisation).
    Checked as an import checks a row; 201 with its Location and ETag."""
    collection = _writable(collection_id)
    feature = await json_body(request, FEATURE_BODY)
    return await _write(request, collection, 201, records.create, feature, content_crs)


@router.put("/collections/{collectionId}/items/{featureId}")
async def replace_item(
    request: Request,
    item: WritableItem = Depends(writable_item),
    if_match: str | None = IF_MATCH,
    content_crs: str | None = CONTENT_CRS,
):
    """Replace a record: what the Feature leaves out is cleared. 412 if it changed since the
    ETag in If-Match, 428 without If-Match."""
    feature = await json_body(request, FEATURE_BODY)
    return await _write(
        request,
        item.collection,
        200,
        records.replace,
        item.feature_id,
        feature,
        content_crs,
        if_match,
    )


@router.patch(
    "/collections/{collectionId}/items/{featureId}",
    openapi_extra={
        "requestBody": {
            "content": {MERGE_PATCH: {"schema": {"type": "object"}}},
            "required": True,
        }
    },
)
async def update_item(
    request: Request,
    item: WritableItem = Depends(writable_item),
    if_match: str | None = IF_MATCH,
    content_crs: str | None = CONTENT_CRS,
):
    """Change some members (JSON merge patch): `{"properties": {"mine_status": "closed"}}`."""
    change = await json_body(request, "a JSON merge patch of a Feature")
    return await _write(
        request, item.collection, 200, records.patch, item.feature_id, change, content_crs, if_match
    )


@router.delete("/collections/{collectionId}/items/{featureId}", status_code=204)
async def delete_item(
    request: Request, item: WritableItem = Depends(writable_item), if_match: str | None = IF_MATCH
):
    """Delete a record. 412 if it changed since the ETag in If-Match, 428 without If-Match."""
    await _in_transaction(
        request,
        lambda conn: records.delete(conn, item.collection, item.feature_id, if_match, VIEWER.get()),
    )
    return Response(status_code=204)


@router.options("/collections/{collectionId}/items", status_code=204)
@router.options("/collections/{collectionId}/items/{featureId}", status_code=204)
async def item_options(collection_id: str = Path(alias="collectionId")):
    """What the caller may do here (Allow), by its role."""
    allowed = records.allowed_methods(VIEWER.get(), collection_id)
    return Response(status_code=204, headers={"Allow": ", ".join(allowed)})


@router.get("/me")
async def who_am_i():
    """Who the credential sent is: organisation, role and name (anonymous without one)."""
    viewer = VIEWER.get()
    return {
        "anonymous": viewer.anonymous,
        "organisation": viewer.organisation,
        "role": viewer.role,
        "actor": None if viewer.anonymous else viewer.actor,
    }


@router.post("/permits/{permit_id}/status")
async def change_permit_status(request: Request, permit_id: int = Path()):
    """A registry transition of a right — `{"status": "granted", "on": "2026-12-01",
    "expires_on": "2056-12-01"}` — under the same lifecycle rules as `veta permits set-status`;
    recorded in the right's history as you."""
    path_id(permit_id, "permit id")
    viewer = VIEWER.get()
    if viewer.anonymous:
        raise Unauthenticated("changing a right's status needs a credential")
    if viewer.role not in ("registry", "admin"):
        raise Forbidden(f"the role {viewer.role} may not change a right's status (registry may)")
    body = await json_body(request, '{"status": …, "on": "YYYY-MM-DD", "expires_on": …}')
    if not isinstance(body, dict) or not isinstance(body.get("status"), str):
        raise InvalidParameter("status", "missing", "a permit status")
    unknown = sorted(set(body) - {"status", "on", "expires_on"})
    if unknown:
        raise InvalidParameter(
            unknown[0], "not a member of a status change", ["status", "on", "expires_on"]
        )
    on, expires_on = (
        _day(body.get("on"), "on") or date.today(),
        _day(body.get("expires_on"), "expires_on"),
    )

    def work(conn):
        registry_number = conn.execute(
            text("SELECT registry_number FROM permits WHERE id = :i"), {"i": permit_id}
        ).scalar()
        if registry_number is None:
            raise NotFound(f"no permit {permit_id}")
        return set_status(
            conn,
            registry_number,
            body["status"],
            on=on,
            changed_by=viewer.actor,
            expires_on=expires_on,
        )

    row = await _in_transaction(request, work)
    return Response(orjson.dumps(row, default=str), media_type="application/json")


def _day(value: object, name: str) -> date | None:
    """A day in the JSON body: text as YYYY-MM-DD, as a query parameter is."""
    return parse_day(None if value is None else str(value), name)


@router.get("/audit")
async def audit(
    request: Request,
    collection: str | None = Query(None, description="deposits, permits or protection_zones"),
    record: int | None = Query(None, description="A record's id (with collection)."),
    actor: str | None = Query(
        None, description="Who wrote (a key's holder, a token's subject, an OS user)."
    ),
    since: datetime | None = Query(None, description="From this time on (ISO 8601)."),
    until: datetime | None = Query(None, description="Before this time (ISO 8601)."),
    limit: int = Query(100, ge=1, le=10_000),
):
    """Every write, newest first, with who, when, from where, how and the record before and
    after. Admins only."""
    viewer = VIEWER.get()
    if viewer.anonymous:
        raise Unauthenticated("the audit trail needs a credential")
    if viewer.role != "admin":
        raise Forbidden(
            "only an admin may read the whole audit trail; a record's own history is on its item"
        )
    entries = await audit_entries(
        request.app.state.pool, collection, record, actor, since, until, limit
    )
    return Response(orjson.dumps({"entries": entries}), media_type="application/json")


@router.get("/collections/{collectionId}/items/{featureId}/history")
async def item_history(
    request: Request,
    collection_id: str = Path(alias="collectionId"),
    feature_id: int = Path(alias="featureId"),
):
    """A record's own history: every write to it, oldest first, as far as you may see it."""
    collection = _editable(collection_id)
    path_id(feature_id, f"feature in {collection} with id")
    entries = await audit_entries(request.app.state.pool, collection, feature_id, oldest_first=True)
    if not entries:
        raise NotFound(f"no feature {feature_id} in {collection}")
    return Response(orjson.dumps({"entries": entries}), media_type="application/json")
