"""docs/security.md against the code: roles, handling codes, audited actions, commands."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from tests.docs.test_docs import keyed_rows, section

from safestreets import schema
from safestreets.access.accounts import ThrottlePolicy
from safestreets.access.policy import PUBLIC_ROLE, ROLES
from safestreets.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
#: The modules that append audit entries for this part of the system.
EMITTERS = [
    ROOT / "src" / "safestreets" / p
    for p in (
        "access/accounts.py",
        "access/grants.py",
        "store/access_reads.py",
        "store/events.py",
        "store/aggregates.py",
    )
]


def test_roles_are_documented() -> None:
    rows = keyed_rows(section(DOC, "Principals and roles"), header="role")
    assert set(rows) == {*ROLES, PUBLIC_ROLE}


def test_handling_codes_are_documented_in_both_tables() -> None:
    codes = keyed_rows(section(DOC, "Handling codes"), header="code")
    assert list(codes) == list(schema.HANDLING_CODES)
    rules = keyed_rows(section(DOC, "The visibility rule"), header="case")
    assert set(schema.HANDLING_CODES) <= set(rules)


def test_every_audited_action_is_documented() -> None:
    emitted: set[str] = set()
    for path in EMITTERS:
        text = path.read_text(encoding="utf-8")
        emitted |= set(re.findall(r'action="([a-z:_]+)"', text))
        emitted |= set(re.findall(r'append_for\(\s*\w+,\s*\w+,\s*"([a-z:_]+)"', text))
        emitted |= set(re.findall(r'"((?:user|token):[a-z]+)"', text))
    documented = keyed_rows(section(DOC, "The audit chain"), header="action")
    assert emitted, "the action collector found nothing"
    assert emitted <= set(documented), emitted - set(documented)


def test_commands_exist() -> None:
    commands = keyed_rows(section(DOC, "Commands"), header="command")
    groups = {g.name: g.typer_instance for g in app.registered_groups}
    for command in commands:
        words = command.split()
        assert words[0] == "safestreets"
        group = groups[words[1]]
        assert isinstance(group, typer.Typer)
        names = {c.name for c in group.registered_commands}
        assert words[2] in names, command


def test_throttle_defaults_match_the_doc() -> None:
    p = ThrottlePolicy()
    rows = keyed_rows(section(DOC, "Passwords, logins and throttling"), header="item")
    assert rows["user_failures"][1].startswith(f"{p.user_failures} failures")
    assert rows["address_failures"][1].startswith(f"{p.address_failures} failures")
    assert f"({p.window.seconds // 60} min)" in rows["user_failures"][1]
