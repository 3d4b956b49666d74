"""POST /imports: a file imported over HTTP, exactly as `veta import` imports it, as the caller.

The upload is kept in a temporary folder under its own name (its suffix tells the format) and
run through the import pipeline on the service's writing engine: row-level security decides
what the caller may write, and an editor's import is its organisation's (confidential to it
if asked). The answer is the import report; a refused import writes nothing.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import orjson
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.errors import problem
from api.telemetry import record_rows
from geo.core.errors import Forbidden, InvalidFields, InvalidParameter, Unauthenticated
from geo.editing.records import WRITERS
from geo.io.importing.pipeline import ImportOptions, import_file
from geo.io.importing.targets import LAYERS
from geo.store.viewer import VIEWER

router = APIRouter(tags=["editing"])

# Who may import into which layer: as who may write its records one by one; the
# administrative areas only by an admin.
IMPORTERS = {**WRITERS, "admin_areas": ("admin",)}
# Problems listed in a refusal's invalid_params; all of them are in its report.
LISTED_PROBLEMS = 50


@router.post("/imports")
async def import_upload(
    request: Request,
    file: UploadFile = File(
        ...,
        description="GeoPackage, Shapefile (.zip), GeoJSON, FlatGeobuf, GeoParquet, KML or CSV.",
    ),
    layer: str = Form(..., description="deposits, permits, protection_zones or admin_areas"),
    source: str = Form(..., description="The records' source name."),
    mapping: str | None = Form(None, description="A TOML mapping (the text), or preset:NAME."),
    crs: str | None = Form(None, description="The file's CRS, overriding its own."),
    dry_run: bool = Form(False, description="Validate only; write nothing."),
    skip_invalid: bool = Form(False, description="Write the good rows, report the rest."),
    repair: bool = Form(False, description="Make invalid geometries valid, and report how."),
    replace_source: bool = Form(False, description="Delete the source's records not in the file."),
    confidential: bool = Form(False, description="The records are your organisation's alone."),
):
    """Import a file as `veta import` does: every row checked first, all or nothing (unless
    skip_invalid). 200 with the import report when written or checked (dry_run); 400 with it
    when refused."""
    viewer = VIEWER.get()
    if viewer.anonymous:
        raise Unauthenticated("importing needs a credential")
    if layer not in IMPORTERS:
        raise InvalidParameter("layer", f"unknown layer {layer!r}", list(LAYERS))
    if viewer.role not in IMPORTERS[layer]:
        raise Forbidden(f"the role {viewer.role} may not import {layer}")
    folder = Path(tempfile.mkdtemp(prefix="veta-import-"))
    try:
        path = folder / _safe_name(file.filename or "upload")
        with path.open("wb") as out:
            await run_in_threadpool(shutil.copyfileobj, file.file, out)
        mapping_spec = mapping
        if mapping is not None and not mapping.startswith("preset:"):
            (folder / "mapping.toml").write_text(mapping, encoding="utf-8")
            mapping_spec = str(folder / "mapping.toml")
        options = ImportOptions(
            path,
            layer,
            mapping_spec,
            crs,
            source,
            repair,
            skip_invalid,
            dry_run,
            replace_source,
            # An editor's records are its organisation's; the registry's and an admin's are
            # public record, unless kept confidential.
            owner=viewer.organisation_id if viewer.role == "editor" or confidential else None,
            confidential=confidential,
            imported_by=viewer.actor,
        )
        engine = request.app.state.writer
        report = await run_in_threadpool(import_file, engine, options)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    request.app.state.metrics.imported(layer, report)
    record_rows(report.rows_read)
    body = report.as_dict()
    body["file"] = file.filename
    if report.outcome == "refused":
        problems = [
            (p.field if p.row is None else f"row {p.row}: {p.field}", p.reason)
            for p in report.problems[:LISTED_PROBLEMS]
        ]
        return problem(
            400,
            "Import refused",
            f"{len(report.problems)} problem(s); nothing was written",
            "import-refused",
            str(request.url),
            **InvalidFields(problems or [("file", "refused")]).extensions(),
            # As JSON values (dates and times as text), as the answer of a written import.
            report=orjson.loads(orjson.dumps(body, default=str)),
        )
    return Response(orjson.dumps(body, default=str), media_type="application/json")


def _safe_name(name: str) -> str:
    """The upload's own name, reduced to a plain file name (its suffix tells the format)."""
    base = Path(name).name
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".") or "upload"
    return cleaned[:128]
