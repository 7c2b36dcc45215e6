"""`safestreets alerts` as an operator and as a user meet it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.cli.test_cli import run as run_cli

from safestreets.store import tables
from safestreets.store.engine import get_engine

COLUMNS = (
    "kind,external_id,handling_code,valid_from,valid_until,contact,reason,warrant_ref,iccs_code,"
    "given_names,surname_1,surname_2,date_of_birth,sex,plate,plate_country,serial,make,calibre"
)
ROWS = [
    {"kind": "wanted_person", "external_id": "W-1", "handling_code": "REGIONAL",
     "warrant_ref": "OC-1", "iccs_code": "0101", "given_names": "Juan Carlos",
     "surname_1": "Pérez", "surname_2": "López", "date_of_birth": "1980-05-17", "sex": "M"},
    {"kind": "stolen_vehicle", "external_id": "V-1", "handling_code": "NATIONAL",
     "plate": "P123ABC", "plate_country": "GT"},
    # Valid until 2026-01-01: already past on the test's (real) clock.
    {"kind": "stolen_firearm", "external_id": "F-1", "handling_code": "REGIONAL",
     "valid_until": "2026-01-01", "serial": "GLK4471", "make": "Glock", "calibre": "9mm"},
    # No contact and no surname: rejected.
    {"kind": "missing_person", "external_id": "M-1", "handling_code": "REGIONAL",
     "contact": "", "given_names": "Ana"},
]  # fmt: skip
COMMON = {
    "valid_from": "2025-01-01",
    "valid_until": "2035-01-01",
    "contact": "PNC +502 0000-0000",
    "reason": "Orden de captura",
}
ALERTS_CSV = (
    "\n".join(
        [COLUMNS] + [",".join({**COMMON, **r}.get(c, "") for c in COLUMNS.split(",")) for r in ROWS]
    )
    + "\n"
)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    return run_cli(args, capsys, words=False)


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    url = f"sqlite:///{tmp_path}/db.sqlite"
    assert run(["init", "-d", url], capsys)[0] == 0
    for args in (
        ["agencies", "add", "GT-PNC", "--name", "PNC", "--country", "GT"],
        ["agencies", "add", "SV-PNC", "--name", "PNC SV", "--country", "SV"],
        ["users", "add", "ana", "--agency", "GT-PNC", "--role", "analyst", "--no-password"],
        ["users", "add", "vera", "--agency", "GT-PNC", "--role", "viewer", "--no-password"],
        ["users", "add", "sal", "--agency", "SV-PNC", "--role", "liaison", "--no-password"],
    ):
        assert run([*args, "-d", url], capsys)[0] == 0
    return url


@pytest.fixture
def alerts_file(tmp_path: Path) -> Path:
    path = tmp_path / "alerts.csv"
    path.write_text(ALERTS_CSV, encoding="utf-8")
    return path


def _refs(db: str) -> dict[str, str]:
    with get_engine(db).connect() as conn:
        rows = conn.execute(select(tables.alert.c.external_id, tables.alert.c.reference)).all()
    return {r.external_id: r.reference for r in rows}


def test_load_report_json_rerun_and_report_file(
    db: str, alerts_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report_path = tmp_path / "out" / "r.json"
    code, out, err = run(
        [
            "alerts", "load", str(alerts_file), "--profile", "safestreets-alerts",
            "--agency", "GT-PNC", "--report", str(report_path), "--json", "-d", db,
        ],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert (data["rows"], data["inserted"], data["rejected"]) == (4, 3, 1)
    # The missing person has no contact and no surname: both problems, by file row (5).
    assert {(p["row"], p["field"], p["severity"]) for p in data["problems"]} == {
        (4, "valid_until", "warning"),
        (5, "contact", "error"),
        (5, "surname_1", "error"),
    }
    assert json.loads(report_path.read_text(encoding="utf-8")) == data
    # The table form, and a re-run that changes nothing.
    code, out, _ = run(
        ["alerts", "load", str(alerts_file), "-p", "safestreets-alerts", "--agency", "GT-PNC",
         "-d", db],
        capsys,
    )  # fmt: skip
    flat = " ".join(out.split())
    assert code == 0
    assert "unchanged │ 3" in flat and "inserted │ 0" in flat and "rejected │ 1" in flat
    assert "no contact point" in flat


def test_list_show_cancel_expire(
    db: str, alerts_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["alerts", "load", str(alerts_file), "-p", "safestreets-alerts", "--agency", "GT-PNC",
         "-d", db], capsys)  # fmt: skip
    refs = _refs(db)
    code, out, _ = run(["alerts", "list", "--json", "-d", db], capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and sorted(r["external_id"] for r in rows) == ["F-1", "V-1", "W-1"]
    code, out, _ = run(["alerts", "list", "--kind", "stolen_vehicle", "--json", "-d", db], capsys)
    assert [json.loads(line)["reference"] for line in out.splitlines()] == [refs["V-1"]]
    code, out, err = run(["alerts", "list", "--kind", "stolen_car", "-d", db], capsys)
    assert code == 2 and "unknown alert kind(s) stolen_car" in err and "Traceback" not in err

    code, out, _ = run(["alerts", "show", refs["W-1"].lower(), "-d", db], capsys)
    assert code == 0 and "Juan Carlos" in out and "OC-1" in out
    code, out, _ = run(["alerts", "show", refs["W-1"], "--json", "-d", db], capsys)
    assert json.loads(out)["surname_2"] == "López"

    # A viewer of another country's agency sees no NATIONAL alert of GT: show says not found.
    code, _, err = run(["alerts", "show", refs["V-1"], "--as-user", "sal", "-d", db], capsys)
    assert code == 2 and f"no alert {refs['V-1']} that you may see" in err
    # ...but a REGIONAL one, yes.
    code, out, _ = run(["alerts", "show", refs["W-1"], "--as-user", "sal", "-d", db], capsys)
    assert code == 0 and "Juan Carlos" in out

    # A viewer may not cancel; the agency's analyst may; the other agency's liaison may not.
    code, _, err = run(["alerts", "cancel", refs["V-1"], "--as-user", "vera", "-d", db], capsys)
    assert code == 2 and "may not manage the alerts of GT-PNC" in err
    code, _, err = run(["alerts", "cancel", refs["V-1"], "--as-user", "sal", "-d", db], capsys)
    assert code == 2 and "may not manage" in err
    code, out, _ = run(["alerts", "cancel", refs["V-1"], "--as-user", "ana", "-d", db], capsys)
    assert code == 0 and f"alert {refs['V-1']} cancelled" in out
    code, out, _ = run(["alerts", "list", "--status", "cancelled", "--json", "-d", db], capsys)
    assert [json.loads(line)["external_id"] for line in out.splitlines()] == ["V-1"]

    # F-1 ran out on 2026-01-01: expire marks it (the test clock is the real one: it is past).
    code, out, _ = run(["alerts", "expire", "-d", db], capsys)
    assert code == 0 and "1 alert(s) marked expired" in out
    code, out, _ = run(["alerts", "list", "--status", "expired", "--json", "-d", db], capsys)
    assert [json.loads(line)["external_id"] for line in out.splitlines()] == ["F-1"]
    code, out, _ = run(["alerts", "expire", "-d", db], capsys)
    assert "0 alert(s) marked expired" in out

    code, out, _ = run(["audit", "show", "--json", "--limit", "200", "-d", db], capsys)
    entries = [json.loads(line) for line in out.splitlines()]
    actions = {(e["action"], e["actor"]) for e in entries}
    assert ("alert:update", "ana") in actions  # the cancel, under the user's name
    assert any(a == "alert:expire" and actor.startswith("operator:") for a, actor in actions)
    assert ("read:alerts", "sal") in actions
    code, out, _ = run(["audit", "verify", "-d", db], capsys)
    assert code == 0 and "intact" in out


def test_user_errors_are_one_line(
    db: str, alerts_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = [
        (["alerts", "load", str(alerts_file), "-p", "nope", "-d", db], "unknown alert profile"),
        (["alerts", "load", str(tmp_path / "none.csv"), "-p", "safestreets-alerts", "--agency",
          "GT-PNC", "-d", db], "no such file"),
        (["alerts", "load", str(alerts_file), "-p", "safestreets-alerts", "-d", db],
         "no owner agency"),
        (["alerts", "load", str(alerts_file), "-p", "safestreets-alerts", "--agency", "XX-NONE",
          "-d", db], "unknown agency"),
        (["alerts", "load", str(alerts_file), "-p", "safestreets-alerts", "--as-user", "ghost",
          "-d", db], "no user 'ghost'"),
        (["alerts", "load", str(alerts_file), "-p", "safestreets-alerts", "--as-user", "vera",
          "-d", db], "may not manage the alerts of GT-PNC"),
        (["alerts", "cancel", "GT-WP-NOTHERE", "-d", db], "no alert GT-WP-NOTHERE"),
        (["alerts", "list", "--status", "dormant", "-d", db], "unknown status dormant"),
        (["alerts", "profiles", "show", "nope"], "unknown alert profile"),
    ]  # fmt: skip
    for args, message in cases:
        code, _, err = run(args, capsys)
        assert code == 2, args
        assert message in err, (args, err)
        assert "Traceback" not in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncolumns: {surname: a}\n", encoding="utf-8")
    code, _, err = run(["alerts", "load", str(alerts_file), "-p", str(bad), "-d", db], capsys)
    assert code == 2 and "alert profile" in err and "unknown field(s) surname" in err
    assert "map external_id" in err  # every problem in the one message


def test_profiles_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["alerts", "profiles", "list"], capsys)
    flat = " ".join(out.split())
    assert code == 0
    for name in ("safestreets-alerts", "safestreets-clk", "hn-armas-de-fuego"):
        assert name in flat
    code, out, _ = run(["alerts", "profiles", "show", "gt-pnc-personas-requeridas"], capsys)
    assert code == 0 and "kind_column: Tipo de Alerta" in out and "Orden de captura" in out


def test_encode_then_load_as_clk_alerts(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    persons = tmp_path / "persons.csv"
    persons.write_text(
        "record_id,given_names,surname_1,surname_2,date_of_birth,sex,national_id,id_country,"
        "kind,warrant_ref,iccs_code,handling_code,valid_until,contact,reason\n"
        "P-1,María José,Hernández,Pérez,1990-03-04,F,,,wanted_person,OC-7,0101,RESTRICTED,"
        "2035-01-01,PNC SV +503 0000-0000,Orden de captura\n"
        "P-2,Carlos,Martínez,,1975,M,,,missing_person,,,REGIONAL,2035-01-01,"
        "PNC SV +503 0000-0000,Desaparecido\n",
        encoding="utf-8",
    )
    key = tmp_path / "shared.key"
    key.write_text("a shared key of the member countries\n", encoding="utf-8")
    out_csv = tmp_path / "enc" / "encodings.csv"
    code, out, err = run(
        ["alerts", "encode", str(persons), "--key-file", str(key), "--out", str(out_csv)], capsys
    )
    assert code == 0, err
    assert "2 person(s) encoded" in " ".join(out.split())
    text = out_csv.read_text(encoding="utf-8")
    # No name, date of birth or other personal data leaves the file.
    for secret in ("María", "Hernández", "Carlos", "Martínez", "1990", "1975"):
        assert secret not in text
    rows = list(csv.DictReader(text.splitlines()))
    assert list(rows[0])[:3] == ["record_id", "clk", "clk_blocks"]
    assert rows[0]["kind"] == "wanted_person" and rows[0]["warrant_ref"] == "OC-7"
    assert len(rows[0]["clk"]) == 172  # 1024 bits = 128 bytes in base64
    assert rows[0]["clk_blocks"] and all(len(k) == 16 for k in rows[0]["clk_blocks"].split())

    code, out, err = run(
        ["alerts", "load", str(out_csv), "-p", "safestreets-clk", "--agency", "SV-PNC", "--json",
         "-d", db],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert (data["inserted"], data["rejected"]) == (2, 0), data["problems"]
    with get_engine(db).connect() as conn:
        stored = conn.execute(
            select(
                tables.alert.c.external_id,
                tables.alert.c.encoding,
                tables.alert.c.given_names,
                tables.alert.c.clk,
                tables.alert.c.clk_blocks,
            ).order_by(tables.alert.c.external_id)
        ).all()
    assert [(r.external_id, r.encoding, r.given_names) for r in stored] == [
        ("P-1", "clk", None),
        ("P-2", "clk", None),
    ]
    assert len(stored[0].clk) == 128 and stored[0].clk_blocks == rows[0]["clk_blocks"]

    # A column that is neither a person nor an alert column is refused (it could leak data).
    persons.write_text("record_id,given_names,telefono\nP-1,Ana,5555\n", encoding="utf-8")
    code, _, err = run(
        ["alerts", "encode", str(persons), "--key-file", str(key), "--out", str(out_csv)], capsys
    )
    assert code == 2 and "unknown column(s) telefono" in err
    key.write_text("short", encoding="utf-8")
    code, _, err = run(
        ["alerts", "encode", str(persons), "--key-file", str(key), "--out", str(out_csv)], capsys
    )
    assert code == 2 and "too short" in err
