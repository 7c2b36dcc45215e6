"""A study: events projected, a grid built over them, each event placed in its cell.

Every hotspot command starts the same way; this is that start, once, for the CLI, the API and
notebooks::

    study = prepare(events, cell_size=250, area="GT")
    counts = study.grid.counts(study.cells)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from safestreets.spatial.events import Projected, project
from safestreets.spatial.grid import DEFAULT_MAX_CELLS, Grid, make_grid
from safestreets.spatial.predict import History

__all__ = ["Study", "prepare"]


@dataclass(frozen=True)
class Study:
    """Events on a grid.

    Attributes:
        events: The projected events that lie on the grid.
        grid: The grid.
        cells: Active-cell position of each event in ``events`` (never -1).
        notes: What was left out and why, in plain language.
    """

    events: Projected
    grid: Grid
    cells: npt.NDArray[np.int64]
    notes: tuple[str, ...]

    def counts(self) -> npt.NDArray[np.float64]:
        """Events per active cell."""
        return self.grid.counts(self.cells)

    def history(
        self, features: npt.NDArray[np.float64] | None = None, feature_names: tuple[str, ...] = ()
    ) -> History:
        """The events as a time-sorted :class:`History` for predictive models."""
        return History.build(self.grid, self.cells, self.events.t, features, feature_names)

    def cell_frame(self) -> pl.DataFrame:
        """One row per active cell: ``cell`` label, centre ``lon``/``lat``, ``area_m2``."""
        lon, lat = self.grid.centres_lonlat()
        return pl.DataFrame(
            {
                "cell": self.grid.labels(),
                "lon": lon,
                "lat": lat,
                "area_m2": self.grid.area_m2,
            }
        )


def prepare(
    events: pl.DataFrame,
    *,
    crs: str | int | CRS | None = None,
    cell_size: float | None = 250.0,
    h3_resolution: int | None = None,
    area: str | Path | BaseGeometry | None = None,
    drop_stray: bool = False,
    max_cells: int = DEFAULT_MAX_CELLS,
    notes: tuple[str, ...] = (),
) -> Study:
    """Project events, build the grid and place each event in its cell.

    Args:
        events: Event frame (:data:`safestreets.spatial.events.EVENT_SCHEMA`).
        crs: Metric CRS; None = the UTM zone of the data.
        cell_size: Square cell side in metres (unless ``h3_resolution``).
        h3_resolution: Use H3 cells of this resolution.
        area: Study area: None/"hull", an ISO country code, a GeoJSON file or a geometry.
        drop_stray: Leave out events far from the rest instead of refusing.
        max_cells: Refuse larger grids.
        notes: Notes from reading the events, carried into the study.

    Raises:
        InputError: No events, a bad CRS or area, stray events, an oversized grid.
    """
    projected = project(events, crs)
    grid, keep = make_grid(
        projected,
        cell_size=cell_size,
        h3_resolution=h3_resolution,
        area=area,
        drop_stray=drop_stray,
        max_cells=max_cells,
    )
    kept = projected.select(keep) if not keep.all() else projected
    cells = grid.locate(kept)
    if (cells < 0).any():  # the grid covers every kept event by construction: a bug
        raise RuntimeError("an event fell outside its own grid")
    return Study(kept, grid, cells, (*notes, *grid.notes))
