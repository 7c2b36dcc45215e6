"""Where synthetic incidents happen: inside their country, concentrated, near the layers."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from safestreets.demo import demo_layers
from safestreets.reference import geo

from .conftest import Region


def _metres(
    lon: np.ndarray, lat: np.ndarray, lon0: float, lat0: float
) -> tuple[np.ndarray, np.ndarray]:
    """Local equirectangular projection around (lon0, lat0): good to ~0.1 % within 20 km."""
    k = 111_320.0
    return (lon - lon0) * k * math.cos(math.radians(lat0)), (lat - lat0) * k


def test_every_point_lies_inside_its_country(region: Region) -> None:
    for (country,), part in region.incidents.group_by(["country"]):
        inside = geo.points_in_country(str(country), part["lon"].to_numpy(), part["lat"].to_numpy())
        assert inside.all(), (country, int((~inside).sum()))


def test_coordinates_have_at_most_six_decimals(region: Region) -> None:
    for column in ("lon", "lat"):
        values = region.incidents[column].to_numpy()
        assert np.allclose(values, np.round(values, 6), rtol=0, atol=1e-9)


def test_admin_codes_are_reference_codes(region: Region) -> None:
    inc = region.incidents
    assert set(inc["admin1"]) <= set(geo.admin1()["iso3166_2"])
    a2 = geo.admin2()
    codes = set(a2["national_code"].drop_nulls()) | set(a2["geonames_admin2"])
    assert set(inc["admin2"].drop_nulls()) <= codes
    # Every country with national admin-2 codes gets them on most incidents.
    for country in ("GT", "HN", "CR", "PA"):
        part = inc.filter(pl.col("country") == country)
        assert part["admin2"].null_count() < 0.2 * part.height, country
    precision = inc["location_precision"].value_counts(normalize=True)
    share = dict(zip(precision["location_precision"], precision["proportion"], strict=True))
    assert share["exact"] > 0.75 and share["street"] > 0.02 and share["admin2"] > 0.02


def test_crime_concentrates_on_few_micro_places(guatemala: Region) -> None:
    # Guatemala City: 20 x 20 km around the largest place, 250 m cells.
    city = geo.places("GT").sort("population", descending=True).row(0, named=True)
    x, y = _metres(
        guatemala.incidents["lon"].to_numpy(),
        guatemala.incidents["lat"].to_numpy(),
        city["lon"],
        city["lat"],
    )
    keep = (np.abs(x) < 10_000) & (np.abs(y) < 10_000)
    assert keep.sum() > 3_000
    cells = np.floor(x[keep] / 250).astype(np.int64) * 1_000_000 + np.floor(y[keep] / 250).astype(
        np.int64
    )
    counts = np.sort(np.unique(cells, return_counts=True)[1])[::-1]
    top = math.ceil(0.05 * len(counts))
    assert counts[:top].sum() / counts.sum() >= 0.40


def _nearest_m(points: pl.DataFrame, layer: dict) -> np.ndarray:
    """Distance (m) from each incident to the nearest feature of a layer (same country)."""
    feats = layer["features"]
    fx = np.array([f["geometry"]["coordinates"][0] for f in feats])
    fy = np.array([f["geometry"]["coordinates"][1] for f in feats])
    px, py = points["lon"].to_numpy(), points["lat"].to_numpy()
    out = np.empty(len(px))
    for i in range(0, len(px), 500):
        dx = (
            (px[i : i + 500, None] - fx[None, :])
            * 111_320
            * np.cos(np.radians(py[i : i + 500, None]))
        )
        dy = (py[i : i + 500, None] - fy[None, :]) * 111_320
        out[i : i + 500] = np.sqrt(dx**2 + dy**2).min(axis=1)
    return out


def test_market_and_bus_robberies_cluster_around_the_layers(guatemala: Region) -> None:
    layers = demo_layers(seed=7, countries=["GT"])
    exact = guatemala.incidents.filter(
        pl.col("iccs_code").str.starts_with("0401"), pl.col("location_precision") == "exact"
    )
    market = exact.filter(pl.col("place_type") == "market")
    assert market.height > 100
    assert np.median(_nearest_m(market, layers["markets"])) < 150
    assert (_nearest_m(market, layers["markets"]) < 400).mean() > 0.95
    # On board: between two stops of a line, so within a few hundred metres of a stop.
    bus = exact.filter(pl.col("place_type") == "public_transport")
    assert bus.height > 100
    assert (_nearest_m(bus, layers["bus_stops"]) < 1_000).mean() > 0.8


def test_extortion_concentrates_in_few_neighbourhoods(guatemala: Region) -> None:
    extortion = guatemala.incidents.filter(pl.col("iccs_code") == "02051")
    assert extortion.height > 300
    city = geo.places("GT").sort("population", descending=True).row(0, named=True)
    x, y = _metres(
        extortion["lon"].to_numpy(), extortion["lat"].to_numpy(), city["lon"], city["lat"]
    )
    cells = np.floor(x / 1_000).astype(np.int64) * 1_000_000 + np.floor(y / 1_000).astype(np.int64)
    counts = np.sort(np.unique(cells, return_counts=True)[1])[::-1]
    # Fifty gang-controlled neighbourhoods in the country: their 1 km cells carry most of it.
    assert counts[:50].sum() / counts.sum() > 0.5
