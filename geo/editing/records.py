"""Writing one record — a deposit, a mining right or a protection zone — as a Feature.

Every write is checked as `veta import` checks a row (geo.io.importing.validation: each field,
its code list, the table's rules, the geometry, the region) and a right's geometry also
against the cuadrícula; a write that fails any check changes nothing. Who may write what is
said twice: here, to answer 401/403 with a reason, and by PostgreSQL's row-level security
policies (migration 0014), which hold whatever the code does. Each record's version is its
`updated_at` (set by a trigger on every change): a write names the version it was made from
(If-Match) and is refused when the record has changed since (optimistic concurrency).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from geo.core.errors import (
    Conflict,
    Forbidden,
    InvalidParameter,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Unauthenticated,
    VetaError,
)
from geo.core.settings import Settings
from geo.editing.feature_checks import checked_record, feature_body
from geo.io.importing.targets import LAYERS
from geo.store.viewer import Viewer

# The collections that can be edited, and the roles that may write each. Editors write their
# own organisation's deposits and applications; the registry records any right's changes and
# keeps the protection zones; an admin may do everything.
WRITERS: dict[str, tuple[str, ...]] = {
    "deposits": ("editor", "admin"),
    "permits": ("editor", "registry", "admin"),
    "protection_zones": ("registry", "admin"),
}
# The collections whose records an organisation may keep to itself (protection zones are
# public law); their Features may also name ACCESS_MEMBERS.
CONFIDENTIAL = ("deposits", "permits")


@dataclass(frozen=True)
class Written:
    id: int
    version: str


def record_version(record_id: int, updated_at: datetime) -> str:
    """A record's version: its id and the microsecond of its last change. An item's ETag
    starts with it (then a digest of the representation, which also depends on the day and
    the zones around it); If-Match compares the version alone."""
    return f"{record_id}.{int(updated_at.timestamp() * 1_000_000)}"


def version_tag(record_id: int, updated_at: datetime) -> str:
    return f'"{record_version(record_id, updated_at)}"'


def _version_of(tag: str) -> str:
    return tag.strip().removeprefix("W/").strip('"').split("-", 1)[0]


def allowed_methods(viewer: Viewer, collection: str) -> list[str]:
    """What this caller may do on this collection's items (OPTIONS, the collection's links)."""
    if collection in WRITERS and viewer.role in WRITERS[collection]:
        return ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return ["GET", "HEAD", "OPTIONS"]


def check_may_write(viewer: Viewer, collection: str) -> None:
    if collection not in WRITERS:
        raise Forbidden(
            f"{collection} cannot be edited; editable collections: {', '.join(WRITERS)}"
        )
    if viewer.anonymous:
        raise Unauthenticated("writing needs a credential: Authorization: Bearer <API key>")
    if viewer.role not in WRITERS[collection]:
        raise Forbidden(
            f"the role {viewer.role} may not write {collection}; "
            f"roles that may: {', '.join(WRITERS[collection])}"
        )


def create(
    conn: Connection,
    collection: str,
    feature: object,
    content_crs: str | None,
    viewer: Viewer,
    settings: Settings,
) -> Written:
    """Insert a record; its id is the server's to give."""
    check_may_write(viewer, collection)
    body = feature_body(feature)
    if "id" in body:
        raise InvalidParameter("id", "a new record's id is given by the server", "no id member")
    layer = LAYERS[collection]
    properties = dict(body.get("properties") or {})
    properties.setdefault("source_id", None)
    access = _access(conn, collection, properties, viewer, None)
    values, geometry = checked_record(
        layer, properties, body.get("geometry"), content_crs, settings
    )
    columns = {**values, **access}
    names = list(columns)
    try:
        row = conn.execute(
            text(
                f"INSERT INTO {collection} ({', '.join(names)}, geom) VALUES "
                f"({', '.join(':' + n for n in names)}, ST_GeomFromWKB(decode(:geom, 'hex'), 4326)) "
                "RETURNING id, updated_at"
            ),
            {**columns, "geom": geometry},
        ).one()
    except DBAPIError as exc:
        raise _refusal(exc, collection) from None
    return Written(row.id, version_tag(row.id, row.updated_at))


def replace(
    conn: Connection,
    collection: str,
    record_id: int,
    feature: object,
    content_crs: str | None,
    if_match: str | None,
    viewer: Viewer,
    settings: Settings,
) -> Written:
    """Replace a record's properties and geometry (PUT): what the Feature leaves out is cleared."""
    check_may_write(viewer, collection)
    current = _current(conn, collection, record_id, if_match)
    body = feature_body(feature)
    if "id" in body and str(body["id"]) != str(record_id):
        raise InvalidParameter(
            "id", f"the body is record {body['id']}, the URL {record_id}", [str(record_id)]
        )
    properties = dict(body.get("properties") or {})
    return _update(
        conn,
        collection,
        record_id,
        current,
        properties,
        body.get("geometry"),
        content_crs,
        viewer,
        settings,
    )


def patch(
    conn: Connection,
    collection: str,
    record_id: int,
    merge_patch: object,
    content_crs: str | None,
    if_match: str | None,
    viewer: Viewer,
    settings: Settings,
) -> Written:
    """Change some of a record's members (JSON merge patch, RFC 7396): a member set to null is
    cleared, a member left out is kept; `geometry` replaces the geometry when given."""
    check_may_write(viewer, collection)
    current = _current(conn, collection, record_id, if_match)
    body = feature_body(merge_patch, patching=True)
    unknown = sorted(set(body) - {"type", "properties", "geometry", "id"})
    if unknown:
        raise InvalidParameter(unknown[0], "not a member of a Feature", ["properties", "geometry"])
    properties = {**current["properties"], **(body.get("properties") or {})}
    properties = {k: v for k, v in properties.items() if v is not None}
    geometry = body.get("geometry", current["geometry"])
    crs = content_crs if "geometry" in body else None
    return _update(
        conn, collection, record_id, current, properties, geometry, crs, viewer, settings
    )


def delete(
    conn: Connection, collection: str, record_id: int, if_match: str | None, viewer: Viewer
) -> None:
    check_may_write(viewer, collection)
    _current(conn, collection, record_id, if_match)
    try:
        deleted = conn.execute(
            text(f"DELETE FROM {collection} WHERE id = :i"), {"i": record_id}
        ).rowcount
    except DBAPIError as exc:
        raise _refusal(exc, collection) from None
    if not deleted:
        raise Forbidden(f"the role {viewer.role} may not delete this record")


def _update(
    conn: Connection,
    collection: str,
    record_id: int,
    current: dict,
    properties: dict,
    geometry: object,
    content_crs: str | None,
    viewer: Viewer,
    settings: Settings,
) -> Written:
    layer = LAYERS[collection]
    # A write over the API edits the record in place: its source is its own and stays.
    source = current["properties"]["source"]
    if properties.pop("source", source) != source:
        raise InvalidParameter(
            "source", f"a record's source cannot change (it is {source!r})", [source]
        )
    properties.setdefault("source_id", current["properties"].get("source_id"))
    access = _access(conn, collection, properties, viewer, current)
    values, wkb = checked_record(layer, properties, geometry, content_crs, settings)
    # PUT clears what it leaves out: every field of the layer is written.
    columns = {name: values.get(name) for name in layer.fields}
    for name, spec in layer.fields.items():
        if spec.kind == "list" and columns.get(name) is None and not spec.required:
            columns[name] = []
    columns.update(access)
    try:
        row = conn.execute(
            text(
                f"UPDATE {collection} SET "
                + ", ".join(f"{n} = :{n}" for n in columns)
                + ", geom = ST_GeomFromWKB(decode(:geom, 'hex'), 4326) WHERE id = :record_id "
                "RETURNING id, updated_at"
            ),
            {**columns, "geom": wkb, "record_id": record_id},
        ).one_or_none()
    except DBAPIError as exc:
        raise _refusal(exc, collection) from None
    if row is None:  # visible but not writable by this caller (row-level security said no)
        raise Forbidden(f"the role {viewer.role} may not change this record")
    return Written(row.id, version_tag(row.id, row.updated_at))


def _current(conn: Connection, collection: str, record_id: int, if_match: str | None) -> dict:
    """The record as stored (locked until the write ends), after checking If-Match."""
    if if_match is None:
        raise PreconditionRequired(
            "a write must name the version it changes: If-Match with the record's ETag "
            "(from GET of the item)"
        )
    row = conn.execute(
        text(
            f"SELECT updated_at, ST_AsGeoJSON(geom, 9)::json AS geometry, to_jsonb(t) - 'geom' "
            f"AS properties FROM {collection} t WHERE id = :i FOR UPDATE"
        ),
        {"i": record_id},
    ).one_or_none()
    if row is None:
        # Locking a row needs the right to change it (row-level security's write policies):
        # a record this caller sees but may not change is a 403, one it cannot see a 404.
        visible = conn.execute(
            text(f"SELECT 1 FROM {collection} WHERE id = :i"), {"i": record_id}
        ).first()
        if visible:
            raise Forbidden("your organisation and role may not change this record")
        raise NotFound(f"no feature {record_id} in {collection}")
    version = version_tag(record_id, row.updated_at)
    asked = {_version_of(tag) for tag in if_match.split(",")}
    if "*" not in asked and _version_of(version) not in asked:
        raise PreconditionFailed(
            f"the record has changed since the version you sent (now {version}); "
            "GET it again, apply your change and send its new ETag"
        )
    properties = {
        k: v
        for k, v in row.properties.items()
        if k not in ("id", "created_at", "updated_at", "owner_org", "name_folded")
    }
    return {
        "geometry": row.geometry,
        "properties": properties,
        "owner_org": row.properties.get("owner_org"),
    }


def _access(
    conn: Connection, collection: str, properties: dict, viewer: Viewer, current: dict | None
) -> dict:
    """`confidential` and `owner` out of the properties, as columns: the writer's organisation
    owns what it creates, and a record keeps its owner and its confidentiality unless the
    write names them (even a PUT: leaving `confidential` out must not publish a prospect);
    only an admin may name another owner (by its code)."""
    if collection not in CONFIDENTIAL:
        return {}
    confidential = properties.pop("confidential", None)
    if confidential is None:
        confidential = bool(current["properties"].get("confidential")) if current else False
    if not isinstance(confidential, bool):
        raise InvalidParameter(
            "confidential", f"{confidential!r} is not true or false", ["true", "false"]
        )
    owner = properties.pop("owner", None)
    if owner is not None and viewer.role != "admin":
        raise Forbidden("only an admin may give a record to another organisation (owner)")
    if owner is not None:
        owner_id = conn.execute(text("SELECT veta_organisation(:c)"), {"c": owner}).scalar()
        if owner_id is None:
            raise InvalidParameter("owner", f"no organisation {owner!r}")
    elif current is not None:
        owner_id = current["owner_org"]
    else:
        owner_id = viewer.organisation_id
    return {"confidential": confidential, "owner_org": owner_id}


def _refusal(exc: DBAPIError, collection: str) -> VetaError:
    """What PostgreSQL refused, told as the request's fault where it is."""
    code = getattr(exc.orig, "sqlstate", None)
    diag = getattr(exc.orig, "diag", None)
    if code == "42501":  # insufficient_privilege: a row-level security policy said no
        return Forbidden(f"your organisation and role may not write this record in {collection}")
    if code == "23505":
        return Conflict(
            f"a record with the same key exists in {collection} ({diag.message_detail if diag else ''})"
        )
    if code in ("23514", "23502", "23503", "22000", "22023", "P0001"):
        constraint = getattr(diag, "constraint_name", None) or ""
        return InvalidParameter(
            constraint.removeprefix(f"ck_{collection}_") or "body",
            getattr(diag, "message_primary", None) or "refused by the database's rules",
        )
    raise exc
