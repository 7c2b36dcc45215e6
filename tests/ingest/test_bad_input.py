"""`safestreets ingest` on a corpus of bad files: clear errors, precise quarantine, no half loads.

The contract: a report on stdout and exit 0, or ``error: <one line>`` and ``hint: ...`` on
stderr, exit 2, no traceback and nothing in the store. Every case of :mod:`.bad_corpus` is
run through the CLI in-process; the cases that need a look into the store (text round trips,
dates, re-ingest) also run on PostgreSQL through the ``store`` fixture.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from safestreets.cli.main import main

from . import bad_corpus as bc
from .bad_corpus import CASES, Case

Result = tuple[int, str, str]


# --- helpers ------------------------------------------------------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    """Run the CLI in-process; returns (exit code, stdout, stderr). Exceptions propagate."""
    capsys.readouterr()
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def cli_url(engine: Engine) -> str:
    """A URL the CLI can use for the ``store`` fixture's engine (its schema included)."""
    url = engine.url
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            path = conn.execute(text("SHOW search_path")).scalar_one()
        url = url.update_query_dict({"options": f"-csearch_path={path}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """A SQLite store made by `safestreets init`."""
    url = f"sqlite:///{tmp_path}/t.sqlite"
    code, _, err = run_cli(capsys, "init", "-d", url)
    assert code == 0, err
    return url


@pytest.fixture
def store_url(store: Engine) -> str:
    return cli_url(store)


def ingest(capsys: pytest.CaptureFixture[str], url: str, path: Path, profile: str) -> Result:
    return run_cli(capsys, "ingest", str(path), "--profile", profile, "--json", "-d", url)


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    from safestreets.store.engine import get_engine

    with get_engine(url).connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql)).all()]


def store_totals(url: str) -> dict[str, int]:
    (row,) = query(
        url,
        "SELECT (SELECT count(*) FROM incident), (SELECT count(*) FROM victim), "
        "(SELECT count(*) FROM quarantine), (SELECT count(*) FROM batch), "
        "(SELECT count(*) FROM batch WHERE rows_loaded > 0)",
    )
    names = ("incident", "victim", "quarantine", "batch", "loaded_batch")
    return {name: int(value) for name, value in zip(names, row, strict=True)}  # type: ignore[call-overload]


EMPTY = {"incident": 0, "victim": 0, "quarantine": 0, "batch": 0, "loaded_batch": 0}


def assert_user_error(result: Result, case: Case) -> None:
    code, out, err = result
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert code == 2, f"exit {code}; stdout={out[:300]!r} stderr={err[:300]!r}"
    assert out.strip() == ""
    assert lines[0].startswith("error: "), err
    assert len(lines) <= 2, f"the error must be one line (and a hint): {err!r}"
    for part in case.error:
        assert part in lines[0], f"{part!r} not in {lines[0]!r}"
    if case.hint:
        assert len(lines) == 2 and lines[1].startswith("hint: "), err
        for part in case.hint:
            assert part in lines[1], f"{part!r} not in {lines[1]!r}"


def assert_report(result: Result, case: Case, url: str) -> dict[str, object]:
    code, out, err = result
    assert code == 0, f"exit {code}: {err}"
    report = json.loads(out)
    for key in (
        "batch_id",
        "rows_read",
        "rows_loaded",
        "rows_rejected",
        "rows_duplicate",
        "rows_duplicate_in_file",
        "rows_duplicate_in_store",
        "rows_unmapped_category",
        "rejections",
        "rejection_samples",
        "warnings",
    ):
        assert key in report, key
    assert report["rows_read"] == (
        report["rows_loaded"] + report["rows_rejected"] + report["rows_duplicate"]
    )
    assert report["rows_duplicate"] == (
        report["rows_duplicate_in_file"] + report["rows_duplicate_in_store"]
    )
    for key, want in case.report.items():
        assert report[key] == want, f"{key}: {report[key]!r} != {want!r}"
    batch = report["batch_id"]
    quarantined = query(
        url, f"SELECT row_number, reasons, raw FROM quarantine WHERE batch_id = {batch}"
    )
    assert {r[0]: r[1] for r in quarantined} == case.quarantine
    for _, _, raw in quarantined:
        assert isinstance(json.loads(str(raw)), dict)
    # Every reason of every quarantined row is counted in the report, with its row number.
    counted: dict[str, int] = {}
    for row_no, reasons, _ in quarantined:
        for reason in str(reasons).split("; "):
            counted[reason] = counted.get(reason, 0) + 1
            assert row_no in report["rejection_samples"][reason]  # type: ignore[index]
    assert counted == report["rejections"]
    (stored,) = query(url, f"SELECT count(*) FROM incident WHERE batch_id = {batch}")
    assert stored[0] == report["rows_loaded"]
    (batch_row,) = query(
        url,
        "SELECT rows_read, rows_loaded, rows_rejected, rows_duplicate FROM batch "
        f"WHERE batch_id = {batch}",
    )
    assert batch_row == tuple(
        report[k] for k in ("rows_read", "rows_loaded", "rows_rejected", "rows_duplicate")
    )
    return report


# --- the corpus ---------------------------------------------------------------------------


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25
    assert len(set(bc.case_ids())) == len(CASES)
    assert sum(c.is_error for c in CASES) >= 20


@pytest.mark.parametrize("case", [c for c in CASES if c.is_error], ids=lambda c: c.id)
def test_user_error_loads_nothing(
    case: Case, db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, profile = case.write(tmp_path)
    assert_user_error(ingest(capsys, db, path, profile), case)
    assert store_totals(db) == EMPTY


@pytest.mark.parametrize("case", [c for c in CASES if not c.is_error], ids=lambda c: c.id)
def test_file_loads_with_exact_report(
    case: Case, db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, profile = case.write(tmp_path)
    assert_report(ingest(capsys, db, path, profile), case, db)


def test_uninitialised_database_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The error path before the store is touched: an uninitialised database is an error too."""
    case = bc.by_id("tab-delimited")
    path, profile = case.write(tmp_path)
    code, _, err = ingest(capsys, f"sqlite:///{tmp_path}/never-initialised.sqlite", path, profile)
    assert code == 2
    assert err.splitlines() == [
        "error: the database is not initialised",
        "hint: run `safestreets init` first",
    ]


def test_report_table_prints_markup_in_data_verbatim(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Category labels are user data: "[/]" in one must not crash the printed report."""
    path = tmp_path / "markup[x].csv"
    path.write_bytes(bc.csv_bytes(bc.rows(bc.row(delito="[/]"), bc.row(delito="[bold]Robo"))))
    prof = tmp_path / "gt.yaml"
    prof.write_text(bc.GT_PROFILE_YAML, encoding="utf-8")
    code, out, err = run_cli(capsys, "ingest", str(path), "--profile", str(prof), "-d", db)
    assert code == 0, err
    assert "markup[x].csv" in out
    assert "[/]" in out and "[bold]Robo" in out


# --- store-dependent checks (SQLite and PostgreSQL) ---------------------------------------


def _ingest_case(case_id: str, url: str, tmp_path: Path, capsys) -> dict[str, object]:  # type: ignore[no-untyped-def]
    case = bc.by_id(case_id)
    path, profile = case.write(tmp_path)
    return assert_report(ingest(capsys, url, path, profile), case, url)


def _utc(value: object) -> datetime:
    """A stored timestamp (datetime or SQLite text) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def test_cp1252_text_round_trips(store_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    report = _ingest_case("latin1-cp1252", store_url, tmp_path, capsys)
    assert report["notes"] == ["read as cp1252 and converted to UTF-8"]
    assert report["warnings"] == {"unrecognised_sex": 1}  # "Niña" is no sex code
    cats = {r[0] for r in query(store_url, "SELECT local_category FROM incident")}
    assert cats == {"Extorsión", "Robo", "Daño"}
    places = {r[0] for r in query(store_url, "SELECT admin2 FROM incident")}
    assert not any("\ufffd" in str(p) or "Ã" in str(p) for p in places)
    mapped = query(store_url, "SELECT iccs_code FROM incident WHERE local_category = 'Extorsión'")
    assert mapped[0][0] is not None


def test_utf8_bom_is_not_part_of_the_first_column(store_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _ingest_case("utf8-bom", store_url, tmp_path, capsys)
    ((raw,),) = query(store_url, "SELECT raw FROM quarantine")
    keys = list(json.loads(str(raw)))
    assert keys == bc.HEADER  # "fecha", not "\ufefffecha"


def test_utf16_text_round_trips(store_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    report = _ingest_case("utf16-bom", store_url, tmp_path, capsys)
    assert report["notes"] == ["read as utf-16 and converted to UTF-8"]
    assert query(store_url, "SELECT local_category FROM incident") == [("Extorsión",)]


def test_decimal_comma_coordinates(store_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    report = _ingest_case("semicolon-decimal-comma", store_url, tmp_path, capsys)
    assert report["read_as"] == "csv, encoding utf-8, delimiter ';'"
    points = sorted(query(store_url, "SELECT lat, lon FROM incident"))
    assert points == [(14.6349, -90.5069), (15.7278, -88.5944)]


def test_mixed_date_formats_all_read_day_first(store_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _ingest_case("mixed-date-formats", store_url, tmp_path, capsys)
    stored = query(store_url, "SELECT occurred_at, occurred_precision FROM incident")
    assert len(stored) == len(bc.MIXED_DATES)
    assert {_utc(v) for v, _ in stored} == {datetime(2023, 1, 5, 16, 30, tzinfo=UTC)}
    assert {p for _, p in stored} == {"minute"}


def test_xlsx_cells_are_read_as_values(store_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _ingest_case("xlsx-date-and-number-cells", store_url, tmp_path, capsys)
    stored = query(
        store_url, "SELECT occurred_at, local_category, lat, lon FROM incident ORDER BY occurred_at"
    )
    assert [(_utc(t), c, la, lo) for t, c, la, lo in stored] == [
        (datetime(2023, 1, 5, 16, 30, tzinfo=UTC), "Homicidio", 14.6349, -90.5069),
        (datetime(2023, 1, 7, 4, 5, tzinfo=UTC), "Extorsión", 14.6349, -90.5069),
    ]
    assert sorted(r[0] for r in query(store_url, "SELECT age FROM victim")) == [30, 41]


def test_unknown_category_loads_unmapped(store_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _ingest_case("unknown-category", store_url, tmp_path, capsys)
    stored = dict(
        query(store_url, "SELECT local_category, count(iccs_code) FROM incident GROUP BY 1")
    )
    assert stored == {"Homicidio": 1, "Brujería": 0}


def test_duplicates_and_reingest(store_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    first = _ingest_case("duplicates-in-file", store_url, tmp_path, capsys)
    assert first["rejection_samples"] == {"duplicate_in_file": [3, 5]}
    case = bc.by_id("duplicates-in-file")
    path, profile = case.write(tmp_path)
    code, out, err = ingest(capsys, store_url, path, profile)
    assert code == 0, err
    again = json.loads(out)
    assert again["batch_id"] != first["batch_id"]
    assert (again["rows_read"], again["rows_loaded"], again["rows_rejected"]) == (4, 0, 0)
    # The first copy of each record is already stored; the repeats repeat inside the file.
    assert (again["rows_duplicate"], again["rows_duplicate_in_store"]) == (4, 2)
    assert again["rows_duplicate_in_file"] == 2
    assert store_totals(store_url)["incident"] == 2

    # A file without repeats, ingested twice: every row of the second run is already stored.
    clean = tmp_path / "clean.csv"
    clean.write_bytes(bc.csv_bytes(bc.numbered(5, delito="Robo")))
    reports = []
    for _ in range(2):
        code, out, err = ingest(capsys, store_url, clean, profile)
        assert code == 0, err
        reports.append(json.loads(out))
    assert reports[0]["rows_loaded"] == 5
    assert {k: reports[1][k] for k in ("rows_read", "rows_loaded", "rows_duplicate_in_store")} == {
        "rows_read": 5,
        "rows_loaded": 0,
        "rows_duplicate_in_store": 5,
    }
    assert store_totals(store_url)["incident"] == 7


def test_reingest_reports_no_unmapped_categories(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = bc.by_id("unknown-category")
    path, profile = case.write(tmp_path)
    assert ingest(capsys, db, path, profile)[0] == 0
    code, out, err = ingest(capsys, db, path, profile)
    assert code == 0, err
    again = json.loads(out)
    assert (again["rows_loaded"], again["rows_unmapped_category"]) == (0, 0)
    assert again["unmapped_categories"] == {}


@pytest.mark.parametrize(
    "case",
    [bc.by_id(i) for i in ("gzip-large-truncated", "csv-extra-fields", "json-invalid")],
    ids=lambda c: c.id,
)
def test_errors_leave_the_store_as_it_was(
    case: Case, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failure after the batch has begun rolls back; earlier batches stay intact."""
    _ingest_case("tab-delimited", store_url, tmp_path, capsys)
    before = store_totals(store_url)
    path, profile = case.write(tmp_path)
    assert_user_error(ingest(capsys, store_url, path, profile), case)
    assert store_totals(store_url) == before


# --- killed mid-load ----------------------------------------------------------------------


def _sqlite_counts(db_file: Path) -> tuple[int, int, int]:
    con = sqlite3.connect(db_file)
    try:
        return tuple(  # type: ignore[return-value]
            con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("incident", "batch", "quarantine")
        )
    finally:
        con.close()


def _write_locked(db_file: Path) -> bool:
    """True while another connection holds the database's write lock."""
    if not db_file.exists():
        return False
    con = sqlite3.connect(db_file, timeout=0, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc)
    finally:
        con.close()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_load_leaves_nothing_and_rerun_loads_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db_file = tmp_path / "k.sqlite"
    url = f"sqlite:///{db_file}"
    assert run_cli(capsys, "init", "-d", url)[0] == 0
    data = tmp_path / "large.csv"
    expected = bc.write_large_csv(data, 300_000)
    prof = tmp_path / "gt.yaml"
    prof.write_text(bc.GT_PROFILE_YAML, encoding="utf-8")
    cmd = [
        sys.executable,
        "-c",
        "from safestreets.cli.main import main; main()",
        "ingest",
        str(data),
        "--profile",
        str(prof),
        "--json",
        "-d",
        url,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Wait until the loader holds the write lock (its batch transaction is open), then
        # give it a moment to be well inside the batch before killing it.
        deadline = time.monotonic() + 30
        while not _write_locked(db_file) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.4)
        assert proc.poll() is None, "the load finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert _sqlite_counts(db_file) == (0, 0, 0)

    code, out, err = run_cli(
        capsys, "ingest", str(data), "--profile", str(prof), "--json", "-d", url
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["rows_read"] == expected["rows_read"]
    assert report["rows_rejected"] == expected["rows_rejected"]
    assert report["rows_duplicate"] == expected["rows_duplicate"]
    assert report["rows_loaded"] == (
        report["rows_read"] - report["rows_rejected"] - report["rows_duplicate"]
    )
    assert _sqlite_counts(db_file) == (report["rows_loaded"], 1, expected["rows_rejected"])
