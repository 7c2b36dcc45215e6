"""docs/public-map.md against the code: categories, settings, routes and response fields."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from safestreets.config import Settings
from safestreets.public_map import AreaTable, HotspotMap, Options, Outlines
from safestreets.stats import public as rules

DOC = Path(__file__).resolve().parents[2] / "docs" / "public-map.md"
_SPAN = re.compile(r"`([^`]+)`")


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def first_cells(text: str) -> set[str]:
    """Code spans of the first cell of every table row."""
    out: set[str] = set()
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            out.update(_SPAN.findall(line.split("|")[1]))
    return out


def fields(model: type[BaseModel]) -> set[str]:
    """Every field name of a response model, nested models included."""
    out: set[str] = set()
    for name, info in model.model_fields.items():
        out.add(name)
        stack = [info.annotation]
        while stack:
            tp = stack.pop()
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                out |= fields(tp)
            stack.extend(typing.get_args(tp))
    return out


def test_every_category_is_documented(doc: str) -> None:
    documented = first_cells(section(doc, "Categories"))
    assert documented == {c.id for c in rules.CATEGORIES}
    for cat in rules.categories(sensitive=True):
        row = next(line for line in doc.splitlines() if line.startswith(f"| `{cat.id}`"))
        assert "| yes |" in row and "department" in row


def test_every_setting_is_documented(doc: str) -> None:
    documented = first_cells(section(doc, "Settings"))
    ours = {
        "public_delay_days",
        "public_k",
        "public_cell_m",
        "map_tile_url",
        "map_tile_attribution",
    }
    assert ours <= set(Settings.model_fields)
    assert documented == {f"SAFESTREETS_{name.upper()}" for name in ours}
    rows = section(doc, "Settings").splitlines()
    for name in ("public_delay_days", "public_k", "public_cell_m"):
        default = Settings.model_fields[name].default
        row = next(line for line in rows if line.startswith(f"| `SAFESTREETS_{name.upper()}`"))
        assert f"`{default:g}`" in row


def test_every_route_is_documented(doc: str) -> None:
    from safestreets.api.public import router

    documented = first_cells(section(doc, "Routes"))
    for route in router.routes:
        assert f"GET {route.path}" in documented  # type: ignore[attr-defined]


def test_every_response_field_is_documented(doc: str) -> None:
    documented = set(_SPAN.findall(section(doc, "Response fields")))
    every = set().union(*(fields(m) for m in (Options, AreaTable, HotspotMap, Outlines)))
    assert every - documented == set()
