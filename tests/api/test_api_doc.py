"""docs/api.md against the app: every route under ``/api/v1`` is documented, and only those.

Convention: a route is written as a code span ``METHOD /path`` (``GET/POST /path`` for
several methods). Each route outside the public map's has a heading of its own,
``### `METHOD /path```, whose section names its operation id.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import Engine

from safestreets.api.app import create_app
from safestreets.config import Settings

ROOT = Path(__file__).resolve().parents[2]
API_MD = ROOT / "docs" / "api.md"
_SPAN = re.compile(
    r"`((?:GET|POST|PUT|PATCH|DELETE)(?:/(?:GET|POST|PUT|PATCH|DELETE))*) (/api/v1/[^`\s]*)`"
)
_HEADING = re.compile(r"^### `(GET|POST|PUT|PATCH|DELETE) (/api/v1/[^`]*)`\s*$", re.M)


def app_routes(engine: Engine, tmp_path: Path) -> dict[tuple[str, str], str]:
    """(METHOD, path) -> operation id of every route under /api/v1.

    Read from the app's OpenAPI document: FastAPI 0.16x keeps included routers unflattened in
    ``app.routes``, and the document lists every route of every router (none under /api/v1
    is left out of the schema; the test below checks the top-level ones too).
    """
    app = create_app(Settings(data_dir=tmp_path), engine)
    out = {}
    for path, item in app.openapi()["paths"].items():
        if path.startswith("/api/v1/"):
            for method, op in item.items():
                out[(method.upper(), path)] = op["operationId"]
    hidden = [
        r.path
        for r in app.routes
        if isinstance(r, APIRoute) and r.path.startswith("/api/v1/") and not r.include_in_schema
    ]
    assert hidden == [], "routes under /api/v1 left out of the OpenAPI document"
    return out


def documented(text: str) -> set[tuple[str, str]]:
    return {
        (method, path) for methods, path in _SPAN.findall(text) for method in methods.split("/")
    }


@pytest.fixture
def routes(sqlite_engine: Engine, tmp_path: Path) -> dict[tuple[str, str], str]:
    return app_routes(sqlite_engine, tmp_path)


def test_every_route_is_documented_and_no_other(routes: dict[tuple[str, str], str]) -> None:
    named = documented(API_MD.read_text(encoding="utf-8"))
    assert set(routes) - named == set(), "routes missing from docs/api.md"
    assert named - set(routes) == set(), "docs/api.md names routes the app does not have"


def test_each_route_has_a_section_naming_its_operation_id(
    routes: dict[tuple[str, str], str],
) -> None:
    text = API_MD.read_text(encoding="utf-8")
    headings = list(_HEADING.finditer(text))
    sections = {
        (m[1], m[2]): text[m.end() : headings[i + 1].start() if i + 1 < len(headings) else None]
        for i, m in enumerate(headings)
    }
    own = {key: op for key, op in routes.items() if not key[1].startswith("/api/v1/public/")}
    assert set(own) - set(sections) == set(), "routes without a ### heading"
    for key, op in own.items():
        assert f"`{op}`" in sections[key], f"{key}: operation id {op} not in its section"
