"""`safestreets demo` makes the demo admin once, prints its password once, and resets it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from tests.cli.test_cli import run
from tests.conftest import sqlite_store

from safestreets.access import accounts
from safestreets.cli.demo import DEMO_AGENCY, DEMO_USER
from safestreets.errors import AuthenticationFailed
from safestreets.store import tables

PASSWORD_RE = re.compile(r"password (\w{20}) ")


def _store_with_demo_data(tmp_path: Path) -> str:
    """A store that already holds a synthetic batch (so `--if-missing` loads nothing)."""
    engine = sqlite_store(tmp_path / "db.sqlite")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(tables.batch).values(
                kind="incidents",
                source="SYNTHETIC-DEMO",
                synthetic=True,
                started_at=now,
                finished_at=now,
                rows_read=1,
                rows_loaded=1,
            )
        )
    engine.dispose()
    return f"sqlite:///{tmp_path}/db.sqlite"


def test_demo_admin_is_printed_once_and_can_be_reset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _store_with_demo_data(tmp_path)
    code, out, _ = run(["demo", "--if-missing", "-d", url], capsys)
    assert code == 0 and "already loaded" in out
    assert "Demo admin account created" in out and f"user {DEMO_USER}" in out
    assert "/login" in out and "safestreets demo --reset-admin" in out
    first = PASSWORD_RE.search(out + " ")
    assert first is not None
    password = first.group(1)

    from safestreets.store.engine import get_engine

    engine = get_engine(url)
    principal = accounts.login(engine, DEMO_USER, password)
    assert principal.agency == DEMO_AGENCY and principal.country == "GT"
    assert principal.roles == frozenset({"admin", "analyst", "liaison"})
    # The alert exchange's SYNTHETIC alerts of three agencies are loaded once.
    assert "SYNTHETIC cross-border alerts (GT-PNC, SV-PNC, HN-DPI)" in out
    with engine.connect() as conn:
        stored = conn.execute(
            select(tables.app_user.c.password_hash).where(tables.app_user.c.username == DEMO_USER)
        ).scalar_one()
        added = conn.execute(
            select(tables.audit_log.c.actor).where(tables.audit_log.c.action == "user:add")
        ).scalar_one()
    assert stored.startswith("$argon2id$") and password not in stored
    assert added.startswith("operator:")

    # Later runs (make run again) never print it again, and say how to get a new one.
    code, out, _ = run(["demo", "--if-missing", "-d", url], capsys)
    assert code == 0 and PASSWORD_RE.search(out + " ") is None and password not in out
    assert f"demo admin: user {DEMO_USER}" in out and "--reset-admin" in out
    assert "cross-border alerts" not in out  # the re-run inserted none
    with engine.connect() as conn:
        owners = conn.execute(
            select(tables.alert.c.owner_agency).group_by(tables.alert.c.owner_agency)
        ).scalars()
        assert sorted(owners) == ["GT-PNC", "HN-DPI", "SV-PNC"]

    code, out, _ = run(["demo", "--reset-admin", "-d", url], capsys)
    assert code == 0 and "New password of the demo admin" in out
    second = PASSWORD_RE.search(out + " ")
    assert second is not None and second.group(1) != password
    with pytest.raises(AuthenticationFailed):
        accounts.login(engine, DEMO_USER, password)
    assert accounts.login(engine, DEMO_USER, second.group(1)).name == DEMO_USER
    engine.dispose()
