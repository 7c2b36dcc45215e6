"""``/api/v1/incidents``: what each principal gets, filters, pages, and the audit of each read."""

from __future__ import annotations

import pytest
from tests.api.conftest import (
    GT_MP_NATIONAL,
    GT_NATIONAL,
    SV_REGIONAL,
    VISIBLE,
    World,
    assert_envelope,
    audit_entries,
)


def ids_of(world: World, url: str, user: str) -> list[int]:
    response = world.get(url, user)
    assert response.status_code == 200, response.text
    return [i["incident_id"] for i in response.json()["items"]]


@pytest.mark.parametrize("user", sorted(VISIBLE))
def test_each_user_gets_exactly_what_the_rules_allow(world: World, user: str) -> None:
    got = ids_of(world, "/api/v1/incidents?limit=1000", user)
    assert got == sorted(VISIBLE[user])  # in incident_id order
    # A hidden record is "not found", a visible one is there.
    hidden = next(i for i in (140, 101) if i not in VISIBLE[user])
    assert_envelope(world.get(f"/api/v1/incidents/{hidden}", user), 404, "not_found")
    shown = min(VISIBLE[user])
    one = world.get(f"/api/v1/incidents/{shown}", user).json()
    assert one["incident_id"] == shown


def test_admin_without_a_reading_role_is_refused(world: World) -> None:
    assert_envelope(world.get("/api/v1/incidents", "gt-admin"), 403, "forbidden")
    assert_envelope(world.get("/api/v1/incidents/101", "sv-admin"), 403, "forbidden")


def test_filters_narrow_within_what_is_visible(world: World) -> None:
    url = "/api/v1/incidents?limit=1000&country=sv"
    assert ids_of(world, url, "gt-analyst") == list(SV_REGIONAL)  # SV national stays hidden
    assert ids_of(world, "/api/v1/incidents?owner_agency=GT-MP", "gt-viewer") == list(
        GT_MP_NATIONAL
    )
    assert ids_of(world, "/api/v1/incidents?handling_code=regional", "sv-analyst") == list(
        SV_REGIONAL
    )
    assert ids_of(world, "/api/v1/incidents?iccs=05", "gt-analyst") == []
    assert len(ids_of(world, "/api/v1/incidents?iccs=04&limit=1000", "gt-analyst")) == len(
        VISIBLE["gt-analyst"]
    )
    # The world's incidents fall on March 1-28, 2024 (day = 1 + k % 28), at 15:00 UTC.
    march_2 = ids_of(
        world, "/api/v1/incidents?date_from=2024-03-02&date_to=2024-03-02", "gt-viewer"
    )
    assert GT_NATIONAL[1] in march_2 and GT_NATIONAL[0] not in march_2
    assert ids_of(world, "/api/v1/incidents?date_from=2024-04", "gt-analyst") == []
    assert ids_of(world, "/api/v1/incidents?source=TEST-GT-MP", "gt-analyst") == list(
        GT_MP_NATIONAL
    )
    error = assert_envelope(
        world.get("/api/v1/incidents?date_from=2024-05&date_to=2024-04", "gt-analyst"),
        400,
        "input_error",
    )
    assert "swap" in error["hint"]


def test_pages_follow_next_links_to_the_end(world: World) -> None:
    expected = sorted(VISIBLE["gt-analyst"])
    seen: list[int] = []
    url: str | None = "/api/v1/incidents?limit=7&iccs=04"
    pages = 0
    while url is not None:
        body = world.get(url, "gt-analyst").json()
        assert body["limit"] == 7
        seen += [i["incident_id"] for i in body["items"]]
        if body["next"] is not None:
            assert f"cursor={body['next_cursor']}" in body["next"]
            assert "iccs=04" in body["next"]  # the filters travel with the link
        url = body["next"]
        pages += 1
    assert seen == expected
    assert pages == len(expected) // 7 + 1


def test_every_read_is_audited_with_its_filter_and_ids(world: World) -> None:
    before = len(audit_entries(world.engine, "read:incidents"))
    world.get("/api/v1/incidents?country=SV&limit=5", "gt-analyst")
    world.get("/api/v1/incidents/140", "gt-analyst")  # hidden: audited all the same
    entries = audit_entries(world.engine, "read:incidents")[before:]
    assert [(e["actor"], e["agency"]) for e in entries] == [("gt-analyst", "GT-PNC")] * 2
    listing, single = entries[0]["detail"], entries[1]["detail"]
    assert listing["filter"]["countries"] == ["SV"] and listing["filter"]["limit"] == 5
    assert listing["ids"] == list(SV_REGIONAL) and listing["rows"] == 2
    assert single["filter"]["incident_ids"] == [140] and single["ids"] == []


def test_refused_reads_are_not_served(world: World) -> None:
    before = len(audit_entries(world.engine, "read:incidents"))
    assert world.get("/api/v1/incidents").status_code == 401
    assert world.get("/api/v1/incidents", "gt-admin").status_code == 403
    # Refused before the store is asked: nothing read, nothing to audit as a read.
    assert len(audit_entries(world.engine, "read:incidents")) == before
