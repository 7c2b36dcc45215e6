"""``POST /api/v1/ingest``: upload with a profile, get the report; ownership from the uploader."""

from __future__ import annotations

import gzip
import io
from typing import Any

from sqlalchemy import select
from tests.api.conftest import World, assert_envelope, audit_entries

from safestreets.store import tables


def upload(world: World, user: str | None, data: bytes, name: str = "gt.csv", **form: str) -> Any:
    return world.client.post(
        "/api/v1/ingest",
        files={"file": (name, io.BytesIO(data), "application/octet-stream")},
        data={"profile": "safestreets-csv", **form},
        headers=world.auth(user) if user else None,
    )


def stored(world: World, prefix: str) -> list[tuple[str, str | None, str]]:
    t = tables.incident
    with world.engine.connect() as conn:
        rows = conn.execute(
            select(t.c.source_record_id, t.c.owner_agency, t.c.handling_code)
            .where(t.c.source_record_id.like(f"{prefix}%"))
            .order_by(t.c.source_record_id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_analyst_upload_is_owned_by_their_agency(world: World, csv_upload: bytes) -> None:
    response = upload(world, "gt-analyst", csv_upload, handling_code="RESTRICTED")
    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["rows_read"], report["rows_loaded"], report["rows_rejected"]) == (3, 2, 1)
    assert report["file"] == "gt.csv" and report["profile"] == "safestreets-csv"
    assert report["rejection_samples"] and report["batch_id"] is not None
    # The file claims SV-PNC and PUBLIC: the upload decides (GT-PNC, the code chosen).
    assert stored(world, "UP-") == [
        ("UP-1", "GT-PNC", "RESTRICTED"),
        ("UP-2", "GT-PNC", "RESTRICTED"),
    ]
    entry = audit_entries(world.engine, "ingest")[-1]
    assert (entry["actor"], entry["agency"], entry["target"]) == (
        "gt-analyst",
        "GT-PNC",
        f"batch:{report['batch_id']}",
    )
    assert entry["detail"]["rows_loaded"] == 2 and entry["detail"]["handling_code"] == "RESTRICTED"
    # RESTRICTED without grants: the owner agency sees them, SV does not.
    gt = world.get("/api/v1/incidents?date_from=2024-04&limit=10", "gt-viewer").json()
    assert len(gt["items"]) == 2
    sv = world.get("/api/v1/incidents?date_from=2024-04&limit=10", "sv-analyst").json()
    assert sv["items"] == []


def test_admin_may_upload_gzip_and_default_code_is_national(
    world: World, csv_upload: bytes
) -> None:
    response = upload(world, "sv-admin", gzip.compress(csv_upload), name="sv export.csv.gz")
    assert response.status_code == 201, response.text
    assert response.json()["file"] == "sv_export.csv.gz"
    assert {(o, c) for _, o, c in stored(world, "UP-")} == {("SV-PNC", "NATIONAL")}


def test_two_agencies_same_record_ids_do_not_collide(world: World, csv_upload: bytes) -> None:
    # The generic format names no agency: each uploader's agency is the rows' source, so the
    # same record ids from two agencies are two sets of records, not duplicates.
    first = upload(world, "gt-analyst", csv_upload).json()
    second = upload(world, "sv-admin", csv_upload).json()
    assert (first["source"], second["source"]) == ("GT-PNC", "SV-PNC")
    assert (first["rows_loaded"], second["rows_loaded"]) == (2, 2)
    assert second["rows_duplicate_in_store"] == 0
    owners = sorted(o for _, o, _ in stored(world, "UP-"))
    assert owners == ["GT-PNC", "GT-PNC", "SV-PNC", "SV-PNC"]
    again = upload(world, "gt-analyst", csv_upload).json()  # the same agency again: duplicates
    assert (again["rows_loaded"], again["rows_duplicate_in_store"]) == (0, 2)


def test_who_may_not_upload(world: World, csv_upload: bytes) -> None:
    error = assert_envelope(upload(world, "gt-viewer", csv_upload), 403, "forbidden")
    assert "analyst" in error["hint"]
    assert_envelope(upload(world, "sica-regional", csv_upload), 403, "forbidden")
    assert_envelope(upload(world, None, csv_upload), 401, "unauthorized")
    assert stored(world, "UP-") == []


def test_bad_uploads_answer_with_the_envelope(world: World, csv_upload: bytes) -> None:
    error = assert_envelope(
        upload(world, "gt-analyst", csv_upload, profile="../../etc/passwd"), 404, "not_found"
    )
    assert "/api/v1/profiles" in error["hint"]
    assert_envelope(
        upload(world, "gt-analyst", csv_upload, handling_code="SECRET"), 422, "invalid_request"
    )
    header_only = b"record_id,country,occurred_at,local_category\n"
    error = assert_envelope(upload(world, "gt-analyst", header_only), 400, "input_error")
    assert "no data rows" in error["message"]
    failed = audit_entries(world.engine, "ingest:failed")[-1]
    assert failed["actor"] == "gt-analyst" and "no data rows" in failed["detail"]["error"]
    assert_envelope(upload(world, "gt-analyst", b"\x00\x01", name="x.bin"), 400, "input_error")
    missing = world.client.post(
        "/api/v1/ingest", data={"profile": "safestreets-csv"}, headers=world.auth("gt-analyst")
    )
    assert_envelope(missing, 422, "invalid_request")


def test_profiles_are_listed(world: World) -> None:
    names = [p["name"] for p in world.get("/api/v1/profiles", "gt-viewer").json()["items"]]
    assert "safestreets-csv" in names and "cdmx-fgj" in names
