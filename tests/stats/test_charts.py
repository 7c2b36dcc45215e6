"""Trend charts: formats, labels in both languages, limits, gaps and unusual-period markers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import matplotlib
import polars as pl
import pytest

from safestreets.errors import InputError
from safestreets.stats.charts import MAX_SERIES, trend_chart

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_NS = "{http://www.w3.org/2000/svg}"


def _frame(areas: int = 2, months: int = 12, rate: float = 1.0) -> pl.DataFrame:
    rows = []
    for a in range(areas):
        for i in range(months):
            start = date(2022 + i // 12, i % 12 + 1, 1)
            end = date(start.year + start.month // 12, start.month % 12 + 1, 1) - timedelta(1)
            rows.append(
                {
                    "area": f"Zona {a + 1}",
                    "period": f"{start:%Y-%m}",
                    "period_start": start,
                    "period_end": end,
                    "count": 10 + i + a,
                    "rate_per_100k": rate + 0.1 * i + 0.05 * a,
                    "source": "PNC Guatemala",
                }
            )
    return pl.DataFrame(rows)


def _texts(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)
    return [t.text or "" for t in root.iter(f"{SVG_NS}text")]


def test_png_bytes() -> None:
    png = trend_chart(_frame(), series="area")
    assert png.startswith(PNG_SIGNATURE)


def test_svg_in_spanish() -> None:
    texts = _texts(trend_chart(_frame(), series="area", fmt="svg", title="Robos"))
    assert "Tasa por 100 000 habitantes" in texts
    assert "Período" in texts
    assert {"Zona 1", "Zona 2", "Robos"} <= set(texts)
    assert "Fuente: PNC Guatemala" in texts
    assert any(t.startswith("ene") for t in texts)  # Spanish month on the time axis
    # y ticks run 1,0 ... 2,2: Babel's Spanish decimal comma, never a point.
    ticks = [t for t in texts if t[:1].isdigit() and len(t) <= 4]
    assert "1,2" in ticks and not any("." in t for t in ticks)


def test_svg_in_english() -> None:
    texts = _texts(trend_chart(_frame(), series="area", fmt="svg", lang="en"))
    assert {"Rate per 100,000 population", "Period", "Source: PNC Guatemala"} <= set(texts)
    assert "1.2" in texts
    counts = _texts(trend_chart(_frame(), value="count", series="area", fmt="svg", lang="en"))
    assert "Count" in counts
    assert "Número" in _texts(trend_chart(_frame(), value="count", series="area", fmt="svg"))


def test_svg_is_deterministic_and_global_settings_are_untouched() -> None:
    before = dict(matplotlib.rcParams)
    first = trend_chart(_frame(), series="area", fmt="svg")
    assert first == trend_chart(_frame(), series="area", fmt="svg")
    assert b"<dc:date>" not in first
    assert dict(matplotlib.rcParams) == before


def test_too_many_series() -> None:
    frame = _frame(areas=MAX_SERIES + 1, months=3)
    with pytest.raises(InputError, match="too many lines") as err:
        trend_chart(frame, series="area")
    assert err.value.hint and "Filter" in err.value.hint
    assert trend_chart(frame.filter(pl.col("area") != "Zona 1"), series="area")


def test_bad_format_language_and_columns() -> None:
    with pytest.raises(InputError, match="format"):
        trend_chart(_frame(), series="area", fmt="jpg")
    with pytest.raises(InputError, match="language"):
        trend_chart(_frame(), series="area", lang="pt")
    with pytest.raises(InputError, match="no column 'victims'"):
        trend_chart(_frame(), value="victims", series="area")
    with pytest.raises(InputError, match="More than one row") as err:
        trend_chart(_frame())  # two areas but no series=
    assert err.value.hint and "series=" in err.value.hint
    with pytest.raises(InputError, match="no rows"):
        trend_chart(_frame().clear(), series="area")


def test_suppressed_values_are_gaps() -> None:
    frame = _frame(areas=1).with_columns(
        pl.when(pl.col("period").is_in(["2022-03", "2022-04"]))
        .then(None)
        .otherwise(pl.col("rate_per_100k"))
        .alias("rate_per_100k")
    )
    svg = trend_chart(frame, fmt="svg")
    root = ET.fromstring(svg)
    line = next(p for p in root.iter(f"{SVG_NS}path") if "stroke: #1f77b4" in p.get("style", ""))
    assert line.get("d", "").count("M") == 2  # the line restarts after the gap
    assert trend_chart(frame.with_columns(rate_per_100k=None), fmt="png").startswith(PNG_SIGNATURE)


def test_unusual_markers_are_drawn_with_a_legend() -> None:
    frame = _frame()
    unusual = frame.select("area", "period_start").with_columns(
        flag=pl.when(pl.col("period_start") == date(2022, 6, 1))
        .then(pl.lit("high"))
        .when((pl.col("period_start") == date(2022, 9, 1)) & (pl.col("area") == "Zona 2"))
        .then(pl.lit("low"))
    )
    texts = _texts(trend_chart(frame, series="area", fmt="svg", unusual=unusual))
    assert {"Inusualmente alto", "Inusualmente bajo"} <= set(texts)
    one = frame.filter(pl.col("area") == "Zona 1")
    just_one = unusual.filter(pl.col("area") == "Zona 1").drop("area")
    texts = _texts(trend_chart(one, fmt="svg", lang="en", unusual=just_one))
    assert "Unusually high" in texts and "Unusually low" not in texts
    with pytest.raises(InputError, match="unusual frame has no column 'area'"):
        trend_chart(frame, series="area", unusual=unusual.drop("area"))
