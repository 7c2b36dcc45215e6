"""Service load benchmark (issue 5): concurrent clients against the running API on loopback.

What it does, in one invocation:

* builds the SYNTHETIC demo region (``--incidents``, seed 7, three years, seven countries, as
  ``make run`` does) in a SQLite file under the work folder, or uses ``--database URL``;
* registers a demo agency and an analyst through :mod:`safestreets.access.accounts` (as the
  local operator) and creates an API token for it (stored hashed, as any token);
* starts the real app in its own process (``uvicorn safestreets.api.app:create_app``, one
  worker, as ``safestreets serve`` runs it) on a loopback socket the script opened, so that the
  load generator and the server do not share an interpreter;
* measures each endpoint alone first (one client, ``--solo`` requests each: unloaded
  latency), then runs ``--clients`` concurrent clients (httpx.AsyncClient, keep-alive, one
  connection each) for ``--seconds``; every client cycles over the mix: the trivial health
  check (the baseline), an indicator, a hotspot layer and an incident search, with varying
  parameters so that no answer is the same twice in a row.

It reports requests per second, p50/p95/p99 latency and errors (any answer but 2xx, or a
failed connection) per endpoint and overall, and checks the targets: zero errors, and the p95
of each data endpoint within 10x the p95 of the health check measured in the same run. The
exit status is 1 when a target is missed.

    .venv/bin/python benchmarks/bench_service.py [--clients 50] [--seconds 30]
        [--incidents 250000] [--layer kde|counts|gistar] [--cell 1000] [--solo 50] [--workers 1]
        [--database URL] [--workdir DIR] [--keep] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

AGENCY = "SV-PNC"
USER = "bench.analyst"
#: The targets of issue 5.
MAX_ERRORS = 0
MAX_P95_RATIO = 10.0


# --- the request mix -------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """One kind of request: a name and an endless supply of paths (parameters vary)."""

    name: str
    paths: Callable[[], Iterator[str]]


def _health() -> Iterator[str]:
    return itertools.repeat("/api/v1/health")


COUNTRIES = ("SV", "GT", "HN", "NI", "CR", "PA", "BZ")
#: Rate indicators of the catalogue, by country and year (the dashboard's overview question).
#: (Femicide rates need female populations, which are not shipped: they answer 400.)
INDICATORS = ("homicide_rate", "robbery_rate", "theft_rate", "extortion_rate", "kidnapping_rate")
#: ICCS sections of the hotspot layers and incident searches.
SECTIONS = ("01", "02", "04", "05", "07")


def _indicators() -> Iterator[str]:
    combos = list(itertools.product(INDICATORS, COUNTRIES))
    return (
        f"/api/v1/indicators/{i}?by=country,year&where=country={c}"
        for i, c in itertools.cycle(combos)
    )


#: The hotspot layer and its cell size (``--layer``, ``--cell``). El Salvador at 500 m is over
#: the API's 50,000-cell limit, hence 1 km.
LAYER = {"kind": "kde", "cell": 1000}


def _hotspots() -> Iterator[str]:
    # One year of one ICCS section in the token's own country: an analyst's everyday map.
    combos = list(itertools.product(SECTIONS, (2022, 2023)))
    kind, cell = LAYER["kind"], LAYER["cell"]
    return (
        f"/api/v1/hotspots/{kind}?country=SV&iccs={s}&from={y}&to={y}&cell_size={cell}"
        for s, y in itertools.cycle(combos)
    )


def _incidents() -> Iterator[str]:
    # A filtered search, first page of 100 (quarter of a year, one ICCS section).
    combos = list(itertools.product(SECTIONS, ("01", "04", "07", "10"), (2022, 2023)))
    return (
        f"/api/v1/incidents?country=SV&iccs={s}&date_from={y}-{m}-01&limit=100"
        for s, m, y in itertools.cycle(combos)
    )


def _static() -> Iterator[str]:
    return itertools.repeat("/static/safestreets.css")


ENDPOINTS = (
    Endpoint("static", _static),
    Endpoint("health", _health),
    Endpoint("indicators", _indicators),
    Endpoint("hotspots", _hotspots),
    Endpoint("incidents", _incidents),
)
#: The trivial endpoint of the target. It is not free: it checks the schema revision and
#: counts the incidents. The static stylesheet (no database) is the floor, shown beside it.
BASELINE = "health"
FLOOR = "static"
#: The endpoints of the loaded run (``--mix``; all by default). The unloaded run does all.
MIX: set[str] = {ep.name for ep in ENDPOINTS}


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Tally:
    """Latencies (seconds) of successful requests and the errors, by endpoint."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, Counter[str]] = field(default_factory=dict)

    def ok(self, name: str, seconds: float) -> None:
        self.latencies.setdefault(name, []).append(seconds)

    def error(self, name: str, what: str) -> None:
        self.errors.setdefault(name, Counter())[what] += 1


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by the nearest-rank method."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


async def _request(client: httpx.AsyncClient, tally: Tally, name: str, path: str) -> None:
    t0 = time.perf_counter()
    try:
        response = await client.get(path)
        await response.aread()
    except httpx.HTTPError as exc:
        tally.error(name, type(exc).__name__)
        return
    elapsed = time.perf_counter() - t0
    if 200 <= response.status_code < 300:
        tally.ok(name, elapsed)
    else:
        tally.error(name, f"HTTP {response.status_code}")


def _client(base: str, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base,
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(60.0),
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
    )


async def solo(base: str, token: str, per_endpoint: int) -> Tally:
    """Each endpoint alone, one request at a time (unloaded latency)."""
    tally = Tally()
    async with _client(base, token) as client:
        for ep in ENDPOINTS:
            paths = ep.paths()
            await _request(client, Tally(), ep.name, next(paths))  # warm-up, not counted
            for _ in range(per_endpoint):
                await _request(client, tally, ep.name, next(paths))
    return tally


async def load(bases: list[str], token: str, clients: int, seconds: float) -> tuple[Tally, float]:
    """``clients`` concurrent clients cycling over the mix for ``seconds`` (closed loop)."""
    tally = Tally()
    deadline = time.perf_counter() + seconds

    async def one(k: int) -> None:
        async with _client(bases[k % len(bases)], token) as client:
            sources = [(ep.name, ep.paths()) for ep in ENDPOINTS if ep.name in MIX]
            # Each client starts at a different place in the mix and in each parameter list.
            for _, paths in sources:
                for _ in range(k % 7):
                    next(paths)
            i = k
            while time.perf_counter() < deadline:
                name, paths = sources[i % len(sources)]
                await _request(client, tally, name, next(paths))
                i += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(one(k) for k in range(clients)))
    return tally, time.perf_counter() - t0


# --- the store and the server ----------------------------------------------------------------


def build_store(url: str, incidents: int) -> float:
    """Migrate, load the demo region (unless already there); seconds taken."""
    from safestreets.demo import generate_region
    from safestreets.ingest.load import load_canonical
    from safestreets.store.batches import has_synthetic
    from safestreets.store.engine import get_engine
    from safestreets.store.migrate import upgrade

    t0 = time.perf_counter()
    engine = get_engine(url)
    upgrade(engine)
    if not has_synthetic(engine):
        chunks = ((c.incidents, c.victims) for c in generate_region(seed=7, incidents=incidents))
        load_canonical(chunks, engine, source="SYNTHETIC-DEMO", label="bench", synthetic=True)
    engine.dispose()
    return time.perf_counter() - t0


def make_token(url: str) -> str:
    """An API token of an analyst of the demo agency (both created if missing)."""
    from safestreets.access.accounts import (
        add_agency,
        add_user,
        create_token,
        get_user,
        list_agencies,
    )
    from safestreets.access.policy import Principal
    from safestreets.errors import NotFound
    from safestreets.store.engine import get_engine

    operator = Principal.local_operator("bench")
    engine = get_engine(url)
    with engine.begin() as conn:
        if AGENCY not in {a.agency_id for a in list_agencies(conn)}:
            add_agency(conn, operator, agency_id=AGENCY, name="PNC (bench)", country="SV")
        try:
            get_user(conn, USER)
        except NotFound:
            add_user(conn, operator, username=USER, agency_id=AGENCY, roles=["analyst"])
        token = create_token(conn, operator, USER, label="bench_service")
    engine.dispose()
    return token.secret


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """The app in ``workers`` single-worker uvicorn processes, each on a free loopback port
    (clients are spread over them, as a balancer would).

    Each uvicorn binds its port itself. A socket handed over (``--fd``) or bound by uvicorn's
    ``--workers`` supervisor has ``proto`` 0, so asyncio leaves Nagle's algorithm on and
    every response written in two parts waits for the client's delayed ACK: about 40 ms per
    request, measured here (uvicorn issue #3149). Hence no ``--workers N``.
    """

    def __init__(self, url: str, workdir: Path, workers: int = 1) -> None:
        env = {
            **os.environ,
            "SAFESTREETS_DATABASE_URL": url,
            "SAFESTREETS_DATA_DIR": str(workdir),
            "SAFESTREETS_DEMO": "true",
        }
        self.bases: list[str] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.log = open(workdir / "server.log", "wb")  # noqa: SIM115 (closed in stop)
        for _ in range(workers):
            port = _free_port()
            self.bases.append(f"http://127.0.0.1:{port}")
            command = [sys.executable, "-m", "uvicorn", "safestreets.api.app:create_app"]
            command += ["--factory", "--host", "127.0.0.1", "--port", str(port)]
            command += ["--log-level", "warning", "--no-access-log", "--backlog", "2048"]
            self.procs.append(
                subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)
            )
        deadline = time.monotonic() + 60
        waiting = list(self.bases)
        while waiting:
            try:
                if httpx.get(waiting[0] + "/api/v1/health", timeout=2).status_code == 200:
                    waiting.pop(0)
                    continue
            except httpx.HTTPError:
                pass
            if any(p.poll() is not None for p in self.procs) or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start; see {workdir / 'server.log'}")
            time.sleep(0.2)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.log.close()


# --- report ----------------------------------------------------------------------------------


def summarise(tally: Tally, seconds: float | None) -> dict[str, Any]:
    """Per endpoint and overall: requests, rate, errors and latency percentiles (ms)."""
    names = [ep.name for ep in ENDPOINTS]
    out: dict[str, Any] = {}
    everything: list[float] = []
    all_errors: Counter[str] = Counter()
    for name in [*names, "all"]:
        if name == "all":
            lat, errs = everything, all_errors
        else:
            lat = tally.latencies.get(name, [])
            errs = tally.errors.get(name, Counter())
            everything.extend(lat)
            all_errors.update(errs)
        n = len(lat) + sum(errs.values())
        out[name] = {
            "requests": n,
            "rps": round(n / seconds, 1) if seconds else None,
            "errors": sum(errs.values()),
            "error_kinds": dict(errs),
            "p50_ms": round(percentile(lat, 50) * 1000, 2) if lat else None,
            "p95_ms": round(percentile(lat, 95) * 1000, 2) if lat else None,
            "p99_ms": round(percentile(lat, 99) * 1000, 2) if lat else None,
            "mean_ms": round(statistics.fmean(lat) * 1000, 2) if lat else None,
        }
    return out


def _table(title: str, rows: dict[str, Any]) -> str:
    lines = [
        title,
        f"{'endpoint':<12}{'requests':>10}{'req/s':>9}{'errors':>8}"
        f"{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}",
    ]
    for name, r in rows.items():
        rps = "" if r["rps"] is None else f"{r['rps']:.1f}"
        fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
        lines.append(
            f"{name:<12}{r['requests']:>10}{rps:>9}{r['errors']:>8}"
            f"{fmt(r['p50_ms']):>10}{fmt(r['p95_ms']):>10}{fmt(r['p99_ms']):>10}"
        )
    return "\n".join(lines)


def verdicts(loaded: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """(target, met, figure) for the zero-error target and each endpoint's p95 ratio."""
    out = [
        (
            "zero errors",
            loaded["all"]["errors"] <= MAX_ERRORS,
            f"{loaded['all']['errors']} errors in {loaded['all']['requests']} requests",
        )
    ]
    base = loaded[BASELINE]["p95_ms"]
    floor = loaded[FLOOR]["p95_ms"]
    for ep in ENDPOINTS:
        if ep.name in (BASELINE, FLOOR) or ep.name not in MIX:
            continue
        p95 = loaded[ep.name]["p95_ms"]
        if p95 is None or base is None:
            out.append((f"{ep.name} p95 <= {MAX_P95_RATIO:g}x health", False, "no successes"))
            continue
        ratio = p95 / base
        out.append(
            (
                f"{ep.name} p95 <= {MAX_P95_RATIO:g}x health",
                ratio <= MAX_P95_RATIO,
                f"{p95:.1f} ms / {base:.1f} ms = {ratio:.2f}x"
                + (f" (static file: {p95 / floor:.1f}x)" if floor else ""),
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--incidents", type=int, default=250_000)
    parser.add_argument("--solo", type=int, default=50, help="unloaded requests per endpoint")
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes (safestreets serve runs 1)"
    )
    parser.add_argument(
        "--mix", help="loaded run: only these endpoints, e.g. health,indicators (diagnosis)"
    )
    parser.add_argument("--layer", choices=("counts", "kde", "gistar"), default=LAYER["kind"])
    parser.add_argument("--cell", type=int, default=LAYER["cell"], help="hotspot cell, metres")
    parser.add_argument("--database", help="use this store instead of building one")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args(argv)
    LAYER.update(kind=args.layer, cell=args.cell)
    if args.mix:
        MIX.clear()
        MIX.update(n.strip() for n in args.mix.split(",") if n.strip())
        unknown = MIX - {ep.name for ep in ENDPOINTS}
        if unknown:
            parser.error(f"unknown endpoint(s) in --mix: {', '.join(sorted(unknown))}")

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-service-"))
    workdir.mkdir(parents=True, exist_ok=True)
    url = args.database or f"sqlite:///{(workdir / 'bench.sqlite').resolve()}"
    server = None
    try:
        built = build_store(url, args.incidents)
        token = make_token(url)
        print(f"store ready in {built:.1f} s ({url.split('?')[0]})", flush=True)
        server = Server(url, workdir, args.workers)
        unloaded = summarise(asyncio.run(solo(server.bases[0], token, args.solo)), None)
        tally, elapsed = asyncio.run(load(server.bases, token, args.clients, args.seconds))
        loaded = summarise(tally, elapsed)
    finally:
        if server is not None:
            server.stop()
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    load_avg = os.getloadavg()
    print(f"\nmachine: {os.cpu_count()} cores, load average {load_avg[0]:.2f} at the end")
    print(_table(f"\nunloaded (1 client, {args.solo} requests per endpoint)", unloaded))
    print(
        _table(
            f"\nunder load ({args.clients} clients, {elapsed:.1f} s, mixed evenly, "
            f"{args.workers} server worker{'s' if args.workers > 1 else ''})",
            loaded,
        )
    )
    checks = verdicts(loaded)
    print()
    for target, met, figure in checks:
        print(f"{'met   ' if met else 'MISSED'}  {target}: {figure}")
    for name, row in loaded.items():
        if row["error_kinds"] and name != "all":
            print(f"errors of {name}: {row['error_kinds']}")
    if args.json:
        print(
            json.dumps(
                {
                    "clients": args.clients,
                    "seconds": round(elapsed, 2),
                    "incidents": args.incidents,
                    "layer": LAYER,
                    "workers": args.workers,
                    "cores": os.cpu_count(),
                    "load_average_1min": round(load_avg[0], 2),
                    "unloaded": unloaded,
                    "loaded": loaded,
                    "targets": [{"target": t, "met": m, "figure": f} for t, m, f in checks],
                },
                indent=2,
            )
        )
    return 0 if all(met for _, met, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
