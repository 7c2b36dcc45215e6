"""Tests of safestreets.reference.geo."""

from __future__ import annotations

import numpy as np
import polars as pl
import pycountry
import pytest

from safestreets.errors import ReferenceError_
from safestreets.reference import geo

# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def test_countries_table() -> None:
    df = geo.countries()
    assert df["iso2"].to_list() == list(geo.COUNTRY_CODES)
    assert df.columns == [
        "iso2",
        "iso3",
        "m49",
        "name_en",
        "name_es",
        "capital",
        "utm_epsg",
        "bbox_min_lon",
        "bbox_min_lat",
        "bbox_max_lon",
        "bbox_max_lat",
    ]
    epsg = dict(zip(df["iso2"], df["utm_epsg"], strict=True))
    assert epsg["GT"] == epsg["SV"] == epsg["HN"] == 32616
    assert epsg["PA"] == 32617
    for row in df.iter_rows(named=True):
        c = pycountry.countries.get(alpha_2=row["iso2"])
        assert c is not None
        assert c.alpha_3 == row["iso3"]
        assert c.numeric == row["m49"]
        assert row["bbox_min_lon"] < row["bbox_max_lon"]
        assert row["bbox_min_lat"] < row["bbox_max_lat"]


def test_admin1_counts_and_pycountry() -> None:
    df = geo.admin1()
    assert df.height == 98
    counts = dict(df.group_by("country").len().iter_rows())
    assert counts == {"BZ": 6, "GT": 22, "SV": 14, "HN": 18, "NI": 17, "CR": 7, "PA": 14}
    assert df["iso3166_2"].n_unique() == 98
    for row in df.iter_rows(named=True):
        sub = pycountry.subdivisions.get(code=row["iso3166_2"])
        assert sub is not None, row["iso3166_2"]
        assert sub.country_code == row["country"]
    # every pycountry subdivision of the seven countries is present
    expected = {
        s.code for c in geo.COUNTRY_CODES for s in pycountry.subdivisions.get(country_code=c)
    }
    assert set(df["iso3166_2"]) == expected


def test_admin1_filter_and_unknown_country() -> None:
    assert geo.admin1("gt").height == 22
    with pytest.raises(ReferenceError_) as exc:
        geo.admin1("MX")
    assert exc.value.hint


def test_admin2_and_places_shape() -> None:
    a2 = geo.admin2()
    assert a2.columns == [
        "country",
        "admin1",
        "name",
        "alt_names",
        "national_code",
        "geonames_admin2",
        "lat",
        "lon",
        "n_places",
    ]
    assert set(a2["admin1"]) <= set(geo.admin1()["iso3166_2"])
    assert a2["geonames_admin2"].n_unique() == a2.height
    assert geo.admin2("GT").height == 340
    p = geo.places()
    assert p.height == 2230
    assert p["geonameid"].n_unique() == 2230
    assert set(p["admin1"].drop_nulls()) <= set(geo.admin1()["iso3166_2"])
    assert p.schema["population"] == pl.Int64


# ---------------------------------------------------------------------------------------------
# Outlines
# ---------------------------------------------------------------------------------------------


def test_outline_is_valid() -> None:
    for c in geo.COUNTRY_CODES:
        g = geo.country_outline(c)
        assert g.is_valid and not g.is_empty
    with pytest.raises(ReferenceError_):
        geo.country_outline("XX")


@pytest.mark.parametrize("country", geo.COUNTRY_CODES)
def test_own_points_inside_own_outline(country: str) -> None:
    frames = [
        geo.admin1(country).select("lon", "lat"),
        geo.admin2(country).select("lon", "lat"),
        geo.places(country).select("lon", "lat"),
    ]
    pts = pl.concat(frames).drop_nulls()
    inside = geo.points_in_country(country, pts["lon"].to_numpy(), pts["lat"].to_numpy())
    assert inside.all(), pts.filter(~pl.Series(inside))


def test_points_outside() -> None:
    lon = np.array([-99.13, 0.0, 14.62, -90.51, np.nan, -90.51])
    lat = np.array([19.43, 0.0, -90.51, 14.62, 14.62, np.nan])
    assert geo.points_in_country("GT", lon, lat).tolist() == [
        False,
        False,
        False,
        True,
        False,
        False,
    ]


def test_san_salvador() -> None:
    lon, lat = np.array([-89.19]), np.array([13.69])
    assert geo.points_in_country("SV", lon, lat)[0]
    assert not geo.points_in_country("HN", lon, lat)[0]
    assert geo.country_of_point(lon, lat).tolist() == ["SV"]


def test_country_of_point() -> None:
    lon = [-90.51, -87.20, -86.27, -84.08, -79.53, -88.77, -99.13, np.nan]
    lat = [14.62, 14.10, 12.14, 9.93, 8.97, 17.25, 19.43, 1.0]
    assert geo.country_of_point(lon, lat).tolist() == [
        "GT",
        "HN",
        "NI",
        "CR",
        "PA",
        "BZ",
        None,
        None,
    ]


def test_points_in_country_shape_mismatch() -> None:
    with pytest.raises(ValueError):
        geo.points_in_country("GT", np.zeros(2), np.zeros(3))


def test_points_in_country_zero_tolerance_stricter() -> None:
    # A point 3 km off the Pacific coast of Guatemala (near Puerto San José).
    lon, lat = np.array([-90.83]), np.array([13.88])
    assert geo.points_in_country("GT", lon, lat, tolerance_km=10)[0]
    assert not geo.points_in_country("GT", lon, lat, tolerance_km=0)[0]


# ---------------------------------------------------------------------------------------------
# Names and resolvers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Petén", "peten"),
        ("  Francisco   Morazán ", "francisco morazan"),
        ("Ngäbe-Buglé", "ngabe bugle"),
        ("ÑUÑOA", "nunoa"),
        ("Robo a bus/microbús.", "robo a bus microbus"),
        ("", ""),
    ],
)
def test_normalise_name(raw: str, expected: str) -> None:
    assert geo.normalise_name(raw) == expected


@pytest.mark.parametrize(
    ("country", "value", "expected"),
    [
        ("GT", "GT-GU", "GT-01"),
        ("GT", "GT-01", "GT-01"),
        ("GT", "sacatepequez", "GT-03"),
        ("GT", "Petén", "GT-17"),
        ("GT", "PETEN", "GT-17"),
        ("GT", "El Quiché", "GT-14"),
        ("GT", "Departamento de Quiché", "GT-14"),
        ("GT", "1", "GT-01"),
        ("GT", "22", "GT-22"),
        ("HN", "Francisco Morazán", "HN-FM"),
        ("HN", "francisco morazan", "HN-FM"),
        ("HN", "08", "HN-FM"),
        ("NI", "RAAN", "NI-AN"),
        ("NI", "Managua", "NI-MN"),
        ("CR", "San Jose", "CR-SJ"),
        ("CR", "1", "CR-SJ"),
        ("PA", "Guna Yala", "PA-KY"),
        ("PA", "10", "PA-KY"),  # INEC code 10 is Guna Yala ...
        ("PA", "PA-10", "PA-10"),  # ... ISO PA-10 is Panamá Oeste
        ("SV", "San Salvador", "SV-SS"),
        ("SV", "06", "SV-SS"),
        ("BZ", "Cayo District", "BZ-CY"),
        ("GT", "Atlantis", None),
        ("GT", "", None),
        ("GT", "99", None),
    ],
)
def test_resolve_admin1(country: str, value: str, expected: str | None) -> None:
    assert geo.resolve_admin1(country, value) == expected


def test_resolve_admin1_unknown_country() -> None:
    with pytest.raises(ReferenceError_):
        geo.resolve_admin1("MX", "Jalisco")


def test_resolve_admin1_series() -> None:
    s = pl.Series("dep", ["Petén", None, "peten", "GT-01", "nowhere"])
    out = geo.resolve_admin1_series("GT", s)
    assert out.name == "dep"
    assert out.dtype == pl.String
    assert out.to_list() == ["GT-17", None, "GT-17", "GT-01", None]
    empty = geo.resolve_admin1_series("GT", pl.Series("x", [], dtype=pl.String))
    assert empty.len() == 0


@pytest.mark.parametrize(
    ("country", "value", "admin1", "expected"),
    [
        ("GT", "Villa Nueva", None, "0115"),
        ("GT", "municipio de villa nueva", None, "0115"),
        ("GT", "115", None, "0115"),
        ("GT", "15", "01", "0115"),
        ("GT", "15", "Guatemala", "0115"),
        ("GT", "Villa Nueva", "Petén", None),
        ("HN", "Distrito Central", None, "0801"),
        ("CR", "Vázquez de Coronado", None, "111"),
        ("CR", "11", "San José", "111"),
        ("GT", "GT.07.101", None, "0101"),
        ("SV", "San Salvador Centro", None, "SV.10.12954160"),
        ("GT", "Nowhere", None, None),
        ("GT", "Villa Nueva", "no such department", None),
    ],
)
def test_resolve_admin2(country: str, value: str, admin1: str | None, expected: str | None) -> None:
    assert geo.resolve_admin2(country, value, admin1) == expected


def test_resolve_admin2_ambiguous_name_needs_admin1() -> None:
    # "San Pedro Sacatepéquez" exists in Guatemala (GT-01) and San Marcos (GT-12).
    assert geo.resolve_admin2("GT", "San Pedro Sacatepéquez") is None
    a = geo.resolve_admin2("GT", "San Pedro Sacatepéquez", "GT-01")
    b = geo.resolve_admin2("GT", "San Pedro Sacatepéquez", "San Marcos")
    assert a is not None and b is not None and a != b
    assert a.startswith("01") and b.startswith("12")


def test_array_shapes_preserved() -> None:
    lon = np.array([[-89.19, -90.51], [0.0, -84.08]])
    lat = np.array([[13.69, 14.62], [0.0, 9.93]])
    assert geo.country_of_point(lon, lat).tolist() == [["SV", "GT"], [None, "CR"]]
    assert geo.points_in_country("GT", lon, lat).tolist() == [[False, True], [False, False]]
    assert geo.points_in_country("GT", [-90.51], [14.62]).tolist() == [True]


def test_country_of_point_with_tolerance() -> None:
    # Just off the Gulf of Fonseca coast of Honduras: outside every bare outline.
    lon, lat = np.array([-87.5]), np.array([13.2])
    assert geo.country_of_point(lon, lat).tolist() == [None]
    assert geo.country_of_point(lon, lat, tolerance_km=10).tolist() == ["HN"]
