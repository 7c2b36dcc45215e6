"""Prospective hotspotting: recent events raise the risk of their cell and the cells around it.

Reference: K. J. Bowers, S. D. Johnson and K. Pease (2004), "Prospective hot-spotting: the
future of crime mapping?", *British Journal of Criminology* 44(5), 641-658.

The risk of a cell at the cutoff is a sum over the events of the last ``weeks`` weeks within
``bandwidth_m`` of it::

    risk(n) = sum_i  1 / (1 + d(n, i))  *  1 / (1 + w_i)

where ``d`` is the distance between the centres of cell ``n`` and of the event's cell in cell
units (the centre spacing: the side of a square cell, sqrt(3) edges for H3 hexagons) and
``w_i = floor((cutoff - t_i) / 7)`` the whole weeks elapsed since the event (0 for the last
week), so only events with ``w_i < weeks`` count. The risk ranks cells; it is not a count.

Cost: the kernel separates into a time weight per event and a space weight per pair of cells,
so the events are first reduced to one time-weighted count per cell (one ``bincount``) and the
space weights are then applied to that vector: a raster convolution on square grids, a sparse
matrix of the cell pairs within the bandwidth on H3 grids. Nothing loops over events, and the
cost barely depends on how many there are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import signal, sparse

from safestreets.errors import InputError
from safestreets.spatial.grid import Grid
from safestreets.spatial.predict import Fitted, History, SurfaceFit, register_model

__all__ = ["ProspectiveHotspot", "cell_spacing", "spatial_spread", "spread_weights"]

FloatArray = npt.NDArray[np.float64]

WEEK = 7.0


def cell_spacing(grid: Grid) -> float:
    """Distance between the centres of two adjacent cells (one "cell unit"), in metres.

    The side of a square cell; for H3 hexagons sqrt(3) times the (mean) edge length.
    """
    return grid.cell_size if grid.kind == "square" else math.sqrt(3.0) * grid.cell_size


def spread_weights(grid: Grid, bandwidth_m: float) -> sparse.csr_matrix:
    """The matrix of weights 1 / (1 + d) between cells within ``bandwidth_m`` (d in cell units)."""
    spacing = cell_spacing(grid)
    pairs = sparse.csr_matrix(grid.within(bandwidth_m + 1e-6 * spacing))
    pairs.data = 1.0 / (1.0 + pairs.data / spacing)
    return pairs


def spatial_spread(
    grid: Grid,
    values: FloatArray,
    bandwidth_m: float,
    weights: sparse.csr_matrix | None = None,
) -> FloatArray:
    """Spread per-cell values to the cells within ``bandwidth_m``, weighted 1 / (1 + d).

    ``d`` is the centre distance in cell units (:func:`cell_spacing`); a cell keeps its own
    value with weight 1. Square grids use a raster convolution, H3 grids the sparse matrix of
    :func:`spread_weights` (pass it as ``weights`` to reuse it).
    """
    spacing = cell_spacing(grid)
    reach = bandwidth_m / spacing
    if grid.kind == "square":
        half = math.floor(reach + 1e-9)
        off = np.arange(-half, half + 1, dtype=np.float64)
        dist = np.hypot(off[:, None], off[None, :])
        kernel = np.where(dist <= reach + 1e-9, 1.0 / (1.0 + dist), 0.0)
        # scipy picks direct or FFT convolution by size; FFT leaves round-off (~1e-16 of the
        # largest value) where the exact answer is 0, which is cleared so that cells with no
        # event in reach stay exactly 0 and tie as they should in a ranking.
        out = signal.convolve(grid.raster(values, fill=0.0), kernel, mode="same")
        res = grid.from_raster(out)
        top = float(res.max()) if res.size else 0.0
        return np.where(res > 1e-12 * top, res, 0.0)
    w = spread_weights(grid, bandwidth_m) if weights is None else weights
    return np.asarray(w @ values, dtype=np.float64)


@dataclass
class ProspectiveHotspot:
    """Prospective hotspotting (Bowers, Johnson and Pease 2004), model "prospective".

    Attributes:
        bandwidth_m: Events further than this from a cell (centre to centre) do not raise its
            risk.
        weeks: How many whole weeks before the cutoff count (8: the events of the last 56 days).
    """

    bandwidth_m: float = 400.0
    weeks: int = 8
    name: str = "prospective"
    # The H3 weight matrix of the last grid seen: a backtest fits the same grid many times.
    _cache: tuple[Grid, sparse.csr_matrix] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not (np.isfinite(self.bandwidth_m) and self.bandwidth_m >= 0):
            raise InputError(
                f"the prospective bandwidth must be a distance in metres, not {self.bandwidth_m}",
                hint="for example bandwidth_m=400 (0 keeps each event in its own cell)",
            )
        if int(self.weeks) != self.weeks or self.weeks < 1:
            raise InputError(
                f"the prospective time window must be a whole number of weeks >= 1, "
                f"not {self.weeks}",
                hint="for example weeks=8",
            )

    def fit(self, history: History, cutoff: float) -> Fitted:
        """The risk surface at ``cutoff`` from the events of the last ``weeks`` weeks.

        Raises:
            InputError: No event before the cutoff.
        """
        past = history.before(cutoff)
        if len(past) == 0:
            raise InputError(
                "no event before the cutoff to learn from",
                hint="choose a later cutoff or load older events",
            )
        recent = past.window(cutoff - WEEK * self.weeks, cutoff)
        elapsed = np.floor((cutoff - recent.t) / WEEK)
        # An event exactly ``weeks`` weeks old is in the window but in week ``weeks``: out.
        inside = elapsed < self.weeks
        grid = history.grid
        weighted = grid.counts(recent.cell[inside], weights=1.0 / (1.0 + elapsed[inside]))
        weights = None
        if grid.kind == "h3":
            if self._cache is None or self._cache[0] is not grid:
                self._cache = (grid, spread_weights(grid, float(self.bandwidth_m)))
            weights = self._cache[1]
        risk = spatial_spread(grid, weighted, float(self.bandwidth_m), weights)
        params: dict[str, Any] = {
            "bandwidth_m": float(self.bandwidth_m),
            "weeks": int(self.weeks),
            "cell_spacing_m": round(cell_spacing(grid), 2),
            "events_used": int(inside.sum()),
            "cells_at_risk": int(np.count_nonzero(risk)),
        }
        if not inside.any():
            params["notes"] = [f"no event in the {self.weeks} weeks before the cutoff: risk is 0"]
        return SurfaceFit(risk, expected_counts=False, params=params)


register_model(
    "prospective",
    ProspectiveHotspot,
    "prospective hotspotting, Bowers et al. 2004 (options: bandwidth_m, weeks)",
)
