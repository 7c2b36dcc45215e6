"""``/api/v1/indicators``: readers get sums of what they may read; everyone else the
disclosure-controlled public table of PUBLIC records."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.conftest import World, assert_envelope, audit_entries

from safestreets.stats.catalogue import builtin_catalogue

ROBBERIES_2024 = "/api/v1/indicators/robbery_rate?by=country&from=2024&to=2024"


def counts(body: dict[str, Any]) -> dict[str, int | None]:
    return {r["country"]: r["count"] for r in body["rows"]}


def test_catalogue(world: World) -> None:
    body = world.get("/api/v1/indicators").json()
    assert [i["id"] for i in body["items"]] == [i.id for i in builtin_catalogue().indicators]
    robbery = next(i for i in body["items"] if i["id"] == "robbery_rate")
    assert robbery["unit"] == "incidents" and robbery["denominator"] == "population"
    assert robbery["name"]["en"] and robbery["name"]["es"]


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        # own agency (30 national + 1 restricted + 6 public) + GT-MP national; SV regional
        ("gt-analyst", {"GT": 38, "SV": 2}),
        ("gt-viewer", {"GT": 38, "SV": 2}),
        ("sv-analyst", {"SV": 12}),
        ("sica-regional", {"SV": 2}),
    ],
)
def test_readers_get_sums_of_what_they_may_read(
    world: World, user: str, expected: dict[str, int]
) -> None:
    body = world.get(ROBBERIES_2024, user).json()
    assert body["scope"] == "records" and body["disclosure_control"] is None
    assert counts(body) == expected
    assert all(r["rate_per_100k"] > 0 for r in body["rows"])
    entry = audit_entries(world.engine, "query:aggregates")[-1]
    assert entry["actor"] == user


@pytest.mark.parametrize("user", [None, "gt-admin"])
def test_others_get_the_public_table(world: World, user: str | None) -> None:
    body = world.get(ROBBERIES_2024, user).json()
    assert body["scope"] == "public"
    assert counts(body) == {"GT": 6}  # PUBLIC records only
    assert body["disclosure_control"]["k"] == 5
    assert "1 a 4" in body["disclosure_control"]["statement"]  # Spanish by default
    assert body["rows"][0]["disclosure_control"] == "k=5"
    assert body["totals"] is not None
    # Audited under the caller's name (the public, or the admin who asked).
    entry = audit_entries(world.engine, "query:aggregates")[-1]
    assert entry["actor"] == (user or "public")


def test_public_small_counts_are_suppressed(world: World) -> None:
    url = "/api/v1/indicators/robbery_rate?by=country,week&from=2024-03&to=2024-03&lang=en"
    body = world.get(url).json()
    assert body["disclosure_control"]["suppressed_cells"] > 0
    shown = [r["count"] for r in body["rows"]]
    assert None in shown and all(c is None or c >= 5 for c in shown)
    assert "Disclosure-controlled" in body["disclosure_control"]["statement"]
    # The reader sees the same weeks unsuppressed.
    full = world.get(url, "gt-analyst").json()
    assert all(r["count"] is not None for r in full["rows"])


def test_where_and_refusals(world: World) -> None:
    body = world.get(ROBBERIES_2024 + "&where=country=gt", "gt-analyst").json()
    assert counts(body) == {"GT": 38} and body["where"] == {"country": ["GT"]}
    error = assert_envelope(
        world.get("/api/v1/indicators/sexual_violence_rate?by=admin2"), 400, "input_error"
    )
    assert "department" in error["message"]
    assert_envelope(world.get(ROBBERIES_2024 + "&where=oops"), 400, "input_error")
    assert_envelope(
        world.get("/api/v1/indicators/robbery_rate?from=2024-13"), 422, "invalid_request"
    )
    assert_envelope(
        world.get("/api/v1/indicators/robbery_rate?from=2025&to=2024"), 400, "input_error"
    )
    assert_envelope(world.get("/api/v1/indicators/robbery_rate?lang=fr"), 422, "invalid_request")
