"""Generate the synthetic demo region: incidents and victims for the seven countries."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from safestreets.demo._generate import DemoChunk, stream
from safestreets.demo._plan import default_end_year, plan_region
from safestreets.errors import InputError
from safestreets.reference import geo

__all__ = ["DemoChunk", "generate_region"]


def generate_region(
    *,
    seed: int = 7,
    incidents: int = 250_000,
    years: int = 3,
    end_year: int | None = None,
    chunk_size: int = 200_000,
    progress: Callable[[int], None] | None = None,
    countries: Sequence[str] | None = None,
) -> Iterator[DemoChunk]:
    """Stream a synthetic but realistic region of incidents and victims.

    Every record is marked synthetic (``source`` ``SYNTHETIC-DEMO-<agency>``). Homicides are
    calibrated so that each country's yearly number of ICCS 0101 victims is its latest UNODC
    rate times the WDI population of each simulated year (rounded; the randomness is in when
    and where they happen, so monthly and local counts vary as in a Poisson process while the
    yearly rate reproduces the published one); the other ``incidents`` are robberies,
    thefts, assaults, extortion, sexual violence and the like in plausible proportions, placed
    around real towns with strong concentration on micro-places, and timed with the usual
    night, weekend, payday and seasonal patterns.

    The arguments are checked and the region planned when the function is called (so a too
    small ``incidents`` raises at once); the data are then produced lazily, chunk by chunk.
    The data depend only on ``seed``, ``incidents``, ``years``, ``end_year`` and
    ``countries``, not on ``chunk_size``, and memory is bounded by ``chunk_size``.

    Args:
        seed: Random seed; the same seed gives identical frames.
        incidents: Total number of incidents over all countries and years.
        years: Number of full calendar years.
        end_year: Last simulated year. Default: the latest year with a published UNODC
            homicide rate for any of the seven countries (2023 with the shipped data), so that
            the simulated years have a published population; beyond the shipped WDI years the
            population is extrapolated with its last five-year growth.
        chunk_size: Incidents per yielded chunk (the last one may be smaller).
        progress: Called after each chunk with the number of incidents produced so far.
        countries: ISO2 codes to generate (default: all seven), e.g. for small tests.

    Returns:
        An iterator of :class:`DemoChunk`.

    Raises:
        InputError: If ``incidents`` is smaller than the calibrated number of homicide
            incidents, an argument is out of range or a country code is unknown.
    """
    for name, value in (("incidents", incidents), ("years", years), ("chunk_size", chunk_size)):
        if value < 1:
            raise InputError(
                f"{name} must be at least 1, got {value}", hint=f"pass a positive {name}"
            )
    codes = _countries(countries)
    last = default_end_year() if end_year is None else int(end_year)
    plan = plan_region(seed=seed, incidents=incidents, years=years, end_year=last, countries=codes)
    return stream(plan, seed=seed, chunk_size=chunk_size, progress=progress)


def _countries(countries: Sequence[str] | None) -> tuple[str, ...]:
    if countries is None:
        return geo.COUNTRY_CODES
    if isinstance(countries, str):
        countries = [countries]
    codes = {c.strip().upper() for c in countries}
    if not codes:
        raise InputError("no country given", hint="pass at least one ISO2 code, or None for all")
    for c in sorted(codes):
        if c not in geo.COUNTRY_CODES:
            raise InputError(
                f"unknown country code {c!r}",
                hint=f"use ISO 3166-1 alpha-2 codes among {', '.join(geo.COUNTRY_CODES)}",
            )
    # Canonical order: the output does not depend on how the caller lists them.
    return tuple(c for c in geo.COUNTRY_CODES if c in codes)
