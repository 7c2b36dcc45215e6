"""``/api/v1/audit``: an admin's own agency's trail, the chain verification, the anchor."""

from __future__ import annotations

import json

from sqlalchemy import update
from tests.api.conftest import World, assert_envelope, audit_entries

from safestreets.access.audit import check_anchor
from safestreets.store import tables


def test_admin_sees_own_agency_trail_newest_first(world: World) -> None:
    world.get("/api/v1/incidents?limit=1", "gt-analyst")
    world.get("/api/v1/incidents?limit=1", "sv-analyst")
    body = world.get("/api/v1/audit?page_size=200", "gt-admin").json()
    items = body["items"]
    assert {e["agency"] for e in items} == {"GT-PNC"}
    seqs = [e["seq"] for e in items]
    assert seqs == sorted(seqs, reverse=True)
    actions = {(e["action"], e["actor"]) for e in items}
    assert ("read:incidents", "gt-analyst") in actions
    assert ("user:add", "operator:tests") in actions  # changes made to GT-PNC's accounts
    assert not any(e["actor"].startswith("sv-") for e in items)
    read = next(e for e in items if e["action"] == "read:incidents")
    assert read["detail"]["filter"] == {"limit": 1} and read["detail"]["rows"] == 1
    assert len(read["hash"]) == 64
    sv = world.get("/api/v1/audit?action=read:incidents", "sv-admin").json()["items"]
    assert [(e["actor"], e["agency"]) for e in sv] == [("sv-analyst", "SV-PNC")]


def test_pages_and_filters(world: World) -> None:
    for _ in range(3):
        world.get("/api/v1/incidents?limit=1", "gt-viewer")
    first = world.get("/api/v1/audit?action=read:incidents&page_size=2", "gt-admin").json()
    assert len(first["items"]) == 2 and "page=2" in first["next"]
    second = world.get(first["next"], "gt-admin").json()
    assert len(second["items"]) == 1 and second["next"] is None
    assert second["items"][0]["seq"] < first["items"][-1]["seq"]
    newest = first["items"][0]["seq"]
    url = f"/api/v1/audit?since_seq={newest - 1}&action=read:incidents"
    since = world.get(url, "gt-admin").json()
    assert [e["seq"] for e in since["items"]] == [newest]
    assert_envelope(world.get("/api/v1/audit?page=101", "gt-admin"), 422, "invalid_request")


def test_reading_the_trail_is_audited_and_refused_to_others(world: World) -> None:
    world.get("/api/v1/audit", "gt-admin")
    entry = audit_entries(world.engine, "read:audit")[-1]
    assert (entry["actor"], entry["detail"]["agency"]) == ("gt-admin", "GT-PNC")
    assert_envelope(world.get("/api/v1/audit", "gt-analyst"), 403, "forbidden")
    error = assert_envelope(world.get("/api/v1/audit?agency=SV-PNC", "gt-admin"), 403, "forbidden")
    assert "GT-PNC" in error["hint"]


def test_verify_names_the_first_break(world: World) -> None:
    ok = world.get("/api/v1/audit/verify", "gt-admin").json()
    assert ok["ok"] is True and ok["problem"] is None and ok["entries"] == ok["head_seq"]
    assert ok["message"].startswith("audit chain intact")
    assert audit_entries(world.engine, "audit:verify")[-1]["detail"]["ok"] is True
    with world.engine.begin() as conn:
        t = tables.audit_log
        conn.execute(update(t).where(t.c.seq == 3).values(actor="someone else"))
    broken = world.get("/api/v1/audit/verify", "gt-admin").json()
    assert broken["ok"] is False
    assert broken["problem"]["seq"] == 3 and broken["problem"]["kind"] == "edited"
    assert "broken at entry 3" in broken["message"]


def test_anchor_is_the_head_and_checks_later(world: World) -> None:
    anchor = world.get("/api/v1/audit/anchor", "sv-admin").json()
    line = json.loads(anchor["line"])
    assert (line["seq"], line["hash"]) == (anchor["seq"], anchor["hash"])
    world.get("/api/v1/incidents", "sv-analyst")  # history goes on
    assert check_anchor(world.engine, anchor["seq"], anchor["hash"]).ok
    assert_envelope(world.get("/api/v1/audit/anchor", "sv-analyst"), 403, "forbidden")
