"""Checks of the CDMX FGJ crime-type -> ICCS v1.0 mapping profile.

The table ``src/safestreets/ingest/profile_data/cdmx-fgj-categories.csv`` maps every
``delito`` of the Mexico City prosecutor's open data (FGJ-CDMX "carpetas de investigación")
to an ICCS v1.0 code.
See ``docs/cdmx-fgj-mapping.md``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from safestreets import schema

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROFILE = (
    PROJECT_ROOT / "src" / "safestreets" / "ingest" / "profile_data" / "cdmx-fgj-categories.csv"
)
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ICCS_CODES = SHARED_DATA / "iccs" / "iccs_v1_0_codes.csv"
CDMX_POINTS = SHARED_DATA / "cdmx-fgj-carpetas" / "cdmx_fgj_puntos_2019_2024.csv.gz"

HEADER = ["term", "iccs_code", "mapping_quality", "weapon", "place_type", "context", "notes"]
QUALITIES = set(schema.MAPPING_QUALITY)
WEAPONS = set(schema.WEAPONS)
# A label either names a kind of place or says nothing (empty): "unknown" is never a mapping.
PLACES = set(schema.PLACE_TYPES) - {"unknown"}


def _read_profile() -> list[dict[str, str]]:
    # csv keeps every value as a string: leading zeros and trailing spaces of terms survive
    with PROFILE.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        assert header == HEADER
        rows = list(reader)
    for i, row in enumerate(rows, start=2):
        assert len(row) == len(HEADER), f"line {i}: {len(row)} fields"
    return [dict(zip(HEADER, row, strict=True)) for row in rows]


@pytest.fixture(scope="module")
def profile() -> list[dict[str, str]]:
    return _read_profile()


@pytest.fixture(scope="module")
def by_term(profile: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {r["term"]: r for r in profile}


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"../shared/data not present: {path} is missing")
    return path


def test_profile_parses(profile: list[dict[str, str]]) -> None:
    assert PROFILE.read_bytes()[:3] != b"\xef\xbb\xbf", "no UTF-8 BOM"
    assert len(profile) >= 321
    assert all(r["term"].strip() for r in profile)


def test_terms_unique(profile: list[dict[str, str]]) -> None:
    terms = [r["term"] for r in profile]
    dupes = sorted({t for t in terms if terms.count(t) > 1})
    assert not dupes, dupes


def test_allowed_values(profile: list[dict[str, str]]) -> None:
    for r in profile:
        t = r["term"]
        assert r["weapon"] in WEAPONS | {""}, (t, r["weapon"])
        assert r["place_type"] in PLACES | {""}, (t, r["place_type"])
        assert r["context"] in set(schema.CONTEXTS) | {""}, (t, r["context"])
        if r["term"].startswith("FEMINICIDIO"):
            assert r["context"] == "gender_related", t
        if r["iccs_code"]:
            assert re.fullmatch(r"\d{2}|\d{4,6}", r["iccs_code"]), (t, r["iccs_code"])
            assert r["mapping_quality"] in QUALITIES, (t, r["mapping_quality"])
        else:
            # empty code = unmapped on purpose: no quality, and the notes say why
            assert r["mapping_quality"] == "", t
            assert r["notes"].strip(), f"{t}: unmapped without a reason in notes"


def test_codes_exist_in_iccs(profile: list[dict[str, str]]) -> None:
    path = _need(ICCS_CODES)
    with path.open(encoding="utf-8", newline="") as fh:
        codes = {row["code"] for row in csv.DictReader(fh)}
    assert len(codes) == 320
    unknown = sorted(
        (r["term"], r["iccs_code"])
        for r in profile
        if r["iccs_code"] and r["iccs_code"] not in codes
    )
    assert not unknown, unknown


@pytest.mark.shared
def test_every_delito_of_the_file_is_mapped(by_term: dict[str, dict[str, str]]) -> None:
    pl = pytest.importorskip("polars")
    path = _need(CDMX_POINTS)
    delitos = (
        pl.scan_csv(path, infer_schema_length=0)
        .select("delito")
        .unique()
        .collect()["delito"]
        .to_list()
    )
    assert len(delitos) >= 321
    missing = sorted(d for d in delitos if d not in by_term)
    assert not missing, missing


def test_violence_split(profile: list[dict[str, str]]) -> None:
    """Mexican 'robo' is any theft.

    Con violencia -> robbery (section 04); sin violencia -> theft or burglary (section 05).
    """
    for r in profile:
        t, code = r["term"], r["iccs_code"]
        if not t.startswith("ROBO") or not code:
            continue
        if "SIN VIOLENCIA" in t or "S/V" in t:
            assert code.startswith("05"), (t, code)
            assert r["weapon"] == "none", t
        elif "CON VIOLENCIA" in t or "C/V" in t:
            assert code.startswith("04"), (t, code)


def test_not_crimes_are_unmapped(profile: list[dict[str, str]]) -> None:
    for r in profile:
        t = r["term"]
        if t.startswith(("PERDIDA DE LA VIDA", "DDH ")) or t in {
            "DENUNCIA DE HECHOS",
            "PERSONAS EXTRAVIADAS Y AUSENTES",
            "TENTATIVA DE SUICIDIO",
        }:
            assert r["iccs_code"] == "", t


@pytest.mark.parametrize(
    ("term", "code", "quality", "weapon", "place"),
    [
        ("VIOLENCIA FAMILIAR", "0201", "ambiguous", "", ""),
        ("FRAUDE", "0701", "exact", "", ""),
        ("AMENAZAS", "02012", "exact", "", ""),
        ("ROBO DE ACCESORIOS DE AUTO", "050213", "exact", "", ""),
        ("ROBO A TRANSEUNTE EN VIA PUBLICA CON VIOLENCIA", "040111", "narrower", "", "street"),
        ("ROBO DE OBJETOS DEL INTERIOR DE UN VEHICULO", "050222", "exact", "", "vehicle"),
        ("ROBO A CASA HABITACION SIN VIOLENCIA", "05012", "exact", "none", "residence"),
        ("ROBO A CASA HABITACION CON VIOLENCIA", "040112", "exact", "", "residence"),
        ("ROBO A NEGOCIO CON VIOLENCIA", "040132", "exact", "", "commercial"),
        ("USURPACIÓN DE IDENTIDAD", "07019", "exact", "", ""),
        ("DESPOJO", "0509", "narrower", "", ""),
        ("ROBO DE VEHICULO DE SERVICIO PARTICULAR SIN VIOLENCIA", "050211", "narrower", "none", ""),
        ("ROBO DE VEHICULO DE SERVICIO PARTICULAR CON VIOLENCIA", "040121", "narrower", "", ""),
        ("NARCOMENUDEO POSESION SIMPLE", "060111", "narrower", "", ""),
        ("ABUSO SEXUAL", "030121", "exact", "", ""),
        ("HOMICIDIO POR ARMA DE FUEGO", "0101", "narrower", "firearm", ""),
        ("LESIONES INTENCIONALES POR ARMA BLANCA", "020111", "narrower", "knife", ""),
        ("FEMINICIDIO", "0101", "narrower", "", ""),
        ("TENTATIVA DE FEMINICIDIO", "0102", "narrower", "", ""),
        ("HOMICIDIO CULPOSO", "0103", "exact", "", ""),
        (
            "HOMICIDIO CULPOSO POR TRÁNSITO VEHICULAR (ATROPELLADO)",
            "010321",
            "narrower",
            "",
            "street",
        ),
        (
            "ROBO A PASAJERO A BORDO DE METRO SIN VIOLENCIA",
            "050221",
            "narrower",
            "none",
            "public_transport",
        ),
        (
            "ROBO A PASAJERO A BORDO DE METRO CON VIOLENCIA",
            "040121",
            "narrower",
            "",
            "public_transport",
        ),
        (
            "ROBO A TRANSEUNTE EN TERMINAL DE PASAJEROS CON VIOLENCIA",
            "040111",
            "narrower",
            "",
            "transport_stop",
        ),
        (
            "ROBO A TRANSEUNTE A BORDO DE TAXI PÚBLICO Y PRIVADO CON VIOLENCIA",
            "040121",
            "narrower",
            "",
            "vehicle",
        ),
        ("EXTORSION", "02051", "exact", "", ""),
        ("PERDIDA DE LA VIDA POR SUICIDIO", "", "", "", ""),
        ("HOMICIDIO CULPOSO CON EXCLUYENTES DE RESPONSABILIDAD ", "", "", "", ""),
    ],
)
def test_key_mappings(
    by_term: dict[str, dict[str, str]], term: str, code: str, quality: str, weapon: str, place: str
) -> None:
    r = by_term[term]
    assert (r["iccs_code"], r["mapping_quality"], r["weapon"], r["place_type"]) == (
        code,
        quality,
        weapon,
        place,
    )
