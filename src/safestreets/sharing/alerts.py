"""Alerts: what they are, how a frame of them is validated, and what a hit may reveal.

Pure functions over Polars frames (no database): :func:`validate_alerts` turns a frame of
canonical alert columns (from a bulk file through an alert profile, or one record from the
API) into the rows ready to store and the problems found, row by row, so a bulk load reports
every problem at once and loses nothing. The store writes what this module accepts
(:mod:`safestreets.store.alerts`); the hit/no-hit service (:mod:`safestreets.sharing.hits`)
decides from :func:`reveals_personal_data` what a hit may show.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import polars as pl
import pycountry

from safestreets import schema
from safestreets.access.policy import NATIONAL, RESTRICTED
from safestreets.reference.iccs import is_iccs_code

__all__ = [
    "ALERT_COLUMNS",
    "DEFAULT_INSTRUCTIONS",
    "KIND_CODES",
    "AlertProblem",
    "new_reference",
    "reveals_personal_data",
    "subject_of",
    "validate_alerts",
]

#: Person fields of an alert (the canonical person columns without ``record_id``).
PERSON_FIELDS: Final = tuple(c for c in schema.PERSON_COLUMNS if c != "record_id")
VEHICLE_FIELDS: Final = schema.VEHICLE_COLUMNS
FIREARM_FIELDS: Final = schema.FIREARM_COLUMNS

#: The canonical alert columns, all text on input (dates ISO 8601, ``is_child`` true/false,
#: ``clk`` base64, ``clk_blocks`` space-separated hex keys).
ALERT_COLUMNS: Final = (
    "kind",
    "external_id",
    "handling_code",
    "valid_from",
    "valid_until",
    "contact",
    "reason",
    "instructions",
    "iccs_code",
    "warrant_ref",
    "is_child",
    *PERSON_FIELDS,
    *dict.fromkeys(VEHICLE_FIELDS + FIREARM_FIELDS),
    "clk",
    "clk_blocks",
)

#: Two letters per kind in references (``GT-WP-7K3M9QXA``).
KIND_CODES: Final = {
    "wanted_person": "WP",
    "missing_person": "MP",
    "criminal_record": "CR",
    "stolen_vehicle": "SV",
    "stolen_firearm": "SF",
    "recovered_firearm": "RF",
}

#: What the officer who gets a hit should do when the owner wrote no instructions.
DEFAULT_INSTRUCTIONS: Final = {
    "wanted_person": "Do not reveal the hit to the person. Confirm identity with documents and "
    "contact the owner agency before any detention or transfer.",
    "missing_person": "Ensure the person's safety, especially a child, and contact the owner "
    "agency at once. Do not hand a child over to the accompanying adult before the owner "
    "agency answers.",
    "criminal_record": "For information only: no action against the person on the strength of "
    "this hit. Contact the owner agency for details.",
    "stolen_vehicle": "Hold the vehicle if lawful, record the plate and VIN as seen, and contact "
    "the owner agency.",
    "stolen_firearm": "Secure the firearm as evidence, record make, model, calibre and serial as "
    "seen, and contact the owner agency.",
    "recovered_firearm": "The firearm was recovered at a crime scene: record where and from whom "
    "it was seized and contact the owner agency.",
}

#: Crockford's base32 alphabet (no I, L, O, U): references read aloud over a radio survive.
_REF_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True)
class AlertProblem:
    """One problem in one input row: ``error`` sets the row aside, ``warning`` keeps it."""

    row: int
    external_id: str | None
    field: str
    reason: str
    message: str
    severity: str = "error"

    def as_dict(self) -> dict[str, Any]:
        """The problem as a JSON-ready dict."""
        return {
            "row": self.row,
            "external_id": self.external_id,
            "field": self.field,
            "reason": self.reason,
            "message": self.message,
            "severity": self.severity,
        }


def subject_of(kind: str) -> str:
    """``person``, ``vehicle`` or ``firearm`` for an alert kind."""
    return schema.ALERT_KINDS[kind]


def new_reference(country: str | None, kind: str) -> str:
    """A new, unguessable alert reference such as ``GT-WP-7K3M9QXA``.

    Random rather than sequential, so a reference reveals neither how many alerts an agency
    holds nor when one was made.
    """
    body = "".join(secrets.choice(_REF_ALPHABET) for _ in range(8))
    return f"{country or 'XX'}-{KIND_CODES[kind]}-{body}"


def reveals_personal_data(handling_code: str, *, own_agency: bool) -> bool:
    """Whether a hit on an alert with this code may show the subject's personal data.

    RESTRICTED and NATIONAL alerts answer with the reference, the contact point, the kind
    and the instructions only; the details need a follow-up request the owner approves. The
    owner agency itself always sees its own alerts.
    """
    return own_agency or handling_code not in (RESTRICTED, NATIONAL)


_TRUE: Final = {"true", "1", "yes", "si", "sí", "s", "y", "t", "x"}
_FALSE: Final = {"false", "0", "no", "n", "f", ""}
_DATE_FORMATS: Final = (
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S",
)


def _parse_moment(col: str) -> pl.Expr:
    """ISO dates or date-times (UTC when no offset) -> aware UTC datetimes; null if unreadable."""
    s = pl.col(col).str.strip_chars()
    as_date = (
        s.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    )
    candidates = [as_date]
    for fmt in _DATE_FORMATS:
        parsed = s.str.to_datetime(fmt, strict=False, time_unit="us")
        if "%z" in fmt:
            candidates.append(parsed.dt.convert_time_zone("UTC"))
        else:
            candidates.append(parsed.dt.replace_time_zone("UTC"))
    return pl.coalesce(candidates)


def _country(value: str | None) -> str | None:
    """ISO alpha-2 for a code or a name; None when empty; ``?`` when unknown."""
    if value is None or not value.strip():
        return None
    v = value.strip()
    try:
        c = pycountry.countries.lookup(v)
    except LookupError:
        return "?"
    return str(c.alpha_2)


def _blank(col: str) -> pl.Expr:
    return pl.col(col).is_null() | (pl.col(col).str.strip_chars() == "")


def _text_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every canonical column present, as stripped text (missing ones null)."""
    unknown = [c for c in frame.columns if c not in ALERT_COLUMNS]
    if unknown:
        from safestreets.errors import InputError

        raise InputError(
            f"unknown alert field(s): {', '.join(unknown)}",
            hint="allowed: " + ", ".join(ALERT_COLUMNS),
        )
    cols = []
    for c in ALERT_COLUMNS:
        if c in frame.columns:
            e = pl.col(c).cast(pl.String).str.strip_chars()
            cols.append(pl.when(e == "").then(None).otherwise(e).alias(c))
        else:
            cols.append(pl.lit(None, pl.String).alias(c))
    return frame.select(cols)


def validate_alerts(
    frame: pl.DataFrame,
    *,
    defaults: Mapping[str, Any] | None = None,
    valid_days: int | None = None,
    now: datetime | None = None,
) -> tuple[pl.DataFrame, list[AlertProblem]]:
    """Check a frame of alerts; return the rows ready to store and every problem found.

    Args:
        frame: Canonical alert columns (any subset; text).
        defaults: Values for empty cells (``handling_code``, ``contact``, ``reason``,
            ``instructions``, ``kind``, ...), e.g. from an alert profile.
        valid_days: When ``valid_until`` is empty, ``valid_from`` plus this many days.
        now: The clock (tests); ``valid_from`` defaults to it.

    Returns:
        ``(ready, problems)``: ``ready`` has the canonical columns typed for the store
        (``valid_from``/``valid_until`` aware UTC, ``is_child`` boolean, ``year`` integer,
        ``clk`` binary) plus ``row`` (1-based input row) and the person ``id_status``;
        rows with an error are not in it. Warnings (a failed check digit, a VIN whose check
        digit fails, an alert that has already expired) keep the row.
    """
    now = now or datetime.now(UTC)
    df = _text_frame(frame).with_row_index("row", offset=1)
    for key, value in (defaults or {}).items():
        if key not in ALERT_COLUMNS:
            from safestreets.errors import InputError

            raise InputError(
                f"unknown default field {key!r}", hint="allowed: " + ", ".join(ALERT_COLUMNS)
            )
        if value is not None and str(value).strip():
            df = df.with_columns(pl.col(key).fill_null(pl.lit(str(value).strip())))
    df = df.with_columns(
        pl.col("kind").str.to_lowercase().str.replace_all(r"[\s-]+", "_"),
        pl.col("handling_code").str.to_uppercase(),
        # Validity filled in here (not given by the source) is marked, so a re-run of the same
        # file, on another day, does not count as a change (store.upsert_alerts keeps it).
        pl.col("valid_from").is_null().alias("from_defaulted"),
        pl.col("valid_until").is_null().alias("until_defaulted"),
        pl.col("valid_from").fill_null(pl.lit(now.isoformat())),
    )
    df = df.with_columns(
        _parse_moment("valid_from").alias("_from"), _parse_moment("valid_until").alias("_until")
    )
    if valid_days is not None:
        df = df.with_columns(
            pl.col("_until").fill_null(pl.col("_from") + pl.duration(days=valid_days))
        )

    problems: list[AlertProblem] = []

    def flag(mask: pl.Expr, field: str, reason: str, message: str, severity: str = "error") -> None:
        # "{value}" in a message is the offending cell, so a report says what was written.
        hits = df.filter(mask).select("row", "external_id", pl.col(field).alias("_value"))
        for row, ext, value in hits.iter_rows():
            text = message.replace("{value}", repr(value)) if "{value}" in message else message
            problems.append(AlertProblem(row, ext, field, reason, text, severity))

    kinds = sorted(schema.ALERT_KINDS)
    flag(_blank("kind"), "kind", "missing_kind", "no alert kind")
    flag(
        ~_blank("kind") & ~pl.col("kind").is_in(kinds),
        "kind",
        "unknown_kind",
        "unknown alert kind {value} (allowed: " + ", ".join(kinds) + ")",
    )
    flag(_blank("external_id"), "external_id", "missing_external_id", "no external_id")
    flag(
        ~_blank("external_id") & pl.col("external_id").is_duplicated(),
        "external_id",
        "duplicate_external_id",
        "external_id appears more than once in this input",
    )
    flag(_blank("handling_code"), "handling_code", "missing_handling_code", "no handling code")
    flag(
        ~_blank("handling_code") & ~pl.col("handling_code").is_in(list(schema.HANDLING_CODES)),
        "handling_code",
        "unknown_handling_code",
        "handling code {value} is not one of " + ", ".join(schema.HANDLING_CODES),
    )
    flag(pl.col("_from").is_null(), "valid_from", "bad_valid_from", "cannot read valid_from")
    flag(
        pl.col("_until").is_null(),
        "valid_until",
        "missing_valid_until",
        "no readable valid_until (every alert needs an end of validity)",
    )
    flag(
        pl.col("_from").is_not_null()
        & pl.col("_until").is_not_null()
        & (pl.col("_until") <= pl.col("_from")),
        "valid_until",
        "validity_reversed",
        "valid_until is not after valid_from",
    )
    flag(
        pl.col("_until").is_not_null() & (pl.col("_until") <= pl.lit(now)),
        "valid_until",
        "already_expired",
        "the alert has already expired: stored, but never returned as a hit",
        "warning",
    )
    flag(_blank("contact"), "contact", "missing_contact", "no contact point")
    flag(_blank("reason"), "reason", "missing_reason", "no reason for the alert")

    subject = pl.col("kind").replace_strict(schema.ALERT_KINDS, default=None)
    is_person = subject == "person"
    has_clk = ~_blank("clk")
    flag(
        is_person
        & ~has_clk
        & (_blank("surname_1") & _blank("surname_2") | _blank("given_names"))
        & _blank("national_id"),
        "surname_1",
        "person_unidentifiable",
        "a person needs given names and a surname, or a national id (or a clk encoding)",
    )
    flag(
        (pl.col("kind") == "wanted_person") & _blank("warrant_ref"),
        "warrant_ref",
        "missing_warrant_ref",
        "a wanted person needs the warrant reference",
    )
    flag(
        (pl.col("kind") == "wanted_person") & _blank("iccs_code"),
        "iccs_code",
        "missing_iccs_code",
        "a wanted person needs the offence as an ICCS code",
    )
    codes = df.get_column("iccs_code").drop_nulls().unique().to_list()
    bad_codes = [c for c in codes if not is_iccs_code(c)]
    flag(
        pl.col("iccs_code").is_in(bad_codes),
        "iccs_code",
        "unknown_iccs_code",
        "{value} is not an ICCS v1.0 code",
    )
    flag(
        (subject == "vehicle") & _blank("plate") & _blank("vin"),
        "plate",
        "vehicle_unidentifiable",
        "a vehicle needs a plate or a VIN",
    )
    flag(
        (subject == "firearm") & _blank("serial"),
        "serial",
        "firearm_unidentifiable",
        "a firearm needs a serial number (write unreadable characters as ?)",
    )
    flag(
        ~_blank("year") & pl.col("year").str.to_integer(strict=False).is_null(),
        "year",
        "bad_year",
        "vehicle year is not a whole number",
    )
    child = pl.col("is_child").str.to_lowercase()
    flag(
        ~_blank("is_child") & ~child.is_in(sorted(_TRUE | _FALSE)),
        "is_child",
        "bad_is_child",
        "is_child must be true or false",
    )

    # Country codes (nationality, id_country, plate_country): codes or names, as ISO alpha-2.
    for col in ("id_country", "nationality", "plate_country"):
        values = df.get_column(col).drop_nulls().unique().to_list()
        mapping = {v: _country(v) for v in values}
        df = df.with_columns(
            pl.col(col).replace_strict(mapping, default=None, return_dtype=pl.String)
        )
        flag(pl.col(col) == "?", col, "unknown_country", f"{col} is not a country")

    # Person fields through the name normaliser: dates of birth and national ids.
    from safestreets.sharing.names import normalise_persons

    persons = normalise_persons(
        df.select(pl.col("row").cast(pl.String).alias("record_id"), *PERSON_FIELDS)
    )
    df = df.with_columns(
        persons.get_column("id_status").alias("id_status"),
        persons.get_column("dob_year").alias("_dob_year"),
        persons.get_column("dob").alias("_dob"),
    )
    flag(
        ~_blank("date_of_birth") & pl.col("_dob_year").is_null(),
        "date_of_birth",
        "bad_date_of_birth",
        "cannot read date_of_birth {value} (use YYYY-MM-DD, YYYY-MM, YYYY or DD/MM/YYYY)",
    )
    flag(
        pl.col("date_of_birth").str.count_matches(r"\d+").eq(3)
        & pl.col("_dob_year").is_not_null()
        & pl.col("_dob").is_null(),
        "date_of_birth",
        "partial_date_of_birth",
        "date_of_birth {value} is not a real day: only its year (and month) are matched",
        "warning",
    )
    flag(
        pl.col("id_status") == "check_failed",
        "national_id",
        "id_check_failed",
        "the national id's check digit does not match: kept, with less weight in matching",
        "warning",
    )
    flag(
        pl.col("id_status") == "bad_format",
        "national_id",
        "id_bad_format",
        "the national id does not have its country's format: kept, with less weight",
        "warning",
    )

    # Privacy-preserving encodings arrive as base64.
    clk_values = df.get_column("clk").drop_nulls().unique().to_list()
    decoded: dict[str, bytes | None] = {}
    for v in clk_values:
        try:
            decoded[v] = base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            decoded[v] = None
    bad_clk = [v for v, b in decoded.items() if not b or len(b) % 8]
    flag(pl.col("clk").is_in(bad_clk), "clk", "bad_clk", "clk is not base64 of whole 64-bit words")
    flag(
        has_clk & ~is_person,
        "clk",
        "clk_not_person",
        "only person alerts can be contributed as clk encodings",
    )

    errors = {p.row for p in problems if p.severity == "error"}
    ready = df.filter(~pl.col("row").is_in(sorted(errors)))
    # A missing child flag for a missing person is worked out from the date of birth.
    age_days = (
        pl.col("_from").dt.date() - pl.col("_dob").str.to_date("%Y-%m-%d", strict=False)
    ).dt.total_days()
    computed_child = pl.when(pl.col("kind") == "missing_person").then(age_days < 18 * 365.25)
    ready = ready.with_columns(
        pl.col("_from").alias("valid_from"),
        pl.col("_until").alias("valid_until"),
        pl.when(child.is_in(sorted(_TRUE)))
        .then(True)
        .when(child.is_in(sorted(_FALSE - {""})))
        .then(False)
        .otherwise(computed_child)
        .alias("is_child"),
        pl.col("year").str.to_integer(strict=False).cast(pl.Int32),
        pl.col("clk").replace_strict(decoded, default=None, return_dtype=pl.Binary),
        pl.col("plate_country").str.to_uppercase(),
        pl.col("vin").str.to_uppercase().str.replace_all(r"[^A-Z0-9]", ""),
    ).drop("_from", "_until", "_dob_year", "_dob")
    problems.sort(key=lambda p: (p.row, p.severity != "error", p.field))
    return ready, problems
