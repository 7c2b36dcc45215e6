"""SYNTHETIC cross-border alerts for the demo and the benchmarks.

Persons come from :func:`safestreets.demo.persons.generate_persons` (invented names, valid
national IDs); vehicles and firearms are drawn here from small invented pools. Every alert's
reason says it is synthetic. The frames have the canonical alert columns
(:data:`safestreets.sharing.alerts.ALERT_COLUMNS`) as text, ready for
:func:`safestreets.sharing.service.load_alerts`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
import polars as pl

from safestreets.demo.persons import generate_persons

__all__ = ["DEMO_AGENCIES", "demo_alerts"]

#: The demo's agencies that own alerts: (id, name, country).
DEMO_AGENCIES: Final = (
    ("GT-PNC", "Policía Nacional Civil de Guatemala (DEMO, datos sintéticos)", "GT"),
    ("SV-PNC", "Policía Nacional Civil de El Salvador (DEMO, datos sintéticos)", "SV"),
    ("HN-DPI", "Dirección Policial de Investigaciones, Honduras (DEMO, datos sintéticos)", "HN"),
)
_CONTACTS: Final = {
    "GT-PNC": "PNC Guatemala, oficina INTERPOL (DEMO) +502 0000 0000",
    "SV-PNC": "PNC El Salvador, enlace fronterizo (DEMO) +503 0000 0000",
    "HN-DPI": "DPI Honduras, cooperación internacional (DEMO) +504 0000 0000",
}
_PERSON_KINDS: Final = ("wanted_person", "missing_person", "criminal_record")
_OFFENCES: Final = ("0101", "0401", "0501", "0601", "09011", "0201")
_CODES: Final = ("REGIONAL", "RESTRICTED", "NATIONAL", "PUBLIC")
_MAKES: Final = ("Toyota", "Nissan", "Honda", "Mitsubishi", "Isuzu", "Hyundai", "Kia", "Mazda")
_COLOURS: Final = ("blanco", "negro", "gris", "rojo", "azul", "plateado")
_GUNS: Final = (
    ("Glock", "17", "9mm"),
    ("Taurus", "PT92", "9mm"),
    ("Smith & Wesson", "Model 10", ".38 Special"),
    ("Beretta", "92FS", "9mm"),
    ("Colt", "M1911", ".45 ACP"),
    ("Norinco", "Type 56", "7.62x39"),
    ("Ruger", "10/22", ".22 LR"),
    ("Bersa", "Thunder 380", ".380 ACP"),
)
_ALNUM: Final = np.array(list("ABCDEFGHJKLMNPRSTUVWXYZ0123456789"))


def _codes(rng: np.random.Generator, n: int) -> list[str]:
    return list(rng.choice(_CODES, n, p=[0.45, 0.25, 0.25, 0.05]))


def demo_alerts(
    *,
    persons: int = 2_000,
    vehicles: int = 300,
    firearms: int = 300,
    seed: int = 7,
    now: datetime | None = None,
) -> dict[str, pl.DataFrame]:
    """SYNTHETIC alerts per owner agency (keys of :data:`DEMO_AGENCIES`).

    Each agency gets about a third of each kind; handling codes are mostly REGIONAL, then
    RESTRICTED and NATIONAL, a few PUBLIC; validity ends 30 to 720 days after ``now``.
    """
    now = now or datetime.now(UTC)
    rng = np.random.default_rng(seed)
    people, _ = generate_persons(persons, seed=seed, duplicate_rate=0.0)
    kinds = rng.choice(_PERSON_KINDS, persons, p=[0.6, 0.15, 0.25])
    frames: list[pl.DataFrame] = []
    n_all = persons + vehicles + firearms
    until = [(now + timedelta(days=int(d))).isoformat() for d in rng.integers(30, 720, n_all)]
    frames.append(
        people.drop("record_id")
        .with_columns(
            kind=pl.Series(list(kinds)),
            external_id=pl.format("P-{}", pl.int_range(1, persons + 1)),
            iccs_code=pl.Series(list(rng.choice(_OFFENCES, persons))),
            warrant_ref=pl.format("JUZ-{}-2026", pl.int_range(1, persons + 1)),
        )
        .with_columns(
            iccs_code=pl.when(pl.col("kind") == "wanted_person").then(pl.col("iccs_code")),
            warrant_ref=pl.when(pl.col("kind") == "wanted_person").then(pl.col("warrant_ref")),
        )
    )
    plates = ["".join(rng.choice(_ALNUM, 6)) for _ in range(vehicles)]
    frames.append(
        pl.DataFrame(
            {
                "kind": ["stolen_vehicle"] * vehicles,
                "external_id": [f"V-{i + 1}" for i in range(vehicles)],
                "plate": [f"P-{p}" for p in plates],
                "make": list(rng.choice(_MAKES, vehicles)),
                "colour": list(rng.choice(_COLOURS, vehicles)),
                "year": [str(y) for y in rng.integers(1998, 2026, vehicles)],
            }
        )
    )
    guns = rng.integers(0, len(_GUNS), firearms)
    frames.append(
        pl.DataFrame(
            {
                "kind": list(rng.choice(["stolen_firearm", "recovered_firearm"], firearms)),
                "external_id": [f"F-{i + 1}" for i in range(firearms)],
                "serial": ["".join(rng.choice(_ALNUM, 7)) for _ in range(firearms)],
                "make": [_GUNS[g][0] for g in guns],
                "model": [_GUNS[g][1] for g in guns],
                "calibre": [_GUNS[g][2] for g in guns],
            }
        )
    )
    every = pl.concat(frames, how="diagonal").with_columns(
        handling_code=pl.Series(_codes(rng, n_all)),
        valid_until=pl.Series(until),
        reason=pl.lit("DEMO: alerta SINTÉTICA para pruebas"),
        owner=pl.Series(list(rng.choice([a[0] for a in DEMO_AGENCIES], n_all))),
    )
    out: dict[str, pl.DataFrame] = {}
    for agency, _, country in DEMO_AGENCIES:
        part = every.filter(pl.col("owner") == agency).drop("owner")
        out[agency] = part.with_columns(
            contact=pl.lit(_CONTACTS[agency]),
            plate_country=pl.when(pl.col("kind") == "stolen_vehicle").then(pl.lit(country)),
        )
    return out
