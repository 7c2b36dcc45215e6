"""Frames in memory as the indicator engine's data provider (notebooks, tests, files)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from safestreets import records, schema
from safestreets.query import COUNT_DIMENSIONS, AggregateQuery, CountQuery


@dataclass
class FrameData:
    """Incidents, victims, published counts and populations held as Polars frames.

    Any of them may be omitted. Incidents and victims use the canonical schemas
    (:data:`schema.INCIDENT`, :data:`schema.VICTIM`); missing columns are treated as empty.
    """

    incidents: pl.DataFrame | None = None
    victims: pl.DataFrame | None = None
    counts_frame: pl.DataFrame | None = None
    population_frame: pl.DataFrame | None = None

    def __post_init__(self) -> None:
        self._rows: pl.DataFrame | None = None

    def _victim_rows(self) -> pl.DataFrame:
        if self._rows is None:
            inc = schema.conform(
                self.incidents if self.incidents is not None else pl.DataFrame(),
                schema.INCIDENT,
            )
            vic = schema.conform(
                self.victims if self.victims is not None else pl.DataFrame(), schema.VICTIM
            )
            self._rows = records.victim_rows(inc, vic)
        return self._rows

    def aggregates(self, query: AggregateQuery) -> tuple[pl.DataFrame, str]:
        """Summed incidents and victims (computed from the frames)."""
        return records.aggregate_rows(self._victim_rows(), query), "frames"

    def counts(self, query: CountQuery) -> pl.DataFrame:
        """Published counts matching the filters."""
        cols = [c for c in schema.COUNT if c != "batch_id"]
        if self.counts_frame is None:
            return pl.DataFrame(schema={c: schema.COUNT[c] for c in cols})
        c = schema.conform(self.counts_frame, schema.COUNT).select(cols)
        if query.iccs is not None:
            c = c.filter(records.iccs_match(pl.col("iccs_code"), query.iccs))
        for dim, values in query.equals.items():
            if dim in COUNT_DIMENSIONS:
                c = c.filter(records.is_in(pl.col(dim), values))
        if query.year_from is not None:
            c = c.filter(pl.col("period_end").dt.year() >= query.year_from)
        if query.year_to is not None:
            c = c.filter(pl.col("period_start").dt.year() <= query.year_to)
        return c

    def populations(self, countries: Sequence[str] | None) -> pl.DataFrame:
        """User populations."""
        if self.population_frame is None:
            return pl.DataFrame(schema=schema.POPULATION)
        p = schema.conform(self.population_frame, schema.POPULATION)
        return p.filter(pl.col("country").is_in(list(countries))) if countries else p
