"""Fixtures of the dashboard tests: a small SYNTHETIC store with agencies and accounts, and
helpers to sign in and post forms with their CSRF token.

The store (El Salvador and Belize, two years) is built once per test module; tests that
change it (uploads, accounts) say so and use names of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.conftest import sqlite_store

from safestreets.access.accounts import add_agency, add_user
from safestreets.access.policy import Principal
from safestreets.api.app import create_app
from safestreets.config import Settings

PASSWORD = "web-tests-Pa55word"
AGENCY = "SV-PNC"
#: user -> roles (all of agency SV-PNC, country SV)
USERS: dict[str, tuple[str, ...]] = {
    "admin.sv": ("admin", "analyst"),
    "analyst.sv": ("analyst",),
    "viewer.sv": ("viewer",),
    "boss.sv": ("admin",),
}
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class World:
    engine: Engine
    folder: Path


def build_world(folder: Path, *, incidents: int = 3_000) -> World:
    """A migrated SQLite store: a small SYNTHETIC SV+BZ region, agencies and the accounts."""
    from safestreets.demo import generate_region
    from safestreets.ingest.load import load_canonical

    engine = sqlite_store(folder / "web.sqlite")
    chunks = (
        (c.incidents, c.victims)
        for c in generate_region(seed=5, incidents=incidents, years=2, countries=["SV", "BZ"])
    )
    load_canonical(chunks, engine, source="SYNTHETIC-DEMO", label="web tests", synthetic=True)
    operator = Principal.local_operator("web-tests")
    with engine.begin() as conn:
        add_agency(conn, operator, agency_id=AGENCY, name="PNC (demo)", country="SV")
        add_agency(conn, operator, agency_id="BZ-BPD", name="BPD (demo)", country="BZ")
        for name, roles in USERS.items():
            add_user(
                conn, operator, username=name, agency_id=AGENCY, roles=roles, password=PASSWORD
            )
        add_user(
            conn,
            operator,
            username="admin.bz",
            agency_id="BZ-BPD",
            roles=["admin"],
            password=PASSWORD,
        )
    return World(engine, folder)


@pytest.fixture(scope="module", autouse=True)
def _cheap_password_hashes() -> Iterator[None]:
    """Argon2 at its smallest cost while these tests run (the defaults take 64 MiB and tens of
    milliseconds per hash, by design); what is tested is the flow, not the hash."""
    from argon2 import PasswordHasher

    from safestreets.access import accounts

    saved = accounts._HASHER
    accounts._HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    accounts._dummy_hash.cache_clear()
    try:
        yield
    finally:
        accounts._HASHER = saved
        accounts._dummy_hash.cache_clear()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build_world(tmp_path_factory.mktemp("web"))
    yield w
    w.engine.dispose()


def make_client(world: World, **overrides: Any) -> TestClient:
    settings = Settings(data_dir=world.folder, secret_key="web-tests-" + "k" * 32, **overrides)
    return TestClient(create_app(settings, world.engine))


@pytest.fixture
def anon(world: World) -> TestClient:
    """A browser with no session (fresh cookies)."""
    return make_client(world)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form in a page."""
    m = CSRF_RE.search(html)
    assert m is not None, "the page has no form with a CSRF token"
    return m.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> TestClient:
    """Sign ``client`` in through the login form (asserting it worked)."""
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:500]
    return client


def signed(world: World, username: str) -> TestClient:
    """A new browser, signed in as ``username``."""
    return sign_in(make_client(world), username)


@pytest.fixture
def admin(world: World) -> TestClient:
    return signed(world, "admin.sv")


@pytest.fixture
def viewer(world: World) -> TestClient:
    return signed(world, "viewer.sv")


def post_form(client: TestClient, page: str, action: str, data: dict[str, Any], **kw: Any) -> Any:
    """Open ``page``, take its CSRF token, and post ``data`` to ``action``."""
    token = csrf_of(client.get(page).text)
    return client.post(action, data={**data, "csrf_token": token}, **kw)
