"""The project's own model: long-term background, short-term self-excitation and place features in
one Poisson regression fitted by likelihood.

The expected count of cell ``n`` in a window of ``L`` days after the cutoff is::

    L * exp(b0 + sum_k b_k * x_k(n))

with the terms ``x_k`` (each standardised over the training rows):

- ``long_term_cell``, ``long_term_neighbours``, ``long_term_ring2``: log of the all-history
  daily rate of the cell, of its neighbours (the queen ring on squares, the six around an H3
  cell) and of the ring beyond: the long-term background, smoothed as much as the data ask for;
- ``recent_cell_<d>d`` (one per decay in ``decays_days``), ``recent_neighbours_<d>d``: log of
  exponentially decayed counts, ``sum_i exp(-(s - t_i) / d)``, of the cell and of its
  neighbours: short-term self-excitation (near repeats) at a few time scales;
- ``place:<name>``: the place features of ``history.features`` (for example distance to the
  nearest market).

Counts enter as ``log(value + 0.5)``, so an empty cell is half an event: the log link then makes
the model a product of a background, an excitation and a place effect, and a cell with no
history still gets a (small) rate. The coefficients are fitted by maximum likelihood on the
``windows`` weekly windows before the cutoff (terms computed from the events before each
window's start, response = the window's counts) with a mild ridge penalty, by Newton's method.
When there are more rows (cells x windows) than ``max_rows``, rows with no event are sampled and
weighted by the inverse of their sampling rate, so the likelihood (and the calibration of the
predictions) stays unbiased.

The model draws on the grid self-exciting point process of G. O. Mohler et al. (2015),
"Randomized controlled field trials of predictive policing", *JASA* 110(512), and on
risk-terrain style place covariates (J. M. Caplan, L. W. Kennedy and J. Miller 2011, "Risk
terrain modeling", *Justice Quarterly* 28(2)), estimated jointly as a log-linear Poisson model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.special import gammaln

from safestreets.errors import InputError
from safestreets.spatial.grid import Grid
from safestreets.spatial.predict import Fitted, History, SurfaceFit, register_model

__all__ = ["CombinedModel", "PoissonFit", "poisson_ridge"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# A count of zero enters the log as this many events.
_HALF = 0.5


@dataclass
class CombinedModel:
    """Background + self-excitation + place features, fitted by Poisson likelihood ("combined").

    Attributes:
        windows: Number of training windows before the cutoff.
        window_days: Length of each training window (days).
        decays_days: Time scales of the decayed recent counts of the cell.
        neighbour_decay_days: Time scale of the decayed recent counts of the neighbours.
        ridge: Strength of the L2 penalty on the (standardised) coefficients.
        max_rows: Sample the rows with no event above this many training rows.
        use_features: Use ``history.features`` when present.
        seed: Seed of the row sampling.
    """

    windows: int = 12
    window_days: float = 7.0
    decays_days: tuple[float, ...] = (3.0, 14.0, 60.0)
    neighbour_decay_days: float = 14.0
    ridge: float = 1.0
    max_rows: int = 400_000
    use_features: bool = True
    seed: int = 0
    name: str = "combined"
    # The adjacency of the last grid seen: a backtest fits the same grid many times.
    _cache: tuple[Grid, tuple[sparse.csr_matrix, sparse.csr_matrix]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        try:
            self.decays_days = tuple(float(d) for d in self.decays_days)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"decays_days must be a list of numbers of days, not {self.decays_days!r}",
                hint="for example decays_days=(3, 14, 60)",
            ) from exc
        bad = [
            text
            for text, ok in (
                ("windows must be a whole number >= 1", self.windows >= 1),
                ("window_days must be > 0", self.window_days > 0),
                (
                    "decays_days must be positive numbers of days",
                    all(d > 0 and math.isfinite(d) for d in self.decays_days),
                ),
                ("neighbour_decay_days must be > 0", self.neighbour_decay_days > 0),
                ("ridge must be >= 0", self.ridge >= 0),
                ("max_rows must be >= 1000", self.max_rows >= 1000),
            )
            if not ok
        ]
        if bad or int(self.windows) != self.windows:
            raise InputError(
                f"bad option for the combined model: {'; '.join(bad) or 'windows'}",
                hint="for example windows=12, window_days=7, decays_days=(3, 14, 60), ridge=1",
            )

    def fit(self, history: History, cutoff: float) -> Fitted:
        """Fit the coefficients on the windows before ``cutoff``; predict from the cutoff.

        Raises:
            InputError: No event before the cutoff, or too short a history for one window.
        """
        past = history.before(cutoff)
        if len(past) == 0:
            raise InputError(
                "no event before the cutoff to learn from",
                hint="choose a later cutoff or load older events",
            )
        grid = history.grid
        first = float(past.t[0])
        w = float(self.window_days)
        starts = [cutoff - k * w for k in range(1, self.windows + 1) if cutoff - k * w - first >= w]
        if not starts:
            raise InputError(
                f"too little history before the cutoff for the combined model: it needs at "
                f"least {2 * w:g} days of events (one window of history and one to learn from)",
                hint="choose a later cutoff, or a shorter window_days",
            )
        adjacency = self._rings(grid)
        place, place_names, notes = _place_terms(history, self.use_features)
        names = self._term_names() + place_names
        rows: list[FloatArray] = []
        ys: list[FloatArray] = []
        for s in starts:
            rows.append(self._terms(past, s, adjacency, place))
            ys.append(past.counts(s, s + w))
        x = np.vstack(rows)
        y = np.concatenate(ys)
        weights = np.ones(len(y))
        sampled = False
        if len(y) > self.max_rows:
            x, y, weights = _sample_zero_rows(x, y, self.max_rows, self.seed)
            sampled = True
        centre = np.average(x, axis=0, weights=weights)
        scale = np.sqrt(np.average((x - centre) ** 2, axis=0, weights=weights))
        flat = scale < 1e-12
        if flat.any():
            notes.append(
                "terms constant over the training rows (coefficient 0): "
                + ", ".join(n for n, f in zip(names, flat, strict=True) if f)
            )
        scale = np.where(flat, 1.0, scale)
        z = (x - centre) / scale
        z[:, flat] = 0.0
        design = np.column_stack([np.ones(len(y)), z])
        offset = math.log(w)
        fit = poisson_ridge(design, y, weights, offset, self.ridge)
        coef = fit.beta
        # Predict from the terms at the cutoff (a daily rate, times the window length later).
        now = (self._terms(past, cutoff, adjacency, place) - centre) / scale
        now[:, flat] = 0.0
        rate = np.exp(coef[0] + now @ coef[1:])
        null_ll = _null_loglik(y, weights, offset)
        params: dict[str, Any] = {
            "intercept": round(float(coef[0]), 6),
            "coefficients": {n: round(float(b), 6) for n, b in zip(names, coef[1:], strict=True)},
            "scale": "change in log rate per standard deviation of each term",
            "windows": len(starts),
            "window_days": w,
            "rows": len(y),
            "rows_sampled": sampled,
            "log_likelihood": round(fit.loglik, 4),
            "null_log_likelihood": round(null_ll, 4),
            "deviance_explained": round(
                1.0 - fit.loglik_gap / max(fit.saturated - null_ll, 1e-12), 4
            ),
            "iterations": fit.iterations,
            "ridge": float(self.ridge),
        }
        if notes:
            params["notes"] = notes
        return SurfaceFit(rate, expected_counts=True, scale_by_length=True, params=params)

    # -- terms ---------------------------------------------------------------------------------

    def _term_names(self) -> list[str]:
        return [
            "long_term_cell",
            "long_term_neighbours",
            "long_term_ring2",
            *(f"recent_cell_{_days(d)}d" for d in self.decays_days),
            f"recent_neighbours_{_days(self.neighbour_decay_days)}d",
        ]

    def _terms(
        self,
        past: History,
        s: float,
        adjacency: tuple[sparse.csr_matrix, sparse.csr_matrix],
        place: FloatArray,
    ) -> FloatArray:
        """The model's terms for every cell at time ``s`` from the events before ``s``."""
        before = past.before(s)
        grid = past.grid
        ring1, ring2 = adjacency
        span = max(s - float(before.t[0]), 1.0) if len(before) else 1.0
        total = grid.counts(before.cell)
        cols = [
            np.log((total + _HALF) / span),
            np.log((ring1 @ total + _HALF) / span),
            np.log((ring2 @ total + _HALF) / span),
        ]
        age = s - before.t
        for d in self.decays_days:
            cols.append(np.log(grid.counts(before.cell, weights=np.exp(-age / d)) + _HALF))
        near = grid.counts(before.cell, weights=np.exp(-age / self.neighbour_decay_days))
        cols.append(np.log(ring1 @ near + _HALF))
        return np.column_stack([*cols, place])

    def _rings(self, grid: Grid) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
        """The first ring of neighbours and the second (cells two steps away)."""
        if self._cache is None or self._cache[0] is not grid:
            ring1 = sparse.csr_matrix(grid.neighbours("queen"))
            reach = ring1 @ ring1 + ring1 + sparse.identity(grid.n, format="csr")
            reach.data[:] = 1.0
            ring2 = sparse.csr_matrix(reach - ring1 - sparse.identity(grid.n, format="csr"))
            ring2.eliminate_zeros()
            self._cache = (grid, (ring1, ring2))
        return self._cache[1]


def _days(d: float) -> str:
    return f"{d:g}"


def _place_terms(history: History, use: bool) -> tuple[FloatArray, list[str], list[str]]:
    """Standardised place features (columns that vary and are finite somewhere), their names."""
    n = history.grid.n
    if not use or history.features is None or history.features.shape[1] == 0:
        return np.zeros((n, 0)), [], []
    f = np.asarray(history.features, dtype=np.float64)
    names = list(history.feature_names) or [f"feature_{i + 1}" for i in range(f.shape[1])]
    if len(names) != f.shape[1]:
        names = [f"feature_{i + 1}" for i in range(f.shape[1])]
    notes: list[str] = []
    finite = np.isfinite(f)
    keep: list[int] = []
    for j in range(f.shape[1]):
        col = f[finite[:, j], j]
        if len(col) > 1 and float(col.std()) > 0:
            keep.append(j)
        else:
            notes.append(f"place feature {names[j]} left out (constant or missing)")
    out = np.zeros((n, len(keep)))
    for k, j in enumerate(keep):
        col = f[:, j]
        ok = finite[:, j]
        mean, sd = float(col[ok].mean()), float(col[ok].std())
        out[:, k] = np.where(ok, (col - mean) / sd, 0.0)
        if not ok.all():
            notes.append(
                f"place feature {names[j]} missing in {int((~ok).sum()):,} cells (set to its mean)"
            )
    return out, [f"place:{names[j]}" for j in keep], notes


def _sample_zero_rows(
    x: FloatArray, y: FloatArray, max_rows: int, seed: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """All rows with events plus a random share of those without, weighted 1 / share."""
    positive = y > 0
    n_pos = int(positive.sum())
    n_zero = len(y) - n_pos
    room = max(max_rows - n_pos, min(n_zero, max_rows // 10))
    share = min(1.0, room / max(n_zero, 1))
    rng = np.random.default_rng(seed)
    take = positive | (rng.random(len(y)) < share)
    weights = np.where(positive, 1.0, 1.0 / share)[take]
    return x[take], y[take], weights


# ---------------------------------------------------------------------------------------------
# Poisson regression with a ridge penalty
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoissonFit:
    """Result of :func:`poisson_ridge`.

    Attributes:
        beta: Coefficients (the first is the unpenalised intercept).
        loglik: Weighted Poisson log-likelihood at ``beta``.
        saturated: Weighted log-likelihood of the saturated model (one mean per row).
        iterations: Newton steps taken.
    """

    beta: FloatArray
    loglik: float
    saturated: float
    iterations: int

    @property
    def loglik_gap(self) -> float:
        """Half the deviance: saturated minus fitted log-likelihood."""
        return self.saturated - self.loglik


def poisson_ridge(
    x: FloatArray,
    y: FloatArray,
    weights: FloatArray,
    offset: float | FloatArray = 0.0,
    ridge: float = 1.0,
    max_iter: int = 50,
    tol: float = 1e-9,
) -> PoissonFit:
    """Weighted Poisson regression with log link and an L2 penalty, by Newton's method.

    Maximises ``sum_i w_i (y_i eta_i - exp(eta_i) - log y_i!) - ridge / 2 * |beta[1:]|^2`` with
    ``eta = x @ beta + offset``; the first column of ``x`` is the (unpenalised) intercept.

    statsmodels' GLM fits no weighted ridge by IRLS (``fit_regularized`` is a coordinate-descent
    elastic net, slow at a million rows), so the Newton step with step halving is written here.
    """
    p = x.shape[1]
    penalty = np.full(p, float(ridge))
    penalty[0] = 0.0
    wy = weights * y
    const = float((weights * gammaln(y + 1.0)).sum())
    beta = np.zeros(p)
    beta[0] = math.log(max(float(wy.sum()) / float(weights.sum()), 1e-12)) - float(np.mean(offset))

    def objective(b: FloatArray) -> tuple[float, FloatArray]:
        eta = x @ b + offset
        mu = np.exp(np.minimum(eta, 700.0))
        ll = float((wy * eta - weights * mu).sum()) - const
        return ll - 0.5 * float((penalty * b * b).sum()), mu

    value, mu = objective(beta)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is reported)
        grad = x.T @ (wy - weights * mu) - penalty * beta
        hess = (x * (weights * mu)[:, None]).T @ x + np.diag(penalty)
        step = np.linalg.solve(hess + 1e-10 * np.eye(p), grad)
        size = 1.0
        while True:
            candidate = beta + size * step
            new_value, new_mu = objective(candidate)
            if new_value >= value - 1e-12 * abs(value) or size < 1e-6:
                break
            size *= 0.5
        change = abs(new_value - value)
        beta, value, mu = candidate, new_value, new_mu
        if change <= tol * max(abs(value), 1.0) or float(np.abs(size * step).max()) < 1e-10:
            break
    eta = x @ beta + offset
    mu = np.exp(np.minimum(eta, 700.0))
    loglik = float((wy * eta - weights * mu).sum()) - const
    positive = y > 0
    saturated = (
        float((weights[positive] * (y[positive] * np.log(y[positive]) - y[positive])).sum()) - const
    )
    return PoissonFit(beta, loglik, saturated, it)


def _null_loglik(y: FloatArray, weights: FloatArray, offset: float) -> float:
    """Weighted log-likelihood of the intercept-only model (one rate everywhere)."""
    mean = float((weights * y).sum()) / float(weights.sum())
    if mean <= 0:
        return 0.0
    const = float((weights * gammaln(y + 1.0)).sum())
    return float((weights * (y * math.log(mean) - mean)).sum()) - const


register_model(
    "combined",
    CombinedModel,
    "the project's model: long-term background, self-excitation and place features in one "
    "Poisson regression (options: windows, window_days, decays_days, ridge)",
)
