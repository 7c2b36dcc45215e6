"""``/api/v1/hotspots/{kind}``: GeoJSON cells from the records the principal may see."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.conftest import GT_PUBLIC, VISIBLE, World, assert_envelope, audit_entries


def layer(world: World, query: str, user: str = "gt-analyst") -> dict[str, Any]:
    response = world.get(f"/api/v1/hotspots/{query}", user)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def total(fc: dict[str, Any]) -> int:
    return sum(f["properties"]["count"] for f in fc["features"])


@pytest.mark.parametrize("user", sorted(VISIBLE))
def test_counts_cover_exactly_the_visible_events(world: World, user: str) -> None:
    fc = layer(world, "counts?cell_size=1000", user)
    assert total(fc) == fc["meta"]["events"] == len(VISIBLE[user])
    assert all(f["properties"]["count"] > 0 for f in fc["features"])  # empty cells left out
    entry = audit_entries(world.engine, "read:incident_points")[-1]
    assert entry["actor"] == user and entry["detail"]["rows"] == len(VISIBLE[user])


def test_filters_and_geometry(world: World) -> None:
    fc = layer(world, "counts?country=GT&cell_size=5000&area=GT")
    assert total(fc) == len(VISIBLE["gt-analyst"]) - 2  # the two SV regional ones left out
    assert fc["meta"]["grid"]["area"] == "outline of GT"
    assert fc["meta"]["parameters"]["country"] == ["GT"]
    west, south, east, north = fc["bbox"]
    assert -90.7 < west < east < -90.3 and 14.5 < south < north < 14.8
    ring = fc["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 5
    assert all(len(str(x).split(".")[-1]) <= 6 for x in ring[0])
    # The day filter is on local dates: March 2 only.
    day = layer(world, "counts?country=GT&from=2024-03-02&to=2024-03-02")
    assert total(day) == 3  # GT national k = 1 and 29, GT public k = 1 fall on March 2
    assert layer(world, "counts?iccs=05")["features"] == []
    empty = layer(world, "counts?country=GT", "sv-analyst")
    assert empty["features"] == [] and empty["meta"]["grid"] is None
    assert "no event matches the filters" in empty["meta"]["notes"]


def test_gistar_finds_the_packed_corner(world: World) -> None:
    fc = layer(world, "gistar?country=GT&cell_size=250")
    meta = fc["meta"]
    assert meta["value"] == "gi_z" and meta["parameters"]["inference"] == "analytic"
    assert len(fc["features"]) == meta["grid"]["cells"]  # every cell, cold ones too
    hot = [f for f in fc["features"] if f["properties"]["class"] == "hot"]
    assert hot and all(f["properties"]["gi_z"] > 0 for f in hot)
    # The hot cells are where the 20 packed incidents are (within ~300 m of -90.52, 14.62).
    for f in hot:
        lon, lat = f["geometry"]["coordinates"][0][0]
        assert abs(lon + 90.52) < 0.01 and abs(lat - 14.62) < 0.01


def test_kde_layer(world: World) -> None:
    fc = layer(world, "kde?country=GT&cell_size=250&bandwidth=800&kernel=gaussian")
    params = fc["meta"]["parameters"]
    assert (params["kernel"], params["bandwidth_m"], params["bandwidth_rule"]) == (
        "gaussian",
        800.0,
        "given",
    )
    densities = [f["properties"]["density_per_km2"] for f in fc["features"]]
    assert min(densities) > 0
    peak = max(fc["features"], key=lambda f: f["properties"]["density_per_km2"])
    lon, lat = peak["geometry"]["coordinates"][0][0]
    assert abs(lon + 90.52) < 0.01 and abs(lat - 14.62) < 0.01


def test_bounds_keep_requests_small(world: World) -> None:
    error = assert_envelope(
        world.get("/api/v1/hotspots/counts?area=GT&cell_size=100", "gt-analyst"), 400, "input_error"
    )
    assert "cell_size" in error["hint"]
    error = assert_envelope(
        world.get("/api/v1/hotspots/gistar?area=GT&cell_size=2000&permutations=999", "gt-analyst"),
        400,
        "input_error",
    )
    assert "permutations=0" in error["hint"]
    for bad in ("cell_size=99", "cell_size=50001", "area=MX", "permutations=1000", "alpha=0.5"):
        assert_envelope(
            world.get(f"/api/v1/hotspots/counts?{bad}", "gt-analyst"), 422, "invalid_request"
        )


def test_public_records_do_not_open_the_layer_to_the_public(world: World) -> None:
    # PUBLIC records are published only as disclosure-controlled aggregates (the public map):
    # this record-level layer stays closed to the public and to admins without a reading role.
    assert len(GT_PUBLIC) == 6
    assert_envelope(world.get("/api/v1/hotspots/counts"), 401, "unauthorized")
    assert_envelope(world.get("/api/v1/hotspots/gistar", "gt-admin"), 403, "forbidden")
