"""What analytics ask the store for: one description shared by ``stats`` and ``store``.

``stats`` never imports ``store``; both import this module (like :mod:`safestreets.schema`).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Final, Literal

from safestreets.errors import InputError

Resolution = Literal["year", "month", "day"]

#: Every dimension a query may group or filter incident records by.
DIMENSIONS: Final = (
    "source",
    "owner_agency",
    "handling_code",
    "country",
    "admin1",
    "admin2",
    "iccs_code",
    "sex",
    "age_band",
    "weapon",
    "place_type",
    "context",
)


@dataclass(frozen=True)
class AggregateQuery:
    """Incidents and victims to be summed from the records.

    Attributes:
        dims: Dimensions to group by (names from :data:`DIMENSIONS`).
        resolution: ``year``, ``month`` or ``day`` (``day`` is needed for ISO weeks and date
            ranges that do not follow month boundaries).
        iccs: ICCS codes; a record matches a code or any finer code under it.
        equals: Other filters, dimension -> allowed values (``None`` matches null).
        year_from: First year (inclusive), optional.
        year_to: Last year (inclusive), optional.
        date_from: First local date (inclusive), with ``resolution="day"``.
        date_to: Last local date (inclusive), with ``resolution="day"``.
    """

    dims: tuple[str, ...] = ()
    resolution: Resolution = "year"
    iccs: tuple[str, ...] | None = None
    equals: dict[str, tuple[str | None, ...]] = field(default_factory=dict)
    year_from: int | None = None
    year_to: int | None = None
    date_from: date | None = None
    date_to: date | None = None

    def needed(self) -> tuple[str, ...]:
        """Every dimension the query groups or filters by."""
        extra = [d for d in self.equals if d not in self.dims]
        if self.iccs is not None and "iccs_code" not in self.dims:
            extra.append("iccs_code")
        return (*self.dims, *extra)


#: The dimensions a :class:`CountQuery` filters published counts by (ICCS codes aside).
COUNT_DIMENSIONS: Final = (
    "source",
    "country",
    "admin1",
    "admin2",
    "sex",
    "age_band",
    "weapon",
    "place_type",
    "context",
)


@dataclass(frozen=True)
class CountQuery:
    """Published counts to be read (filters only; the engine groups them).

    ``equals`` keys outside :data:`COUNT_DIMENSIONS` are ignored by every provider.
    """

    iccs: tuple[str, ...] | None = None
    equals: dict[str, tuple[str | None, ...]] = field(default_factory=dict)
    year_from: int | None = None
    year_to: int | None = None


def parse_date(text: str, *, end: bool, name: str | None = None) -> date:
    """``2023``, ``2023-05`` or ``2023-05-17``; a year or month means its first (or last) day.

    The one reading of the date filters of the CLI (``--from``/``--to``), the API and the web
    pages; ``name`` prefixes the error message with the parameter it came from.

    Raises:
        InputError: The text is not one of the three forms, or names no real day.
    """
    prefix = f"{name}: " if name else ""
    hint = "use YYYY, YYYY-MM or YYYY-MM-DD"
    m = re.fullmatch(r"(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?", text.strip())
    if not m:
        raise InputError(f"{prefix}cannot read the date {text!r}", hint=hint)
    y, mo, d = int(m[1]), int(m[2]) if m[2] else None, int(m[3]) if m[3] else None
    try:
        if mo is None:
            return date(y, 12, 31) if end else date(y, 1, 1)
        if d is None:
            return date(y, mo, calendar.monthrange(y, mo)[1]) if end else date(y, mo, 1)
        return date(y, mo, d)
    except ValueError:
        raise InputError(f"{prefix}no such date {text!r}", hint=hint) from None
