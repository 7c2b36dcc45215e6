"""`safestreets indicators list|show|compute` as a user meets it, on SQLite and PostgreSQL.

The read-only tests share one store per backend with the synthetic demo loaded (plus a few
hand-made homicides whose victims are only counted, one of them on New Year's Eve local time);
their figures are checked against a Polars computation from the generated frames.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, text
from tests.conftest import postgres_store, sqlite_store

from safestreets.cli.main import main
from safestreets.demo import generate_region
from safestreets.ingest.load import load_canonical
from safestreets.reference.population import country_population
from safestreets.stats.catalogue import builtin_catalogue

BOM = b"\xef\xbb\xbf"
Chunks = list[tuple[pl.DataFrame, pl.DataFrame]]


# --- data ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def chunks() -> Chunks:
    """The demo region (two years), plus homicides with counted but undescribed victims."""
    out = [(c.incidents, c.victims) for c in generate_region(seed=1, incidents=20_000, years=2)]
    inc, vic = out[0]
    template = inc.filter(
        (pl.col("country") == "GT") & pl.col("iccs_code").str.starts_with("0101")
    ).head(1)
    extra = pl.concat(
        [
            template.with_columns(
                source=pl.lit("SYNTHETIC-DEMO-GT-EXTRA"),
                source_record_id=pl.lit(f"EXTRA-{i}"),
                occurred_at=pl.lit(when, dtype=pl.Datetime("us", "UTC")),
                reported_at=pl.lit(when, dtype=pl.Datetime("us", "UTC")),
                victim_count=pl.lit(n, dtype=pl.Int32),
            )
            for i, (when, n) in enumerate(
                [
                    # 31 December 2022, 21:30 in Guatemala: three victims, none described.
                    (datetime(2023, 1, 1, 3, 30, tzinfo=UTC), 3),
                    (datetime(2023, 6, 1, 18, 0, tzinfo=UTC), 2),
                    (datetime(2023, 7, 1, 18, 0, tzinfo=UTC), None),  # unknown: one victim
                ]
            )
        ]
    )
    return [*out, (extra, vic.head(0))]


@lru_cache(maxsize=1)
def reference() -> pl.DataFrame:
    """Homicide victims per country and local year, package population and rate (Polars)."""
    inc = pl.concat([c[0] for c in chunks()])
    vic = pl.concat([c[1] for c in chunks()])
    described = vic.group_by("source_record_id").agg(n=pl.len().cast(pl.Int64))
    hom = (
        inc.filter(pl.col("iccs_code").str.starts_with("0101"))
        .join(described, on="source_record_id", how="left")
        .with_columns(
            victims=pl.when(pl.col("n").is_null())
            .then(pl.col("victim_count").cast(pl.Int64).fill_null(1))
            .otherwise(pl.max_horizontal("n", pl.col("victim_count").cast(pl.Int64).fill_null(0)))
        )
    )
    assert hom["source_timezone"].str.starts_with("America/").all()
    years = pl.concat(
        [
            part.with_columns(
                year=pl.col("occurred_at").dt.convert_time_zone(zone).dt.year(),
                utc_year=pl.col("occurred_at").dt.year(),
            )
            for (zone,), part in hom.group_by(["source_timezone"])
        ]
    )
    pop = country_population().select("country", pl.col("year").cast(pl.Int32), "population")
    local = years.group_by("country", "year").agg(pl.col("victims").sum())
    utc = years.group_by("country", year="utc_year").agg(utc_victims=pl.col("victims").sum())
    return (
        local.join(pop, on=["country", "year"], how="left")
        .join(utc, on=["country", "year"], how="left")
        .with_columns(rate=pl.col("victims") / pl.col("population") * 1e5)
        .sort("country", "year")
    )


def reference_rows(country: str) -> list[dict[str, Any]]:
    ref = reference().filter(pl.col("country") == country)
    return [
        {"period": str(y), "rate_per_100k": r} for y, r in ref.select("year", "rate").iter_rows()
    ]


def cli_url(engine: Engine) -> str:
    """A URL the CLI can use for a test engine (PostgreSQL: its own schema included)."""
    url = engine.url
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            path = conn.execute(text("SHOW search_path")).scalar_one()
        url = url.update_query_dict({"options": f"-csearch_path={path}"})
    return url.render_as_string(hide_password=False)


def _load(engine: Engine) -> None:
    load_canonical(iter(chunks()), engine, source="SYNTHETIC-DEMO", label="demo", synthetic=True)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One store per backend with the demo loaded (read-only tests share it): its CLI URL."""
    if request.param == "sqlite":
        engine = sqlite_store(tmp_path_factory.mktemp("indicators") / "t.sqlite")
        _load(engine)
        yield cli_url(engine)
        engine.dispose()
        return
    for engine in postgres_store():
        _load(engine)
        yield cli_url(engine)


# --- running the CLI -------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the CLI run in-process."""
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def compute_json(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> dict[str, Any]:
    code, out, err = run(capsys, "indicators", "compute", *args, "--format", "json", "-d", url)
    assert code == 0, err
    return json.loads(out)


def assert_one_error_line(err: str, *fragments: str) -> None:
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert lines and lines[0].startswith("error: "), err
    assert sum(line.startswith("error:") for line in lines) == 1
    assert all(line.startswith(("error:", "hint:")) for line in lines), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, err)


# --- list and show ---------------------------------------------------------------------------


def test_list_shows_every_indicator(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "indicators", "list")
    assert code == 0
    words = set(out.replace("│", " ").split())
    for ind in builtin_catalogue().indicators:
        assert ind.id in words, ind.id  # whole, not wrapped or cut by the table
    assert "Indicadores" in out
    code, out, _ = run(capsys, "indicators", "list", "--lang", "en")
    assert code == 0 and "Indicators" in out and "homicide_rate" in out


def test_show_homicide_rate(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "indicators", "show", "homicide_rate")
    assert code == 0
    assert "Tasa de homicidios intencionales (homicide_rate)" in out
    assert "0101" in out and "victims" in out and "100000" in out
    assert "SDG 16.1.1" in out
    code, out, _ = run(capsys, "indicators", "show", "homicide_rate", "--lang", "en")
    assert code == 0 and "Intentional homicide rate" in out


def test_show_unknown_indicator(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "indicators", "show", "homicide_rat")
    assert code == 2 and out == ""
    assert_one_error_line(err, "unknown indicator 'homicide_rat'")
    assert "homicide_rate" in err  # the hint lists the known ids


# --- compute ---------------------------------------------------------------------------------


def test_homicide_rate_by_country_year_matches_polars(
    loaded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = compute_json(capsys, loaded, "homicide_rate", "--by", "country,year")
    assert doc["indicator"] == "homicide_rate" and doc["by"] == ["country", "year"]
    assert doc["unit"] == "victims" and isinstance(doc["notes"], list)
    rows = doc["rows"]
    for key in ("area", "period", "count", "population", "rate_per_100k"):
        assert all(key in row for row in rows), key
    got = {(r["area"], int(r["period"])): r for r in rows}
    ref = reference()
    assert len(got) == ref.height == 14  # seven countries, two years
    for country, year, victims, population, _, rate in ref.iter_rows():
        row = got[(country, year)]
        assert row["count"] == victims, (country, year)
        assert row["population"] == population
        assert row["rate_per_100k"] == pytest.approx(rate, rel=1e-12)
        assert row["period_start"] == f"{year}-01-01" and row["annualised"] is False
    # The local year matters: counted by UTC year, some countries would differ.
    assert ref.filter(pl.col("victims") != pl.col("utc_victims")).height > 0
    gt = ref.filter((pl.col("country") == "GT") & (pl.col("year") == 2022))
    assert got[("GT", 2022)]["count"] == gt["victims"][0]


def test_csv_by_country_month_sex(
    loaded: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "F.csv"
    code, stdout, err = run(
        capsys,
        "indicators",
        "compute",
        "homicide_count",
        "--by",
        "country,month,sex",
        "--format",
        "csv",
        "--out",
        str(out),
        "-d",
        loaded,
    )
    assert code == 0, err
    assert stdout == ""
    data = out.read_bytes()
    assert data.startswith(BOM)
    frame = pl.read_csv(out, infer_schema_length=None)
    assert "wrote " in err and f"{frame.height} rows" in err
    assert {"area", "period", "sex", "count"} <= set(frame.columns)
    assert frame["period"].str.contains(r"^\d{4}-\d{2}$").all()
    # Victims counted but not described have unknown sex.
    assert set(frame["sex"].unique()) == {"female", "male", "unknown"}
    gt_dec = frame.filter(
        (pl.col("area") == "GT") & (pl.col("period") == "2022-12") & (pl.col("sex") == "unknown")
    )
    assert gt_dec["count"].item() >= 3  # the three of New Year's Eve, local time
    per_year = (
        frame.with_columns(year=pl.col("period").str.slice(0, 4).cast(pl.Int32))
        .group_by(country="area", year="year")
        .agg(pl.col("count").sum())
    )
    expected = reference().select("country", "year", count="victims")
    assert per_year.sort("country", "year").equals(expected)
    assert "Panamá".encode() in data  # accents survive, in UTF-8
    # A rate by sex needs populations by sex: the package has totals only.
    code, _, err = run(
        capsys, "indicators", "compute", "homicide_rate", "--by", "country,year,sex", "-d", loaded
    )
    assert code == 2
    assert_one_error_line(err, "no population for", "female")


def test_csv_on_stdout_has_no_bom_and_no_blank_line(
    loaded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "indicators", "compute", "homicide_rate", "--format", "csv", "-d", loaded
    )
    assert code == 0, err
    assert out.startswith("indicator,") and out.endswith('"\n') and not out.endswith("\n\n")
    frame = pl.read_csv(out.encode())
    assert frame.height == 14 and frame["count"].null_count() == 0


def test_public_json_has_disclosure_and_totals(
    loaded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = compute_json(
        capsys, loaded, "homicide_count", "--by", "admin1,year", "--where", "country=BZ", "--public"
    )
    dc = doc["disclosure_control"]
    assert dc["k"] == 5 and dc["statement"].startswith("Con control de divulgación")
    assert dc["suppressed_cells"] == sum(r["count"] is None for r in doc["rows"]) > 0
    assert all(r["disclosure_control"] == "k=5" for r in doc["rows"])
    assert not [r for r in doc["rows"] if r["count"] is not None and 0 < r["count"] < 5]
    totals = doc["totals"]
    assert totals and {t["total"] for t in totals} == {"row", "column", "grand"}
    grand = next(t for t in totals if t["total"] == "grand")
    plain = compute_json(
        capsys, loaded, "homicide_count", "--by", "admin1,year", "--where", "country=BZ"
    )
    assert grand["count"] == sum(r["count"] for r in plain["rows"])
    # The English statement with --lang en, and another k.
    doc = compute_json(
        capsys,
        loaded,
        "homicide_count",
        "--by",
        "admin1,year",
        "--where",
        "country=BZ",
        "--public",
        "--k",
        "3",
        "--lang",
        "en",
    )
    assert doc["disclosure_control"]["k"] == 3
    assert doc["disclosure_control"]["statement"].startswith("Disclosure-controlled")


def test_public_one_year_table_is_usable(loaded: str, capsys: pytest.CaptureFixture[str]) -> None:
    doc = compute_json(
        capsys,
        loaded,
        "homicide_count",
        "--by",
        "admin1",
        "--where",
        "country=BZ",
        "--from",
        "2023",
        "--to",
        "2023",
        "--public",
    )
    counts = [r["count"] for r in doc["rows"]]
    assert None in counts and any(c is not None for c in counts)


def test_public_csv_writes_totals_beside(
    loaded: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "pub.csv"
    code, _, err = run(
        capsys,
        "indicators",
        "compute",
        "homicide_count",
        "--by",
        "admin2,year",
        "--where",
        "country=BZ,CR",
        "--public",
        "--out",
        str(out),
        "-d",
        loaded,
    )
    assert code == 0, err
    cells = pl.read_csv(out, infer_schema_length=None, schema_overrides={"count": pl.Int64})
    totals = pl.read_csv(tmp_path / "pub-totals.csv", infer_schema_length=None)
    assert (tmp_path / "pub-totals.csv").read_bytes().startswith(BOM)
    assert cells.filter(pl.col("count").is_between(1, 4)).is_empty()
    assert {"total", "count"} <= set(totals.columns)


def test_unknown_country_is_an_empty_table(loaded: str, capsys: pytest.CaptureFixture[str]) -> None:
    doc = compute_json(capsys, loaded, "homicide_rate", "--where", "country=XX")
    assert doc["rows"] == [] and doc["where"] == {"country": ["XX"]}
    code, out, err = run(
        capsys, "indicators", "compute", "homicide_rate", "--where", "country=xx", "-d", loaded
    )
    assert code == 0 and "Traceback" not in err and "Tasa de homicidios" in out
    doc = compute_json(capsys, loaded, "femicide_rate", "--where", "country=XX", "--public")
    assert doc["rows"] == [] and doc["totals"] == []


def test_table_on_screen(loaded: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "indicators", "compute", "homicide_rate", "--where", "country=GT", "-d", loaded
    )
    assert code == 0, err
    assert "Tasa de homicidios intencionales" in out
    lines = [line for line in out.splitlines() if line.startswith("│ GT")]
    assert len(lines) == 2  # one row a year
    rates = {r["period"]: r["rate_per_100k"] for r in reference_rows("GT")}
    for line, (_, rate) in zip(lines, sorted(rates.items()), strict=True):
        assert f"{rate:,.2f}" in line
    assert "note:" in err  # several sources added together


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["nope_rate"], ["unknown indicator 'nope_rate'"]),
        (["homicide_rate", "--by", "country,planet"], ["unknown breakdown planet"]),
        (
            ["femicide_rate", "--by", "country,week"],
            ["femicide_rate cannot be broken down by week"],
        ),
        (["homicide_rate", "--by", "country,year,month"], ["only one period kind"]),
        (["homicide_rate", "--from", "2023-13"], ["no such date '2023-13'"]),
        (["homicide_rate", "--from", "last year"], ["cannot read the date"]),
        (["homicide_rate", "--from", "2023-06", "--to", "2023-01"], ["--from is after --to"]),
        (["homicide_rate", "--format", "xlsx"], ["--format xlsx needs --out"]),
        (["homicide_rate", "--format", "parquet"], ["--format parquet needs --out"]),
        (["homicide_rate", "--format", "xml"], ["unknown format 'xml'"]),
        (["homicide_rate", "--out", "x.txt"], ["cannot tell the format of x.txt"]),
        (["femicide_rate"], ["femicide_rate: no population for", "female"]),
        (["homicide_rate", "--by", "country", "--changes"], ["need a period in --by"]),
        (["homicide_rate", "--by", "country", "--unusual"], ["need a period in --by"]),
        (["homicide_rate", "--where", "planet=mars"], ["cannot filter on planet"]),
        (["homicide_rate", "--where", "country"], ["cannot read --where 'country'"]),
        (["homicide_rate", "--lang", "fr"], ["unknown language 'fr'"]),
        (["homicide_rate", "--public", "--k", "1"], ["k must be at least 2"]),
        # Refused as sensitive before any population is looked for.
        (["sexual_violence_rate", "--by", "admin2,year", "--public"], ["is sensitive"]),
        (["homicide_count", "--by", "admin2,year,age_group", "--public"], ["is sensitive"]),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(
    loaded: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    fragments: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may be written, even by mistake
    code, out, err = run(capsys, "indicators", "compute", *args, "-d", loaded)
    assert code == 2, (out, err)
    assert out == ""
    assert_one_error_line(err, *fragments)
    assert list(tmp_path.iterdir()) == []


def test_missing_population_hint_and_allow(loaded: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "indicators", "compute", "femicide_rate", "-d", loaded)
    assert code == 2 and "--allow-missing-population" in err
    doc = compute_json(capsys, loaded, "femicide_rate", "--allow-missing-population")
    rows = doc["rows"]
    assert len(rows) == 14 and all(r["count"] > 0 for r in rows)
    assert all(r["population"] is None and r["rate_per_100k"] is None for r in rows)
    assert all(r["value"] is None for r in rows)
    assert any("no population" in n for n in doc["notes"])


def test_user_catalogue(loaded: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    user = tmp_path / "user.yaml"
    user.write_text(
        """
indicators:
  - id: firearm_homicide_count_user
    name: {es: "Víctimas de homicidio con arma de fuego", en: Firearm homicide victims}
    description: {es: Conteo de víctimas., en: Count of victims.}
    numerator: {iccs: ["0101"], unit: victims, weapon: [firearm]}
    denominator: {none: true}
    multiplier: 1
    breakdowns: [country, year, sex]
""",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "indicators", "list", "--catalogue", str(user))
    assert code == 0 and "firearm_homicide_count_user" in out and "homicide_rate" in out
    doc = compute_json(
        capsys,
        loaded,
        "firearm_homicide_count_user",
        "--catalogue",
        str(user),
        "--by",
        "country,year",
    )
    assert doc["name"] == "Víctimas de homicidio con arma de fuego"
    firearm = {(r["area"], int(r["period"])): r["count"] for r in doc["rows"]}
    total = {(c, y): v for c, y, v in reference().select("country", "year", "victims").iter_rows()}
    assert firearm.keys() == total.keys()
    assert all(0 < firearm[key] < total[key] for key in total)
    assert "population" not in doc["rows"][0] and "rate_per_100k" not in doc["rows"][0]
    # Without the catalogue the id is unknown.
    code, _, err = run(capsys, "indicators", "compute", "firearm_homicide_count_user", "-d", loaded)
    assert code == 2
    assert_one_error_line(err, "unknown indicator")


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("indicators:\n  - id: x\n    name: [unclosed\n", ["broken.yaml", "not valid YAML"]),
        ("just a string\n", ["broken.yaml", "a catalogue is a mapping"]),
        (
            "indicators:\n  - id: Bad-Id\n    name: {es: a, en: b}\n",
            ["broken.yaml", "invalid indicator #1 (Bad-Id) at id", "id"],
        ),
        (
            "indicators:\n  - id: x\n    name: {es: a, en: b}\n    description: {es: a, en: b}\n"
            "    numerator: {iccs: ['9999'], unit: victims}\n    denominator: {none: true}\n"
            "    multiplier: 1\n    breakdowns: [country]\n",
            ["broken.yaml", "not ICCS"],
        ),
        (None, ["catalogue file not found"]),
    ],
)
def test_broken_catalogue_is_a_clear_error(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    content: str | None,
    fragments: list[str],
) -> None:
    path = tmp_path / "broken.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    for command in (["list"], ["show", "homicide_rate"], ["compute", "homicide_rate"]):
        code, out, err = run(capsys, "indicators", *command, "--catalogue", str(path))
        assert code == 2, (command, out, err)
        assert_one_error_line(err, *fragments)


def test_trend_columns(loaded: str, capsys: pytest.CaptureFixture[str]) -> None:
    doc = compute_json(
        capsys,
        loaded,
        "homicide_rate",
        "--by",
        "country,month",
        "--where",
        "country=GT,SV",
        "--yoy",
        "--changes",
        "--unusual",
    )
    rows = doc["rows"]
    assert len(rows) == 48
    for column in (
        "change_previous_period",
        "change",
        "change_pct",
        "change_direction",
        "change_description",
        "yoy_previous",
        "yoy_change_pct",
        "yoy_direction",
        "yoy_description",
        "expected",
        "expected_lower",
        "expected_upper",
        "unusual",
        "unusual_note",
    ):
        assert all(column in r for r in rows), column
    by_key = {(r["area"], r["period"]): r for r in rows}
    for (area, period), row in by_key.items():
        year, month = period.split("-")
        before = by_key.get((area, f"{int(year) - 1}-{month}"))
        if before is None:
            assert row["yoy_previous"] is None
        else:
            assert row["yoy_previous"] == before["count"]
        if period != "2022-01":
            prev_month = f"{year}-{int(month) - 1:02d}" if month != "01" else f"{int(year) - 1}-12"
            assert row["change_previous_period"] == prev_month
            assert row["change"] == row["count"] - by_key[(area, prev_month)]["count"]
    assert by_key[("GT", "2022-01")]["change_previous_period"] is None


def test_chart_svg(loaded: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    chart = tmp_path / "out.svg"
    code, out, err = run(
        capsys,
        "indicators",
        "compute",
        "homicide_rate",
        "--by",
        "country,month",
        "--where",
        "country=GT,SV",
        "--chart",
        str(chart),
        "--format",
        "csv",
        "-d",
        loaded,
    )
    assert code == 0, err
    svg = chart.read_text(encoding="utf-8")
    assert "<svg" in svg and svg.rstrip().endswith("</svg>")
    assert "wrote chart" in err
    assert out.startswith("indicator,")  # the table still goes to stdout


def test_xlsx_and_parquet_by_suffix(
    loaded: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name in ("t.xlsx", "t.parquet"):
        code, _, err = run(
            capsys, "indicators", "compute", "homicide_rate", "--out", str(tmp_path / name),
            "--public", "-d", loaded,
        )  # fmt: skip
        assert code == 0, err
    wb = load_workbook(tmp_path / "t.xlsx")
    assert wb.sheetnames == ["data", "about"]
    about = {r[0]: r[1] for r in wb["about"].iter_rows(values_only=True) if r[0]}
    assert about["indicator"] == "homicide_rate" and "totals" in about
    back = pl.read_parquet(tmp_path / "t.parquet")
    assert back.height == 14 and "disclosure_control" in back.columns
    meta = json.loads(pq.read_schema(tmp_path / "t.parquet").metadata[b"safestreets"])
    assert meta["disclosure_control"]["k"] == 5 and meta["totals"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet", "t.xlsx"]


def test_empty_store(store: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    url = cli_url(store)
    doc = compute_json(capsys, url, "homicide_rate", "--by", "country,month", "--changes")
    assert doc["rows"] == []
    doc = compute_json(capsys, url, "homicide_under18_share", "--public")
    assert doc["rows"] == [] and doc["totals"] == []
