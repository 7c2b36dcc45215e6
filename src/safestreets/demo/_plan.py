"""How many incidents of each kind each country produces each year.

Homicides are calibrated, the rest fills up to the requested size:

* victims of intentional homicide (ICCS 0101) in country *c*, year *y* are
  ``round(rate_c x population_{c,y} / 100,000)``, where ``rate_c`` is the country's latest UNODC
  rate. The annual total is fixed; its spread over days and places is random (a Poisson process
  conditioned on the annual total), so yearly rates reproduce the published ones to rounding
  while months and places vary as they do in real series;
* the other incidents are shared out over countries by population x a recording intensity,
  over years with a slow upward trend, and over kinds by the catalogue shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from safestreets.demo._catalog import KIND_INDEX, KINDS, RECORDING_INTENSITY, kind_labels
from safestreets.errors import InputError, ReferenceError_
from safestreets.reference import geo, population

IntArray = npt.NDArray[np.int64]

#: Victims per homicide incident: mostly one, some double homicides, a few massacres.
HOMICIDE_VICTIMS_PER_INCIDENT = (0.925, 0.055, 0.012, 0.005, 0.002, 0.001)
#: Yearly growth of recorded non-homicide crime (more reporting, more online fraud...).
TREND_PER_YEAR = 0.02


@dataclass(frozen=True)
class CellPlan:
    """The incidents of one country in one year."""

    country: str
    year: int
    counts: IntArray  # incidents per kind (index as in ``_catalog.KINDS``)
    homicide_victims: IntArray  # victims of each homicide incident
    target_victims: float  # rate x population / 100,000 before rounding

    @property
    def total(self) -> int:
        return int(self.counts.sum())


def default_end_year(countries: Sequence[str] = geo.COUNTRY_CODES) -> int:
    """Latest year with a published UNODC homicide rate in any of the countries."""
    return max(population.latest_homicide_rate(c)[0] for c in countries)


def population_in(country: str, year: int) -> float:
    """WDI population; outside the shipped years, extrapolated with the last 5-year growth."""
    try:
        return float(population.population_of(country, year))
    except ReferenceError_:
        pop = population.country_population().filter(pl.col("country") == country).sort("year")
        years = pop["year"].to_list()
        values = pop["population"].to_list()
        if year > years[-1]:
            growth = (values[-1] / values[-6]) ** (1 / 5)
            return float(values[-1] * growth ** (year - years[-1]))
        growth = (values[5] / values[0]) ** (1 / 5)
        return float(values[0] / growth ** (years[0] - year))


def _homicide_incidents(rng: np.random.Generator, victims: int) -> IntArray:
    """Split ``victims`` into incidents with 1, 2, 3... victims, summing exactly."""
    if victims <= 0:
        return np.zeros(0, dtype=np.int64)
    probs = np.asarray(HOMICIDE_VICTIMS_PER_INCIDENT)
    mean = float((np.arange(1, len(probs) + 1) * probs).sum())
    draws = rng.choice(np.arange(1, len(probs) + 1), size=int(victims / mean) + 64, p=probs)
    cum = np.cumsum(draws)
    while cum[-1] < victims:  # pragma: no cover - the margin above makes this vanishingly rare
        draws = np.r_[draws, np.ones(victims - int(cum[-1]), dtype=draws.dtype)]
        cum = np.cumsum(draws)
    k = int(np.searchsorted(cum, victims))  # first incident reaching the total
    out = draws[: k + 1].astype(np.int64)
    out[-1] -= int(cum[k]) - victims
    return out


def plan_region(
    *, seed: int, incidents: int, years: int, end_year: int, countries: Sequence[str]
) -> list[CellPlan]:
    """Allocate ``incidents`` to countries, years and kinds (see the module docstring).

    Raises:
        InputError: If ``incidents`` cannot hold the calibrated homicides.
    """
    rng = np.random.default_rng([seed, 0])
    year_list = list(range(end_year - years + 1, end_year + 1))
    cells: list[tuple[str, int, IntArray, float]] = []
    for country in countries:
        _, rate = population.latest_homicide_rate(country)
        for year in year_list:
            target = rate * population_in(country, year) / 100_000
            cells.append((country, year, _homicide_incidents(rng, round(target)), target))

    n_homicides = sum(len(h) for _, _, h, _ in cells)
    if incidents < n_homicides:
        span = f"{year_list[0]}-{year_list[-1]}" if years > 1 else str(end_year)
        raise InputError(
            f"{incidents:,} incidents cannot hold the {n_homicides:,} calibrated homicide "
            f"incidents of {', '.join(countries)} in {span}",
            hint=f"ask for at least {n_homicides:,} incidents (about {8 * n_homicides:,} "
            "for a realistic mix of crimes), or for fewer years or countries",
        )

    # Non-homicide incidents: one multinomial draw over (cell, kind).
    weights = np.zeros((len(cells), len(KINDS)))
    for i, (country, year, _, _) in enumerate(cells):
        base = (
            population_in(country, year)
            * RECORDING_INTENSITY[country]
            * (1 + TREND_PER_YEAR) ** (year - year_list[0])
        )
        for k, kind in enumerate(KINDS):
            if kind.share > 0 and kind_labels(kind.key, country) is not None:
                weights[i, k] = base * kind.share * kind.boost.get(country, 1.0)
    rest = incidents - n_homicides
    flat = weights.ravel()
    counts = (
        rng.multinomial(rest, flat / flat.sum()).reshape(weights.shape)
        if rest
        else np.zeros(weights.shape, dtype=np.int64)
    )

    plan = []
    homicide = KIND_INDEX["homicide"]
    for i, (country, year, victims, target) in enumerate(cells):
        row = counts[i].astype(np.int64)
        row[homicide] = len(victims)
        plan.append(CellPlan(country, year, row, victims, target))
    return plan
