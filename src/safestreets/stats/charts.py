"""Trend charts: one line per series over ``period_start``, labelled in Spanish or English.

Drawn with matplotlib's object API (``Figure`` with an Agg or SVG canvas), never ``pyplot``, so
no global figure state or backend choice leaks into the caller. Suppressed (null) values break
the line. SVG output is deterministic: a fixed ``svg.hashsalt``, no date in the metadata, and
text kept as text (``svg.fonttype = "none"``) so it stays searchable and translatable.
"""

from __future__ import annotations

import io
import math
import textwrap
import threading
from collections.abc import Sequence
from datetime import date
from typing import Any

import matplotlib
import numpy as np
import polars as pl
from babel.dates import format_date
from babel.numbers import format_decimal
from matplotlib import dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter

from safestreets.errors import InputError

__all__ = ["FORMATS", "MAX_SERIES", "trend_chart"]

MAX_SERIES = 12
"""More lines than this stop being readable; the caller is asked to filter."""
FORMATS = ("png", "svg")

# rc_context swaps global rcParams; the lock keeps two charts drawn at once from interleaving.
_RC_LOCK = threading.Lock()

_COLOURS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939",
]  # fmt: skip
_FLAG_STYLE = {"high": ("^", "#b2182b"), "low": ("v", "#2166ac")}

_WORDS: dict[str, dict[str, str]] = {
    "es": {
        "rate_per_100k": "Tasa por 100 000 habitantes",
        "count": "Número",
        "period": "Período",
        "source": "Fuente",
        "high": "Inusualmente alto",
        "low": "Inusualmente bajo",
        "missing": "(sin dato)",
    },
    "en": {
        "rate_per_100k": "Rate per 100,000 population",
        "count": "Count",
        "period": "Period",
        "source": "Source",
        "high": "Unusually high",
        "low": "Unusually low",
        "missing": "(missing)",
    },
}


def trend_chart(
    frame: pl.DataFrame,
    *,
    value: str = "rate_per_100k",
    series: str | None = None,
    title: str | None = None,
    lang: str = "es",
    fmt: str = "png",
    unusual: pl.DataFrame | None = None,
) -> bytes:
    """Draw ``value`` over ``period_start`` as a line chart and return PNG or SVG bytes.

    Args:
        frame: Indicator frame with ``period_start`` and ``value``; a ``source`` column, when
            present, becomes a footnote.
        value: Column to plot; "rate_per_100k" and "count" get translated axis labels.
        series: Column whose values each get a line (at most ``MAX_SERIES``); None for one.
        title: Chart title, drawn as given.
        lang: "es" (Spanish labels and number format) or "en".
        fmt: "png" or "svg".
        unusual: Output of :func:`safestreets.stats.trends.unusual_periods` for the same
            frame; periods flagged "high" or "low" get a marker.

    Returns:
        The encoded image.

    Raises:
        InputError: Unknown format or language, missing columns, too many series, or more
            than one row for a period within a series.
    """
    if fmt not in FORMATS:
        raise InputError(f"Unknown chart format {fmt!r}.", hint="Use fmt='png' or fmt='svg'.")
    if lang not in _WORDS:
        raise InputError(f"Unknown language {lang!r}.", hint="Use lang='es' or lang='en'.")
    words = _WORDS[lang]
    keys = _check(frame, value=value, series=series)
    lines = _lines(frame, value=value, series=series, keys=keys, words=words)
    marks = _marks(frame, unusual, value=value, keys=keys)

    with _RC_LOCK, matplotlib.rc_context({"svg.hashsalt": "safestreets", "svg.fonttype": "none"}):
        fig = Figure(figsize=(9, 4.8))
        canvas = FigureCanvasAgg(fig) if fmt == "png" else FigureCanvasSVG(fig)
        ax = fig.add_subplot()
        for i, (label, x, y) in enumerate(lines):
            ax.plot(
                x, y, label=label, color=_COLOURS[i % len(_COLOURS)],
                marker="o", markersize=3, linewidth=1.6,
            )  # fmt: skip
        for flag, (x, y) in marks.items():
            shape, colour = _FLAG_STYLE[flag]
            ax.scatter(x, y, marker=shape, s=70, color=colour, zorder=3, label=words[flag])

        ax.set_xlabel(words["period"])
        ax.set_ylabel(words.get(value, value))
        if title:
            ax.set_title(title)
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=10))
        ax.xaxis.set_major_formatter(_DateTicks(lang))
        ax.yaxis.set_major_formatter(_NumberTicks(lang))
        ax.grid(axis="y", color="#dddddd", linewidth=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if series is not None:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
        elif marks:
            ax.legend(loc="best", frameon=False, fontsize=8)

        bottom = 0.0
        note = _footnote(frame, words)
        if note:
            fig.text(0.01, 0.01, note, fontsize=7, color="#555555", ha="left", va="bottom")
            bottom = 0.04 + 0.03 * note.count("\n")
        fig.tight_layout(rect=(0.0, bottom, 1.0, 1.0))

        out = io.BytesIO()
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        canvas.print_figure(out, format=fmt, dpi=150 if fmt == "png" else 72, metadata=metadata)
    return out.getvalue()


def _check(frame: pl.DataFrame, *, value: str, series: str | None) -> list[str]:
    needed = ["period_start", value, *([series] if series else [])]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputError(
            f"The frame has no column {', '.join(map(repr, missing))}.",
            hint=f"Available columns: {', '.join(frame.columns)}.",
        )
    if not (frame.schema[value].is_numeric() or frame.schema[value] == pl.Null):
        raise InputError(
            f"Column {value!r} is not numeric ({frame.schema[value]}).",
            hint="Chart a count or rate column, e.g. value='rate_per_100k'.",
        )
    if frame.height == 0:
        raise InputError("Nothing to chart: the frame has no rows.", hint="Check the filters.")
    keys = [series] if series else []
    if series is not None:
        n = frame.get_column(series).n_unique()
        if n > MAX_SERIES:
            raise InputError(
                f"{n} values of {series!r} are too many lines for one chart "
                f"(at most {MAX_SERIES}).",
                hint=f"Filter the frame to the {series} values you need (e.g. the largest "
                "ones), or chart a coarser breakdown.",
            )
    if frame.select([*keys, "period_start"]).is_duplicated().any():
        raise InputError(
            "More than one row for the same period"
            + (f" and {series}." if series else "; the frame holds several series."),
            hint="Pass series= with the breakdown column, or filter to one series.",
        )
    return keys


def _lines(
    frame: pl.DataFrame, *, value: str, series: str | None, keys: list[str], words: dict[str, str]
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(legend label, x as Matplotlib dates, y with NaN for nulls) per series, sorted."""
    data = frame.select(*keys, "period_start", pl.col(value).cast(pl.Float64))
    parts = data.partition_by(keys, maintain_order=True) if keys else [data]
    out = []
    for part in parts:
        part = part.sort("period_start")
        label = "" if series is None else part[series][0]
        label = words["missing"] if label is None else str(label)
        x = mdates.date2num(part["period_start"].to_numpy())
        y = part[value].fill_null(float("nan")).to_numpy()  # NaN breaks the line
        out.append((label, x, y))
    return sorted(out, key=lambda line: line[0])


def _marks(
    frame: pl.DataFrame, unusual: pl.DataFrame | None, *, value: str, keys: list[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Positions of the flagged periods, by flag, on the plotted values."""
    if unusual is None:
        return {}
    missing = [c for c in [*keys, "period_start", "flag"] if c not in unusual.columns]
    if missing:
        raise InputError(
            f"The unusual frame has no column {', '.join(map(repr, missing))}.",
            hint="Pass the output of unusual_periods(...) computed with the same breakdown.",
        )
    flagged = (
        unusual.filter(pl.col("flag").is_in(list(_FLAG_STYLE)))
        .select(*keys, "period_start", "flag")
        .unique(maintain_order=True)
    )
    at = frame.select(*keys, "period_start", pl.col(value).cast(pl.Float64)).join(
        flagged, on=[*keys, "period_start"], how="inner", nulls_equal=True
    )
    at = at.filter(pl.col(value).is_not_null())
    out = {}
    for flag in _FLAG_STYLE:
        hits = at.filter(pl.col("flag") == flag).sort([*keys, "period_start"])
        if hits.height:
            out[flag] = (mdates.date2num(hits["period_start"].to_numpy()), hits[value].to_numpy())
    return out


def _footnote(frame: pl.DataFrame, words: dict[str, str]) -> str:
    if "source" not in frame.columns:
        return ""
    sources = sorted({str(s) for s in frame.get_column("source").drop_nulls().to_list()})
    if not sources:
        return ""
    return textwrap.fill(f"{words['source']}: {'; '.join(sources)}", width=150)


class _NumberTicks(Formatter):
    """Tick labels via Babel, with as many decimals as the tick spacing needs (1,25 / 1.25)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.decimals = 0

    def format_ticks(self, values: Sequence[float]) -> list[str]:
        self.decimals = _decimals_needed(values)
        return [self(v) for v in values]

    def __call__(self, x: float, pos: Any = None) -> str:
        pattern = "#,##0" + ("." + "0" * self.decimals if self.decimals else "")
        return format_decimal(x + 0.0, format=pattern, locale=self.lang)  # + 0.0: no "-0"


class _DateTicks(Formatter):
    """Period ticks via Babel: "2021" when every tick is a new year, else "ene 2021"."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.pattern = "MMM yyyy"

    def format_ticks(self, values: Sequence[float]) -> list[str]:
        days = [_as_date(v) for v in values]
        if all(d.month == 1 and d.day == 1 for d in days):
            self.pattern = "yyyy"
        elif all(d.day == 1 for d in days):
            self.pattern = "MMM yyyy"
        else:
            self.pattern = "d MMM yyyy"
        return [self(v) for v in values]

    def __call__(self, x: float, pos: Any = None) -> str:
        return format_date(_as_date(x), self.pattern, locale=self.lang)


def _as_date(x: float) -> date:
    return mdates.num2date(x).date()


def _decimals_needed(values: Sequence[float]) -> int:
    """Fewest decimals (up to 6) that show every tick value exactly."""
    for d in range(7):
        if all(math.isclose(round(v, d), v, rel_tol=0, abs_tol=1e-9) for v in values):
            return d
    return 6
