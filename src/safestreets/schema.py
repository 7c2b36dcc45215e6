"""The canonical record schemas, declared once.

Ingest output, store tables and analytics input all use these names and types.
Timestamps are UTC; coordinates are WGS84 longitude/latitude.
"""

from __future__ import annotations

from typing import Final

import polars as pl

UTC_TS = pl.Datetime("us", "UTC")

#: Allowed values of the controlled fields.
OCCURRED_PRECISION: Final = ("exact", "minute", "hour", "day", "month", "year")
LOCATION_PRECISION: Final = ("exact", "street", "locality", "admin2", "admin1", "country", "none")
MAPPING_QUALITY: Final = ("exact", "broader", "narrower", "ambiguous")
HANDLING_CODES: Final = ("NATIONAL", "REGIONAL", "RESTRICTED", "PUBLIC")
PLACE_TYPES: Final = (
    "street",
    "public_transport",
    "transport_stop",
    "market",
    "commercial",
    "residence",
    "school",
    "bar",
    "vehicle",
    "rural",
    "other",
    "unknown",
)
WEAPONS: Final = ("firearm", "knife", "blunt_object", "other", "none", "unknown")
SEXES: Final = ("female", "male", "unknown")
COUNT_UNITS: Final = ("victims", "incidents")
#: Situational context of an offence or the victim-offender relationship (UNODC homicide
#: typology, simplified; ICCS treats both as tags). ``gender_related``, ``intimate_partner``
#: and ``family`` killings of women are the femicide subset of the UN Statistical Framework on
#: gender-related killings of women and girls (2022); ``intimate_partner`` and ``family``
#: offences are domestic violence.
CONTEXTS: Final = (
    "intimate_partner",
    "family",
    "gender_related",
    "organised_crime",
    "gang",
    "robbery",
    "interpersonal",
    "socio_political",
    "other",
    "unknown",
)

#: Age bands of the UNODC homicide statistics (SDG 16.1.1 disaggregation).
AGE_BANDS: Final = ("0-9", "10-14", "15-17", "18-19", "20-24", "25-29", "30-44", "45-59", "60+")
#: Coarse bands some publishers use for counts and populations (e.g. SESNSP: minors/adults).
COARSE_AGE_BANDS: Final = ("0-17", "18+")


#: One row per incident (event) as recorded by a source agency.
INCIDENT: Final[dict[str, pl.DataType]] = {
    "incident_id": pl.Int64(),
    "source": pl.String(),
    "source_record_id": pl.String(),
    "country": pl.String(),
    "admin1": pl.String(),
    "admin2": pl.String(),
    "locality": pl.String(),
    "occurred_at": UTC_TS,
    "occurred_precision": pl.String(),
    "source_timezone": pl.String(),
    "reported_at": UTC_TS,
    "local_category": pl.String(),
    "iccs_code": pl.String(),
    "mapping_quality": pl.String(),
    "lon": pl.Float64(),
    "lat": pl.Float64(),
    "location_precision": pl.String(),
    "place_type": pl.String(),
    "weapon": pl.String(),
    "context": pl.String(),
    "victim_count": pl.Int32(),
    "owner_agency": pl.String(),
    "handling_code": pl.String(),
    "batch_id": pl.Int64(),
}

#: One row per victim of an incident.
VICTIM: Final[dict[str, pl.DataType]] = {
    "incident_id": pl.Int64(),
    "victim_no": pl.Int32(),
    "sex": pl.String(),
    "age": pl.Int32(),
    "age_band": pl.String(),
}

#: Aggregated statistics as published by agencies that release only counts.
COUNT: Final[dict[str, pl.DataType]] = {
    "source": pl.String(),
    "country": pl.String(),
    "admin1": pl.String(),
    "admin2": pl.String(),
    "period": pl.String(),
    "period_start": pl.Date(),
    "period_end": pl.Date(),
    "iccs_code": pl.String(),
    "local_category": pl.String(),
    "sex": pl.String(),
    "age_band": pl.String(),
    "weapon": pl.String(),
    "place_type": pl.String(),
    "context": pl.String(),
    "unit": pl.String(),
    "count": pl.Int64(),
    "batch_id": pl.Int64(),
}

#: Mid-year population by area and year.
POPULATION: Final[dict[str, pl.DataType]] = {
    "country": pl.String(),
    "admin1": pl.String(),
    "admin2": pl.String(),
    "year": pl.Int32(),
    "sex": pl.String(),
    "age_band": pl.String(),
    "population": pl.Int64(),
    "source": pl.String(),
}


#: The canonical victim-list frame: one row per victim as one source lists them.
VICTIM_LIST: Final[dict[str, pl.DataType]] = {
    "source": pl.String(),  # institution label ("police", "forensic", ...)
    "record_id": pl.String(),  # the source's own id (generated from the row when absent)
    "date_of_death": pl.Date(),
    "country": pl.String(),  # ISO 3166-1 alpha-2
    "admin1": pl.String(),  # ISO 3166-2 code when resolvable, else null
    "admin2": pl.String(),  # national (or GeoNames) code when resolvable, else null
    "place": pl.String(),  # the place as written ("municipio, departamento")
    "sex": pl.String(),  # female / male / unknown
    "age": pl.Int32(),  # completed years; null when unknown
    "given_names": pl.String(),
    "surnames": pl.String(),
    "case_number": pl.String(),  # forensic case (autopsy) number
    "lon": pl.Float64(),
    "lat": pl.Float64(),
}

#: Victim-list rows set aside, with why: ``row`` is the spreadsheet row (header = 1), ``raw`` JSON.
VICTIM_LIST_REJECTED: Final[dict[str, pl.DataType]] = {
    "source": pl.String(),
    "file": pl.String(),
    "row": pl.Int64(),
    "record_id": pl.String(),
    "reason": pl.String(),
    "raw": pl.String(),
}


def empty_frame(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """An empty frame with the given canonical schema."""
    return pl.DataFrame(schema=schema)


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Select and cast ``frame`` to ``schema``: missing columns become nulls, extras are dropped."""
    cols = []
    for name, dtype in schema.items():
        if name in frame.columns:
            cols.append(pl.col(name).cast(dtype, strict=False))
        else:
            cols.append(pl.lit(None, dtype=dtype).alias(name))
    return frame.select(cols)


def age_band(age: pl.Expr) -> pl.Expr:
    """Map an integer age expression to the UNODC age band (null where age is null)."""
    return (
        pl.when(age.is_null())
        .then(None)
        .when(age < 10)
        .then(pl.lit("0-9"))
        .when(age < 15)
        .then(pl.lit("10-14"))
        .when(age < 18)
        .then(pl.lit("15-17"))
        .when(age < 20)
        .then(pl.lit("18-19"))
        .when(age < 25)
        .then(pl.lit("20-24"))
        .when(age < 30)
        .then(pl.lit("25-29"))
        .when(age < 45)
        .then(pl.lit("30-44"))
        .when(age < 60)
        .then(pl.lit("45-59"))
        .otherwise(pl.lit("60+"))
    )


# --- persons and alerts (issue 6: cross-border alerts and matching) --------------------------

#: The canonical person CSV (docs/sharing.md), in this order. Every column but ``record_id``
#: may be empty; ``date_of_birth`` may be partial (``1985``, ``1985-03``).
PERSON_COLUMNS: Final = (
    "record_id",
    "given_names",
    "surname_1",
    "surname_2",
    "date_of_birth",
    "sex",
    "national_id",
    "id_country",
    "nationality",
    "aliases",
    "address",
    "municipality",
)
#: Alert kinds and the subject each one describes.
ALERT_KINDS: Final = {
    "wanted_person": "person",
    "missing_person": "person",
    "criminal_record": "person",
    "stolen_vehicle": "vehicle",
    "stolen_firearm": "firearm",
    "recovered_firearm": "firearm",
}
#: The fields of a vehicle and a firearm in an alert or a query.
VEHICLE_COLUMNS: Final = ("plate", "plate_country", "vin", "make", "model", "colour", "year")
FIREARM_COLUMNS: Final = ("serial", "make", "model", "calibre", "firearm_type")
