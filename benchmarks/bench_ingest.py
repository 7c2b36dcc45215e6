"""Ingest benchmark: the 1.3M-row FGJ-CDMX file end to end, against a bare Polars read.

Runs, in one invocation on the same machine:

* the baseline: ``polars.read_csv`` of the same gzip file (all columns as strings; best of 3);
* ``safestreets`` ingest (read, map, validate, store) into a fresh SQLite file;
* the same file again into the same store (the idempotent path: everything is a duplicate);
* ingest into PostgreSQL (a fresh schema on the server in SAFESTREETS_BENCH_POSTGRES_URL or
  SAFESTREETS_TEST_POSTGRES_URL; skipped with a message when neither is set).

Each ingest runs in its own subprocess so that its peak resident memory is measured alone.
Targets (issue #2): SQLite within 8x the bare read, PostgreSQL within 10x, peak memory < 2 GB.

    .venv/bin/python benchmarks/bench_ingest.py [--file PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILE = (
    ROOT.parent / "shared" / "data" / "cdmx-fgj-carpetas" / "cdmx_fgj_puntos_2019_2024.csv.gz"
)


def bare_read(path: Path, repeat: int = 3) -> float:
    import polars as pl

    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        pl.read_csv(path, infer_schema=False)
        best = min(best, time.perf_counter() - t0)
    return best


def transform_only(path: Path, profile: str, tmp: str) -> tuple[float, float]:
    """Read, map and validate without storing; then SQLite's own append floor for the result.

    The floor appends the same canonical rows to a SQLite table with no key and no index
    (through the same ADBC driver) and commits: what any loader must pay to put these bytes
    in SQLite, before parsing or duplicate handling.
    """
    import adbc_driver_sqlite.dbapi as adbc

    from safestreets import schema
    from safestreets.ingest.profiles import load_profile
    from safestreets.ingest.readers import iter_chunks, open_source
    from safestreets.ingest.transform import Context, transform_chunk
    from safestreets.store.bulk import _sqlite_ts

    prof = load_profile(profile)
    t0 = time.perf_counter()
    source = open_source(path, prof)
    ctx = Context.build(prof, source.columns)
    frames = [transform_chunk(raw, ctx).incidents for raw in iter_chunks(source, prof)]
    validate = time.perf_counter() - t0
    conn = adbc.connect(f"{tmp}/floor.sqlite", autocommit=True)
    cur = conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"CREATE TABLE incident ({', '.join(schema.INCIDENT)})")
    t0 = time.perf_counter()
    cur.execute("BEGIN")
    for frame in frames:
        rows = _sqlite_ts(schema.conform(frame, schema.INCIDENT)).to_arrow()
        cur.adbc_ingest("incident", rows, mode="append")
    cur.execute("COMMIT")
    floor = time.perf_counter() - t0
    conn.close()
    return validate, floor


def one_ingest(path: Path, url: str, profile: str, repeat_load: bool) -> dict[str, object]:
    """Child process: migrate, ingest (twice when asked), print timings as JSON."""
    from safestreets.ingest.load import ingest_file
    from safestreets.ingest.profiles import load_profile
    from safestreets.store.engine import get_engine
    from safestreets.store.migrate import upgrade

    engine = get_engine(url)
    upgrade(engine)
    prof = load_profile(profile)
    t0 = time.perf_counter()
    report = ingest_file(path, prof, engine)
    first = time.perf_counter() - t0
    out: dict[str, object] = {
        "seconds": first,
        "rows_read": report.rows_read,
        "rows_loaded": report.rows_loaded,
        "rows_rejected": report.rows_rejected,
        "rows_duplicate": report.rows_duplicate,
    }
    if repeat_load:
        t0 = time.perf_counter()
        again = ingest_file(path, prof, engine)
        out["reload_seconds"] = time.perf_counter() - t0
        out["reload_rows_loaded"] = again.rows_loaded
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_child(path: Path, url: str, repeat_load: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", "--file", str(path), "--url", url]
    if repeat_load:
        cmd.append("--repeat")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def postgres_url() -> str | None:
    return os.environ.get("SAFESTREETS_BENCH_POSTGRES_URL") or os.environ.get(
        "SAFESTREETS_TEST_POSTGRES_URL"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--file", type=Path, default=DEFAULT_FILE)
    ap.add_argument("--profile", default="cdmx-fgj")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--repeat", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(one_ingest(args.file, args.url, args.profile, args.repeat)))
        return
    if not args.file.is_file():
        raise SystemExit(f"benchmark file not found: {args.file} (needs ../shared/data)")

    results: dict[str, Any] = {"file": str(args.file), "cpus": os.cpu_count()}
    base = bare_read(args.file)
    results["bare_read_seconds"] = base
    with tempfile.TemporaryDirectory(prefix="ss-bench-") as tmp:
        validate, floor = transform_only(args.file, args.profile, tmp)
        results["read_and_validate_seconds"] = validate
        results["sqlite_append_floor_seconds"] = floor
        sqlite = run_child(args.file, f"sqlite:///{tmp}/bench.sqlite", repeat_load=True)
    results["sqlite"] = sqlite
    pg = postgres_url()
    if pg:
        from sqlalchemy import create_engine, text

        from safestreets.store.engine import normalise_url

        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(normalise_url(pg))
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in pg else "?"
        url = f"{normalise_url(pg)}{sep}options=-csearch_path%3D{schema}"
        try:
            results["postgresql"] = run_child(args.file, url, repeat_load=False)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"file: {args.file.name}   cpus: {os.cpu_count()}")
    print(f"bare polars.read_csv (best of 3): {base:6.2f} s")
    validate = float(results["read_and_validate_seconds"])
    print(f"read + map + validate, nothing stored: {validate:6.2f} s ({validate / base:.1f}x bare)")
    floor = float(results["sqlite_append_floor_seconds"])
    print(f"SQLite append floor (same rows, no key): {floor:6.2f} s ({floor / base:.1f}x bare)")
    rows: list[tuple[str, dict[str, Any], float]] = [("sqlite", sqlite, 8.0)]
    if "postgresql" in results:
        rows.append(("postgresql", results["postgresql"], 10.0))
    else:
        print("postgresql: skipped (set SAFESTREETS_BENCH_POSTGRES_URL or ..._TEST_POSTGRES_URL)")
    head = ("backend", "seconds", "x bare", "target", "peak MB", "loaded", "rejected", "dups")
    print("{:<11} {:>8} {:>7} {:>7} {:>8} {:>10} {:>9} {:>6}".format(*head))
    for name, r, target in rows:
        secs = float(r["seconds"])
        ratio = secs / base
        verdict = "ok" if ratio <= target else f"MISSED by {ratio / target:.2f}x"
        print(
            f"{name:<11} {secs:8.2f} {ratio:7.1f} {target:6.0f}x {float(r['peak_rss_mb']):8.0f} "
            f"{r['rows_loaded']:>10,} {r['rows_rejected']:>9,} {r['rows_duplicate']:>6,}  {verdict}"
        )
    if "reload_seconds" in sqlite:
        again = float(sqlite["reload_seconds"])
        print(
            f"sqlite re-ingest of the same file: {again:.2f} s ({again / base:.1f}x bare), "
            f"rows loaded {sqlite['reload_rows_loaded']}"
        )


if __name__ == "__main__":
    main()
