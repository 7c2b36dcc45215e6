"""docs/alerts.md against the code: every command, option, alert field, profile key, built-in
profile and problem reason is documented, and the annotated example is a valid profile."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel

from safestreets.cli.alerts import alerts_app
from safestreets.cli.hits import RESULT_COLUMNS, hits_app
from safestreets.ingest.profiles import CsvOptions
from safestreets.sharing import alerts as alerts_module
from safestreets.sharing.alerts import ALERT_COLUMNS
from safestreets.sharing.profiles import (
    AlertProfile,
    ColumnSpec,
    OffenceSpec,
    builtin_alert_profiles,
    parse_alert_profile,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "alerts.md"


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def _commands(app: typer.Typer, prefix: str = "") -> dict[str, Any]:
    # Typer may ship its own click: rely on the attributes, not the classes.
    group: Any = typer.main.get_command(app)
    out: dict[str, Any] = {}

    def walk(cmd: Any, path: str) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, f"{path} {name}".strip())
        else:
            out[path] = cmd

    walk(group, prefix)
    return out


def test_every_command_is_documented() -> None:
    text = _text()
    for app in (alerts_app, hits_app):
        for path in _commands(app):
            # A command is documented in its table as `name ...` (sub-groups as `group name`).
            assert re.search(rf"\| `{re.escape(path)}[` ]", text), f"command {path!r} missing"


def test_every_option_is_documented() -> None:
    spans = set(re.findall(r"`(--[a-z0-9-]+)", _text()))
    missing = []
    for app in (alerts_app, hits_app):
        for path, cmd in _commands(app).items():
            for param in cmd.params:
                if getattr(param, "param_type_name", "") != "option":
                    continue
                longs = [o for o in param.opts + param.secondary_opts if o.startswith("--")]
                if "--help" in longs:
                    continue
                missing += [f"{path} {o}" for o in longs if o not in spans]
    assert not missing, f"options missing from docs/alerts.md: {missing}"


def test_every_alert_field_is_in_the_field_table() -> None:
    text = _text()
    missing = [c for c in ALERT_COLUMNS if f"| `{c}` |" not in text]
    assert not missing, f"alert fields missing: {missing}"


def _keys(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def test_every_profile_key_is_documented() -> None:
    text = _text()
    missing = [k for k in _keys(AlertProfile) if f"| `{k}` |" not in text]
    missing += [k for k in _keys(ColumnSpec) if f"| `columns.<field>.{k}` |" not in text]
    missing += [k for k in _keys(OffenceSpec) if f"| `offence.{k}` |" not in text]
    missing += [k for k in _keys(CsvOptions) if f"`csv.{k}`" not in text]
    assert not missing, f"profile keys missing from docs/alerts.md: {missing}"


def test_every_builtin_profile_has_a_section() -> None:
    text = _text()
    for name in builtin_alert_profiles():
        assert f"#### `{name}`" in text, f"built-in profile {name} has no section"


def test_every_problem_reason_is_documented() -> None:
    tree = ast.parse(Path(alerts_module.__file__).read_text(encoding="utf-8"))
    # validate_alerts calls flag(mask, field, reason, message[, severity]).
    reasons = {
        node.args[2].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "flag"
        and isinstance(node.args[2], ast.Constant)
    }
    assert len(reasons) > 20  # the pattern still finds them
    text = _text()
    missing = sorted(r for r in reasons if f"`{r}`" not in text)
    assert not missing, f"problem reasons missing: {missing}"


def test_result_columns_of_check_are_documented() -> None:
    text = _text().split("### `safestreets hits` commands")[1]
    for col in RESULT_COLUMNS:
        assert f"`{col}`" in text, col


def test_thresholds_are_the_code_s() -> None:
    from safestreets.config import Settings
    from safestreets.sharing.service import CLK_THRESHOLD

    text = _text()
    assert f"Dice coefficient of {CLK_THRESHOLD}," in text
    assert f"`SAFESTREETS_HIT_THRESHOLD` ({Settings().hit_threshold})" in text


def test_the_annotated_example_is_a_valid_profile() -> None:
    section = _text().split("### An annotated example")[1]
    block = section.split("```yaml\n")[1].split("```")[0]
    profile = parse_alert_profile(block, origin="docs example")
    assert profile.kind_column == "Tipo" and profile.offence is not None
    assert set(profile.model_dump(exclude={"path"})) == set(_keys(AlertProfile)) - {"path"}
