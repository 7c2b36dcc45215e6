"""Online hit/no-hit through the API against an index of person alerts (issue 6).

What it does:

* builds (or reuses, with ``--keep``) a SQLite store holding ``--n`` SYNTHETIC person alerts
  (``safestreets.demo.persons.generate_persons``; mixed kinds and handling codes) of two
  agencies, loaded through ``safestreets.sharing.service.load_alerts`` (validation, store,
  audit) in chunks, and a liaison officer's API token;
* starts the real app in its own process (one single-worker uvicorn on loopback, as
  ``bench_service.py`` does) and sends one query to build the in-memory match index;
* sends ``--queries`` person queries (80 % further records of indexed persons, with the
  errors of real records; 20 % persons not in the index), one at a time over one keep-alive
  connection, each followed by a call of a trivial endpoint (``GET /api/v1/me``: token check
  and a JSON answer), and reports latency percentiles of both, their ratio, the share of
  queries that found their person, and the no-hit queries that hit something.

Every query is a full hit/no-hit: the index lookup, the alerts re-read from the store
(status and validity), the query and its hits recorded, and the audit entries appended and
committed.

Usage::

    .venv/bin/python benchmarks/bench_hits.py                  # 1,000,000 alerts, 1,000 queries
    .venv/bin/python benchmarks/bench_hits.py --n 100000 --queries 300
    .venv/bin/python benchmarks/bench_hits.py --database postgresql+psycopg://user@host/db
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
AGENCIES = (("GT-PNC", "GT"), ("SV-PNC", "SV"))
USER = "bench-liaison"
PERSON = (
    "given_names", "surname_1", "surname_2", "date_of_birth", "sex", "national_id",
    "id_country", "nationality", "aliases", "address", "municipality",
)  # fmt: skip
CHUNK = 100_000


def _bench_service() -> Any:
    spec = importlib.util.spec_from_file_location("bench_service", HERE / "bench_service.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_service"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def data(n: int, queries: int, seed: int) -> tuple[pl.DataFrame, list[tuple[dict[str, Any], bool]]]:
    """The alerts to index and the queries (record, whether its person is indexed)."""
    from safestreets.demo.persons import generate_persons

    hits = round(queries * 0.8)
    records, truth = generate_persons(n + hits, seed=seed, duplicate_rate=0.3, with_errors=True)
    full = records.join(truth, on="record_id")
    rng = np.random.default_rng(seed)
    dup_rows = np.flatnonzero(~full["is_first"].to_numpy())
    is_query = np.zeros(full.height, dtype=bool)
    is_query[rng.choice(dup_rows, hits, replace=False)] = True
    index = full.filter(~pl.Series(is_query))
    asked = full.filter(pl.Series(is_query))
    others, _ = generate_persons(queries - hits, seed=seed + 1000, duplicate_rate=0.0)
    qs = [({c: r[c] for c in PERSON if r[c]}, True) for r in asked.iter_rows(named=True)]
    qs += [({c: r[c] for c in PERSON if r[c]}, False) for r in others.iter_rows(named=True)]
    order = rng.permutation(len(qs))
    return index, [qs[k] for k in order]


def alerts_of(index: pl.DataFrame, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = index.height
    kinds = rng.choice(["wanted_person", "criminal_record", "missing_person"], n, p=[0.5, 0.4, 0.1])
    return index.select(*PERSON).with_columns(
        kind=pl.Series(kinds),
        external_id=index["record_id"],
        handling_code=pl.Series(rng.choice(["REGIONAL", "RESTRICTED", "NATIONAL"], n)),
        valid_until=pl.lit("2030-12-31"),
        contact=pl.lit("bench contact"),
        reason=pl.lit("SYNTHETIC benchmark alert"),
        iccs_code=pl.when(pl.Series(kinds) == "wanted_person").then(pl.lit("0101")),
        warrant_ref=pl.when(pl.Series(kinds) == "wanted_person").then(pl.lit("W-1")),
    )


def build_store(url: str, index: pl.DataFrame, seed: int) -> dict[str, Any]:
    """Migrate; agencies, the liaison user and its token; the alerts unless already there."""
    from sqlalchemy import func, select

    from safestreets.access.accounts import add_agency, add_user, create_token, list_agencies
    from safestreets.access.policy import Principal
    from safestreets.sharing.service import load_alerts
    from safestreets.store import tables
    from safestreets.store.engine import get_engine
    from safestreets.store.migrate import upgrade

    operator = Principal.local_operator("bench")
    engine = get_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        if not list_agencies(conn):
            for agency, country in AGENCIES:
                add_agency(conn, operator, agency_id=agency, name=agency, country=country)
            add_user(conn, operator, username=USER, agency_id="SV-PNC", roles=["liaison"])
        token = create_token(conn, operator, USER, label="bench_hits").secret
        stored = conn.execute(select(func.count()).select_from(tables.alert)).scalar_one()
    load_s = 0.0
    if stored < index.height:
        frame = alerts_of(index, seed)
        t0 = time.perf_counter()
        for start in range(0, frame.height, CHUNK):
            part = frame.slice(start, CHUNK)
            owner = AGENCIES[(start // CHUNK) % 2][0]
            with engine.begin() as conn:
                load_alerts(conn, operator, part, owner_agency=owner, source="bench_hits")
            print(f"  loaded {min(start + CHUNK, frame.height):,} alerts", file=sys.stderr)
        load_s = time.perf_counter() - t0
    engine.dispose()
    return {"token": token, "load_seconds": load_s, "alerts": max(stored, index.height)}


def quantiles(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs) * 1000.0
    return {f"p{q}": float(np.percentile(a, q)) for q in (50, 95, 99)} | {"mean": float(a.mean())}


def load(
    base_url: str, headers: dict[str, str], records: list[dict[str, Any]], clients: int
) -> dict[str, Any]:
    """The same queries from ``clients`` threads at once (each its own connection):
    throughput and latency under contention (every query writes its audit entries, and
    the store serialises writes)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(k: int) -> list[float]:
        out = []
        with httpx.Client(base_url=base_url, headers=headers, timeout=600) as client:
            for record in records[k::clients]:
                t0 = time.perf_counter()
                client.post(
                    "/api/v1/hits/query", json={"subject": "person", "person": record}
                ).raise_for_status()
                out.append(time.perf_counter() - t0)
        return out

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        lat = [x for part in pool.map(one, range(clients)) for x in part]
    seconds = time.perf_counter() - t0
    return {"clients": clients, "queries_per_s": len(lat) / seconds, "ms": quantiles(lat)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    bs = _bench_service()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    url = args.database or f"sqlite:///{workdir / 'hits.sqlite'}"
    # A reused store must hold the persons these arguments generate (the queries are drawn
    # with them): another --n, --queries or --seed would measure nonsense.
    stamp = workdir / "params.json"
    params = {"n": args.n, "queries": args.queries, "seed": args.seed, "database": url}
    if stamp.exists() and json.loads(stamp.read_text()) != params:
        raise SystemExit(f"{workdir} holds a store built with {stamp.read_text()}: use another "
                         "--workdir (and database) or the same arguments")  # fmt: skip
    t0 = time.perf_counter()
    index, queries = data(args.n, args.queries, args.seed)
    gen_s = time.perf_counter() - t0
    store = build_store(url, index, args.seed)
    stamp.write_text(json.dumps(params))
    server = bs.Server(url, workdir)
    try:
        headers = {"Authorization": f"Bearer {store['token']}"}
        with httpx.Client(base_url=server.bases[0], headers=headers, timeout=600) as client:
            t0 = time.perf_counter()
            r = client.post(
                "/api/v1/hits/query", json={"subject": "person", "person": {"surname_1": "X"}}
            )
            r.raise_for_status()
            warm_s = time.perf_counter() - t0
            lat: list[float] = []
            base: list[float] = []
            found = false_hits = 0
            for record, indexed in queries:
                t0 = time.perf_counter()
                r = client.post("/api/v1/hits/query", json={"subject": "person", "person": record})
                lat.append(time.perf_counter() - t0)
                r.raise_for_status()
                hit = r.json()["result"] == "hit"
                if indexed:
                    found += hit
                else:
                    false_hits += hit
                t0 = time.perf_counter()
                client.get("/api/v1/me").raise_for_status()
                base.append(time.perf_counter() - t0)
            # One alert filed, then a query for it: the indexes take in the change (a delta,
            # not a rebuild of the million), and the new alert must hit.
            person = {"given_names": "Wenceslao", "surname_1": "Ixcoy", "surname_2": "Tzul",
                      "date_of_birth": "1979-11-23", "sex": "M"}  # fmt: skip
            alert = {
                "kind": "wanted_person", "external_id": f"BENCH-NEW-{time.time_ns()}",
                "handling_code": "REGIONAL", "valid_until": "2030-12-31T00:00:00Z",
                "contact": "bench", "reason": "bench", "iccs_code": "0101",
                "warrant_ref": "W-2", "person": person,
            }  # fmt: skip
            t0 = time.perf_counter()
            client.post("/api/v1/alerts", json=alert).raise_for_status()
            create_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            r = client.post("/api/v1/hits/query", json={"subject": "person", "person": person})
            after_change_s = time.perf_counter() - t0
            new_hit = r.json()["result"] == "hit"
        concurrent = (
            load(server.bases[0], headers, [q for q, _ in queries], args.clients)
            if args.clients > 1
            else None
        )
    finally:
        server.stop()
    q, b = quantiles(lat), quantiles(base)
    indexed = sum(1 for _, i in queries if i)
    return {
        "alerts": store["alerts"],
        "generate_seconds": gen_s,
        "load_seconds": store["load_seconds"],
        "first_query_seconds (builds the index)": warm_s,
        "queries": len(queries),
        "hit_query_ms": q,
        "trivial_me_ms": b,
        "p95_ratio": q["p95"] / b["p95"],
        "indexed_person_found": found / indexed if indexed else None,
        "not_indexed_but_hit": false_hits,
        "target_p95_under_50ms": q["p95"] < 50.0,
        "create_alert_ms": create_s * 1000,
        "query_after_new_alert_ms": after_change_s * 1000,
        "new_alert_hit": new_hit,
        "concurrent": concurrent,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="person alerts in the index")
    ap.add_argument("--queries", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients (1: skip)")
    ap.add_argument("--workdir", default="/tmp/bench_hits")
    ap.add_argument(
        "--database", default=None, help="store URL (default: a SQLite file in --workdir)"
    )
    args = ap.parse_args(argv)
    res = run(args)
    q, b = res["hit_query_ms"], res["trivial_me_ms"]
    print(f"alerts indexed              {res['alerts']:,}")
    print(f"load (validate+store+audit) {res['load_seconds']:.1f} s")
    print(f"first query (index build)   {res['first_query_seconds (builds the index)']:.1f} s")
    print(f"hit/no-hit query  p50 {q['p50']:.1f} ms  p95 {q['p95']:.1f} ms  p99 {q['p99']:.1f} ms")
    print(f"GET /api/v1/me    p50 {b['p50']:.1f} ms  p95 {b['p95']:.1f} ms  p99 {b['p99']:.1f} ms")
    print(f"p95 ratio query/trivial     {res['p95_ratio']:.1f}x")
    print(f"indexed person found        {res['indexed_person_found']:.3f}")
    print(f"not-indexed queries that hit {res['not_indexed_but_hit']}")
    print(
        f"one alert filed: POST {res['create_alert_ms']:.1f} ms; the next query "
        f"{res['query_after_new_alert_ms']:.1f} ms (hit: {res['new_alert_hit']})"
    )
    if res["concurrent"]:
        c = res["concurrent"]
        print(
            f"{c['clients']} clients at once: {c['queries_per_s']:.1f} queries/s, "
            f"p50 {c['ms']['p50']:.1f} ms  p95 {c['ms']['p95']:.1f} ms"
        )
    verdict = "met" if res["target_p95_under_50ms"] else "MISSED"
    print(f"target p95 < 50 ms: {verdict}")
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
