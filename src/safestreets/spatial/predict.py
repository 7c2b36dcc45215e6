"""One interface for predictive hotspot models, and the two naive baselines every model must beat.

A model is fitted on the events before a cutoff and predicts a risk surface (one non-negative
value per active grid cell) for a window after it::

    fitted = model.fit(history, cutoff)
    risk = fitted.predict(cutoff, cutoff + 7)

``risk`` ranks cells: the backtest (:mod:`safestreets.spatial.backtest`) selects the top cells
for a given share of the area. Models whose risk is an expected count say so with
``fitted.expected_counts = True`` (then it can be compared with what happened).

On a real city the naive count of all history beat prospective hotspotting and kernel density
in a one-week test, so the baselines here are not straw men: every other model is reported
against them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from safestreets.errors import InputError
from safestreets.spatial.grid import Grid

__all__ = [
    "AllHistory",
    "Fitted",
    "History",
    "Predictor",
    "RecentWeeks",
    "SurfaceFit",
    "available_models",
    "make_model",
    "register_model",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class History:
    """Events placed on a grid, sorted by time.

    Attributes:
        grid: The grid.
        cell: Active-cell position of each event (no -1: events off the grid are left out).
        t: Event times in days since 1970-01-01 (local wall clock), ascending.
        features: Optional place features, shape ``(grid.n, k)`` (for example distance to the
            nearest market), used by models that can take them.
        feature_names: Names of the ``k`` feature columns.
    """

    grid: Grid
    cell: IntArray
    t: FloatArray
    features: FloatArray | None = None
    feature_names: tuple[str, ...] = ()

    @staticmethod
    def build(
        grid: Grid,
        cell: npt.ArrayLike,
        t: npt.ArrayLike,
        features: FloatArray | None = None,
        feature_names: tuple[str, ...] = (),
    ) -> History:
        """Sort by time and drop events off the grid (cell -1)."""
        c = np.asarray(cell, dtype=np.int64)
        tt = np.asarray(t, dtype=np.float64)
        if c.shape != tt.shape:
            raise InputError("cells and times differ in length")
        keep = (c >= 0) & np.isfinite(tt)
        order = np.argsort(tt[keep], kind="stable")
        if features is not None and features.shape[0] != grid.n:
            raise InputError(f"place features have {features.shape[0]} rows for {grid.n} cells")
        return History(grid, c[keep][order], tt[keep][order], features, feature_names)

    def __len__(self) -> int:
        return len(self.t)

    def before(self, cutoff: float) -> History:
        """The events strictly before ``cutoff``."""
        k = int(np.searchsorted(self.t, cutoff, side="left"))
        return History(self.grid, self.cell[:k], self.t[:k], self.features, self.feature_names)

    def window(self, start: float, end: float) -> History:
        """The events with ``start <= t < end``."""
        a = int(np.searchsorted(self.t, start, side="left"))
        b = int(np.searchsorted(self.t, end, side="left"))
        return History(self.grid, self.cell[a:b], self.t[a:b], self.features, self.feature_names)

    def counts(self, start: float | None = None, end: float | None = None) -> FloatArray:
        """Events per cell in ``[start, end)`` (all events when both are None)."""
        h = self.window(-np.inf if start is None else start, np.inf if end is None else end)
        return np.bincount(h.cell, minlength=self.grid.n).astype(np.float64)


class Fitted(Protocol):
    """A model fitted up to a cutoff."""

    #: True when ``predict`` returns expected event counts for the window.
    expected_counts: bool
    #: Fitted parameters and diagnostics (JSON-serialisable), for reports.
    params: dict[str, Any]

    def predict(self, start: float, end: float) -> FloatArray:
        """Risk per active cell for the window ``[start, end)`` (days)."""
        ...


class Predictor(Protocol):
    """A predictive model: a name, and a fit on the events before a cutoff."""

    name: str

    def fit(self, history: History, cutoff: float) -> Fitted:
        """Fit on ``history.before(cutoff)`` (a model must never look at later events)."""
        ...


@dataclass
class SurfaceFit:
    """A fitted model whose risk does not depend on the window: a fixed surface.

    ``scale_by_length`` turns a per-day rate into expected counts over the window.
    """

    surface: FloatArray
    expected_counts: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    scale_by_length: bool = False

    def predict(self, start: float, end: float) -> FloatArray:
        """The surface (times the window length in days when it is a daily rate)."""
        if self.scale_by_length:
            return self.surface * max(end - start, 0.0)
        return self.surface.copy()


def _floored(counts: FloatArray) -> FloatArray:
    # One pseudo-event spread evenly over all cells: the ranking (and so every hit rate) is
    # unchanged, but a cell without history no longer gets an expected count of exactly 0,
    # which would make the Poisson log-likelihood of the baselines -inf on any real data.
    return counts + 1.0 / max(len(counts), 1)


@dataclass
class AllHistory:
    """Naive baseline (a): the count of all events before the cutoff in each cell.

    As an expected count it is the cell's daily average times the window length.
    """

    name: str = "naive_all"

    def fit(self, history: History, cutoff: float) -> Fitted:
        """Average daily count per cell over the whole history before the cutoff."""
        past = history.before(cutoff)
        if len(past) == 0:
            raise InputError("no event before the cutoff to learn from")
        span = max(cutoff - float(past.t[0]), 1.0)
        rate = _floored(past.counts()) / span
        return SurfaceFit(
            rate, expected_counts=True, scale_by_length=True, params={"days": round(span, 1)}
        )


@dataclass
class RecentWeeks:
    """Naive baseline (b): the count of events in the last ``weeks`` weeks before the cutoff."""

    weeks: int = 8
    name: str = "naive_recent"

    def __post_init__(self) -> None:
        if self.weeks < 1:
            raise InputError("the number of recent weeks must be at least 1")

    def fit(self, history: History, cutoff: float) -> Fitted:
        """Average daily count per cell over the last ``weeks`` weeks."""
        days = 7.0 * self.weeks
        rate = _floored(history.counts(cutoff - days, cutoff)) / days
        return SurfaceFit(
            rate, expected_counts=True, scale_by_length=True, params={"weeks": self.weeks}
        )


# ---------------------------------------------------------------------------------------------
# Registry: the backtest and the CLI find models by name.
# ---------------------------------------------------------------------------------------------

_REGISTRY: dict[str, tuple[Callable[..., Predictor], str]] = {}


def register_model(name: str, factory: Callable[..., Predictor], description: str) -> None:
    """Make a model available by name (``factory(**options)`` builds it)."""
    _REGISTRY[name] = (factory, description)


def _load_builtin() -> None:
    # Models in other modules register themselves on import; importing here keeps the registry
    # complete whichever module the caller imported first.
    import importlib

    for mod in ("prospective", "etas", "combined"):
        try:
            importlib.import_module(f"safestreets.spatial.{mod}")
        except ModuleNotFoundError as exc:  # a module not written yet
            if exc.name != f"safestreets.spatial.{mod}":
                raise


def available_models() -> dict[str, str]:
    """Model names and one-line descriptions, in registration order."""
    _load_builtin()
    return {k: d for k, (_, d) in _REGISTRY.items()}


def make_model(name: str, **options: Any) -> Predictor:
    """Build a registered model by name.

    Raises:
        InputError: Unknown model name or option.
    """
    _load_builtin()
    if name not in _REGISTRY:
        raise InputError(f"unknown model {name!r}", hint=f"models: {', '.join(available_models())}")
    try:
        return _REGISTRY[name][0](**options)
    except TypeError as exc:
        raise InputError(f"bad option for model {name}: {exc}") from exc


register_model("naive_all", AllHistory, "count of all history in each cell (baseline a)")
register_model("naive_recent", RecentWeeks, "count of the last N weeks in each cell (baseline b)")
