"""Vectorised parsers for dates, times, numbers and coordinates (pure Polars expressions).

Values are parsed once per *distinct* input string and mapped back: agency files repeat the
same dates and times millions of times, so this is far cheaper than parsing every row with
every candidate format.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

#: Date formats tried in order when a profile gives none. Day-first (Latin American usage).
DATETIME_FORMATS_DAYFIRST: tuple[str, ...] = (
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %I:%M %p",
    "%d/%m/%Y",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%d/%m/%y",
)
DATETIME_FORMATS_MONTHFIRST: tuple[str, ...] = tuple(
    f.replace("%d/%m", "%m/%d").replace("%d-%m", "%m-%d").replace("%d.%m", "%m.%d")
    for f in DATETIME_FORMATS_DAYFIRST
)
TIME_FORMATS: tuple[str, ...] = (
    "%H:%M:%S%.f",
    "%H:%M:%S",
    "%H:%M",
    "%I:%M:%S %p",
    "%I:%M %p",
    "%H%M",
)


_FOUR_DIGITS = r"(?:^|\D)\d{4}(?:\D|$)"


def format_precision(fmt: str) -> str:
    """The precision a date(-time) format carries: minute, hour, day, month or year."""
    if "%M" in fmt:
        return "minute"
    if "%H" in fmt or "%I" in fmt:
        return "hour"
    if "%d" in fmt or "%j" in fmt:
        return "day"
    if "%m" in fmt or "%b" in fmt or "%B" in fmt:
        return "month"
    return "year"


def _clean(values: pl.Series, take: int | None) -> pl.Series:
    out = values.cast(pl.String).str.strip_chars()
    if take:
        out = out.str.slice(0, take)
    return out.replace("", None)


def parse_datetimes(
    values: pl.Series,
    formats: Sequence[str] | None = None,
    *,
    dayfirst: bool = True,
    take: int | None = None,
) -> pl.DataFrame:
    """Parse date or date-time strings with the first format that fits each value.

    Args:
        values: strings (any dtype is cast to string; blanks count as missing).
        formats: chrono/strftime formats tried in order; defaults to a day-first set.
        dayfirst: with no formats, prefer 31/12/2023 over 12/31/2023.
        take: keep only the first ``take`` characters (for sources that append junk).

    Returns:
        A frame with ``value`` (naive Datetime[us]; offsets in the input are converted to
        UTC and marked in ``has_offset``), ``offset`` (the written offset as ``+HH:MM``;
        ``Z`` counts as ``+00:00``), ``precision`` and ``invalid`` (True where a non-blank
        value fits no format, e.g. 31/02/2023).
    """
    fmts = list(formats or (DATETIME_FORMATS_DAYFIRST if dayfirst else DATETIME_FORMATS_MONTHFIRST))
    # ISO 8601 "Z" (UTC) is not understood by %z: spell it as an offset.
    cleaned = _clean(values, take).str.replace(r"(\d)[Zz]$", "${1}+00:00")
    distinct = pl.DataFrame({"raw": cleaned.unique().drop_nulls()})
    value = pl.lit(None, dtype=pl.Datetime("us"))
    precision = pl.lit(None, dtype=pl.String)
    has_offset = pl.lit(None, dtype=pl.Boolean)
    # Build one coalesce chain; the first format that parses wins.
    parsed_cols = []
    for i, fmt in enumerate(fmts):
        if "%z" in fmt:
            expr = (
                pl.col("raw")
                .str.strptime(pl.Datetime("us", "UTC"), fmt, strict=False, exact=True)
                .dt.replace_time_zone(None)
            )
        else:
            expr = pl.col("raw").str.strptime(pl.Datetime("us"), fmt, strict=False, exact=True)
        if "%Y" in fmt:
            # chrono's %Y takes 1-4 digits: without this, "5/1/23" fits "%Y/%m/%d" as the
            # year 5 (then rejected as implausible) and "%d/%m/%y" is never tried.
            expr = pl.when(pl.col("raw").str.contains(_FOUR_DIGITS)).then(expr)
        parsed_cols.append(expr.alias(f"f{i}"))
    parsed = distinct.with_columns(parsed_cols)
    for i, fmt in reversed(list(enumerate(fmts))):
        hit = pl.col(f"f{i}").is_not_null()
        value = pl.when(hit).then(pl.col(f"f{i}")).otherwise(value)
        precision = pl.when(hit).then(pl.lit(format_precision(fmt))).otherwise(precision)
        has_offset = pl.when(hit).then(pl.lit("%z" in fmt)).otherwise(has_offset)
    lookup = parsed.select(
        "raw", value.alias("value"), precision.alias("precision"), has_offset.alias("has_offset")
    ).with_columns(
        offset=pl.when(pl.col("has_offset")).then(
            pl.col("raw").str.extract(r"([+-]\d{2}):?(\d{2})$", 1)
            + pl.lit(":")
            + pl.col("raw").str.extract(r"([+-]\d{2}):?(\d{2})$", 2)
        )
    )
    out = (
        pl.DataFrame({"raw": cleaned})
        .join(lookup, on="raw", how="left", maintain_order="left")
        .with_columns(invalid=pl.col("raw").is_not_null() & pl.col("value").is_null())
    )
    return out.select("value", "precision", "has_offset", "offset", "invalid")


def parse_times(
    values: pl.Series, formats: Sequence[str] | None = None, *, take: int | None = None
) -> pl.DataFrame:
    """Parse time-of-day strings. Returns ``value`` (Time), ``precision``, ``invalid``."""
    fmts = list(formats or TIME_FORMATS)
    cleaned = _clean(values, take)
    distinct = pl.DataFrame({"raw": cleaned.unique().drop_nulls()})
    parsed = distinct.with_columns(
        [
            pl.col("raw").str.strptime(pl.Time, fmt, strict=False).alias(f"f{i}")
            for i, fmt in enumerate(fmts)
        ]
    )
    value = pl.lit(None, dtype=pl.Time)
    precision = pl.lit(None, dtype=pl.String)
    for i, fmt in reversed(list(enumerate(fmts))):
        hit = pl.col(f"f{i}").is_not_null()
        value = pl.when(hit).then(pl.col(f"f{i}")).otherwise(value)
        precision = pl.when(hit).then(pl.lit(format_precision(fmt))).otherwise(precision)
    lookup = parsed.select("raw", value.alias("value"), precision.alias("precision"))
    return (
        pl.DataFrame({"raw": cleaned})
        .join(lookup, on="raw", how="left", maintain_order="left")
        .with_columns(invalid=pl.col("raw").is_not_null() & pl.col("value").is_null())
        .select("value", "precision", "invalid")
    )


def parse_numbers(values: pl.Series, *, decimal: str = "auto") -> pl.DataFrame:
    """Parse decimal numbers written with a point or a comma.

    ``decimal`` is ``"."``, ``","`` or ``"auto"``: with auto, a value holding both separators
    takes the last one as the decimal mark ("1.234,5" and "1,234.5" are both 1234.5) and a
    value holding only a comma takes it as the decimal mark ("19,43" is 19.43), which is how
    coordinates are written in Spanish-language spreadsheets.

    Returns ``value`` (Float64) and ``invalid`` (non-blank text that is not a number).
    """
    s = values.cast(pl.String).str.strip_chars().replace("", None)
    col = pl.col("s")
    if decimal == ".":
        norm = col.str.replace_all(",", "", literal=True)
    elif decimal == ",":
        norm = col.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
    else:
        last_comma = col.str.find(",[^,]*$")
        last_point = col.str.find(r"\.[^.]*$")
        comma_is_decimal = last_comma.is_not_null() & (
            last_point.is_null() | (last_comma > last_point)
        )
        norm = (
            pl.when(comma_is_decimal)
            .then(col.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True))
            .otherwise(col.str.replace_all(",", "", literal=True))
        )
    frame = pl.DataFrame({"s": s}).with_columns(
        value=norm.str.replace_all(r"\s", "").cast(pl.Float64, strict=False)
    )
    frame = frame.with_columns(
        value=pl.when(pl.col("value").is_finite()).then(pl.col("value")).otherwise(None)
    )
    return frame.select("value", invalid=pl.col("s").is_not_null() & pl.col("value").is_null())


def parse_integers(values: pl.Series) -> pl.DataFrame:
    """Parse whole numbers such as counts and populations, with any thousands separator.

    ``3015160``, ``3,015,160``, ``3.015.160``, ``3 015 160`` and ``12.0`` all parse; a value
    with a fractional part (``12.5``) or any other text is ``invalid``. Unlike
    :func:`parse_numbers`, a single separator followed by three digits (``1,234``) is read as
    a thousands separator, which is what it is in a count.

    Returns ``value`` (Int64) and ``invalid``.
    """
    s = values.cast(pl.String).str.strip_chars().replace("", None)
    grouped = r"^[+-]?\d{1,3}([.,\s\u00a0']\d{3})+$"
    frame = pl.DataFrame({"s": s}).with_columns(
        plain=pl.when(pl.col("s").str.contains(grouped))
        .then(pl.col("s").str.replace_all(r"[.,\s\u00a0']", ""))
        .otherwise(pl.col("s"))
    )
    as_float = frame["plain"].cast(pl.Float64, strict=False)
    whole = as_float.is_finite() & (as_float == as_float.floor()) & (as_float.abs() < 2**62)
    value = pl.select(pl.when(whole).then(as_float)).to_series().cast(pl.Int64)
    return pl.DataFrame({"value": value, "invalid": s.is_not_null() & value.is_null()})


def coordinate_problems(lon: pl.Expr, lat: pl.Expr) -> pl.Expr:
    """A reason code for coordinates that cannot be right anywhere, else null.

    Checks (0, 0) and ranges. Country and bounding-area checks need reference data and are
    done by the caller.
    """
    return (
        pl.when(lon.is_null() | lat.is_null())
        .then(None)
        .when((lon == 0) & (lat == 0))
        .then(pl.lit("coordinates_zero"))
        .when((lat.abs() > 90) | (lon.abs() > 180))
        .then(pl.lit("coordinates_out_of_range"))
        .otherwise(None)
    )
