"""Point events for spatial analysis: the events file, incidents from the store, projection.

Every spatial command works on one small frame (:data:`EVENT_SCHEMA`): a wall-clock time, WGS 84
longitude/latitude and optionally the ICCS code and place type. It comes from a plain events file
(``occurred_at,lon,lat[,iccs_code,place_type]``, CSV or Parquet) through :func:`parse_events`, or
from incidents read by the shell through :func:`events_from_incidents`.

Times are *local wall-clock* times: an ISO 8601 offset (``-06:00``) is dropped, not converted to
UTC, so that days and weeks are those of the place (a 23:30 robbery on Friday stays on Friday).
Metric work happens in a projected CRS, by default the UTM zone of the data's median point
(:func:`utm_crs`), so that distances and cell sizes are metres.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl
from pyproj import CRS, Transformer

from safestreets.errors import InputError
from safestreets.records import local_clock

__all__ = [
    "DAY_PRECISIONS",
    "EVENT_SCHEMA",
    "POINT_PRECISIONS",
    "EventsRead",
    "Projected",
    "day_of",
    "days",
    "events_from_incidents",
    "filter_events",
    "parse_events",
    "project",
    "resolve_crs",
    "utm_crs",
]

FloatArray = npt.NDArray[np.float64]

#: The event frame every spatial function reads.
EVENT_SCHEMA: Final[dict[str, pl.DataType]] = {
    "occurred_at": pl.Datetime("us"),
    "lon": pl.Float64(),
    "lat": pl.Float64(),
    "iccs_code": pl.String(),
    "place_type": pl.String(),
}
_REQUIRED: Final = ("occurred_at", "lon", "lat")
#: Location precisions fine enough to place a point in a cell.
POINT_PRECISIONS: Final = ("exact", "street")
#: Time precisions fine enough to place an event in a day.
DAY_PRECISIONS: Final = ("exact", "minute", "hour", "day")

# ISO 8601 shapes accepted after the offset is dropped; the first that parses wins.
_TIME_FORMATS: Final = (
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)
_OFFSET_RE: Final = r"(Z|[+-]\d{2}:?\d{2})$"
_EPOCH: Final = datetime(1970, 1, 1)


@dataclass(frozen=True)
class EventsRead:
    """Events parsed from a file: the usable rows and those set aside, with reasons.

    Attributes:
        events: Frame in :data:`EVENT_SCHEMA`, sorted by time.
        rejected: ``row`` (file row number), ``reason`` and the raw ``occurred_at``, ``lon``,
            ``lat`` of every row that could not be used.
    """

    events: pl.DataFrame
    rejected: pl.DataFrame

    @property
    def summary(self) -> str:
        """One line: how many events were read and how many were set aside, by reason."""
        line = f"{self.events.height:,} events"
        if self.rejected.height:
            reasons = self.rejected.group_by("reason").len().sort("len", descending=True)
            parts = ", ".join(f"{n:,} {r}" for r, n in reasons.iter_rows())
            line += f"; {self.rejected.height:,} rows set aside ({parts})"
        return line


def _parse_times(raw: pl.Expr) -> pl.Expr:
    text = raw.str.strip_chars().str.replace(_OFFSET_RE, "")
    return pl.coalesce(
        [text.str.strptime(pl.Datetime("us"), f, strict=False) for f in _TIME_FORMATS]
    )


def parse_events(table: pl.DataFrame, *, what: str = "events file") -> EventsRead:
    """Validate a plain events table (all columns text, as read) into the event frame.

    Args:
        table: Columns ``occurred_at``, ``lon``, ``lat`` and optionally ``iccs_code``,
            ``place_type`` (names are matched case-insensitively; other columns are ignored);
            an optional ``ROW`` column gives the file row numbers used in the report.
        what: How to name the input in errors.

    Returns:
        The events and the rows set aside: unparseable time, missing or non-numeric
        coordinates, coordinates outside -180..180 / -90..90, or exactly (0, 0) (the usual
        placeholder of a failed geocode).

    Raises:
        InputError: A required column is missing, or no row is usable.
    """
    lower = {c.lower().strip(): c for c in table.columns}
    missing = [c for c in _REQUIRED if c not in lower]
    if missing:
        raise InputError(
            f"{what} has no column {', '.join(missing)} (it has: {', '.join(table.columns)})",
            hint="an events file needs occurred_at (ISO 8601), lon and lat; "
            "iccs_code and place_type are optional",
        )
    row = (
        table["ROW"].cast(pl.Int64, strict=False)
        if "ROW" in table.columns
        else pl.int_range(1, table.height + 1, eager=True).alias("ROW")
    )

    def col(name: str) -> pl.Series:
        if name in lower:
            return table[lower[name]].cast(pl.String).alias(name)
        return pl.Series(name, [None] * table.height, dtype=pl.String)

    raw = pl.DataFrame(
        [row.alias("row"), *(col(c) for c in (*_REQUIRED, "iccs_code", "place_type"))]
    )
    parsed = raw.with_columns(
        t=_parse_times(pl.col("occurred_at")),
        x=pl.col("lon").str.strip_chars().str.replace(",", ".").cast(pl.Float64, strict=False),
        y=pl.col("lat").str.strip_chars().str.replace(",", ".").cast(pl.Float64, strict=False),
    )
    reason = (
        pl.when(pl.col("t").is_null())
        .then(pl.lit("unreadable occurred_at"))
        .when(pl.col("x").is_null() | pl.col("y").is_null())
        .then(pl.lit("missing or non-numeric lon/lat"))
        .when(
            ~pl.col("x").is_finite()
            | ~pl.col("y").is_finite()
            | (pl.col("x").abs() > 180)
            | (pl.col("y").abs() > 90)
        )
        .then(pl.lit("lon/lat out of range"))
        .when((pl.col("x") == 0) & (pl.col("y") == 0))
        .then(pl.lit("lon/lat at (0, 0)"))
    )
    checked = parsed.with_columns(reason=reason)
    rejected = checked.filter(pl.col("reason").is_not_null()).select(
        "row", "reason", "occurred_at", "lon", "lat"
    )
    good = checked.filter(pl.col("reason").is_null())
    if good.is_empty():
        detail = f" ({EventsRead(good, rejected).summary})" if rejected.height else ""
        raise InputError(
            f"{what} has no usable event{detail}",
            hint="occurred_at must be ISO 8601 (2024-03-01T22:15:00), lon/lat WGS 84 degrees",
        )
    events = good.select(
        occurred_at=pl.col("t"),
        lon=pl.col("x"),
        lat=pl.col("y"),
        iccs_code=pl.col("iccs_code").str.strip_chars().replace("", None),
        place_type=pl.col("place_type").str.strip_chars().str.to_lowercase().replace("", None),
    ).sort("occurred_at")
    return EventsRead(events=events, rejected=rejected)


def events_from_incidents(incidents: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """Turn canonical incidents into events, keeping only those a map can place.

    Incidents are converted to the local wall clock of their source's time zone (so days and
    weeks are the local ones); incidents located only to an admin unit or a country, without
    coordinates, or dated only to a month or year are left out and counted in the notes.

    Args:
        incidents: Canonical incident rows with at least ``occurred_at`` (UTC),
            ``lon``, ``lat``; ``source_timezone``, ``location_precision``,
            ``occurred_precision``, ``iccs_code`` and ``place_type`` are used when present.

    Returns:
        The events (:data:`EVENT_SCHEMA`, sorted by time) and plain-language notes.
    """
    notes: list[str] = []
    df = incidents
    n0 = df.height
    if "location_precision" in df.columns:
        df = df.filter(pl.col("location_precision").fill_null("exact").is_in(POINT_PRECISIONS))
        if df.height < n0:
            notes.append(
                f"{n0 - df.height:,} incidents located only to an admin unit or country left out"
            )
    n1 = df.height
    df = df.filter(pl.col("lon").is_not_null() & pl.col("lat").is_not_null())
    if df.height < n1:
        notes.append(f"{n1 - df.height:,} incidents without coordinates left out")
    n2 = df.height
    if "occurred_precision" in df.columns:
        df = df.filter(pl.col("occurred_precision").fill_null("exact").is_in(DAY_PRECISIONS))
        if df.height < n2:
            notes.append(f"{n2 - df.height:,} incidents dated only to a month or year left out")
    zones = (
        df["source_timezone"]
        if "source_timezone" in df.columns
        else pl.Series([None] * df.height, dtype=pl.String)
    )
    local = local_clock(df["occurred_at"], zones)
    out = pl.DataFrame(
        {
            "occurred_at": local.cast(pl.Datetime("us")),
            "lon": df["lon"].cast(pl.Float64),
            "lat": df["lat"].cast(pl.Float64),
            "iccs_code": df["iccs_code"] if "iccs_code" in df.columns else None,
            "place_type": df["place_type"] if "place_type" in df.columns else None,
        },
        schema=EVENT_SCHEMA,
    )
    return out.sort("occurred_at"), notes


def filter_events(
    events: pl.DataFrame,
    *,
    iccs: Sequence[str] = (),
    date_from: date | None = None,
    date_to: date | None = None,
    place_types: Sequence[str] = (),
) -> pl.DataFrame:
    """Events of some ICCS codes (at any level: a prefix), place types and dates (inclusive)."""
    df = events
    if iccs:
        codes = [c.strip() for c in iccs if c.strip()]
        cond = pl.lit(False)
        for c in codes:
            cond = cond | pl.col("iccs_code").str.starts_with(c).fill_null(False)
        df = df.filter(cond)
    if place_types:
        df = df.filter(pl.col("place_type").is_in(list(place_types)))
    if date_from is not None:
        df = df.filter(pl.col("occurred_at").dt.date() >= date_from)
    if date_to is not None:
        df = df.filter(pl.col("occurred_at").dt.date() <= date_to)
    return df


def utm_crs(lon: npt.ArrayLike, lat: npt.ArrayLike) -> CRS:
    """The UTM zone (WGS 84) of the median point: robust to a few stray coordinates."""
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        raise InputError("no finite coordinate to choose a projection from")
    mlon, mlat = float(np.median(x[ok])), float(np.median(y[ok]))
    zone = min(math.floor((mlon + 180.0) / 6.0) + 1, 60)
    return CRS.from_epsg((32600 if mlat >= 0 else 32700) + zone)


def resolve_crs(crs: str | int | CRS | None, lon: npt.ArrayLike, lat: npt.ArrayLike) -> CRS:
    """The CRS given (EPSG code, ``EPSG:xxxx``, WKT, PROJ string) or the data's UTM zone.

    Raises:
        InputError: The CRS is unknown or not projected in metres.
    """
    if crs is None or crs == "" or crs == "auto":
        return utm_crs(lon, lat)
    try:
        out = crs if isinstance(crs, CRS) else CRS.from_user_input(crs)
    except Exception as exc:
        raise InputError(
            f"unknown coordinate reference system {crs!r}",
            hint="give an EPSG code such as 32616 (UTM 16N) or leave it out for the UTM zone "
            "of the data",
        ) from exc
    unit = out.axis_info[0].unit_name if out.axis_info else ""
    if not out.is_projected or unit not in ("metre", "meter"):
        raise InputError(
            f"CRS {out.to_string()} is not projected in metres",
            hint="distances and cell sizes are metres: use a projected CRS such as a UTM zone",
        )
    return out


@dataclass(frozen=True)
class Projected:
    """Events in a metric CRS: ``x``, ``y`` in metres, ``t`` in days since 1970-01-01.

    ``t`` counts local wall-clock days, so ``floor(t)`` is the local date. ``frame`` keeps the
    events (same order) for the optional attributes.
    """

    x: FloatArray
    y: FloatArray
    t: FloatArray
    crs: CRS
    frame: pl.DataFrame = field(repr=False)

    def __len__(self) -> int:
        return len(self.x)

    def select(self, mask: npt.NDArray[np.bool_]) -> Projected:
        """The events where ``mask`` is true."""
        return Projected(
            self.x[mask], self.y[mask], self.t[mask], self.crs, self.frame.filter(pl.Series(mask))
        )


def days(occurred_at: pl.Series) -> FloatArray:
    """Wall-clock datetimes as float days since 1970-01-01."""
    us = occurred_at.cast(pl.Datetime("us")).dt.epoch("us").to_numpy()
    return us.astype(np.float64) / 86_400e6


def day_of(d: date) -> float:
    """A date as days since 1970-01-01 (the ``t`` of its midnight)."""
    return float((datetime(d.year, d.month, d.day) - _EPOCH).days)


def project(events: pl.DataFrame, crs: str | int | CRS | None = None) -> Projected:
    """Project events to metres (``crs`` or the UTM zone of the data) with times in days.

    Raises:
        InputError: No events, or an unusable CRS.
    """
    if events.is_empty():
        raise InputError(
            "no events to analyse",
            hint="check the filters (ICCS code, dates, area) or the events file",
        )
    lon = events["lon"].to_numpy().astype(np.float64)
    lat = events["lat"].to_numpy().astype(np.float64)
    target = resolve_crs(crs, lon, lat)
    tr = Transformer.from_crs(4326, target, always_xy=True)
    x, y = tr.transform(lon, lat)
    return Projected(
        x=np.asarray(x, dtype=np.float64),
        y=np.asarray(y, dtype=np.float64),
        t=days(events["occurred_at"]),
        crs=target,
        frame=events,
    )
