"""`safestreets hits`: a batch check in long format, and the follow-up flow from the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from tests.cli.test_cli import run as run_cli

from safestreets.cli.hits import RESULT_COLUMNS

ALERTS = (
    "kind,external_id,handling_code,valid_until,contact,reason,plate,plate_country,make,serial,"
    "calibre\n"
    "stolen_vehicle,{agency}-V1,{code},2040-01-01,{agency} vehicle desk,robo,P111AAA,GT,Toyota,,\n"
    "stolen_firearm,{agency}-F1,{code},2040-01-01,{agency} armoury,hurto,,,Glock,GLK4471B,9mm\n"
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
        ["users", "add", "gt_admin", "--agency", "GT-PNC", "--role", "admin", "--no-password"],
        ["users", "add", "sv_liaison", "--agency", "SV-PNC", "--role", "liaison", "--no-password"],
        ["users", "add", "sv_other", "--agency", "SV-PNC", "--role", "liaison", "--no-password"],
        ["users", "add", "sv_viewer", "--agency", "SV-PNC", "--role", "viewer", "--no-password"],
    ):
        assert run([*args, "-d", url], capsys)[0] == 0
    # The same stolen vehicle and firearm reported by both agencies: GT's are RESTRICTED.
    for agency, code in (("GT-PNC", "RESTRICTED"), ("SV-PNC", "REGIONAL")):
        path = tmp_path / f"{agency}.csv"
        path.write_text(ALERTS.format(agency=agency, code=code), encoding="utf-8")
        c, _, err = run(
            ["alerts", "load", str(path), "-p", "safestreets-alerts", "--agency", agency,
             "-d", url],
            capsys,
        )  # fmt: skip
        assert c == 0, err
    return url


def test_batch_check_writes_one_line_per_hit(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seized = tmp_path / "seized.csv"
    seized.write_text(
        "record_id,serial,make,calibre\n"
        "S-1,GLK447IB,Glock,9 mm\n"  # a misread serial (1 read as I)
        "S-2,ZZ000001,Taurus,.38\n"
        ",,,\n",  # nothing to ask: reported, not queried
        encoding="utf-8",
    )
    out_csv = tmp_path / "out" / "results.csv"
    code, out, err = run(
        ["hits", "check", str(seized), "--subject", "firearm", "--out", str(out_csv),
         "--purpose", "armas incautadas, operativo 12", "--as-user", "sv_liaison", "-d", db],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "3 record(s): 1 hit, 1 no hit, 1 invalid" in " ".join(out.split())
    with out_csv.open(encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == RESULT_COLUMNS
        rows = list(reader)
    assert [(r["record_id"], r["result"]) for r in rows] == [
        ("S-1", "hit"),
        ("S-1", "hit"),
        ("S-2", "no_hit"),
        ("row 4", "invalid"),
    ]
    hits = {r["owner_agency"]: r for r in rows[:2]}
    assert hits["GT-PNC"]["query_id"] == hits["SV-PNC"]["query_id"]  # one query, two hits
    assert hits["GT-PNC"]["contact"] == "GT-PNC armoury"
    assert hits["GT-PNC"]["kind"] == "stolen_firearm"
    assert hits["GT-PNC"]["instructions"].startswith("Secure the firearm")
    assert float(hits["GT-PNC"]["score"]) >= 0.8
    assert hits["GT-PNC"]["reference"].startswith("GT-SF-")
    # RESTRICTED: follow up for details; the own agency's REGIONAL alert: details shown.
    assert (hits["GT-PNC"]["follow_up"], hits["SV-PNC"]["follow_up"]) == ("True", "False")
    assert rows[2]["query_id"] and not rows[2]["reference"]
    assert rows[3]["query_id"] == "" and "no field filled in" in rows[3]["message"]

    # Without --out: a table on stdout and the summary on stderr.
    code, out, err = run(
        ["hits", "check", str(seized), "--subject", "firearm", "--as-user", "sv_liaison",
         "-d", db],
        capsys,
    )  # fmt: skip
    assert code == 0 and "GLK" not in out and "GT-PNC" in out
    assert "1 hit, 1 no hit, 1 invalid" in err


def test_check_errors_are_one_line(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plates = tmp_path / "plates.csv"
    plates.write_text("record_id,plate,plate_country\nB-1,P111AAA,GT\n", encoding="utf-8")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("record_id,placa\nB-1,P111AAA\n", encoding="utf-8")
    cases = [
        (["hits", "check", str(plates), "--subject", "vehicle", "--as-user", "sv_viewer"],
         "may not run cross-border queries"),
        (["hits", "check", str(wrong), "--subject", "vehicle"], "unknown vehicle column(s) placa"),
        (["hits", "check", str(plates), "--subject", "boat"], "unknown subject 'boat'"),
        (["hits", "check", str(plates), "--subject", "vehicle", "--as-user", "nobody"],
         "no user 'nobody'"),
        (["hits", "check", str(plates)], "--subject"),
        (["hits", "request", "1", "X", "--reason", "r"], "--as-user"),
    ]  # fmt: skip
    for args, message in cases:
        code, _, err = run([*args, "-d", db], capsys)
        assert code == 2, args
        assert message in err, (args, err)
        assert "Traceback" not in err


def test_follow_up_flow_from_the_cli(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plates = tmp_path / "plates.csv"
    plates.write_text("record_id,plate,plate_country\nB-1,P111AAA,GT\n", encoding="utf-8")
    results = tmp_path / "r.csv"
    code, _, err = run(
        ["hits", "check", str(plates), "--subject", "vehicle", "--out", str(results),
         "--as-user", "sv_liaison", "-d", db],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    gt = next(
        r for r in csv.DictReader(results.open(encoding="utf-8")) if r["owner_agency"] == "GT-PNC"
    )
    qid, ref = gt["query_id"], gt["reference"]

    code, _, err = run(
        ["hits", "request", qid, ref, "--reason", "r", "--as-user", "sv_other", "-d", db], capsys
    )
    assert code == 2 and "is not sv_other's" in err
    code, out, err = run(
        ["hits", "request", qid, ref.lower(), "--reason", "vehículo en la frontera",
         "--as-user", "sv_liaison", "-d", db],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert f"request 1 filed for {ref}" in out

    code, out, _ = run(["hits", "requests", "--as-user", "gt_admin", "--json", "-d", db], capsys)
    (received,) = [json.loads(line) for line in out.splitlines()]
    assert (received["box"], received["status"], received["requester"]) == (
        "received",
        "pending",
        "sv_liaison",
    )
    code, out, _ = run(["hits", "requests", "--as-user", "sv_liaison", "-d", db], capsys)
    assert code == 0 and "Sent" in out and "Received" in out and "sv_liaison" in out

    code, _, err = run(["hits", "details", "1", "--as-user", "sv_liaison", "-d", db], capsys)
    assert code == 2 and "no released details for request 1" in err
    code, _, err = run(
        ["hits", "decide", "1", "--approve", "--reason", "ok", "--as-user", "sv_liaison",
         "-d", db],
        capsys,
    )  # fmt: skip
    assert code == 2 and "may not decide requests addressed to GT-PNC" in err
    code, out, err = run(
        ["hits", "decide", "1", "--approve", "--reason", "confirmado", "--as-user", "gt_admin",
         "-d", db],
        capsys,
    )  # fmt: skip
    assert code == 0 and "request 1 approved" in out, err
    code, _, err = run(
        ["hits", "decide", "1", "--deny", "--reason", "no", "--as-user", "gt_admin", "-d", db],
        capsys,
    )
    assert code == 2 and "is not pending" in err

    code, out, _ = run(
        ["hits", "details", "1", "--as-user", "sv_liaison", "--json", "-d", db], capsys
    )
    data = json.loads(out)
    assert (data["reference"], data["details"]["plate"]) == (ref, "P111AAA")
    code, out, _ = run(["hits", "details", "1", "--as-user", "sv_liaison", "-d", db], capsys)
    assert code == 0 and "Toyota" in out
    code, _, err = run(["hits", "details", "1", "--as-user", "sv_other", "-d", db], capsys)
    assert code == 2 and "no released details" in err

    code, out, _ = run(["hits", "searches", "--as-user", "gt_admin", "--json", "-d", db], capsys)
    searches = [json.loads(line) for line in out.splitlines()]
    assert [(s["actor"], s["agency"], s["reference"]) for s in searches] == [
        ("sv_liaison", "SV-PNC", ref)
    ]
    code, out, _ = run(["hits", "searches", "--as-user", "gt_admin", "-d", db], capsys)
    assert code == 0 and "SV-PNC" in out  # the table form (columns wrap at 80 characters)
    code, _, err = run(["hits", "searches", "--as-user", "sv_viewer", "-d", db], capsys)
    assert code == 2 and "may not decide" in err

    code, out, _ = run(["audit", "show", "--json", "--limit", "500", "-d", db], capsys)
    actions = {(e["action"], e["actor"]) for e in map(json.loads, out.splitlines())}
    for expected in (
        ("hits:query", "sv_liaison"),
        ("hits:hit", "sv_liaison"),
        ("request:file", "sv_liaison"),
        ("request:received", "sv_liaison"),
        ("request:approve", "gt_admin"),
        ("request:decided", "gt_admin"),
        ("read:released", "sv_liaison"),
        ("read:searches", "gt_admin"),
    ):
        assert expected in actions, expected
    code, out, _ = run(["audit", "verify", "-d", db], capsys)
    assert code == 0 and "intact" in out
