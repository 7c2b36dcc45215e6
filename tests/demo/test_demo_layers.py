"""Synthetic GeoJSON layers and the demo writer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from safestreets.demo import LAYERS, demo_layers, write_demo
from safestreets.reference import geo


@pytest.fixture(scope="module")
def layers() -> dict[str, dict]:
    return demo_layers(seed=7)


def test_layers_are_rfc7946_feature_collections(layers: dict[str, dict]) -> None:
    assert (
        set(layers) == {"markets", "bus_stops", "bus_terminals", "schools", "bars"} == set(LAYERS)
    )
    admin1 = set(geo.admin1()["iso3166_2"])
    for name, fc in layers.items():
        assert fc["type"] == "FeatureCollection"
        assert len(fc["features"]) > 100, name
        ids = [f["properties"]["id"] for f in fc["features"]]
        assert len(set(ids)) == len(ids), name
        for f in fc["features"]:
            assert f["type"] == "Feature" and f["geometry"]["type"] == "Point"
            lon, lat = f["geometry"]["coordinates"]
            assert -93 < lon < -77 and 5 < lat < 19  # lon first
            assert round(lon, 6) == lon and round(lat, 6) == lat
            props = f["properties"]
            assert props["synthetic"] is True
            assert props["country"] in geo.COUNTRY_CODES
            assert props["admin1"] in admin1
            assert props["name"] and props["kind"]
        countries = {f["properties"]["country"] for f in fc["features"]}
        assert countries == set(geo.COUNTRY_CODES), name


def test_layer_points_lie_inside_their_country(layers: dict[str, dict]) -> None:
    for fc in layers.values():
        by_country: dict[str, list[list[float]]] = {}
        for f in fc["features"]:
            by_country.setdefault(f["properties"]["country"], []).append(
                f["geometry"]["coordinates"]
            )
        for country, coords in by_country.items():
            xy = np.array(coords)
            assert geo.points_in_country(country, xy[:, 0], xy[:, 1]).all()


def test_names_are_spanish(layers: dict[str, dict]) -> None:
    names = {name: [f["properties"]["name"] for f in fc["features"]] for name, fc in layers.items()}
    assert all(n.startswith("Mercado ") for n in names["markets"])
    assert any(n.startswith("Mercado Central de ") for n in names["markets"])
    assert all(n.startswith("Parada ") for n in names["bus_stops"])
    assert all(n.startswith("Terminal ") for n in names["bus_terminals"])
    assert "Mercado Central de Ciudad de Guatemala" in names["markets"]


def test_layers_are_deterministic_and_depend_on_the_seed(layers: dict[str, dict]) -> None:
    again = demo_layers(seed=7, countries=["SV"])
    mine = [f for f in layers["markets"]["features"] if f["properties"]["country"] == "SV"]
    assert again["markets"]["features"] == mine
    other = demo_layers(seed=8, countries=["SV"])
    assert other["markets"]["features"] != mine


def test_write_demo_writes_layers_and_readme(tmp_path: Path) -> None:
    written = write_demo(tmp_path / "demo", seed=7, countries=["BZ"])
    readme = tmp_path / "demo" / "SYNTHETIC-README.txt"
    assert written[0] == readme
    assert "SYNTHETIC" in readme.read_text(encoding="utf-8")
    for name in LAYERS:
        path = tmp_path / "demo" / "layers" / f"{name}.geojson"
        assert path in written
        fc = json.loads(path.read_text(encoding="utf-8"))
        assert fc["type"] == "FeatureCollection"
        assert {f["properties"]["country"] for f in fc["features"]} == {"BZ"}
