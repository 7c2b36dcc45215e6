"""Alert profiles: the model refuses bad profiles whole, applies maps, dates and composed
fields, and a bulk load through a profile reports every row and re-runs idempotently."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, select

from safestreets.access.accounts import add_agency, add_user
from safestreets.access.audit import verify
from safestreets.access.policy import Principal
from safestreets.errors import AccessDenied, InputError, ProfileError
from safestreets.sharing.alerts import ALERT_COLUMNS, validate_alerts
from safestreets.sharing.profiles import (
    MAPPABLE_FIELDS,
    apply_profile,
    builtin_alert_profiles,
    check_columns,
    load_alert_file,
    load_alert_profile,
    parse_alert_profile,
)
from safestreets.store import tables

OPERATOR = Principal.local_operator("test")
NOW = datetime(2025, 6, 1, tzinfo=UTC)

GT_HEADER = (
    "No. Registro;Tipo de Alerta;No. Orden;Juzgado;Delito;Fecha Orden;Primer Nombre;"
    "Segundo Nombre;Primer Apellido;Segundo Apellido;Alias;Fecha Nac.;Sexo;DPI;Nacionalidad;"
    "Municipio;Dirección;Clasificación;Contacto"
)
GT_ROWS = [
    # A wanted person, two given names, "H" = hombre, RESTRICTED in Spanish.
    "PR-001;Orden de captura;OC-2024-0153;Juzgado Primero Penal de Mixco;Asesinato;05/03/2025;"
    "José;Luis;Pérez;García;El Flaco;01/02/1985;H;;guatemalteco;Mixco;;Reservado;",
    # A missing child (Alba-Keneth), "M" = mujer, no order, no court: no warrant_ref.
    "PR-002;alerta ALBA-KENETH;;;;02/01/2025;María;;López;Hernández;;15/06/2015;M;;"
    "Salvadoreña;Villa Nueva;;;",
    # No surname and an unreadable date: rejected with both problems.
    "PR-003;Orden de captura;OC-9;Juzgado 2;Extorsión;xx/01/2025;Ana;;;;;1990;M;;;;;;",
    # A kind the profile does not map.
    "PR-004;Deportado;;;;01/01/2025;Pedro;;Ramírez;;;1980;H;;;;;;",
]


def gt_file(tmp_path: Path, rows: list[str] | None = None, name: str = "req.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([GT_HEADER, *(rows or GT_ROWS)]) + "\n", encoding="utf-8")
    return path


def setup_agencies(engine: Engine) -> None:
    with engine.begin() as conn:
        add_agency(conn, OPERATOR, agency_id="GT-PNC", name="PNC Guatemala", country="GT")
        add_agency(conn, OPERATOR, agency_id="SV-PNC", name="PNC El Salvador", country="SV")
        add_agency(conn, OPERATOR, agency_id="HN-DPI", name="DPI Honduras", country="HN")
        add_user(conn, OPERATOR, username="ana", agency_id="GT-PNC", roles=["analyst"])
        add_user(conn, OPERATOR, username="victor", agency_id="GT-PNC", roles=["viewer"])


# --- the model ------------------------------------------------------------------------------


def test_every_builtin_profile_is_valid_and_reads_what_it_says() -> None:
    names = set(builtin_alert_profiles())
    assert {
        "safestreets-alerts",
        "safestreets-clk",
        "gt-pnc-personas-requeridas",
        "sv-pnc-vehiculos-robados",
        "hn-armas-de-fuego",
    } <= names
    for name in names:
        p = load_alert_profile(name)
        assert p.name == name
        assert "external_id" in p.columns
    canonical = load_alert_profile("safestreets-alerts")
    # The canonical profile maps every canonical field to a column of the same name.
    assert sorted(canonical.source_columns()) == sorted(ALERT_COLUMNS)
    assert canonical.strict


def test_invalid_profile_lists_every_problem_at_once() -> None:
    text = """
name: bad
kind: wanted_person
kind_column: Tipo
kinds: {Captura: wanted_persons}
columns:
  kind: Tipo
  surname: Apellido
  given_names: {column: Nombres, columns: [A, B]}
defaults: {handling_code: SECRET, colour_of_eyes: blue}
values: {handling_code: {Reservado: SECRETO}, sexo: {H: M}}
valid_days: 0
date_formats: [dd/mm/yyyy]
"""
    with pytest.raises(ProfileError) as info:
        parse_alert_profile(text, origin="bad.yaml")
    msg = info.value.message
    for part in (
        "kinds: unknown alert kind(s) wanted_persons",
        "unknown field(s) kind, surname",
        "use `kind` or `kind_column`",
        "columns.given_names: give exactly one of `column`, `columns` or `template`",
        "unknown default field(s) colour_of_eyes",
        "values: unknown field(s) sexo",
        "handling_code values SECRETO",
        "valid_days: Input should be greater than or equal to 1",
        "not strftime formats: dd/mm/yyyy",
    ):
        assert part in msg, part
    assert msg.startswith("alert profile bad.yaml is invalid:")


def test_cross_key_problems_are_listed_together() -> None:
    text = """
name: bad
kind: wanted_person
kinds: {Captura: wanted_person}
columns:
  surname_1: Apellido
"""
    with pytest.raises(ProfileError) as info:
        parse_alert_profile(text, origin="x")
    msg = info.value.message
    assert "`kinds` maps the values of `kind_column`" in msg
    assert "map external_id" in msg
    assert "a wanted_person profile must map or default warrant_ref" in msg
    assert "must map or default iccs_code" in msg


def test_yaml_errors_and_unknown_profiles_are_one_line() -> None:
    with pytest.raises(ProfileError, match="not valid YAML"):
        parse_alert_profile("name: [unclosed", origin="x.yaml")
    with pytest.raises(ProfileError, match="must be a YAML mapping"):
        parse_alert_profile("- a\n- b\n", origin="x.yaml")
    with pytest.raises(ProfileError, match="unknown alert profile 'nope'") as info:
        load_alert_profile("nope")
    assert "safestreets-alerts" in (info.value.hint or "")


def test_mappable_fields_are_the_canonical_columns_but_kind() -> None:
    assert set(MAPPABLE_FIELDS) == set(ALERT_COLUMNS) - {"kind"}


# --- applying a profile ---------------------------------------------------------------------


def _frame(header: str, rows: list[str]) -> pl.DataFrame:
    cols = header.split(";")
    data = [r.split(";") for r in rows]
    return pl.DataFrame({c: [d[i] for d in data] for i, c in enumerate(cols)}).with_row_index(
        "__row", offset=2
    )


def test_spanish_profile_maps_kinds_names_dates_sex_and_offences() -> None:
    p = load_alert_profile("gt-pnc-personas-requeridas")
    out = apply_profile(_frame(GT_HEADER, GT_ROWS), p)
    rows = {r["external_id"]: r for r in out.iter_rows(named=True)}
    wanted, missing = rows["PR-001"], rows["PR-002"]
    assert wanted["kind"] == "wanted_person"
    assert wanted["given_names"] == "José Luis"  # two columns joined by a space
    assert wanted["surname_2"] == "García"
    assert wanted["date_of_birth"] == "1985-02-01"  # day first
    assert wanted["valid_from"] == "2025-03-05"
    assert wanted["sex"] == "M"  # H = hombre
    assert wanted["nationality"] == "GT"
    assert wanted["handling_code"] == "RESTRICTED"  # "Reservado"
    assert wanted["iccs_code"] == "0101"  # "Asesinato" through the built-in table
    assert wanted["warrant_ref"] == "OC-2024-0153 — Juzgado Primero Penal de Mixco"
    assert wanted["reason"] == "Orden de captura; Asesinato; Juzgado Primero Penal de Mixco"
    # Case and accents do not matter in maps; empty cells are skipped when joining.
    assert missing["kind"] == "missing_person"
    assert missing["sex"] == "F"  # M = mujer
    assert missing["nationality"] == "SV"
    assert missing["given_names"] == "María"
    assert missing["warrant_ref"] is None
    assert missing["reason"] == "alerta ALBA-KENETH"
    assert missing["contact"] is None  # the default is applied by validation
    # Unreadable values pass through for validation to report; unmapped kinds too.
    assert rows["PR-003"]["valid_from"] == "xx/01/2025"
    assert rows["PR-003"]["date_of_birth"] == "1990"
    assert rows["PR-004"]["kind"] == "Deportado"
    assert out.get_column("__row").to_list() == [2, 3, 4, 5]


def test_two_digit_years_are_not_read_as_the_first_century() -> None:
    p = parse_alert_profile(
        """
name: t
kind: stolen_vehicle
columns: {external_id: id, plate: placa, valid_from: desde}
date_formats: ["%d/%m/%Y"]
""",
        origin="t",
    )
    out = apply_profile(
        pl.DataFrame(
            {"id": ["a", "b"], "placa": ["P1", "P2"], "desde": ["05/01/24", "05/01/2024"]}
        ),
        p,
    )
    assert out.get_column("valid_from").to_list() == ["05/01/24", "2024-01-05"]
    p2 = p.model_copy(update={"date_formats": ["%d/%m/%y"]})
    out2 = apply_profile(pl.DataFrame({"id": ["a"], "placa": ["P"], "desde": ["05/01/24"]}), p2)
    assert out2.get_column("valid_from").to_list() == ["2024-01-05"]


def test_templates_and_datetime_formats() -> None:
    p = parse_alert_profile(
        """
name: t
kind: stolen_vehicle
columns:
  external_id: id
  plate: placa
  reason: {template: "Robo {id} en {lugar}"}
  valid_until: hasta
date_formats: ["%d/%m/%Y %H:%M", "%d/%m/%Y"]
""",
        origin="t",
    )
    frame = pl.DataFrame(
        {
            "id": ["a", "b", None],
            "placa": ["P1", "P2", "P3"],
            "lugar": ["Soyapango", None, None],
            "hasta": ["31/12/2026 18:30", "31/12/2026", ""],
        }
    )
    out = apply_profile(frame, p)
    assert out.get_column("reason").to_list() == ["Robo a en Soyapango", "Robo b en", None]
    assert out.get_column("valid_until").to_list() == [
        "2026-12-31 18:30:00",
        "2026-12-31",
        None,
    ]
    # Validation reads what the profile wrote (a date-time without offset is UTC).
    ready, problems = validate_alerts(
        out.head(2).drop("__row", strict=False),
        defaults={"contact": "c", "handling_code": "NATIONAL"},
        now=NOW,
    )
    assert [p for p in problems if p.severity == "error"] == []
    assert [v.isoformat() for v in ready.get_column("valid_until")] == [
        "2026-12-31T18:30:00+00:00",
        "2026-12-31T00:00:00+00:00",
    ]


def test_check_columns_names_every_missing_and_unexpected_column() -> None:
    p = load_alert_profile("gt-pnc-personas-requeridas")
    with pytest.raises(InputError) as info:
        check_columns(p, ["No. Registro", "Tipo de Alerta", "Alias"], file="x.csv")
    msg = info.value.message
    assert "lacks column(s)" in msg and "Primer Nombre" in msg and "DPI" in msg
    assert "Alias" not in msg.split("lacks column(s)")[1]  # present, and optional anyway
    strict = load_alert_profile("safestreets-alerts")
    with pytest.raises(InputError, match="does not read: surame_1"):
        check_columns(strict, ["kind", "external_id", "surame_1"])
    check_columns(strict, ["kind", "external_id", "surname_1"])  # optional columns may lack


# --- bulk load (both backends) --------------------------------------------------------------


def test_bulk_load_reports_every_row_and_reruns_idempotently(store: Engine, tmp_path: Path) -> None:
    setup_agencies(store)
    p = load_alert_profile("gt-pnc-personas-requeridas")
    path = gt_file(tmp_path)
    with store.begin() as conn:
        report = load_alert_file(conn, OPERATOR, path, p, now=NOW)
    assert (report.rows, report.inserted, report.updated, report.unchanged) == (4, 2, 0, 0)
    assert report.rejected == 2
    assert report.owner_agency == "GT-PNC"
    assert report.read_as == "csv, encoding utf-8, delimiter ';'"
    by_row = {(x["row"], x["field"], x["reason"]) for x in report.problems}
    # Rows are the file's rows (header = 1): PR-003 is row 4, PR-004 row 5.
    assert (4, "surname_1", "person_unidentifiable") in by_row
    assert (4, "valid_from", "bad_valid_from") in by_row
    assert (5, "kind", "unknown_kind") in by_row
    assert all(x["severity"] == "error" for x in report.problems)

    with store.begin() as conn:
        again = load_alert_file(conn, OPERATOR, path, p, now=NOW)
    assert (again.inserted, again.updated, again.unchanged, again.rejected) == (0, 0, 2, 2)

    # One changed cell: that alert is updated, the other left alone.
    rows = list(GT_ROWS)
    rows[1] = rows[1].replace("Villa Nueva", "Mixco")
    with store.begin() as conn:
        changed = load_alert_file(conn, OPERATOR, gt_file(tmp_path, rows, "v2.csv"), p, now=NOW)
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 1)

    with store.connect() as conn:
        stored = conn.execute(
            select(
                tables.alert.c.external_id,
                tables.alert.c.kind,
                tables.alert.c.handling_code,
                tables.alert.c.contact,
                tables.alert.c.is_child,
                tables.alert.c.municipality,
                tables.alert.c.valid_until,
            ).order_by(tables.alert.c.external_id)
        ).all()
        loads = conn.execute(
            select(tables.audit_log.c.detail).where(tables.audit_log.c.action == "alert:load")
        ).all()
    assert [r.external_id for r in stored] == ["PR-001", "PR-002"]
    assert stored[0].handling_code == "RESTRICTED" and stored[1].handling_code == "REGIONAL"
    assert stored[1].contact.startswith("PNC Guatemala")  # the profile's default
    assert stored[1].is_child is True  # born 2015: worked out from the date of birth
    assert stored[1].municipality == "Mixco"
    # valid_days: 365 from valid_from.
    assert stored[0].valid_until.date().isoformat() == "2026-03-05"
    assert len(loads) == 3 and "req.csv (profile gt-pnc-personas-requeridas)" in loads[0].detail
    assert verify(store).ok


def test_load_as_a_user_and_owner_agency_rules(store: Engine, tmp_path: Path) -> None:
    setup_agencies(store)
    p = load_alert_profile("gt-pnc-personas-requeridas")
    path = gt_file(tmp_path, GT_ROWS[:2])
    from safestreets.access.accounts import principal_for

    with store.begin() as conn:
        ana = principal_for(conn, "ana")
        victor = principal_for(conn, "victor")
    # A viewer may not manage alerts; an analyst may not load another agency's alerts.
    with store.begin() as conn, pytest.raises(AccessDenied):
        load_alert_file(conn, victor, path, p, now=NOW)
    with store.begin() as conn, pytest.raises(AccessDenied):
        load_alert_file(conn, ana, path, p, owner_agency="SV-PNC", now=NOW)
    with store.begin() as conn:
        report = load_alert_file(conn, ana, path, p, now=NOW)
    assert report.inserted == 2
    with store.connect() as conn:
        actors = conn.execute(
            select(tables.alert.c.created_by, tables.alert.c.owner_agency).distinct()
        ).all()
    assert actors == [("ana", "GT-PNC")]
    # No agency anywhere: refused before reading.
    nameless = p.model_copy(update={"owner_agency": None})
    with store.begin() as conn, pytest.raises(InputError, match="no owner agency"):
        load_alert_file(conn, OPERATOR, path, nameless, now=NOW)


def test_xlsx_cp1252_vehicles_and_firearms(sqlite_engine: Engine, tmp_path: Path) -> None:
    import openpyxl

    setup_agencies(sqlite_engine)
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(
        [
            "Registro",
            "Situación",
            "Fecha",
            "Tipo de arma",
            "Marca",
            "Modelo",
            "Calibre",
            "Número de serie",
            "Lugar del hecho",
            "Clasificación",
        ]
    )
    ws.append(
        [
            "A-1",
            "Hurtada",
            datetime(2025, 2, 3),
            "Pist.",
            "Glock",
            "17",
            "9mm",
            "GLK4471",
            "Tegucigalpa",
            "Regional",
        ]
    )
    ws.append(
        [
            "A-2",
            "Recuperada en escena del crimen",
            "04/02/2025",
            "Rev.",
            "Taurus",
            "",
            ".38 SPL",
            "TA??81",
            "San Pedro Sula",
            "",
        ]
    )
    ws.append(["A-3", "Hurtada", "04/02/2025", "Fusil", "Colt", "", "5.56", "", "", ""])
    xlsx = tmp_path / "armas.xlsx"
    wb.save(xlsx)
    with sqlite_engine.begin() as conn:
        report = load_alert_file(
            conn, OPERATOR, xlsx, load_alert_profile("hn-armas-de-fuego"), now=NOW
        )
    assert (report.inserted, report.rejected, report.read_as) == (2, 1, "xlsx")
    assert [(x["row"], x["reason"]) for x in report.problems] == [(4, "firearm_unidentifiable")]

    csv = tmp_path / "vehiculos.csv"
    csv.write_bytes(
        (
            "No. Denuncia;Fecha Denuncia;Delegación;Placa;Chasis (VIN);Marca;Modelo;Color;Año;"
            "Clasificación\n"
            "D-77;10/05/2025;San Miguel;P 123-456;1HGCM82633A004352;Toyota;Hilux;Blanco;2019;"
            "Público\n"
        ).encode("cp1252")
    )
    with sqlite_engine.begin() as conn:
        report = load_alert_file(
            conn, OPERATOR, csv, load_alert_profile("sv-pnc-vehiculos-robados"), now=NOW
        )
    assert report.inserted == 1 and report.problems == []
    assert "read as cp1252" in report.notes[0]
    with sqlite_engine.connect() as conn:
        rows = {
            r.external_id: r
            for r in conn.execute(
                select(
                    tables.alert.c.external_id,
                    tables.alert.c.kind,
                    tables.alert.c.firearm_type,
                    tables.alert.c.serial,
                    tables.alert.c.valid_from,
                    tables.alert.c.handling_code,
                    tables.alert.c.reason,
                    tables.alert.c.plate_country,
                    tables.alert.c.year,
                )
            )
        }
    assert rows["A-1"].kind == "stolen_firearm" and rows["A-1"].firearm_type == "pistola"
    assert rows["A-1"].valid_from.date().isoformat() == "2025-02-03"  # an Excel date cell
    assert rows["A-2"].kind == "recovered_firearm" and rows["A-2"].serial == "TA??81"
    assert rows["A-2"].handling_code == "NATIONAL"  # the profile's default
    assert rows["D-77"].reason == "Denuncia de robo de vehículo D-77, delegación San Miguel"
    assert (rows["D-77"].plate_country, rows["D-77"].year, rows["D-77"].handling_code) == (
        "SV",
        2019,
        "PUBLIC",
    )


def test_missing_columns_refuse_the_file_before_any_row(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    setup_agencies(sqlite_engine)
    path = tmp_path / "short.csv"
    path.write_text("No. Registro;Tipo de Alerta\nPR-1;Orden de captura\n", encoding="utf-8")
    with sqlite_engine.begin() as conn, pytest.raises(InputError, match="lacks column"):
        load_alert_file(
            conn, OPERATOR, path, load_alert_profile("gt-pnc-personas-requeridas"), now=NOW
        )
    with sqlite_engine.connect() as conn:
        assert conn.execute(select(tables.alert.c.alert_id)).first() is None
