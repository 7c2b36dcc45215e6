"""The command line as a user meets it: help, init, profiles, demo, counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from safestreets.cli.main import main
from safestreets.store import tables
from safestreets.store.engine import get_engine


def run(
    args: list[str], capsys: pytest.CaptureFixture[str], *, words: bool = True
) -> tuple[int, str, str]:
    """``safestreets ARGS``: exit code, stdout, stderr (as words). With ``words`` a stdout that
    is not JSON is compared as words too (Rich wraps long lines at the terminal width)."""
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    if words and not out.lstrip().startswith("{"):
        out = " ".join(out.split())
    return code, out, " ".join(err.split())


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    for command in ("init", "ingest", "profiles", "demo", "serve", "counts", "population"):
        assert command in out


def test_init_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/db.sqlite"
    assert run(["init", "-d", url], capsys)[0] == 0
    code, out, _ = run(["init", "-d", url], capsys)
    assert code == 0 and "up to date" in out


def test_profiles_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["profiles", "list"], capsys)
    assert code == 0 and "cdmx-fgj" in out and "safestreets-csv" in out
    code, out, _ = run(["profiles", "show", "cdmx-fgj"], capsys)
    assert code == 0 and "fecha_hecho" in out


def test_unknown_profile_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/db.sqlite"
    run(["init", "-d", url], capsys)
    f = tmp_path / "x.csv"
    f.write_text("a\n1\n", encoding="utf-8")
    code, _, err = run(["ingest", str(f), "--profile", "nope", "-d", url], capsys)
    assert code == 2
    assert "unknown profile 'nope'" in err and "Traceback" not in err


def test_ingest_before_init_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "x.csv"
    f.write_text("a\n1\n", encoding="utf-8")
    code, _, err = run(
        ["ingest", str(f), "-p", "cdmx-fgj", "-d", f"sqlite:///{tmp_path}/n.sqlite"], capsys
    )
    assert code == 2 and "not initialised" in err and "safestreets init" in err


def test_demo_loads_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/db.sqlite"
    args = [
        "demo",
        "--incidents",
        "20000",
        "--years",
        "1",
        "--quiet",
        "--out",
        str(tmp_path / "demo"),
        "-d",
        url,
    ]
    code, out, _ = run(args, capsys)
    assert code == 0 and "SYNTHETIC" in out
    assert (tmp_path / "demo" / "layers" / "markets.geojson").is_file()
    code, out, _ = run([*args, "--if-missing"], capsys)
    assert code == 0 and "already loaded" in out
    engine = get_engine(url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(tables.incident)).scalar_one()
        synthetic = conn.execute(select(tables.batch.c.synthetic)).scalars().all()
    assert n == 20000 and synthetic == [True]


def test_counts_load_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/db.sqlite"
    run(["init", "-d", url], capsys)
    f = tmp_path / "c.csv"
    f.write_text(
        "source,country,period,iccs_code,unit,count\nPNC,SV,2022-03,0101,victims,40\n",
        encoding="utf-8",
    )
    report = tmp_path / "r.json"
    code, out, _ = run(
        ["counts", "load", str(f), "--json", "--report", str(report), "-d", url], capsys
    )
    assert code == 0
    data = json.loads(out)
    assert data["rows_loaded"] == 1 and json.loads(report.read_text())["rows_read"] == 1
