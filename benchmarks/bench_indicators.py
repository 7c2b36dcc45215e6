"""Indicator benchmark: demo incidents in SQLite and PostgreSQL against DuckDB over Parquet.

Runs, in one invocation on the same machine (issue #3):

* the data: ``--incidents`` synthetic demo incidents (``safestreets.demo.generate_region``,
  seed 7, three years, seven countries) written once to Parquet (incidents and victims, the
  canonical columns with ``incident_id``) under the work folder;
* the baselines, from those raw Parquet rows: DuckDB SQL (and Polars in memory) computing the
  homicide rate by country and year, and victims of all ICCS sections by country x month x
  ICCS division x victim sex, with the engine's counting rules (one row per recorded victim;
  victims an incident counts but does not describe are sex ``unknown``; months in the
  source's local time zone);
* per backend (SQLite file, PostgreSQL schema), in its own process so that its peak memory is
  its own: generate and load the same incidents (``load_canonical``, which writes the rollups
  in the same transaction), then ``stats.indicators.compute`` of the same two results through
  ``StoreData``; then diagnostics that split the engine's time into the database query, the
  conversion of its rows to a Polars frame (``store.aggregates._frame``) and the engine's own
  Polars work, and time the same aggregation written as one SQL GROUP BY over the rollup.

Query times are the median of 3 runs after one warm-up. The results of each backend are
checked against DuckDB's (same count per country-year; same groups and counts in the table);
a mismatch is printed as MISMATCH and makes the exit status 1. Targets: PostgreSQL within
3x DuckDB, SQLite within 5x.

    .venv/bin/python benchmarks/bench_indicators.py [--incidents 10000000]
        [--backends sqlite,postgresql] [--pg-url URL] [--workdir DIR] [--keep] [--json]

PostgreSQL: a scratch schema in the database of ``--pg-url`` (default
SAFESTREETS_BENCH_POSTGRES_URL, else ``postgresql+psycopg://root@/safestreets_bench?host=
/var/run/postgresql``), dropped at the end. The work folder (default a new folder under /tmp)
holds the Parquet copy, the SQLite file and the result tables; it is deleted unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

DEFAULT_PG = "postgresql+psycopg://root@/safestreets_bench?host=/var/run/postgresql"
PG_SCHEMA = "bench_indicators"
TARGETS = {"sqlite": 5.0, "postgresql": 3.0}
SECTIONS = ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11"]
TABLE_BY = ("country", "month", "iccs_division", "sex")
RATE_BY = ("country", "year")
QUERIES = ("rate", "table")
QUERY_NAMES = {
    "rate": "homicide rate, country x year",
    "table": "victims, country x month x ICCS division x sex",
}
REPEAT = 3


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_runs(fn: Callable[[], Any], repeat: int = REPEAT) -> tuple[list[float], Any]:
    """One warm-up call, then ``repeat`` timed calls; returns the times and the last result."""
    out = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def _duck(con: Any, sql: str) -> pl.DataFrame:
    return con.sql(sql).pl()


def _fetch_all(conn: Any, stmt: Any) -> list[Any]:
    return list(conn.execute(stmt).all())


def all_sections_indicator() -> Any:
    from safestreets.stats.catalogue import Indicator

    return Indicator.model_validate(
        {
            "id": "bench_all_victims",
            "name": {"es": "Víctimas (todas las secciones ICCS)", "en": "Victims (all ICCS)"},
            "description": {"es": "Benchmark", "en": "Benchmark"},
            "numerator": {"iccs": SECTIONS, "unit": "victims"},
            "denominator": {"none": True},
            "multiplier": 1,
            "breakdowns": list(TABLE_BY),
        }
    )


# --- data: generate once to Parquet --------------------------------------------------------


def child_parquet(n: int, seed: int, work: Path) -> dict[str, Any]:
    """Generate the demo region and write incidents and victims to Parquet, chunk by chunk."""
    import pyarrow.parquet as pq

    from safestreets import demo, schema
    from safestreets.ingest.transform import incident_ids

    gen_s = write_s = 0.0
    inc_w = vic_w = None
    n_inc = n_vic = 0
    t0 = time.perf_counter()
    it = iter(demo.generate_region(seed=seed, incidents=n))
    gen_s += time.perf_counter() - t0
    while True:
        t0 = time.perf_counter()
        chunk = next(it, None)
        gen_s += time.perf_counter() - t0
        if chunk is None:
            break
        t0 = time.perf_counter()
        ids = incident_ids(chunk.incidents["source"], chunk.incidents["source_record_id"])
        inc = chunk.incidents.with_columns(incident_id=ids)
        vic = (
            chunk.victims.join(
                inc.select("source_record_id", "incident_id"), on="source_record_id", how="inner"
            )
            .drop("source_record_id")
            .select(list(schema.VICTIM))
        )
        a_inc, a_vic = inc.to_arrow(), vic.to_arrow()
        if inc_w is None:
            inc_w = pq.ParquetWriter(work / "incidents.parquet", a_inc.schema)
            vic_w = pq.ParquetWriter(work / "victims.parquet", a_vic.schema)
        assert vic_w is not None
        inc_w.write_table(a_inc)
        vic_w.write_table(a_vic)
        n_inc += inc.height
        n_vic += vic.height
        write_s += time.perf_counter() - t0
    assert inc_w is not None and vic_w is not None
    inc_w.close()
    vic_w.close()
    size = sum((work / f).stat().st_size for f in ("incidents.parquet", "victims.parquet"))
    return {
        "generate_seconds": gen_s,
        "parquet_write_seconds": write_s,
        "incidents": n_inc,
        "victims": n_vic,
        "parquet_mb": size / 2**20,
        "peak_rss_mb": peak_rss_mb(),
    }


# --- baselines: DuckDB and Polars over the raw rows ----------------------------------------


def _duckdb_sql(work: Path) -> dict[str, str]:
    """The two results from raw rows, with the engine's counting rules.

    Victims of an incident: its victim rows (sex as recorded, null -> ``unknown``) plus
    ``victim_count`` minus the rows described, as sex ``unknown``; an incident without victim
    rows counts ``victim_count`` victims (1 when unknown, 0 when it says none) of sex
    ``unknown``. Months and years in the source's local time. As in the engine, an incident
    that says it has no victims still makes its group exist (with a count of 0).

    The table is one LEFT JOIN of incidents to victims (a victim row counts 1; an incident
    without victim rows counts ``victim_count``), plus the undescribed victims of the few
    incidents with ``victim_count`` > 1; it was the fastest of the exact formulations tried
    (per-incident pivot by sex: 3.0 s, this: 2.2 s at 10M on an idle moment).
    """
    inc = f"read_parquet('{work / 'incidents.parquet'}')"
    vic = f"read_parquet('{work / 'victims.parquet'}')"
    local = "timezone(coalesce(source_timezone, 'UTC'), occurred_at)"
    sections = ", ".join(f"'{s}'" for s in SECTIONS)
    return {
        "rate": f"""
        WITH i AS (
            SELECT incident_id, country, year({local}) AS year, victim_count
            FROM {inc} WHERE starts_with(iccs_code, '0101')
        ),
        d AS (SELECT incident_id, count(*) AS n FROM {vic} SEMI JOIN i USING (incident_id)
              GROUP BY incident_id),
        c AS (
            SELECT country, year,
                   sum(CASE WHEN d.n IS NULL THEN coalesce(victim_count, 1)
                            ELSE greatest(d.n, coalesce(victim_count, 0)) END) AS count
            FROM i LEFT JOIN d USING (incident_id) GROUP BY ALL
        )
        SELECT c.country, c.year::VARCHAR AS period, c.count, p.population,
               c.count / p.population * 100000 AS rate_per_100k
        FROM c LEFT JOIN pop p ON p.country = c.country AND p.year = c.year
        ORDER BY 1, 2""",
        "table": f"""
        WITH i AS (
            SELECT incident_id, country, {local} AS lt, left(iccs_code, 4) AS iccs_division,
                   victim_count
            FROM {inc}
            WHERE left(iccs_code, 2) IN ({sections})
              AND coalesce(occurred_precision, 'exact') <> 'year'
        ),
        described AS (
            SELECT i.country, year(i.lt) AS y, month(i.lt) AS m, i.iccs_division,
                   coalesce(v.sex, 'unknown') AS sex,
                   CASE WHEN v.incident_id IS NULL THEN coalesce(i.victim_count, 1)
                        ELSE 1 END AS victims
            FROM i LEFT JOIN {vic} v USING (incident_id)
        ),
        multi AS (SELECT * FROM i WHERE victim_count > 1),
        undescribed AS (
            SELECT multi.country, year(multi.lt) AS y, month(multi.lt) AS m,
                   multi.iccs_division, 'unknown' AS sex, multi.victim_count - d.n AS victims
            FROM multi JOIN (
                SELECT incident_id, count(*) AS n FROM {vic} SEMI JOIN multi USING (incident_id)
                GROUP BY incident_id
            ) d USING (incident_id)
            WHERE multi.victim_count > d.n
        )
        SELECT country, printf('%04d-%02d', y, m) AS period, iccs_division, sex,
               sum(victims) AS count
        FROM (SELECT * FROM described UNION ALL SELECT * FROM undescribed)
        GROUP BY country, y, m, iccs_division, sex
        ORDER BY country, period, iccs_division, sex""",
    }


def national_populations() -> pl.DataFrame:
    from safestreets.stats.population import package_populations

    return (
        package_populations()
        .filter(pl.col("admin1").is_null() & pl.col("sex").is_null() & pl.col("age_band").is_null())
        .select("country", pl.col("year").cast(pl.Int64), pl.col("population").cast(pl.Float64))
    )


def _polars_query(inc: pl.DataFrame, vic: pl.DataFrame, which: str) -> pl.DataFrame:
    """The same two results as :func:`_duckdb_sql`, in Polars over frames in memory."""
    if which == "rate":
        pred = pl.col("iccs_code").str.starts_with("0101")
    else:
        pred = pl.col("iccs_code").str.slice(0, 2).is_in(SECTIONS)
        pred = pred & (pl.col("occurred_precision").fill_null("exact") != "year")
    tz = pl.col("source_timezone").fill_null("UTC")
    zones = inc["source_timezone"].fill_null("UTC").unique().to_list()
    local: pl.Expr = pl.lit(None, dtype=pl.Datetime("us"))
    for z in zones:
        conv = pl.col("occurred_at").dt.convert_time_zone(z).dt.replace_time_zone(None)
        local = pl.when(tz == z).then(conv).otherwise(local)
    i = (
        inc.lazy()
        .filter(pred)
        .with_columns(local=local)
        .select(
            "incident_id",
            "country",
            y=pl.col("local").dt.year(),
            m=pl.col("local").dt.month(),
            iccs_division=pl.col("iccs_code").str.slice(0, 4),
            vc=pl.col("victim_count").cast(pl.Int64),
        )
    )
    v = vic.lazy()
    # A victim row counts 1; an incident without victim rows counts victim_count (1 if null).
    has_victim = pl.col("_v").is_not_null()
    described = i.join(v.with_columns(_v=pl.lit(True)), on="incident_id", how="left").select(
        "country",
        "y",
        "m",
        "iccs_division",
        sex=pl.col("sex").fill_null("unknown"),
        victims=pl.when(has_victim).then(1).otherwise(pl.col("vc").fill_null(1)),
    )
    multi = i.filter(pl.col("vc") > 1)
    n = (
        v.join(multi.select("incident_id"), on="incident_id", how="semi")
        .group_by("incident_id")
        .agg(n=pl.len().cast(pl.Int64))
    )
    undescribed = (
        multi.join(n, on="incident_id")
        .filter(pl.col("vc") > pl.col("n"))
        .select(
            "country",
            "y",
            "m",
            "iccs_division",
            sex=pl.lit("unknown"),
            victims=pl.col("vc") - pl.col("n"),
        )
    )
    rows = pl.concat([described, undescribed])
    if which == "rate":
        return (
            rows.group_by("country", year=pl.col("y").cast(pl.Int64))
            .agg(count=pl.col("victims").sum())
            .collect()
        )
    return (
        rows.group_by("country", "y", "m", "iccs_division", "sex")
        .agg(count=pl.col("victims").sum())
        .select(
            "country",
            period=pl.format("{}-{}", pl.col("y"), pl.col("m").cast(pl.String).str.zfill(2)),
            iccs_division="iccs_division",
            sex="sex",
            count="count",
        )
        .collect()
    )


def child_baseline(work: Path, with_polars: bool) -> dict[str, Any]:
    """DuckDB SQL over the Parquet files (and Polars in memory): times and results."""
    import duckdb

    out: dict[str, Any] = {}
    con = duckdb.connect()
    out["duckdb_version"] = duckdb.__version__
    out["duckdb_threads"] = con.sql("SELECT current_setting('threads')").fetchall()[0][0]
    pop = national_populations()
    con.register("pop", pop.to_arrow())
    sql = _duckdb_sql(work)
    for q in QUERIES:
        times, frame = timed_runs(partial(_duck, con, sql[q]))
        out[f"duckdb_{q}"] = times
        frame.write_parquet(work / f"result_duckdb_{q}.parquet")
        out[f"duckdb_{q}_rows"] = frame.height
    con.close()
    if with_polars:
        t0 = time.perf_counter()
        inc = pl.read_parquet(
            work / "incidents.parquet",
            columns=[
                "incident_id",
                "country",
                "iccs_code",
                "victim_count",
                "occurred_precision",
                "occurred_at",
                "source_timezone",
            ],
        )
        vic = pl.read_parquet(work / "victims.parquet", columns=["incident_id", "sex"])
        out["polars_read_seconds"] = time.perf_counter() - t0
        for q in QUERIES:
            times, frame = timed_runs(partial(_polars_query, inc, vic, q))
            out[f"polars_{q}"] = times
            out[f"polars_{q}_rows"] = frame.height
            if q == "rate":
                frame = frame.select(
                    "country", period=pl.col("year").cast(pl.String), count="count"
                )
            frame.write_parquet(work / f"result_polars_{q}.parquet")
    out["peak_rss_mb"] = peak_rss_mb()
    return out


# --- a backend: load, query, diagnose ------------------------------------------------------


def _store_size_mb(engine: Any, url: str) -> float:
    from sqlalchemy import text

    if engine.dialect.name == "sqlite":
        path = Path(engine.url.database)
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        return sum(f.stat().st_size for f in files if f.exists()) / 2**20
    with engine.connect() as conn:
        size = conn.execute(
            text(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')"
            )
        ).scalar()
    return float(size or 0) / 2**20


def _pushed_sql(which: str, dialect: str) -> str:
    """The same aggregation as one GROUP BY over the national rollup (for comparison)."""
    substr = "substr" if dialect == "sqlite" else "substring"
    if which == "rate":
        return (
            "SELECT country, year, sum(victims) FROM rollup_national "
            "WHERE iccs_code = '0101' OR iccs_code LIKE '0101%' GROUP BY country, year"
        )
    sections = " OR ".join(f"iccs_code LIKE '{s}%'" for s in SECTIONS)
    return (
        f"SELECT country, year, month, {substr}(iccs_code, 1, 4) AS division, sex, "
        f"sum(victims) FROM rollup_national WHERE month IS NOT NULL AND ({sections}) "
        f"GROUP BY country, year, month, {substr}(iccs_code, 1, 4), sex"
    )


def child_backend(backend: str, url: str, n: int, seed: int, work: Path) -> dict[str, Any]:
    from sqlalchemy import text

    import safestreets.store.aggregates as agg_mod
    from safestreets import demo
    from safestreets.ingest.load import load_canonical
    from safestreets.stats.indicators import Request, compute
    from safestreets.store import rollup
    from safestreets.store.aggregates import StoreData
    from safestreets.store.engine import get_engine
    from safestreets.store.migrate import upgrade

    out: dict[str, Any] = {"backend": backend}
    engine = get_engine(url)
    upgrade(engine)
    chunks = ((c.incidents, c.victims) for c in demo.generate_region(seed=seed, incidents=n))
    t0 = time.perf_counter()
    report = load_canonical(
        chunks, engine, source="SYNTHETIC-DEMO", label=f"bench seed={seed}", synthetic=True
    )
    out["load_seconds"] = time.perf_counter() - t0
    out["rows_loaded"] = report.rows_loaded
    out["peak_rss_after_load_mb"] = peak_rss_mb()
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for t in ("incident", "victim", *[rollup.table_name(g) for g in rollup.GRAINS]):
            counts[t] = int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() or 0)
    out["rows"] = counts
    out["size_mb"] = _store_size_mb(engine, url)

    table_ind = all_sections_indicator()
    calls: dict[str, Callable[[StoreData], Any]] = {
        "rate": lambda d: compute("homicide_rate", Request(by=RATE_BY), d),
        "table": lambda d: compute(table_ind, Request(by=TABLE_BY, where={}), d),
    }
    # The DuckDB baseline runs in the same rounds as the engine (engine, DuckDB, engine,
    # DuckDB, ...) so that both see the same load on a shared machine.
    import duckdb

    con = duckdb.connect()
    con.register("pop", national_populations().to_arrow())
    sql = _duckdb_sql(work)
    for q in QUERIES:
        calls[q](StoreData(engine))  # warm-up
        con.sql(sql[q]).pl()
        times, duck = [], []
        for _ in range(REPEAT):
            t0 = time.perf_counter()
            res = calls[q](StoreData(engine))
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            con.sql(sql[q]).pl()
            duck.append(time.perf_counter() - t0)
        out[q] = times
        out[f"duckdb_{q}"] = duck
        out[f"{q}_read_from"] = res.read_from
        out[f"{q}_notes"] = res.notes
        keep = ["country", "period", *([] if q == "rate" else ["iccs_division", "sex"]), "count"]
        if q == "rate":
            keep += ["population", "rate_per_100k"]
        res.frame.select(keep).write_parquet(work / f"result_{backend}_{q}.parquet")

    # Diagnostics (one more run each, instrumented): where the engine's time goes.
    real_frame = agg_mod._frame
    captured: dict[str, Any] = {}

    class TimedResult:
        """A result whose ``all()`` (the fetch of every row) is timed."""

        def __init__(self, result: Any, t0: float) -> None:
            self.result, self.t0 = result, t0

        def keys(self) -> Any:
            return self.result.keys()

        def all(self) -> Any:
            rows = self.result.all()
            captured["fetch"] = time.perf_counter() - self.t0
            return rows

    class TimedConn:
        def __init__(self, conn: Any) -> None:
            self.conn = conn

        def execute(self, query: Any) -> TimedResult:
            t0 = time.perf_counter()
            return TimedResult(self.conn.execute(query), t0)

    def timing_frame(conn: Any, query: Any, spec: Any) -> pl.DataFrame:
        t0 = time.perf_counter()
        frame = real_frame(TimedConn(conn), query, spec)  # type: ignore[arg-type]
        total = time.perf_counter() - t0
        captured.setdefault("frames", []).append((query, total, captured["fetch"], frame.height))
        return frame

    class TimedData(StoreData):
        def aggregates(self, query: Any) -> Any:
            t0 = time.perf_counter()
            result = super().aggregates(query)
            captured["aggregates"] = time.perf_counter() - t0
            captured["agg_query"] = query
            return result

    diag: dict[str, Any] = {}
    agg_mod._frame = timing_frame
    try:
        for q in QUERIES:
            captured.clear()
            t0 = time.perf_counter()
            calls[q](TimedData(engine))
            total = time.perf_counter() - t0
            frames = captured.get("frames", [])
            # The statement that read the records (the first _frame call inside aggregates).
            stmt, frame_s, sql_s, nrows = frames[0]
            with engine.connect() as conn:
                sql_text = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
                if engine.dialect.name == "postgresql":  # psycopg's escaping of % in literals
                    sql_text = sql_text.replace("%%", "%")
                pushed = _pushed_sql(q, engine.dialect.name)
                pushed_times, _ = timed_runs(partial(_fetch_all, conn, text(pushed)))
            diag[q] = {
                "total": total,
                "aggregates": captured["aggregates"],
                "sql_fetch": sql_s,
                "to_frame": frame_s - sql_s,
                "engine_rest": total - captured["aggregates"],
                "rows_returned": nrows,
                "other_reads": sum(f[1] for f in frames[1:]),
                "sql": " ".join(sql_text.split()),
                "pushed_sql": pushed,
                "pushed_seconds": pushed_times,
            }
    finally:
        agg_mod._frame = real_frame
    out["diag"] = diag
    con.close()
    out["peak_rss_mb"] = peak_rss_mb()
    engine.dispose()
    return out


# --- orchestration -------------------------------------------------------------------------


def run_child(args: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child {' '.join(args[:2])} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def pg_admin(url: str) -> Any:
    from sqlalchemy import create_engine

    from safestreets.store.engine import normalise_url

    return create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")


def pg_schema_url(url: str) -> str:
    from safestreets.store.engine import normalise_url

    base = normalise_url(url)
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{PG_SCHEMA}"


def compare(work: Path, backend: str) -> list[str]:
    """Differences between a backend's results and DuckDB's (empty when they agree)."""
    problems: list[str] = []
    for q in QUERIES:
        mine = pl.read_parquet(work / f"result_{backend}_{q}.parquet")
        ref = pl.read_parquet(work / f"result_duckdb_{q}.parquet")
        keys = (
            ["country", "period"] if q == "rate" else ["country", "period", "iccs_division", "sex"]
        )
        mine = mine.with_columns(pl.col("count").cast(pl.Int64))
        ref = ref.with_columns(pl.col("count").cast(pl.Int64))
        if mine.height != ref.height:
            problems.append(f"{q}: {mine.height:,} groups vs DuckDB {ref.height:,}")
        s_mine, s_ref = int(mine["count"].sum()), int(ref["count"].sum())
        if s_mine != s_ref:
            problems.append(f"{q}: total {s_mine:,} vs DuckDB {s_ref:,}")
        j = mine.join(ref, on=keys, how="full", suffix="_ref", coalesce=True, nulls_equal=True)
        bad = j.filter(pl.col("count").ne_missing(pl.col("count_ref")))
        if bad.height:
            problems.append(
                f"{q}: {bad.height:,} groups differ, e.g. "
                + "; ".join(str(r) for r in bad.head(3).iter_rows(named=True))
            )
        if q == "rate" and "rate_per_100k" in mine.columns:
            diff = j.filter(
                ((pl.col("rate_per_100k") - pl.col("rate_per_100k_ref")).abs() > 1e-9)
                | pl.col("rate_per_100k").is_null()
            )
            if diff.height:
                problems.append(f"rate: {diff.height} rates differ from DuckDB's")
    return problems


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def fmt_s(x: float) -> str:
    return f"{x:.3f} s" if x < 10 else f"{x:.1f} s"


def report(res: dict[str, Any]) -> int:
    from safestreets.store import rollup

    base = res["baseline"]
    data = res["data"]
    backends = [b for b in ("sqlite", "postgresql") if b in res]
    pol = "polars_rate" in base
    print(
        f"\n{data['incidents']:,} incidents, {data['victims']:,} victim rows; "
        f"cpus {os.cpu_count()}; load average {res['loadavg_start']} at start, "
        f"{res['loadavg_end']} at end"
    )
    print(
        f"generation alone {data['generate_seconds']:.1f} s; Parquet write "
        f"{data['parquet_write_seconds']:.1f} s ({data['parquet_mb']:.0f} MB); DuckDB "
        f"{base['duckdb_version']} with {base['duckdb_threads']} threads"
    )
    if pol:
        print(f"Polars: read of the needed Parquet columns {base['polars_read_seconds']:.2f} s")
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    cols = ["DuckDB over Parquet (alone)", *(["Polars in memory"] if pol else [])]
    cols += [names[b] for b in backends]
    blank = ["—", *(["—"] if pol else [])]
    print()
    print("| | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")

    def row(label: str, cells: list[str]) -> None:
        print(f"| {label} | " + " | ".join(cells) + " |")

    row(
        "load: generate + load, rollups included",
        [*blank, *[fmt_s(res[b]["load_seconds"]) for b in backends]],
    )
    verdicts: list[str] = []
    for q in QUERIES:
        d = med(base[f"duckdb_{q}"])
        cells = [fmt_s(d)]
        if pol:
            p = med(base[f"polars_{q}"])
            cells.append(f"{fmt_s(p)} ({p / d:.1f}x DuckDB)")
        row(
            f"{QUERY_NAMES[q]}: engine, median of 3",
            [*cells, *[fmt_s(med(res[b][q])) for b in backends]],
        )
        row(
            "… DuckDB in the same rounds, median of 3",
            [*blank, *[fmt_s(med(res[b][f"duckdb_{q}"])) for b in backends]],
        )
        cells = []
        for b in backends:
            ratio = med(res[b][q]) / med(res[b][f"duckdb_{q}"])
            target = TARGETS[b]
            ok = ratio <= target
            verdict = "met" if ok else f"MISSED by {ratio / target:.1f}x"
            cells.append(f"**{ratio:.1f}x** (target {target:.0f}x: {verdict})")
            verdicts.append(
                f"{b} {QUERY_NAMES[q]}: {ratio:.1f}x DuckDB, target {target:.0f}x: {verdict}"
            )
        row("… engine / DuckDB", [*blank, *cells])
    for q in QUERIES:
        cells = [f"raw rows → {base[f'duckdb_{q}_rows']:,} groups"]
        if pol:
            cells.append(f"raw rows → {base[f'polars_{q}_rows']:,} groups")
        cells += [f"`rollup_{res[b][q + '_read_from']}`" for b in backends]
        row(f"{q}: read from", cells)
    for t in ("incident", "victim", *[rollup.table_name(g) for g in rollup.GRAINS]):
        row(f"rows in `{t}`", [*blank, *[f"{res[b]['rows'][t]:,}" for b in backends]])
    row(
        "on-disk size",
        [
            f"{data['parquet_mb']:,.0f} MB (Parquet)",
            *(["—"] if pol else []),
            *[f"{res[b]['size_mb']:,.0f} MB" for b in backends],
        ],
    )
    row(
        "peak RSS of the process",
        [
            f"{base['peak_rss_mb']:,.0f} MB (both baselines)",
            *(["(same process)"] if pol else []),
            *[f"{res[b]['peak_rss_mb']:,.0f} MB" for b in backends],
        ],
    )
    print("\nVerdicts:")
    for v in verdicts:
        print("  " + v)
    print("\nWhere the engine's time goes (one more, instrumented run of each):\n")
    print(
        "| backend | query | engine total | SQL execute + fetch | rows → Polars (`_frame`) "
        "| engine's own Polars work | rows from SQL | the same as one SQL GROUP BY |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for b in backends:
        for q in QUERIES:
            g = res[b]["diag"][q]
            print(
                f"| {b} | {q} | {fmt_s(g['total'])} | {fmt_s(g['sql_fetch'])} | "
                f"{fmt_s(g['to_frame'])} | {fmt_s(g['engine_rest'])} | {g['rows_returned']:,} | "
                f"{fmt_s(med(g['pushed_seconds']))} |"
            )
    print("\nRun times (s), min / median / max:")
    series: list[tuple[str, list[float]]] = []
    for q in QUERIES:
        series.append((f"duckdb alone {q}", base[f"duckdb_{q}"]))
        if pol:
            series.append((f"polars {q}", base[f"polars_{q}"]))
        for b in backends:
            series.append((f"{b} {q}", res[b][q]))
            series.append((f"duckdb beside {b} {q}", res[b][f"duckdb_{q}"]))
    for name, xs in series:
        print(f"  {name:<31} " + " / ".join(f"{x:.3f}" for x in (min(xs), med(xs), max(xs))))
    status = 0
    print("\nResults against DuckDB:")
    for b in backends:
        problems = res[b]["mismatches"]
        for p in problems:
            status = 1
            print(f"  MISMATCH {b}: {p}")
        if not problems:
            print(
                f"  {b}: same counts per country-year, same rates, same "
                f"{base['duckdb_table_rows']:,} groups and counts in the table"
            )
    if pol:
        for p in res["polars_mismatches"]:
            status = 1
            print(f"  MISMATCH polars: {p}")
        if not res["polars_mismatches"]:
            print("  polars: same counts per country-year and same groups and counts in the table")
    for b in backends:
        notes = {n for q in QUERIES for n in res[b][f"{q}_notes"]}
        for n in sorted(notes):
            print(f"  note from the engine ({b}): {n}")
    return status


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--incidents", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument(
        "--pg-url", default=os.environ.get("SAFESTREETS_BENCH_POSTGRES_URL", DEFAULT_PG)
    )
    ap.add_argument("--workdir", type=Path, help="work folder (default: a new one under /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder and PG schema")
    ap.add_argument("--no-polars", action="store_true", help="skip the Polars baseline")
    ap.add_argument("--json", action="store_true", help="also print the raw figures as JSON")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        work = Path(rest[0])
        if kind == "parquet":
            out = child_parquet(args.incidents, args.seed, work)
        elif kind == "baseline":
            out = child_baseline(work, with_polars=rest[1] == "1")
        else:
            out = child_backend(kind, rest[1], args.incidents, args.seed, work)
        print(json.dumps(out))
        return

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in backends if b not in TARGETS]
    if unknown:
        raise SystemExit(f"unknown backend(s) {unknown}; use sqlite, postgresql")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="ss-bench-ind-", dir="/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    n = ["--incidents", str(args.incidents), "--seed", str(args.seed)]
    res: dict[str, Any] = {"incidents": args.incidents, "loadavg_start": os.getloadavg()[:3]}
    admin = None
    try:
        print(f"work folder {work}; generating {args.incidents:,} incidents to Parquet ...")
        res["data"] = run_child([*n, "--child", "parquet", str(work)])
        print("baselines (DuckDB, Polars) ...")
        res["baseline"] = run_child(
            [*n, "--child", "baseline", str(work), "0" if args.no_polars else "1"]
        )
        if not args.no_polars:
            res["polars_mismatches"] = compare(work, "polars")
        for b in backends:
            if b == "sqlite":
                url = f"sqlite:///{work / 'bench.sqlite'}"
            else:
                from sqlalchemy import text

                admin = pg_admin(args.pg_url)
                with admin.connect() as conn:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE'))
                    conn.execute(text(f'CREATE SCHEMA "{PG_SCHEMA}"'))
                url = pg_schema_url(args.pg_url)
            print(f"{b}: generate + load + queries ...")
            res[b] = run_child([*n, "--child", b, str(work), url])
            res[b]["mismatches"] = compare(work, b)
            if b == "sqlite" and not args.keep:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{work / 'bench.sqlite'}{suffix}").unlink(missing_ok=True)
        res["loadavg_end"] = os.getloadavg()[:3]
        res["loadavg_start"] = " ".join(f"{x:.1f}" for x in res["loadavg_start"])
        res["loadavg_end"] = " ".join(f"{x:.1f}" for x in res["loadavg_end"])
        res["peak_rss_children_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        status = report(res)
        if args.json:
            print(json.dumps(res, indent=2, default=str))
    finally:
        if admin is not None:
            if not args.keep:
                from sqlalchemy import text

                with admin.connect() as conn:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE'))
            admin.dispose()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
