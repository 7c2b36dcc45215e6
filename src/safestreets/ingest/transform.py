"""Raw chunk -> canonical incidents, victims and rejected rows (pure; no database).

Each row either becomes a canonical incident or is rejected with every reason that applies
(not only the first), so a data owner can fix a file in one pass. Problems that do not make
a record wrong (an unknown category, an unparseable time beside a valid date, an admin unit
that cannot be resolved) are loaded and counted as warnings, never dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

from safestreets import schema
from safestreets.errors import InputError, ProfileError
from safestreets.ingest.parse import (
    coordinate_problems,
    parse_datetimes,
    parse_integers,
    parse_numbers,
    parse_times,
)
from safestreets.ingest.profiles import FieldSpec, Profile
from safestreets.ingest.readers import ROW
from safestreets.ingest.reasons import Reasons
from safestreets.reference import geo, iccs

SEX_VALUES: dict[str, str] = {
    "f": "female",
    "fem": "female",
    "femenino": "female",
    "mujer": "female",
    "female": "female",
    "woman": "female",
    "masculino": "male",
    "masc": "male",
    "hombre": "male",
    "h": "male",
    "varon": "male",
    "male": "male",
    "man": "male",
    "ignorado": "unknown",
    "desconocido": "unknown",
    "no especificado": "unknown",
    "nd": "unknown",
    "n d": "unknown",
    "s d": "unknown",
    "no consta": "unknown",
    "no registrado": "unknown",
    "sd": "unknown",
    "unknown": "unknown",
    "u": "unknown",
}


@dataclass
class ChunkResult:
    """What one chunk became."""

    incidents: pl.DataFrame  # schema.INCIDENT columns + ROW
    victims: pl.DataFrame  # schema.VICTIM columns
    rejected: pl.DataFrame  # ROW, reasons (list[str]), raw (JSON text)
    warnings: Counter[str] = field(default_factory=Counter)


@dataclass
class Context:
    """Everything a chunk transform needs besides the chunk; built once per file."""

    profile: Profile
    columns: list[str]
    now: datetime
    category_overrides: pl.DataFrame | None

    @classmethod
    def build(cls, profile: Profile, columns: list[str], now: datetime | None = None) -> Context:
        missing = sorted(
            {
                s.column
                for s in profile.columns.values()
                if s.column and s.column not in columns and not s.optional
            }
            | {c for c in (profile.record_id_from or []) if c not in columns}
        )
        if missing:
            raise InputError(
                f"required column(s) missing from the file: {', '.join(missing)}",
                hint=f"the file has: {', '.join(columns[:40]) or '(no columns)'}; "
                f"fix the file or the profile {profile.name!r}",
            )
        return cls(
            profile=profile,
            columns=columns,
            now=now or datetime.now(UTC),
            category_overrides=_load_override_table(profile),
        )


def _load_override_table(profile: Profile) -> pl.DataFrame | None:
    if not profile.categories.table:
        return None
    base = profile.path.parent if profile.path else Path.cwd()
    path = (base / profile.categories.table).resolve()
    if not path.is_file():
        raise ProfileError(
            f"profile {profile.name}: category table {profile.categories.table} not found",
            hint=f"looked for {path}",
        )
    table = pl.read_csv(path, infer_schema=False)
    need = {"term", "iccs_code", "mapping_quality"}
    if not need <= set(table.columns):
        raise ProfileError(
            f"category table {path.name} needs columns {', '.join(sorted(need))}",
            hint="see docs/profiles.md",
        )
    for col in ("weapon", "place_type", "context"):
        if col not in table.columns:
            table = table.with_columns(pl.lit(None, dtype=pl.String).alias(col))
    bad = [c for c in table["iccs_code"].drop_nulls().unique() if not iccs.is_iccs_code(c)]
    if bad:
        raise ProfileError(
            f"category table {path.name} has codes that are not ICCS v1.0: {', '.join(bad[:10])}",
            hint="use codes from `safestreets iccs` / docs/reference-data.md",
        )
    return table.select("term", "iccs_code", "mapping_quality", "weapon", "place_type", "context")


def _const(value: Any, n: int, dtype: Any = None) -> pl.Series:
    """A column of ``n`` copies of ``value`` (built natively, not from a Python list)."""
    if dtype is None:
        dtype = pl.Boolean if isinstance(value, bool) else pl.String
    out: pl.Series = pl.repeat(value, n, dtype=dtype, eager=True)
    return out


def _field(spec: FieldSpec, present: set[str]) -> pl.Expr:
    expr: pl.Expr | None = None
    if spec.column is not None and spec.column not in present:
        expr = pl.lit(None, dtype=pl.String)
    elif spec.column is not None:
        expr = pl.col(spec.column).str.strip_chars().replace("", None)
    if spec.value is not None:
        const = pl.lit(spec.value, dtype=pl.String)
        expr = const if expr is None else pl.coalesce(expr, const)
    assert expr is not None
    if spec.map:
        # Keys match case-insensitively; values the map does not name are kept as written.
        mapping = {k.strip().lower(): v for k, v in spec.map.items()}
        lower = expr.str.to_lowercase()
        expr = pl.when(lower.is_in(list(mapping))).then(lower.replace(mapping)).otherwise(expr)
    return expr


def _extract(raw: pl.DataFrame, profile: Profile) -> pl.DataFrame:
    exprs = [pl.col(ROW)]
    present = set(raw.columns)
    for name, spec in profile.columns.items():
        if spec.column is not None and spec.column not in present and spec.value is None:
            continue  # an optional column this file does not have
        exprs.append(_field(spec, present).alias(name))
    return raw.select(exprs)


def _localise(naive: pl.Series, has_offset: pl.Series, tz: str) -> tuple[pl.Series, pl.Series]:
    """Local wall-clock times -> UTC. Returns (utc, mask of times shifted over a DST gap).

    A wall-clock time inside a daylight-saving gap (e.g. 02:30 on the night Mexico City
    moved its clocks forward) does not exist; it is read one hour later, as the clerk's
    clock would have shown, and counted as a warning.
    """
    frame = pl.DataFrame({"v": naive, "o": has_offset.fill_null(False)})

    def to_utc(col: pl.Expr) -> pl.Expr:
        return col.dt.replace_time_zone(
            tz, ambiguous="earliest", non_existent="null"
        ).dt.convert_time_zone("UTC")

    out = frame.select(
        utc=pl.when(pl.col("o"))
        .then(pl.col("v").dt.replace_time_zone("UTC"))
        .otherwise(pl.coalesce(to_utc(pl.col("v")), to_utc(pl.col("v").dt.offset_by("1h")))),
        gap=~pl.col("o") & pl.col("v").is_not_null() & to_utc(pl.col("v")).is_null(),
    )
    return out["utc"], out["gap"]


def _occurred(ex: pl.DataFrame, profile: Profile) -> tuple[pl.DataFrame, Counter[str]]:
    warnings: Counter[str] = Counter()
    cols = profile.columns
    name = "occurred_at" if "occurred_at" in cols else "occurred_date"
    spec = cols[name]
    d = parse_datetimes(ex[name], spec.formats, dayfirst=profile.dates.dayfirst, take=spec.take)
    naive, precision, offset, invalid = d["value"], d["precision"], d["has_offset"], d["invalid"]
    raw_present = ex[name].is_not_null()
    if name == "occurred_date" and "occurred_time" in cols:
        tspec = cols["occurred_time"]
        t = parse_times(ex["occurred_time"], tspec.formats, take=tspec.take)
        warnings["invalid_time"] += int(t["invalid"].sum())
        has_time = t["value"].is_not_null() & (precision == "day").fill_null(False)
        combined = pl.DataFrame({"d": naive, "t": t["value"], "h": has_time}).select(
            v=pl.when(pl.col("h"))
            .then(pl.col("d").dt.date().dt.combine(pl.col("t")))
            .otherwise(pl.col("d"))
        )["v"]
        precision = pl.select(
            pl.when(has_time).then(t["precision"]).otherwise(precision)
        ).to_series()
        naive = combined
    utc, nonexistent = _localise(naive, offset, profile.timezone)
    # A time written with its offset says where its clock was: keep that, not the profile's zone.
    tz = pl.select(
        pl.when(d["offset"].is_not_null())
        .then(pl.lit("UTC") + d["offset"].replace("+00:00", ""))
        .otherwise(pl.lit(profile.timezone))
    ).to_series()
    out = pl.DataFrame(
        {
            "occurred_at": utc,
            "source_timezone": tz,
            "occurred_precision": precision,
            "_date_missing": ~raw_present,
            "_date_invalid": invalid,
            "_nonexistent": nonexistent,
        }
    )
    return out, warnings


def _coordinates(ex: pl.DataFrame, profile: Profile, country: pl.Series) -> pl.DataFrame:
    """Parsed lon/lat (WGS84) and a reason code per row where they cannot be right."""
    n = ex.height
    if "lon" not in ex.columns:
        return pl.DataFrame(
            {
                "lon": _const(None, n, pl.Float64),
                "lat": _const(None, n, pl.Float64),
                "_coord_reason": _const(None, n, pl.String),
            }
        )
    opts = profile.coordinates
    x = parse_numbers(ex["lon"], decimal=opts.decimal)
    y = parse_numbers(ex["lat"], decimal=opts.decimal)
    lon, lat = x["value"].to_numpy().copy(), y["value"].to_numpy().copy()
    invalid_text = (x["invalid"] | y["invalid"]).to_numpy()
    if opts.crs.upper() not in ("EPSG:4326", "WGS84", "OGC:CRS84"):
        from pyproj import Transformer
        from pyproj.exceptions import CRSError

        try:
            tr = Transformer.from_crs(opts.crs, "EPSG:4326", always_xy=True)
        except CRSError:
            raise ProfileError(
                f"profile {profile.name}: unknown coordinate system {opts.crs!r}",
                hint="use an EPSG code such as EPSG:32616",
            ) from None
        ok = ~np.isnan(lon) & ~np.isnan(lat)
        lon[ok], lat[ok] = tr.transform(lon[ok], lat[ok])
    frame = pl.DataFrame({"lon": lon, "lat": lat}).with_columns(
        pl.col("lon").fill_nan(None), pl.col("lat").fill_nan(None)
    )
    basic = frame.select(r=coordinate_problems(pl.col("lon"), pl.col("lat")))["r"]
    has_lon = frame["lon"].is_not_null().to_numpy()
    has_lat = frame["lat"].is_not_null().to_numpy()
    present = has_lon & has_lat
    half = has_lon ^ has_lat
    # Out-of-range points are checked too: lat -90.5 / lon 14.6 is a swapped pair, not noise.
    zero = (basic == "coordinates_zero").fill_null(False).to_numpy()
    to_check = present & ~zero & ~invalid_text
    inside = np.ones(n, dtype=bool)
    swapped_inside = np.zeros(n, dtype=bool)
    area_reason = "outside_country"
    if to_check.any():
        if opts.bounds is not None:
            b = opts.bounds
            inside = (lon >= b[0]) & (lon <= b[2]) & (lat >= b[1]) & (lat <= b[3])
            swapped_inside = (lat >= b[0]) & (lat <= b[2]) & (lon >= b[1]) & (lon <= b[3])
            area_reason = "outside_bounds"
        else:
            ctry = country.fill_null("").to_numpy()
            for code in np.unique(ctry[to_check]):
                if code not in geo.COUNTRY_CODES:
                    continue  # No outline for other countries: only the range checks apply.
                sel = to_check & (ctry == code)
                tol = opts.tolerance_km
                inside[sel] = geo.points_in_country(code, lon[sel], lat[sel], tolerance_km=tol)
                swapped_inside[sel] = geo.points_in_country(
                    code, lat[sel], lon[sel], tolerance_km=tol
                )
    bad = pl.Series(to_check & ~inside)
    swapped = pl.Series(swapped_inside)
    reason = pl.select(
        pl.when(pl.Series(invalid_text))
        .then(pl.lit("invalid_coordinates"))
        .when(pl.Series(half))
        .then(pl.lit("incomplete_coordinates"))
        .when(pl.Series(zero))
        .then(basic)
        .when(bad & swapped)
        .then(pl.lit("coordinates_swapped"))
        .when(basic.is_not_null())
        .then(basic)
        .when(bad)
        .then(pl.lit(area_reason))
        .when(pl.lit(opts.required) & pl.Series(~present))
        .then(pl.lit("missing_coordinates"))
        .otherwise(None)
    ).to_series()
    # Rejected coordinates are not kept on the canonical row (the raw row is in quarantine).
    return frame.with_columns(_coord_reason=reason)


_COUNTRY_ALIASES: dict[str, str] | None = None


def _country_aliases() -> dict[str, str]:
    global _COUNTRY_ALIASES
    if _COUNTRY_ALIASES is None:
        import pycountry

        aliases: dict[str, str] = {}
        for c in pycountry.countries:
            aliases[c.alpha_2.lower()] = c.alpha_2
            aliases[c.alpha_3.lower()] = c.alpha_2
            aliases[geo.normalise_name(c.name)] = c.alpha_2
        for row in geo.countries().iter_rows(named=True):
            aliases[geo.normalise_name(row["name_es"])] = row["iso2"]
            aliases[geo.normalise_name(row["name_en"])] = row["iso2"]
        _COUNTRY_ALIASES = aliases
    return _COUNTRY_ALIASES


def _resolve_country(values: pl.Series) -> pl.Series:
    aliases = _country_aliases()
    distinct = values.drop_nulls().unique().to_list()
    mapping = {v: aliases.get(geo.normalise_name(v)) for v in distinct}
    return values.replace_strict(mapping, default=None, return_dtype=pl.String)


def _categories(ex: pl.DataFrame, ctx: Context, country: str | None) -> pl.DataFrame:
    from safestreets.reference import categories as cats

    n = ex.height
    if "local_category" in ex.columns:
        values = ex["local_category"]
        if ctx.profile.categories.builtin:
            mapped = cats.map_categories(values, country=country, overrides=ctx.category_overrides)
        else:
            mapped = _map_with_table(values, ctx.category_overrides)
    else:
        mapped = pl.DataFrame(
            {
                "local_category": _const(None, n, pl.String),
                "iccs_code": _const(None, n, pl.String),
                "mapping_quality": _const(None, n, pl.String),
                "weapon": _const(None, n, pl.String),
                "place_type": _const(None, n, pl.String),
                "context": _const(None, n, pl.String),
            }
        )
    if "iccs_code" in ex.columns:  # The source already classifies with ICCS: that wins.
        given = ex["iccs_code"].str.replace_all(r"[\s.]", "")
        valid = given.map_elements(iccs.is_iccs_code, return_dtype=pl.Boolean).fill_null(False)
        mapped = mapped.with_columns(_unknown_code=given.is_not_null() & ~valid)
        mapped = mapped.with_columns(
            iccs_code=pl.when(valid).then(given).otherwise(pl.col("iccs_code")),
            mapping_quality=pl.when(valid)
            .then(pl.lit("exact"))
            .otherwise(pl.col("mapping_quality")),
        )
    return mapped


def _map_with_table(values: pl.Series, table: pl.DataFrame | None) -> pl.DataFrame:
    frame = pl.DataFrame({"local_category": values})
    if table is None:
        return frame.with_columns(
            [
                pl.lit(None, dtype=pl.String).alias(c)
                for c in ("iccs_code", "mapping_quality", "weapon", "place_type", "context")
            ]
        )
    keyed = table.with_columns(
        key=pl.col("term").map_elements(geo.normalise_name, return_dtype=pl.String)
    )
    keyed = keyed.unique("key", keep="first").drop("term")
    distinct = pl.DataFrame({"local_category": values.unique().drop_nulls()}).with_columns(
        key=pl.col("local_category").map_elements(geo.normalise_name, return_dtype=pl.String)
    )
    lookup = distinct.join(keyed, on="key", how="left").drop("key")
    return frame.join(lookup, on="local_category", how="left", maintain_order="left")


def _controlled(values: pl.Expr, allowed: tuple[str, ...], fallback: str) -> pl.Expr:
    return (
        pl.when(values.is_null())
        .then(None)
        .when(values.is_in(list(allowed)))
        .then(values)
        .otherwise(pl.lit(fallback))
    )


#: incident_id: the top 63 bits of MD5(source, US, record id), as a signed 64-bit integer.
_ID_SQL = "(md5_number_upper({source} || chr(31) || {rid}) >> 1)::BIGINT"


def _sql_text(value: str) -> str:
    """A SQL string literal (DuckDB's relational API takes no parameters)."""
    return "'" + value.replace("'", "''") + "'"


def record_identity(
    source: str, frame: pl.DataFrame, *, id_column: str | None, content_columns: list[str]
) -> pl.DataFrame:
    """``source_record_id`` and ``incident_id`` for every row, in one DuckDB pass.

    The record id is the source's own (``id_column``) or, for sources that give none,
    ``md5:<hex>`` of the row's content (two rows with identical content are then duplicates).
    ``incident_id`` is the top 63 bits of MD5(source, US, source_record_id): the same record
    from the same source always gets the same id, which makes re-runs idempotent without a
    lookup table; the loader checks that a clash on the id is a true duplicate (same source
    and record id), not a hash collision. MD5 is used as a stable fingerprint, not for
    security; DuckDB computes it natively (Polars' own hash is not stable across versions).
    """
    con = duckdb.connect()
    try:
        con.register("f", frame.to_arrow())
        if id_column is not None:
            rid = f"coalesce(\"{id_column}\", '')"
        else:
            parts = ", ".join(f'coalesce("{c}", chr(0))' for c in content_columns)
            rid = f"'md5:' || md5(concat_ws(chr(31), {parts}))"
        sql = f"""
            select rid as source_record_id,
                   {_ID_SQL.format(source=_sql_text(source), rid="rid")} as incident_id
            from (select {rid} as rid from f)
        """
        result = con.sql(sql).to_arrow_table()
        return pl.DataFrame(pl.from_arrow(result))
    finally:
        con.close()


def incident_ids(source: pl.Series, source_record_id: pl.Series) -> pl.Series:
    """``incident_id`` for given sources and record ids (see :func:`record_identity`)."""
    con = duckdb.connect()
    try:
        con.register("f", pl.DataFrame({"s": source, "r": source_record_id}).to_arrow())
        sql = f"select {_ID_SQL.format(source='s', rid='r')} as id from f"
        return pl.DataFrame(pl.from_arrow(con.sql(sql).to_arrow_table()))["id"]
    finally:
        con.close()


#: Required fields whose absence is checked by their own rules (date, label, coordinates).
_REQUIRED_ELSEWHERE = frozenset(
    {"occurred_at", "occurred_date", "local_category", "iccs_code", "lon", "lat", "coordinates"}
)


def _by_country(
    ex: pl.DataFrame, country: pl.Series, fn: Callable[[str | None, pl.DataFrame], pl.DataFrame]
) -> pl.DataFrame:
    """Apply ``fn(country, rows)`` to the rows of each country; results in the original order.

    Category tables and admin-unit names are country-specific (Costa Rica's "robo" is not
    Guatemala's), so a file whose country comes from a column is mapped country by country.
    """
    distinct = country.unique()
    if distinct.len() <= 1:
        return fn(distinct[0] if distinct.len() else None, ex)
    frame = ex.with_columns(_c=country, _i=pl.int_range(ex.height, dtype=pl.Int64))
    parts = []
    for (code,), part in frame.group_by("_c", maintain_order=True):
        out = fn(code if isinstance(code, str) else None, part.drop("_c", "_i"))
        parts.append(out.with_columns(_i=part["_i"]))
    return pl.concat(parts, how="diagonal_relaxed").sort("_i").drop("_i")


def _admin_units(code: str | None, ex: pl.DataFrame) -> pl.DataFrame:
    """Admin-1 as ISO 3166-2 and admin-2 as national codes where the reference knows them."""
    n = ex.height
    admin1 = ex["admin1"] if "admin1" in ex.columns else _const(None, n, pl.String)
    admin2 = ex["admin2"] if "admin2" in ex.columns else _const(None, n, pl.String)
    unresolved1 = unresolved2 = _const(False, n)
    if code in geo.COUNTRY_CODES:
        resolved1 = geo.resolve_admin1_series(code, admin1)
        unresolved1 = admin1.is_not_null() & resolved1.is_null()
        admin1 = resolved1.fill_null(admin1)
        if admin2.null_count() < n:
            pairs = pl.DataFrame({"a1": admin1, "a2": admin2}).unique().drop_nulls("a2")
            lookup = {
                (a1, a2): geo.resolve_admin2(
                    code, a2, a1 if a1 and a1.startswith(code + "-") else None
                )
                for a1, a2 in pairs.iter_rows()
            }
            resolved2 = pl.Series(
                [
                    lookup.get((a, b)) if b is not None else None
                    for a, b in zip(admin1, admin2, strict=True)
                ],
                dtype=pl.String,
            )
            unresolved2 = admin2.is_not_null() & resolved2.is_null()
            admin2 = resolved2.fill_null(admin2)
    return pl.DataFrame(
        {
            "admin1": admin1,
            "admin2": admin2,
            "_unresolved1": unresolved1,
            "_unresolved2": unresolved2,
        }
    )


def transform_chunk(raw: pl.DataFrame, ctx: Context) -> ChunkResult:
    """Turn one all-string chunk into canonical incidents, victims and rejected rows."""
    profile = ctx.profile
    n = raw.height
    ex = _extract(raw, profile)
    warnings: Counter[str] = Counter()
    reasons = Reasons(n)
    reason_where = reasons.flag

    # Overlong fields: a 10 MB cell is an export error, not a record. The field is emptied, so
    # the "missing_*" checks below skip it: the reason is the length, not a missing value.
    overlong: dict[str, pl.Series] = {}
    for name, spec in profile.columns.items():
        if spec.column and name in ex.columns:
            overlong[name] = (ex[name].str.len_chars() > profile.max_field_chars).fill_null(False)
            reason_where(overlong[name], f"field_too_long:{spec.column}")
            ex = ex.with_columns(
                pl.when(pl.col(name).str.len_chars() > profile.max_field_chars)
                .then(None)
                .otherwise(pl.col(name))
                .alias(name)
            )

    def not_overlong(*names: str) -> pl.Series:
        ok = _const(True, n, pl.Boolean)
        for name in names:
            if name in overlong:
                ok = ok & ~overlong[name]
        return ok

    # Country.
    if "country" in ex.columns:
        country = _resolve_country(ex["country"])
        reason_where(ex["country"].is_not_null() & country.is_null(), "invalid_country")
        if profile.country:
            country = country.fill_null(profile.country)
        reason_where(
            country.is_null() & ex["country"].is_null() & not_overlong("country"),
            "missing_country",
        )
    else:
        country = _const(profile.country, n, pl.String)

    # Dates.
    occ, w = _occurred(ex, profile)
    warnings.update(w)
    reason_where(
        occ["_date_missing"] & not_overlong("occurred_at", "occurred_date"), "missing_occurred_at"
    )
    reason_where(occ["_date_invalid"], "invalid_date")
    warnings["local_time_in_dst_gap_shifted"] += int(occ["_nonexistent"].sum())
    future_limit = ctx.now + timedelta(hours=profile.dates.future_tolerance_hours)
    reason_where(occ["occurred_at"] > future_limit, "future_date")
    reason_where(occ["occurred_at"].dt.year() < profile.dates.min_year, "implausible_date")
    reported = _const(None, n, schema.UTC_TS)
    if "reported_at" in ex.columns:
        spec = profile.columns["reported_at"]
        r = parse_datetimes(
            ex["reported_at"], spec.formats, dayfirst=profile.dates.dayfirst, take=spec.take
        )
        warnings["invalid_reported_at"] += int(r["invalid"].sum())
        reported, _ = _localise(r["value"], r["has_offset"], profile.timezone)

    # Coordinates.
    coords = _coordinates(ex, profile, country)
    coord_reason = coords["_coord_reason"]
    reasons.add(
        pl.select(
            pl.when((coord_reason == "missing_coordinates") & ~not_overlong("lon", "lat"))
            .then(None)
            .otherwise(coord_reason)
        ).to_series()
    )

    # Categories.
    cats = _by_country(ex, country, lambda c, part: _categories(part, ctx, c))
    if "_unknown_code" in cats.columns:
        warnings["unknown_iccs_code"] += int(cats["_unknown_code"].fill_null(False).sum())
    reason_where(
        cats["local_category"].is_null()
        & cats["iccs_code"].is_null()
        & not_overlong("local_category", "iccs_code"),
        "missing_local_category",
    )

    # Fields the profile declares required (date, label and coordinates are handled above).
    for name in profile.required:
        if name in _REQUIRED_ELSEWHERE or name not in ex.columns:
            continue
        reason_where(ex[name].is_null() & not_overlong(name), f"missing_{name}")

    # Record identity.
    if "source_record_id" in ex.columns:
        reason_where(
            ex["source_record_id"].is_null() & not_overlong("source_record_id"),
            "missing_source_record_id",
        )
        ids = record_identity(
            profile.source,
            ex.select("source_record_id"),
            id_column="source_record_id",
            content_columns=[],
        )
    else:
        ids = record_identity(
            profile.source,
            raw,
            id_column=None,
            content_columns=profile.record_id_from or ctx.columns,
        )
    source_col = _const(profile.source, n, pl.String)

    # Admin units: resolved to codes where the reference knows them; kept verbatim otherwise.
    admins = _by_country(ex, country, _admin_units)
    admin1, admin2 = admins["admin1"], admins["admin2"]
    warnings["unresolved_admin1"] += int(admins["_unresolved1"].sum())
    warnings["unresolved_admin2"] += int(admins["_unresolved2"].sum())

    # Victims (one per row when the profile maps victim fields).
    victim_count = _const(None, n, pl.Int32)
    if "victim_count" in ex.columns:
        vc = parse_integers(ex["victim_count"])
        warnings["invalid_victim_count"] += int(vc["invalid"].sum())
        victim_count = vc["value"].cast(pl.Int32, strict=False)
    sex = age = None
    if "victim_sex" in ex.columns or "victim_age" in ex.columns:
        if "victim_sex" in ex.columns:
            mapped_sex = (
                ex["victim_sex"]
                .str.to_lowercase()
                .map_elements(
                    lambda s: SEX_VALUES.get(
                        geo.normalise_name(s), "ambiguous" if geo.normalise_name(s) == "m" else None
                    ),
                    return_dtype=pl.String,
                )
            )
            warnings["ambiguous_sex_code"] += int((mapped_sex == "ambiguous").sum())
            warnings["unrecognised_sex"] += int(
                (ex["victim_sex"].is_not_null() & mapped_sex.is_null()).sum()
            )
            sex = mapped_sex.replace({"ambiguous": "unknown"}).fill_null("unknown")
        if "victim_age" in ex.columns:
            a = parse_numbers(ex["victim_age"], decimal=".")["value"]
            bad_age = a.is_not_null() & ((a < 0) | (a > 120))
            warnings["implausible_victim_age"] += int(bad_age.sum())
            age = (
                pl.select(pl.when(bad_age).then(None).otherwise(a.floor()))
                .to_series()
                .cast(pl.Int32)
            )
        victim_count = victim_count.fill_null(1)

    place = cats["place_type"]
    if "place_type" in ex.columns:
        place = ex["place_type"].str.to_lowercase().fill_null(place)
    weapon = cats["weapon"]
    if "weapon" in ex.columns:
        weapon = ex["weapon"].str.to_lowercase().fill_null(weapon)
    context = cats["context"]
    if "context" in ex.columns:
        context = ex["context"].str.to_lowercase().fill_null(context)

    handling = ex["handling_code"].str.to_uppercase() if "handling_code" in ex.columns else None
    if handling is not None:
        reason_where(
            handling.is_not_null() & ~handling.is_in(list(schema.HANDLING_CODES)),
            "invalid_handling_code",
        )
        handling = handling.fill_null(profile.handling_code)
    owner = ex["owner_agency"] if "owner_agency" in ex.columns else None

    location_precision = pl.select(
        pl.when(coords["lon"].is_not_null())
        .then(pl.lit(profile.location_precision))
        .when(admin2.is_not_null())
        .then(pl.lit("admin2"))
        .when(admin1.is_not_null())
        .then(pl.lit("admin1"))
        .otherwise(pl.lit("country"))
    ).to_series()

    canonical = pl.DataFrame(
        {
            ROW: ex[ROW],
            "incident_id": ids["incident_id"],
            "source": source_col,
            "source_record_id": ids["source_record_id"],
            "country": country,
            "admin1": admin1,
            "admin2": admin2,
            "locality": ex["locality"] if "locality" in ex.columns else None,
            "occurred_at": occ["occurred_at"],
            "occurred_precision": occ["occurred_precision"],
            "source_timezone": occ["source_timezone"],
            "reported_at": reported,
            "local_category": cats["local_category"],
            "iccs_code": cats["iccs_code"],
            "mapping_quality": cats["mapping_quality"],
            "lon": coords["lon"].round(7),
            "lat": coords["lat"].round(7),
            "location_precision": location_precision,
            "place_type": place,
            "weapon": weapon,
            "context": context,
            "victim_count": victim_count,
            "owner_agency": owner
            if owner is not None
            else _const(profile.owner_agency or profile.source, n),
            "handling_code": handling if handling is not None else _const(profile.handling_code, n),
            "batch_id": _const(None, n, pl.Int64),
        },
        strict=False,
    ).with_columns(
        _controlled(pl.col("place_type"), schema.PLACE_TYPES, "other").alias("place_type"),
        _controlled(pl.col("weapon"), schema.WEAPONS, "other").alias("weapon"),
        _controlled(pl.col("context"), schema.CONTEXTS, "other").alias("context"),
    )
    canonical = schema.conform(
        canonical.rename({ROW: "_r"}), {"_r": pl.Int64(), **schema.INCIDENT}
    ).rename({"_r": ROW})

    is_rejected = reasons.rejected()
    reason_list = reasons.lists(is_rejected)

    raw_cols = [c for c in raw.columns if c != ROW]
    rejected = (
        raw.filter(is_rejected)
        .select(
            pl.col(ROW),
            pl.struct([pl.col(c).str.slice(0, 2000) for c in raw_cols])
            .struct.json_encode()
            .alias("raw"),
        )
        .with_columns(reasons=reason_list)
    )

    good = canonical.filter(~is_rejected)
    victims = pl.DataFrame(schema=schema.VICTIM)
    if sex is not None or age is not None:
        v = pl.DataFrame(
            {
                "incident_id": ids["incident_id"],
                "victim_no": _const(1, n, pl.Int32),
                "sex": sex if sex is not None else _const("unknown", n),
                "age": age if age is not None else _const(None, n, pl.Int32),
            }
            # A row that says it had no victims (victim_count 0) gets no victim record.
        ).filter(~is_rejected & (victim_count != 0).fill_null(True))
        victims = schema.conform(
            v.with_columns(age_band=schema.age_band(pl.col("age"))), schema.VICTIM
        )
    return ChunkResult(incidents=good, victims=victims, rejected=rejected, warnings=warnings)
