"""``/api/v1/ingest`` and ``/api/v1/profiles``: upload an agency file, get its validation report.

The upload is loaded with a built-in source profile (never a path on the server), owned by
the uploader's agency and carrying the handling code chosen in the form: whatever the file
or the profile say about ownership is replaced, so no one can load records in another
agency's name. With a profile that names no agency (a format such as ``safestreets-csv``),
the uploader's agency is also the rows' ``source``. The run is audited (``ingest``, or
``ingest:failed`` with the reason).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path as FsPath
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from pydantic import BaseModel, Field

from safestreets.access.policy import Principal
from safestreets.api.auth import require_user
from safestreets.api.common import errors, ready_engine
from safestreets.errors import AccessDenied, NotFound, SafeStreetsError
from safestreets.ingest.load import ingest_file
from safestreets.ingest.profiles import Profile, builtin_profiles, load_profile
from safestreets.ingest.report import IngestReport
from safestreets.store.audit_log import append_for

__all__ = ["INGEST_ROLES", "MAX_UPLOAD", "may_ingest", "router"]

router = APIRouter(tags=["ingest"])

#: Roles that may load files (the access rules name no ingest action yet; see docs/api.md).
INGEST_ROLES = frozenset({"analyst", "admin"})
#: Largest upload accepted, in bytes.
MAX_UPLOAD = 512 * 1024 * 1024
HandlingCode = Literal["NATIONAL", "REGIONAL", "RESTRICTED", "PUBLIC"]


class _TooLarge(SafeStreetsError):
    code = "too_large"
    http_status = 413


class ProfileInfo(BaseModel):
    name: str
    title: str
    source: str
    country: str | None = Field(description="null: the country comes from a column")
    format: str | None


class ProfileList(BaseModel):
    items: list[ProfileInfo]


def may_ingest(principal: Principal) -> bool:
    """Whether ``principal`` may load files (analysts and admins of an agency)."""
    if principal.operator:
        return True
    return (
        not principal.disabled
        and principal.agency is not None
        and bool(principal.roles & INGEST_ROLES)
    )


def _require_ingest(principal: Principal = Depends(require_user)) -> Principal:
    if not may_ingest(principal):
        raise AccessDenied(
            f"{principal.name} may not load files",
            hint="loading files needs the analyst or admin role",
        )
    return principal


def _safe_name(filename: str | None) -> str:
    """The upload's base name reduced to harmless characters (its suffixes tell the format)."""
    base = FsPath(filename or "upload").name
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "upload"
    return clean[-120:]


def _profile_for(name: str, principal: Principal, handling_code: str) -> Profile:
    if name not in builtin_profiles():
        raise NotFound(
            f"no built-in profile {name!r}",
            hint="GET /api/v1/profiles lists them",
        )
    prof = load_profile(name)
    # Ownership comes from who uploads, never from the file: drop the columns that would set
    # it row by row, and make the chosen code the only one.
    columns = {k: v for k, v in prof.columns.items() if k not in ("owner_agency", "handling_code")}
    update: dict[str, object] = {
        "owner_agency": principal.agency,
        "handling_code": handling_code,
        "columns": columns,
    }
    if prof.owner_agency is None:
        # A profile that names no agency is a file format, not a source: the uploader's agency
        # recorded the rows. Otherwise two agencies' record ids would share one namespace
        # (the natural key is source + record id), and one's rows would be "duplicates" of
        # the other's.
        update["source"] = principal.agency
    return prof.model_copy(update=update)


@router.get(
    "/profiles",
    operation_id="list_profiles",
    summary="The built-in source profiles an upload can use",
    response_model=ProfileList,
    responses=errors(401),
)
def list_profiles(_: Principal = Depends(require_user)) -> ProfileList:
    items = []
    for name in builtin_profiles():
        p = load_profile(name)
        items.append(
            ProfileInfo(
                name=name, title=p.title, source=p.source, country=p.country, format=p.format
            )
        )
    return ProfileList(items=items)


@router.post(
    "/ingest",
    operation_id="ingest",
    summary="Load an agency file with a source profile; get the validation report",
    response_model=IngestReport,
    status_code=201,
    responses=errors(400, 401, 403, 404, 413),
)
def ingest(
    request: Request,
    file: UploadFile = File(description="CSV, XLSX, JSON/NDJSON or Parquet (.gz accepted)"),
    profile: str = Form(
        description="built-in profile name (GET /api/v1/profiles)",
        json_schema_extra={"enum": sorted(builtin_profiles())},
    ),
    handling_code: HandlingCode = Form("NATIONAL", description="who may see the records"),
    principal: Principal = Depends(_require_ingest),
) -> IngestReport:
    """The records are owned by the uploader's agency. Rows that fail validation are kept in
    quarantine and counted in the report; a file that cannot be read at all loads nothing.
    Analysts and admins only; audited."""
    engine = ready_engine(request)
    prof = _profile_for(profile, principal, handling_code)
    name = _safe_name(file.filename)
    detail: dict[str, object] = {
        "file": name,
        "profile": profile,
        "handling_code": handling_code,
        "owner_agency": principal.agency,
    }
    with tempfile.TemporaryDirectory(prefix="safestreets-upload-") as tmp:
        path = FsPath(tmp) / name
        size = 0
        with path.open("wb") as out:
            while block := file.file.read(1 << 20):
                size += len(block)
                if size > MAX_UPLOAD:
                    raise _TooLarge(
                        f"the upload is larger than {MAX_UPLOAD // (1024 * 1024)} MB",
                        hint="split the file, or load it with `safestreets ingest` on the server",
                    )
                out.write(block)
        try:
            report = ingest_file(path, prof, engine)
        except SafeStreetsError as exc:
            with engine.begin() as conn:
                append_for(
                    conn, principal, "ingest:failed", detail={**detail, "error": exc.message}
                )
            raise
    report.file = name  # not the temporary path
    with engine.begin() as conn:
        append_for(
            conn,
            principal,
            "ingest",
            target=f"batch:{report.batch_id}",
            detail={
                **detail,
                "rows_read": report.rows_read,
                "rows_loaded": report.rows_loaded,
                "rows_rejected": report.rows_rejected,
            },
        )
    return report
