"""`safestreets agencies`, `users` and `audit` as an operator meets them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select, update

from safestreets.cli.main import main
from safestreets.store import tables
from safestreets.store.engine import get_engine


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, " ".join(out.split()), " ".join(err.split())


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    url = f"sqlite:///{tmp_path}/db.sqlite"
    assert run(["init", "-d", url], capsys)[0] == 0
    return url


def test_accounts_round_trip(
    db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(
        ["agencies", "add", "GT-PNC", "--name", "PNC", "--country", "gt", "-d", db], capsys
    )
    assert code == 0 and "GT-PNC added (GT)" in out
    assert (
        run(["agencies", "add", "SICA", "--name", "SICA", "--regional", "-d", db], capsys)[0] == 0
    )
    code, out, _ = run(["agencies", "list", "-d", db], capsys)
    assert "GT-PNC" in out and "(regional)" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    code, out, _ = run(
        [
            "users",
            "add",
            "alice",
            "--agency",
            "GT-PNC",
            "--role",
            "analyst",
            "--password-stdin",
            "-d",
            db,
        ],
        capsys,
    )
    assert code == 0 and "alice added to GT-PNC (analyst)" in out
    code, out, _ = run(["users", "roles", "alice", "--grant", "admin", "-d", db], capsys)
    assert code == 0 and "alice: admin, analyst" in out
    code, out, _ = run(["users", "list", "-d", db], capsys)
    assert "alice" in out and "active" in out
    code, out, err = run(["users", "token-create", "alice", "--label", "etl", "-d", db], capsys)
    assert code == 0 and out.startswith("sst_") and "store the secret now" in err
    with get_engine(db).connect() as conn:
        assert out not in str(conn.execute(select(tables.api_token)).all())
    code, out, _ = run(["users", "token-revoke", "1", "-d", db], capsys)
    assert code == 0 and "revoked" in out
    code, out, _ = run(["users", "disable", "alice", "-d", db], capsys)
    assert code == 0 and "alice disabled" in out
    code, out, _ = run(["audit", "show", "--json", "--limit", "3", "-d", db], capsys)
    assert code == 0
    code, out, _ = run(["audit", "verify", "-d", db], capsys)
    assert code == 0 and "audit chain intact: 8 entries" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "add", "bob", "--agency", "NOPE", "--no-password"], "no agency 'NOPE'"),
        (["users", "roles", "nobody"], "no user 'nobody'"),
        (["agencies", "add", "X", "--name", "X"], "give the agency's country or --regional"),
        (["agencies", "add", "X", "--name", "X", "--country", "MX"], "unknown country 'MX'"),
        (["users", "token-revoke", "99"], "no token 99"),
    ],
)
def test_user_errors_are_one_line(
    db: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run([*args, "-d", db], capsys)
    assert code == 2 and message in err and "Traceback" not in err


def test_verify_names_the_tampered_entry_and_anchors_catch_rewrites(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for agency in ("GT-PNC", "SV-PNC", "HN-PN"):
        run(
            ["agencies", "add", agency, "--name", agency, "--country", agency[:2], "-d", db], capsys
        )
    anchors = tmp_path / "anchors.jsonl"
    code, out, _ = run(["audit", "anchor", "--out", str(anchors), "-d", db], capsys)
    assert code == 0 and json.loads(out)["seq"] == 3
    code, out, _ = run(["audit", "verify", "--anchor", str(anchors), "-d", db], capsys)
    assert code == 0 and "1 anchors match" in out
    with get_engine(db).begin() as conn:
        log = tables.audit_log
        conn.execute(update(log).where(log.c.seq == 2).values(actor="nobody"))
    code, _, err = run(["audit", "verify", "--anchor", str(anchors), "-d", db], capsys)
    assert code == 1
    assert "audit chain broken at entry 2 (edited)" in err
    code, _, err = run(["audit", "verify", "--anchor", str(tmp_path / "none"), "-d", db], capsys)
    assert code == 2 and "no anchor file" in err
