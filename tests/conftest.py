"""Fixtures shared by the whole suite: a store on each backend, and the shared data folder.

PostgreSQL runs when ``SAFESTREETS_TEST_POSTGRES_URL`` points at a server; otherwise those
parameters are skipped with the reason printed. With ``SAFESTREETS_REQUIRE_POSTGRES=1`` (CI)
an unreachable server fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from safestreets.store.engine import get_engine, normalise_url
from safestreets.store.migrate import upgrade

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
CDMX_POINTS = SHARED_DATA / "cdmx-fgj-carpetas" / "cdmx_fgj_puntos_2019_2024.csv.gz"
POSTGRES_ENV = "SAFESTREETS_TEST_POSTGRES_URL"


@lru_cache(maxsize=1)
def _postgres_problem() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        return f"no PostgreSQL: set {POSTGRES_ENV} to run the PostgreSQL half of the suite"
    try:
        with create_engine(normalise_url(url)).connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        problem = f"PostgreSQL at {POSTGRES_ENV} unreachable: {str(exc.orig).strip()[:120]}"
        if os.environ.get("SAFESTREETS_REQUIRE_POSTGRES") == "1":
            pytest.fail(problem)
        return problem
    return None


def sqlite_store(path: Path) -> Engine:
    """A migrated SQLite store in ``path``."""
    engine = get_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


def postgres_store() -> Iterator[Engine]:
    """A migrated PostgreSQL store in a schema of its own, dropped afterwards."""
    problem = _postgres_problem()
    if problem:
        pytest.skip(problem)
    url = normalise_url(os.environ[POSTGRES_ENV])
    schema = f"safestreets_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty, migrated store on SQLite (a temporary file) and on PostgreSQL."""
    if request.param == "sqlite":
        yield sqlite_store(tmp_path / "t.sqlite")
    else:
        yield from postgres_store()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Engine:
    """An empty, migrated SQLite store (for tests that need only one backend)."""
    return sqlite_store(tmp_path / "t.sqlite")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``<project>/../shared/data``; skips the test with a clear reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data not present ({SHARED_DATA}): test needs the shared data")
    return SHARED_DATA


@pytest.fixture(scope="session")
def cdmx_points(shared_data: Path) -> Path:
    if not CDMX_POINTS.is_file():
        pytest.skip(f"{CDMX_POINTS} not present")
    return CDMX_POINTS
