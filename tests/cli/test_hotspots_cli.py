"""`safestreets hotspots ...` as a user meets it: an events file or the store, JSON and files out.

The events file plants a hotspot of robberies around one market in Guatemala City over a
uniform background, with near repeats around it; each command must find what was planted.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from sqlalchemy import Engine
from tests.cli.test_indicators_cli import cli_url

from safestreets.cli.main import main

HOT = (-90.5130, 14.6420)  # the planted hotspot (lon, lat)
START = datetime(2024, 1, 1)


@lru_cache(maxsize=1)
def _events() -> pl.DataFrame:
    rng = np.random.default_rng(5)
    n_bg, n_hot = 1500, 700
    days = 280
    lon = np.r_[-90.55 + rng.uniform(0, 0.08, n_bg), HOT[0] + rng.normal(0, 0.0015, n_hot)]
    lat = np.r_[14.60 + rng.uniform(0, 0.08, n_bg), HOT[1] + rng.normal(0, 0.0015, n_hot)]
    t = rng.uniform(0, days, n_bg + n_hot)
    # Near repeats: a follow-up within 60 m and 3 days of 300 events.
    parents = rng.choice(n_bg + n_hot, 300, replace=False)
    lon = np.r_[lon, lon[parents] + rng.normal(0, 0.0004, 300)]
    lat = np.r_[lat, lat[parents] + rng.normal(0, 0.0004, 300)]
    t = np.r_[t, t[parents] + rng.uniform(0.2, 3, 300)]
    keep = t < days
    when = [START + timedelta(days=float(d)) for d in t[keep]]
    return pl.DataFrame(
        {
            "occurred_at": [w.strftime("%Y-%m-%dT%H:%M:%S") for w in when],
            "lon": np.round(lon[keep], 6),
            "lat": np.round(lat[keep], 6),
            "iccs_code": ["040111"] * int(keep.sum()),
        }
    ).sort("occurred_at")


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ev") / "robberies.csv"
    _events().write_csv(path)
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(["hotspots", *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def _near_hot(lon: float, lat: float, metres: float = 400) -> bool:
    dx = (lon - HOT[0]) * 107_000
    dy = (lat - HOT[1]) * 110_600
    return float(np.hypot(dx, dy)) < metres


def test_grid_counts_and_concentration(
    capsys: pytest.CaptureFixture[str], events_file: Path, tmp_path: Path
) -> None:
    out = run_json(
        capsys,
        "grid",
        "--events",
        str(events_file),
        "--cell-size",
        "200",
        "-o",
        str(tmp_path / "g.geojson"),
        "-o",
        str(tmp_path / "g.csv"),
    )
    assert out["events"] == _events().height
    assert out["crs"] == "EPSG:32615"
    assert out["grid"]["kind"] == "square"
    assert 0 < out["concentration"]["share_50"] < 0.2
    gj = json.loads((tmp_path / "g.geojson").read_text())
    assert gj["type"] == "FeatureCollection"
    assert len(gj["features"]) == out["grid"]["cells"]
    csv = pl.read_csv(tmp_path / "g.csv")
    assert csv["count"].sum() == out["events"]


def test_gistar_finds_the_planted_hotspot(
    capsys: pytest.CaptureFixture[str], events_file: Path, tmp_path: Path
) -> None:
    png = tmp_path / "hot.png"
    out = run_json(
        capsys,
        "gistar",
        "--events",
        str(events_file),
        "--cell-size",
        "250",
        "-o",
        str(png),
    )
    assert out["inference"] == "permutation" and out["permutations"] >= 999
    hot = out["hot_cells"]
    assert hot, "no hot cell found"
    top = hot[0]
    assert _near_hot(top["lon"], top["lat"])
    assert all(_near_hot(c["lon"], c["lat"], 1200) for c in hot)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_kde_peaks_at_the_hotspot(
    capsys: pytest.CaptureFixture[str], events_file: Path, tmp_path: Path
) -> None:
    csv = tmp_path / "kde.csv"
    out = run_json(
        capsys,
        "kde",
        "--events",
        str(events_file),
        "--cell-size",
        "100",
        "--bandwidth",
        "300",
        "--kernel",
        "gaussian",
        "-o",
        str(csv),
    )
    assert out["bandwidth_m"] == 300 and out["unit"] == "events per km²"
    frame = pl.read_csv(csv)
    peak = frame.sort("density_per_km2", descending=True).row(0, named=True)
    assert _near_hot(peak["lon"], peak["lat"], 250)
    assert frame["expected"].sum() == pytest.approx(out["events"], rel=0.05)


def test_emerging_and_nearrepeat(capsys: pytest.CaptureFixture[str], events_file: Path) -> None:
    out = run_json(
        capsys,
        "emerging",
        "--events",
        str(events_file),
        "--cell-size",
        "250",
        "--slice-days",
        "28",
    )
    assert out["slices"] == 10
    persistent = [c for c in out["cells"] if c["category"] == "persistent hot spot"]
    assert persistent and any(_near_hot(c["lon"], c["lat"]) for c in persistent)
    knox = run_json(
        capsys,
        "nearrepeat",
        "--events",
        str(events_file),
        "--distances",
        "100,400",
        "--times",
        "3,14",
        "--permutations",
        "99",
    )
    rows = {(r["distance_band"], r["time_band"]): r for r in knox["table"]}
    close = rows[("0-100", "0-3")]
    assert close["knox_ratio"] > 1.2 and close["p_value"] == pytest.approx(0.01)
    assert sum(r["observed"] for r in knox["table"]) == knox["pairs"]


def test_predict_and_backtest(
    capsys: pytest.CaptureFixture[str], events_file: Path, tmp_path: Path
) -> None:
    pred = run_json(
        capsys,
        "predict",
        "--events",
        str(events_file),
        "--cell-size",
        "250",
        "--model",
        "naive_all",
        "--coverage",
        "2",
    )
    assert pred["window"]["start"] == "2024-10-07"
    assert _near_hot(pred["top_cells"][0]["lon"], pred["top_cells"][0]["lat"])
    report = tmp_path / "bt"
    bt = run_json(
        capsys,
        "backtest",
        "--events",
        str(events_file),
        "--cell-size",
        "250",
        "--model",
        "naive_all",
        "--model",
        "naive_recent",
        "--origins",
        "8",
        "--n-boot",
        "200",
        "--out",
        str(report),
    )
    assert bt["n_origins"] == 8 and bt["models"] == ["naive_all", "naive_recent"]
    five = next(r for r in bt["table"] if r["coverage_pct"] == 5 and r["model"] == "naive_all")
    assert five["hit_rate_mean"] > 0.3 and five["pai_mean"] > 5
    assert (report / "report.md").exists()
    code, out, _ = run(capsys, "models")
    assert code == 0 and "naive_all" in out


def test_user_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], events_file: Path, tmp_path: Path
) -> None:
    stray = tmp_path / "stray.csv"
    pl.concat(
        [
            _events(),
            pl.DataFrame(
                {
                    "occurred_at": ["2024-05-01T10:00:00"],
                    "lon": [0.001],
                    "lat": [0.001],
                    "iccs_code": ["0401"],
                }
            ),
        ]
    ).write_csv(stray)
    code, _, err = run(capsys, "grid", "--events", str(stray))
    assert code == 2
    assert "far from the rest" in err and "--drop-stray" in err and "Traceback" not in err
    code, _, err = run(capsys, "grid", "--events", str(stray), "--drop-stray", "--json")
    assert code == 0
    code, _, err = run(
        capsys, "grid", "--events", str(events_file), "--cell-size", "1", "--max-cells", "1000"
    )
    assert code == 2 and "more than the limit" in err
    code, _, err = run(capsys, "predict", "--events", str(events_file), "--model", "magic")
    assert code == 2 and "unknown model" in err
    code, _, err = run(capsys, "grid", "--events", str(tmp_path / "missing.csv"))
    assert code == 2 and "Traceback" not in err
    code, _, err = run(capsys, "grid", "--events", str(events_file), "--country", "GT")
    assert code == 2 and "filter the store" in err
    code, _, err = run(capsys, "grid", "--events", str(events_file), "-o", str(tmp_path / "x.shp"))
    assert code == 2 and "unknown format" in err
    # A mistyped option is a usage error, not a traceback (Typer ships its own click).
    code, _, err = run(capsys, "predict", "--layers", "x")
    assert code == 2 and "No such option" in err and "Traceback" not in err


def test_store_input_with_filters(capsys: pytest.CaptureFixture[str], store: Engine) -> None:
    from safestreets.demo import generate_region
    from safestreets.ingest.load import load_canonical

    chunks = (
        (c.incidents, c.victims)
        for c in generate_region(seed=4, incidents=6000, years=1, countries=["GT", "SV"])
    )
    load_canonical(chunks, store, source="SYNTHETIC-DEMO", label="t", synthetic=True)
    url = cli_url(store)
    out = run_json(
        capsys,
        "grid",
        "--country",
        "SV",
        "--iccs",
        "04",
        "--cell-size",
        "2000",
        "--area",
        "SV",
        "-d",
        url,
    )
    assert out["events"] > 0 and out["crs"] == "EPSG:32616"
    code, _, err = run(capsys, "grid", "--country", "SV", "--iccs", "0999", "-d", url)
    assert code == 2 and "no event matches" in err
