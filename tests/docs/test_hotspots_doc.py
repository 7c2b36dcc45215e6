"""docs/hotspots.md against the code: every command, option, model and category is documented."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

from safestreets.cli.hotspots import hotspots_app
from safestreets.spatial.hotspots import CATEGORIES
from safestreets.spatial.predict import available_models

DOC = Path(__file__).resolve().parents[2] / "docs" / "hotspots.md"


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def _commands() -> dict[str, Any]:
    # Typer may ship its own click: rely on the attributes, not the classes.
    group: Any = typer.main.get_command(hotspots_app)
    return dict(group.commands)


def test_every_command_has_a_section_or_mention() -> None:
    text = _text()
    for name in _commands():
        assert f"`{name}`" in text, f"command {name} is not documented"


def test_every_option_is_documented() -> None:
    spans = set(re.findall(r"`(--[a-z0-9-]+)", _text()))
    missing = []
    for name, cmd in _commands().items():
        for param in cmd.params:
            if getattr(param, "param_type_name", "") != "option":
                continue
            longs = [o for o in param.opts + param.secondary_opts if o.startswith("--")]
            if longs and not any(o in spans for o in longs) and "--help" not in longs:
                missing.append(f"{name} {longs[0]}")
    assert not missing, f"options missing from docs/hotspots.md: {missing}"


def test_every_model_and_category_is_documented() -> None:
    text = _text()
    for model in available_models():
        assert f"| `{model}` |" in text, f"model {model} missing from the table"
    for cat in CATEGORIES:
        if cat.endswith("hot spot") or cat == "no pattern":
            assert f"`{cat}`" in text, f"category {cat} missing"
