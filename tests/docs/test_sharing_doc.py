"""docs/sharing.md against the code: columns, normalisation examples, phonetic rules, ID rules."""

from __future__ import annotations

import io
import re
from pathlib import Path

import polars as pl
import pytest

from safestreets.schema import PERSON_COLUMNS
from safestreets.sharing.ids import ID_RULES, check_id
from safestreets.sharing.names import NORMALISED_COLUMNS, PHONETIC_RULES, normalise_persons

DOC = Path(__file__).resolve().parents[2] / "docs" / "sharing.md"
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def _section(title: str) -> str:
    """The text under the heading ``title`` up to the next heading of the same or higher level."""
    lines = _text().splitlines()
    for i, line in enumerate(lines):
        m = _HEADING.match(line)
        if m and m[2] == title:
            level = len(m[1])
            out = []
            for rest in lines[i + 1 :]:
                n = _HEADING.match(rest)
                if n and len(n[1]) <= level:
                    break
                out.append(rest)
            return "\n".join(out)
    raise AssertionError(f"no section {title!r} in docs/sharing.md")


def _rows(text: str) -> list[list[str]]:
    """Cells of the Markdown table rows whose first cell is a code span (``\\|`` unescaped)."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        rows.append([c.strip().replace("\\|", "|") for c in cells])
    return rows


def _code(cell: str) -> str:
    m = re.fullmatch(r"`([^`]*)`", cell)
    assert m, f"not a code span: {cell!r}"
    return m[1]


def test_every_person_column_is_documented_in_order() -> None:
    rows = _rows(_section("The canonical person CSV"))
    assert [_code(r[0]) for r in rows] == list(PERSON_COLUMNS)
    assert all(r[1] and r[2] for r in rows)


def test_the_example_csv_has_the_canonical_header_and_normalises() -> None:
    section = _section("The canonical person CSV")
    block = re.search(r"```csv\n(.*?)```", section, re.S)
    assert block, "no csv example"
    df = pl.read_csv(io.StringIO(block[1]), infer_schema_length=0)
    assert df.columns == list(PERSON_COLUMNS)
    assert df.height == 3
    out = normalise_persons(df)
    assert out["id_status"].to_list() == ["valid", "valid", "unchecked"]
    assert out["married_n"].to_list() == ["garcia", None, None]
    assert out["dob_month"].to_list() == [3, 3, None]
    assert out["given_n"][1] == "jose luis"
    assert all(len(a) >= 1 for a in out["aliases_n"].to_list())


def test_every_normalised_column_is_documented_in_order() -> None:
    rows = _rows(_section("How names are normalised"))
    documented = [_code(r[0]) for r in rows if _code(r[0]) in NORMALISED_COLUMNS]
    assert documented == list(NORMALISED_COLUMNS)


def test_the_phonetic_rules_table_is_the_code() -> None:
    rows = _rows(_section("Phonetic key"))
    shown = []
    for pattern, becomes, why in rows:
        becomes = {"space": " ", "(nothing)": ""}.get(becomes, becomes)
        shown.append((_code(pattern), becomes, why))
    actual = [(p, r.replace("${1}", ""), why) for p, r, why in PHONETIC_RULES]
    assert shown == actual


def _pairs(cell: str) -> dict[str, str]:
    out = {}
    # "; " separates fields only before another "name: " (an alias list may contain ";").
    for item in re.split(r"; (?=[a-z_0-9]+: )", _code(cell)):
        key, _, value = item.partition(": ")
        out[key] = value
    return out


def _render(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(value) + "]"
    return str(value)


def _examples() -> list[tuple[dict[str, str], dict[str, str]]]:
    return [(_pairs(i), _pairs(o)) for i, o in _rows(_section("Examples"))]


def test_there_are_examples_of_every_rule_family() -> None:
    outputs = {k for _, o in _examples() for k in o}
    assert {"given_n", "married_n", "surname_1_ph", "dob", "sex_n", "id_status"} <= outputs
    assert {"aliases_n", "municipality_n", "id_note", "nationality_n"} <= outputs


@pytest.mark.parametrize(("given", "expected"), _examples(), ids=lambda x: str(x)[:60])
def test_the_normalisation_examples_hold(given: dict[str, str], expected: dict[str, str]) -> None:
    for column in given:
        assert column in PERSON_COLUMNS, column
    for column in expected:
        assert column in NORMALISED_COLUMNS, column
    # 20 copies, so that the vectorised path runs (small frames take the scalar one).
    df = pl.DataFrame([{"record_id": "x", **given}] * 20)
    out = normalise_persons(df).row(0, named=True)
    got = {column: _render(out[column]) for column in expected}
    assert got == expected
    one = normalise_persons(df.head(1)).row(0, named=True)
    assert {column: _render(one[column]) for column in expected} == expected


def test_every_id_rule_has_its_subsection() -> None:
    headings = [m[2] for m in map(_HEADING.match, _text().splitlines()) if m]
    for code in ID_RULES:
        assert any(f"({code})" in h for h in headings), f"no subsection for {code}"


def _id_sections() -> list[tuple[str, str, str]]:
    """(country, number, claimed status) of every example in the ID subsections."""
    out = []
    headings = [m[2] for m in map(_HEADING.match, _text().splitlines()) if m]
    for heading in headings:
        m = re.search(r"\(([A-Z]{2})\)", heading)
        if not m:
            continue
        for row in _rows(_section(heading)):
            out.append((m[1], _code(row[0]), row[1]))
    return out


def test_every_country_subsection_has_valid_and_invalid_examples() -> None:
    examples = _id_sections()
    for code in ID_RULES:
        statuses = {s for c, _, s in examples if c == code}
        assert "valid" in statuses and len(statuses) >= 2, code


@pytest.mark.parametrize(("country", "number", "status"), _id_sections())
def test_every_example_id_has_the_documented_status(country: str, number: str, status: str) -> None:
    assert check_id(country, number).status == status


def test_every_rule_example_and_source_is_in_its_subsection() -> None:
    for code, rule in ID_RULES.items():
        heading = next(
            m[2] for m in map(_HEADING.match, _text().splitlines()) if m and f"({code})" in m[2]
        )
        section = _section(heading)
        assert f"`{rule.example}`" in section, code
        for word in ("**Format**", "**Check**", "**Source**", "**When the check fails**"):
            assert word in section, (code, word)


def test_the_statuses_are_documented() -> None:
    rows = _rows(_section("National identity numbers"))
    assert {"valid", "check_failed", "bad_format", "unchecked"} <= {_code(r[0]) for r in rows}
    assert "not all officially published" in _section("National identity numbers")


def test_overview_covers_every_flow() -> None:
    overview = _section("Overview")
    for title in (
        "Alerts",
        "Hit/no-hit",
        "Follow-up requests",
        "Privacy-preserving mode",
        "Firearm tracing",
        "Batch linking",
    ):
        assert f"### {title}" in overview
    # No placeholder left, and each flow says more than its opening sentence.
    assert "<!-- LEAD" not in overview
    for part in overview.split("### ")[1:]:
        assert len(part.split()) > 60, part.splitlines()[0]
