"""validate_alerts: every problem by row, errors set aside, warnings kept, values derived."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import polars as pl
import pytest

from safestreets.errors import InputError
from safestreets.sharing.alerts import new_reference, reveals_personal_data, validate_alerts

NOW = datetime(2026, 11, 1, tzinfo=UTC)
BASE = {
    "kind": "wanted_person",
    "handling_code": "REGIONAL",
    "valid_until": "2027-06-30",
    "contact": "PNC",
    "reason": "orden de captura",
    "given_names": "José",
    "surname_1": "Pérez",
    "iccs_code": "0101",
    "warrant_ref": "W-1",
}


def frame(*rows: dict[str, str | None]) -> pl.DataFrame:
    full = [{**BASE, "external_id": str(i + 1), **r} for i, r in enumerate(rows)]
    return pl.DataFrame(full)


def reasons(problems: list) -> list[tuple[int, str, str]]:  # type: ignore[type-arg]
    return [(p.row, p.reason, p.severity) for p in problems]


def test_errors_set_rows_aside_and_quote_what_was_written() -> None:
    ready, problems = validate_alerts(
        frame({}, {"kind": "robo"}, {"handling_code": "secreto"}, {"iccs_code": "99"}), now=NOW
    )
    assert ready.get_column("external_id").to_list() == ["1"]
    assert reasons(problems) == [
        (2, "unknown_kind", "error"),
        (3, "unknown_handling_code", "error"),
        (4, "unknown_iccs_code", "error"),
    ]
    assert "'robo'" in problems[0].message and "'SECRETO'" in problems[1].message


def test_warnings_keep_the_row() -> None:
    ready, problems = validate_alerts(
        frame(
            {"date_of_birth": "31/02/1990"},
            {"valid_from": "2026-01-01", "valid_until": "2026-10-01"},
        ),
        now=NOW,
    )
    assert ready.height == 2
    assert reasons(problems) == [
        (1, "partial_date_of_birth", "warning"),
        (2, "already_expired", "warning"),
    ]


def test_validity_child_flag_and_types_are_derived() -> None:
    missing = {
        "kind": "missing_person",
        "iccs_code": None,
        "warrant_ref": None,
        "valid_until": None,
        "date_of_birth": "2015-04-02",
    }
    ready, problems = validate_alerts(frame(missing, {**missing, "date_of_birth": "1990"}),
                                      valid_days=30, now=NOW)  # fmt: skip
    assert problems == []
    assert ready.get_column("valid_from").to_list() == [NOW, NOW]
    assert ready.get_column("valid_until").dt.date().to_list()[0].isoformat() == "2026-12-01"
    # A child from the birth date; a year of birth alone cannot say.
    assert ready.get_column("is_child").to_list() == [True, None]
    assert ready.get_column("from_defaulted").to_list() == [True, True]


def test_subjects_need_what_identifies_them() -> None:
    vehicle = {"kind": "stolen_vehicle", "iccs_code": None, "warrant_ref": None}
    ready, problems = validate_alerts(
        frame(
            {"given_names": None, "surname_1": None},
            vehicle,
            {**vehicle, "plate": "P-123ABC"},
            {"kind": "stolen_firearm", "serial": None},
            {"clk": "not base64!!", "given_names": None, "surname_1": None},
            {"clk": base64.b64encode(b"\x01" * 128).decode(), "given_names": None,
             "surname_1": None},
        ),
        now=NOW,
    )  # fmt: skip
    assert reasons(problems) == [
        (1, "person_unidentifiable", "error"),
        (2, "vehicle_unidentifiable", "error"),
        (4, "firearm_unidentifiable", "error"),
        (5, "bad_clk", "error"),
    ]
    assert ready.get_column("external_id").to_list() == ["3", "6"]
    assert ready.filter(pl.col("external_id") == "6")["clk"][0] == b"\x01" * 128


def test_unknown_columns_are_refused_at_once() -> None:
    with pytest.raises(InputError, match="unknown alert field"):
        validate_alerts(pl.DataFrame({"kind": ["wanted_person"], "nombre": ["x"]}), now=NOW)


def test_references_and_what_a_hit_reveals() -> None:
    refs = {new_reference("GT", "wanted_person") for _ in range(200)}
    assert len(refs) == 200 and all(r.startswith("GT-WP-") and len(r) == 14 for r in refs)
    assert not any(set(r[6:]) & set("ILOU") for r in refs)  # Crockford: no I, L, O, U
    assert reveals_personal_data("REGIONAL", own_agency=False)
    assert reveals_personal_data("PUBLIC", own_agency=False)
    assert not reveals_personal_data("RESTRICTED", own_agency=False)
    assert not reveals_personal_data("NATIONAL", own_agency=False)
    assert reveals_personal_data("RESTRICTED", own_agency=True)
