"""docs/indicators.md cannot drift from the catalogue, the engine and the CLI."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
import typer
from tests.docs.test_docs import keyed_rows, section, spans

from safestreets import schema
from safestreets.cli.main import app
from safestreets.stats.catalogue import BREAKDOWNS, builtin_catalogue
from safestreets.stats.frames import FrameData
from safestreets.stats.indicators import WHERE_KEYS, Request, compute

DOC = Path(__file__).resolve().parents[2] / "docs" / "indicators.md"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_every_indicator_is_documented_as_defined(doc: str) -> None:
    rows = keyed_rows(section(doc, "The indicators"), header="id")
    cat = builtin_catalogue()
    assert set(rows) == {i.id for i in cat.indicators}
    for ind in cat.indicators:
        _, numerator, unit, denominator, _per, sensitive = rows[ind.id]
        assert unit == ind.numerator.unit, ind.id
        assert (sensitive == "yes") == ind.sensitive, ind.id
        for code in ind.numerator.iccs:
            # Codes are written as in the catalogue, or as a range "01–03".
            assert code in numerator or ("01–03" in numerator and code in ("01", "02", "03"))
        kind = ind.denominator.kind
        if kind == "population":
            sex = ind.denominator.population.sex if ind.denominator.population else None
            assert denominator == (f"{sex} population" if sex else "population"), ind.id
        elif kind == "share":
            assert f"`{ind.denominator.share_of}`" in denominator, ind.id
        else:
            assert denominator.startswith("none"), ind.id


def first_column_names(body: str) -> set[str]:
    """Code spans in the first cell of table rows (a cell may name several: `a`, `b`)."""
    return {
        s for line in body.splitlines() if line.startswith("| `") for s in spans(line.split("|")[1])
    }


def test_every_breakdown_is_documented(doc: str) -> None:
    assert first_column_names(section(doc, "Breakdowns and filters")) == set(BREAKDOWNS)


def test_compute_options_are_documented(doc: str) -> None:
    rows = keyed_rows(section(doc, "Quick start"), header="option")
    command = typer.main.get_command(app).commands["indicators"].commands["compute"]  # type: ignore[attr-defined]
    options = {opt for p in command.params for opt in p.opts if opt.startswith("--")}
    assert set(rows) == options - {"--help"}
    where_cell = rows["--where"][1]
    assert {s for s in spans(where_cell) if "=" not in s} == set(WHERE_KEYS)


def test_output_columns_are_documented(doc: str) -> None:
    documented = first_column_names(section(doc, "Output columns"))
    inc = schema.conform(
        pl.DataFrame(
            {
                "incident_id": [1],
                "source": ["GT-PNC"],
                "source_record_id": ["1"],
                "country": ["GT"],
                "occurred_at": [datetime(2021, 5, 1, 12, tzinfo=UTC)],
                "occurred_precision": ["minute"],
                "source_timezone": ["America/Guatemala"],
                "iccs_code": ["0101"],
                "victim_count": [1],
            }
        ),
        schema.INCIDENT,
    )
    seen: set[str] = set()
    for ind in ("homicide_rate", "homicide_count", "homicide_under18_share"):
        res = compute(ind, Request(by=("country", "year")), FrameData(incidents=inc))
        seen |= set(res.frame.columns)
    assert seen - {"year"} <= documented | {"admin1", "admin2"}
