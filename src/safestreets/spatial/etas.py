"""Grid self-exciting point process (ETAS-like Hawkes model per cell), fitted by EM.

Reference: G. O. Mohler, M. B. Short, S. Malinowski, M. Johnson, G. E. Tita, A. L. Bertozzi
and P. J. Brantingham (2015), "Randomized controlled field trials of predictive policing",
*Journal of the American Statistical Association* 110(512), 1399-1411; the EM algorithm as in
G. O. Mohler et al. (2011), "Self-exciting point process modeling of crime", *JASA* 106(493),
100-108, with the end-of-window correction of A. Veen and F. P. Schoenberg (2008), "Estimation
of space-time branching process models in seismology using an EM-type algorithm", *JASA*
103(482), 614-624.

Each cell ``n`` has its own Hawkes process in days::

    lambda_n(t) = mu_n + sum_{t_i < t, i in n} theta * omega * exp(-omega (t - t_i))

``mu_n`` is the cell's background rate (events per day), ``theta`` the expected number of
events an event triggers in its cell and ``omega`` the decay rate (``1 / omega`` days is the mean
delay). The kernel is cut at ``max_lag_days`` (an event triggers nothing later than that), and
the likelihood is the exact one of that cut kernel, so the cut does not bias the estimates.

EM on the training window ``[T0, T)`` (``T`` the cutoff):

- E step: the probability that event ``j`` is background, ``mu_n / lambda_n(t_j)``, and that it
  was triggered by the earlier event ``i`` of its cell, ``g(t_j - t_i) / lambda_n(t_j)``;
- M step (closed form): ``mu_n`` = expected background events of the cell / ``(T - T0)``;
  ``theta`` = expected triggered events / the kernel mass each event had time to spend before
  ``T`` (``sum_i 1 - exp(-omega min(T - t_i, L))``, the edge correction); ``omega`` = triggered
  events / (their expected delays + ``theta`` times the delays cut off by the end of the window).

Cost: an event interacts only with the earlier events of its own cell within ``max_lag_days``.
Those pairs are found once (events sorted by cell and time, two ``searchsorted`` calls) and kept
as one float32 delay each, grouped by the later event: memory and time per iteration are
O(pairs), never O(n^2). Ties (two events at the same time in a cell) do not trigger each other.

``predict(start, end)`` is the expected count of each cell in the window: ``mu_n (end - start)``
plus what the events of the last ``max_lag_days`` before the cutoff still trigger in it. The
background used there adds one pseudo-event spread over all cells (as the naive baselines do),
so a cell without history is unlikely, not impossible; ``params`` report the fitted ``mu``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from safestreets.errors import InputError
from safestreets.spatial.predict import Fitted, History, register_model

__all__ = ["ETASFit", "GridETAS", "simulate_grid_hawkes"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Pairs handled per vectorised step: bounds the temporaries of an iteration (~100 MB).
_CHUNK_PAIRS = 4_000_000
# Range of the decay rate per day (a mean delay from about 1 second to 3,000 years).
_LOG_OMEGA = (math.log(1e-6), math.log(1e5))


@dataclass
class ETASFit:
    """A fitted grid Hawkes model (see the module docstring).

    Attributes:
        mu: Background rate of each cell used in predictions, events per day (the fitted
            rate plus the pseudo-event floor of the module docstring).
        theta: Expected number of events triggered in its cell by one event.
        omega: Decay rate of the triggering kernel, per day.
        max_lag_days: Where the kernel is cut.
        cutoff: End of the training window.
        tail_cell, tail_t: The events of the last ``max_lag_days`` before the cutoff (the only
            ones that can still trigger after it).
        params: Fitted parameters and diagnostics (JSON-serialisable).
    """

    mu: FloatArray
    theta: float
    omega: float
    max_lag_days: float
    cutoff: float
    tail_cell: IntArray
    tail_t: FloatArray
    params: dict[str, Any] = field(default_factory=dict)
    expected_counts: bool = True

    def predict(self, start: float, end: float) -> FloatArray:
        """Expected events per cell in ``[start, end)``: background plus triggered."""
        length = max(end - start, 0.0)
        out = self.mu * length
        if length == 0.0 or self.theta == 0.0 or len(self.tail_t) == 0:
            return out
        # Mass of the cut kernel falling in the window: theta (exp(-w a) - exp(-w b)) with
        # a, b the window's ends in delay since the event, clipped to [0, max_lag].
        a = np.clip(start - self.tail_t, 0.0, self.max_lag_days)
        b = np.clip(end - self.tail_t, 0.0, self.max_lag_days)
        mass = self.theta * (np.exp(-self.omega * a) - np.exp(-self.omega * b))
        return out + np.bincount(self.tail_cell, weights=mass, minlength=len(self.mu))


@dataclass
class GridETAS:
    """Grid self-exciting point process fitted by EM (Mohler et al. 2015), model "etas".

    Attributes:
        max_lag_days: Longest delay at which an event can trigger another (the kernel cut).
        days: Train on the last ``days`` days before the cutoff only (None: all history).
        max_iter: Most EM steps (SQUAREM takes two or three per round).
        tol: Stop when the log-likelihood (relative), theta, the total background rate
            (relative) and theta times log omega all change by less than this in one step.
        max_pairs: Refuse (with a hint) data with more same-cell pairs within ``max_lag_days``
            than this, rather than exhaust memory (8 bytes a pair).
    """

    max_lag_days: float = 90.0
    days: float | None = None
    max_iter: int = 500
    tol: float = 1e-6
    max_pairs: int = 100_000_000
    name: str = "etas"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_lag_days) and self.max_lag_days > 0):
            raise InputError(
                f"max_lag_days must be a positive number of days, not {self.max_lag_days}",
                hint="for example max_lag_days=90",
            )
        if self.days is not None and not (math.isfinite(self.days) and self.days > 0):
            raise InputError(
                f"the ETAS training window must be a positive number of days, not {self.days}",
                hint="for example days=365, or leave it out to train on all history",
            )
        if self.max_iter < 1 or not (0 < self.tol < 1) or self.max_pairs < 1:
            raise InputError(
                "max_iter must be >= 1, tol between 0 and 1 and max_pairs >= 1",
                hint="the defaults (max_iter=500, tol=1e-6) suit most data",
            )

    def fit(self, history: History, cutoff: float) -> Fitted:
        """Fit mu per cell, theta and omega by EM on the events before ``cutoff``.

        Raises:
            InputError: No event in the training window, or too many same-cell pairs.
        """
        past = history.before(cutoff)
        if self.days is not None:
            past = past.window(cutoff - self.days, cutoff)
        if len(past) == 0:
            raise InputError(
                "no event before the cutoff to fit the self-exciting model on",
                hint="choose a later cutoff, a longer training window (days) or load older events",
            )
        start = cutoff - self.days if self.days is not None else float(past.t[0])
        span = max(cutoff - start, 1.0)
        lag = float(self.max_lag_days)
        n_cells = history.grid.n
        order = np.lexsort((past.t, past.cell))
        cell = past.cell[order]
        t = past.t[order]
        pairs = _same_cell_pairs(cell, t, lag, self.max_pairs)
        em = _em(cell, t, n_cells, pairs, cutoff, span, lag, self.max_iter, self.tol)
        tail = past.window(cutoff - lag, cutoff)
        params: dict[str, Any] = {
            "mu_total_per_day": round(float(em.mu.sum()), 6),
            "theta": round(em.theta, 6),
            # Without self-excitation the decay means nothing.
            "omega_per_day": round(em.omega, 6) if em.theta > 0 else None,
            "mean_delay_days": round(1.0 / em.omega, 4) if em.theta > 0 else None,
            "iterations": em.iterations,
            "converged": em.converged,
            "log_likelihood": round(em.loglik, 4),
            "events": len(past),
            "pairs": pairs.n_pairs,
            "training_days": round(span, 2),
            "max_lag_days": lag,
        }
        notes = []
        if pairs.n_pairs == 0:
            notes.append(
                f"no two events share a cell within {lag:g} days: no self-excitation to fit"
            )
        elif em.theta < 1e-3:
            notes.append("no self-excitation found (theta is about 0)")
        elif 1.0 / em.omega > lag / 3.0:
            notes.append(
                f"the fitted mean delay ({1.0 / em.omega:.1f} days) is not short next to the "
                f"kernel cut ({lag:g} days): consider a longer max_lag_days"
            )
        if not em.converged:
            notes.append(f"EM stopped after {em.iterations} iterations without converging")
        if notes:
            params["notes"] = notes
        return ETASFit(
            # The MLE gives cells without events no background at all; one pseudo-event spread
            # over the grid (as the naive baselines do) keeps their expected count above 0, so
            # the log-likelihood of a backtest stays finite, without changing the ranking.
            mu=em.mu + 1.0 / (n_cells * span),
            theta=em.theta,
            omega=em.omega,
            max_lag_days=lag,
            cutoff=cutoff,
            tail_cell=tail.cell.copy(),
            tail_t=tail.t.copy(),
            params=params,
        )


# ---------------------------------------------------------------------------------------------
# Pairs and EM
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pairs:
    """Same-cell pairs (earlier i, later j) within the lag, grouped by j.

    ``delay`` holds ``t_j - t_i`` for every pair, the pairs of one ``j`` contiguous; ``later``
    the (sorted-order) index of each ``j`` with at least one pair and ``first`` the offset of its
    first pair in ``delay``; ``chunks`` are boundaries into ``later`` of ~_CHUNK_PAIRS pairs.
    """

    delay: npt.NDArray[np.float32]
    later: IntArray
    first: IntArray
    chunks: list[tuple[int, int]]

    @property
    def n_pairs(self) -> int:
        return len(self.delay)


def _same_cell_pairs(cell: IntArray, t: FloatArray, lag: float, max_pairs: int) -> _Pairs:
    """All pairs of events of one cell with ``0 < t_j - t_i <= lag`` (events sorted by cell, t)."""
    n = len(t)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return _Pairs(np.zeros(0, dtype=np.float32), empty, empty, [])
    # One sorted key orders events by (cell, time); cells are spaced further apart than any
    # delay, so a window [t - lag, t) in the key never reaches into another cell.
    t0 = float(t.min())
    stride = float(t.max()) - t0 + lag + 1.0
    key = cell.astype(np.float64) * stride + (t - t0)
    lo = np.searchsorted(key, key - lag, side="left")
    hi = np.searchsorted(key, key, side="left")  # excludes ties at the same time
    count = hi - lo
    total = int(count.sum())
    if total > max_pairs:
        raise InputError(
            f"{total:,} pairs of events share a cell within {lag:g} days, more than the limit "
            f"of {max_pairs:,}",
            hint="use a shorter max_lag_days, smaller cells, a shorter training window (days) "
            "or raise max_pairs",
        )
    later = np.nonzero(count)[0].astype(np.int64)
    first = np.zeros(len(later), dtype=np.int64)
    np.cumsum(count[later][:-1], out=first[1:])
    delay = np.empty(total, dtype=np.float32)
    chunks: list[tuple[int, int]] = []
    k0 = 0
    while k0 < len(later):
        # The chunk's pairs run from first[k0] to first[k1] (exclusive) or the end.
        k1 = int(np.searchsorted(first, first[k0] + _CHUNK_PAIRS, side="left"))
        k1 = max(k1, k0 + 1)
        chunks.append((k0, k1))
        js = later[k0:k1]
        m = count[js]
        j_rep = np.repeat(js, m)
        within = np.arange(len(j_rep)) - np.repeat(first[k0:k1] - first[k0], m)
        i_rep = lo[j_rep] + within
        p0 = int(first[k0])
        delay[p0 : p0 + len(j_rep)] = t[j_rep] - t[i_rep]
        k0 = k1
    return _Pairs(delay, later, first, chunks)


@dataclass(frozen=True)
class _EMResult:
    mu: FloatArray
    theta: float
    omega: float
    loglik: float
    iterations: int
    converged: bool


def _kernel_sums(pairs: _Pairs, omega: float, n: int) -> tuple[FloatArray, FloatArray]:
    """Per later event j: sum_i exp(-omega d_ij) and sum_i d_ij exp(-omega d_ij)."""
    s = np.zeros(n)
    d = np.zeros(n)
    total = pairs.n_pairs
    for k0, k1 in pairs.chunks:
        p0 = int(pairs.first[k0])
        p1 = int(pairs.first[k1]) if k1 < len(pairs.first) else total
        delay = pairs.delay[p0:p1].astype(np.float64)
        e = np.exp(-omega * delay)
        starts = pairs.first[k0:k1] - p0
        js = pairs.later[k0:k1]
        s[js] = np.add.reduceat(e, starts)
        d[js] = np.add.reduceat(e * delay, starts)
    return s, d


def _em(
    cell: IntArray,
    t: FloatArray,
    n_cells: int,
    pairs: _Pairs,
    cutoff: float,
    span: float,
    lag: float,
    max_iter: int,
    tol: float,
) -> _EMResult:
    """EM for mu (per cell), theta and omega, accelerated by SQUAREM; events sorted by (cell, t).

    Plain EM for Hawkes processes can creep for thousands of iterations when background and
    triggered events overlap. SQUAREM (R. Varadhan and C. Roland 2008, "Simple and globally
    convergent methods for accelerating the convergence of any EM algorithm", Scandinavian
    Journal of Statistics 35(2)) extrapolates from two EM steps and keeps the result only if
    the likelihood does not fall; it is a few lines over the EM map, so it is written here.
    """
    n = len(t)
    occupied, local = np.unique(cell, return_inverse=True)
    counts = np.bincount(local).astype(np.float64)
    # Time each event had to trigger before the cutoff, within the kernel's reach.
    reach = np.minimum(cutoff - t, lag)
    # Without self-excitation the MLE is each cell's count over the span.
    poisson_mu = counts / span
    poisson_ll = float(np.log(poisson_mu[local]).sum() - n)
    poisson = _EMResult(_expand(poisson_mu, occupied, n_cells), 0.0, 1.0, poisson_ll, 0, True)
    if pairs.n_pairs == 0:
        return poisson

    def em_map(x: FloatArray) -> tuple[FloatArray, float]:
        """One EM step from log-parameters x = (log mu per occupied cell, log theta, log omega).

        Returns the next x and the log-likelihood at x.
        """
        # An extrapolated point can be far out: keep it where exp and the kernel are finite
        # (a bad jump is then rejected by its likelihood).
        mu = np.exp(np.clip(x[:-2], -700.0, 50.0))
        theta = math.exp(min(max(float(x[-2]), -700.0), 20.0))
        omega = math.exp(min(max(float(x[-1]), _LOG_OMEGA[0]), _LOG_OMEGA[1]))
        s, d = _kernel_sums(pairs, omega, n)
        trig = theta * omega * s
        lam = mu[local] + trig
        decayed = np.exp(-omega * reach)
        mass = float((1.0 - decayed).sum())
        loglik = float(np.log(lam).sum() - mu.sum() * span - theta * mass)
        # E step: expected background events per cell, triggered events and their delays.
        triggered = float((trig / lam).sum())
        delays = float((theta * omega * d / lam).sum())
        # M step (closed form); every cell's first event is background, so mu stays > 0.
        new_mu = np.bincount(local, weights=mu[local] / lam, minlength=len(occupied)) / span
        new_theta = max(triggered / mass, 1e-300)
        cut = float((reach * decayed).sum())
        new_omega = triggered / max(delays + new_theta * cut, 1e-300)
        new_omega = min(max(new_omega, math.exp(_LOG_OMEGA[0])), math.exp(_LOG_OMEGA[1]))
        return np.concatenate([np.log(new_mu), [math.log(new_theta), math.log(new_omega)]]), loglik

    x = np.concatenate([np.log(0.5 * counts / span), [math.log(0.5), math.log(1.0 / 7.0)]])
    converged = False
    evaluations = 0
    while evaluations < max_iter:
        x1, ll0 = em_map(x)
        x2, ll1 = em_map(x1)
        evaluations += 2
        r = x1 - x
        v = x2 - x1 - r
        nv = float(np.linalg.norm(v))
        nxt = x2
        if nv > 0 and evaluations < max_iter:
            alpha = min(-float(np.linalg.norm(r)) / nv, -1.0)
            jump = x - 2.0 * alpha * r + alpha * alpha * v
            x3, ll_jump = em_map(jump)
            evaluations += 1
            if math.isfinite(ll_jump) and ll_jump >= ll1:
                nxt = x3
        # Changes that matter for predictions: theta, the total background (relative) and the
        # decay weighted by theta (omega is free to wander when theta is near 0).
        theta_old, theta_new = math.exp(min(x[-2], 20.0)), math.exp(min(nxt[-2], 20.0))
        step = max(
            abs(theta_new - theta_old),
            abs(_logsumexp(nxt[:-2]) - _logsumexp(x[:-2])),
            min(theta_old, theta_new) * abs(float(nxt[-1] - x[-1])),
        )
        done = step < tol and _rel(ll1, ll0) < tol
        x = nxt
        # EM creeps towards theta = 0 when there is no self-excitation: stop at the boundary
        # once the excitation no longer adds to the likelihood.
        if theta_new < 1e-3 and ll1 - poisson_ll <= tol * max(abs(ll1), 1.0):
            return _EMResult(poisson.mu, 0.0, 1.0, poisson_ll, evaluations, True)
        if done:
            converged = True
            break
    # The log-likelihood of the parameters returned.
    _, loglik = em_map(x)
    mu = _expand(np.exp(np.clip(x[:-2], -700.0, 50.0)), occupied, n_cells)
    theta = math.exp(min(float(x[-2]), 20.0))
    omega = math.exp(min(max(float(x[-1]), _LOG_OMEGA[0]), _LOG_OMEGA[1]))
    return _EMResult(mu, theta, omega, loglik, evaluations, converged)


def _expand(values: FloatArray, positions: IntArray, n: int) -> FloatArray:
    out = np.zeros(n)
    out[positions] = values
    return out


def _logsumexp(x: FloatArray) -> float:
    top = float(x.max())
    return top + math.log(float(np.exp(x - top).sum()))


def _rel(new: float, old: float) -> float:
    if not (math.isfinite(old) and math.isfinite(new)):
        return math.inf
    return abs(new - old) / max(abs(old), 1e-12)


# ---------------------------------------------------------------------------------------------
# Simulation (tests and benchmarks)
# ---------------------------------------------------------------------------------------------


def simulate_grid_hawkes(
    mu: npt.ArrayLike,
    theta: float,
    omega: float,
    start: float,
    end: float,
    seed: int = 0,
) -> tuple[IntArray, FloatArray]:
    """Simulate the grid Hawkes process by branching: background events, then generations.

    Args:
        mu: Background rate of each cell (events per day).
        theta: Mean number of events each event triggers in its cell (below 1).
        omega: Decay rate per day (delays are exponential with mean ``1 / omega``).
        start, end: The window simulated (nothing happens before ``start``).
        seed: Random seed.

    Returns:
        Cell and time of each event, sorted by time.
    """
    if not 0 <= theta < 1 or omega <= 0 or end <= start:
        raise InputError("simulation needs 0 <= theta < 1, omega > 0 and end > start")
    rng = np.random.default_rng(seed)
    rates = np.asarray(mu, dtype=np.float64)
    n_bg = rng.poisson(rates * (end - start))
    cells = [np.repeat(np.arange(len(rates), dtype=np.int64), n_bg)]
    times = [rng.uniform(start, end, size=int(n_bg.sum()))]
    parent_c, parent_t = cells[0], times[0]
    while len(parent_t):
        kids = rng.poisson(theta, size=len(parent_t))
        c = np.repeat(parent_c, kids)
        tt = np.repeat(parent_t, kids) + rng.exponential(1.0 / omega, size=int(kids.sum()))
        keep = tt < end
        parent_c, parent_t = c[keep], tt[keep]
        cells.append(parent_c)
        times.append(parent_t)
    cell = np.concatenate(cells)
    t = np.concatenate(times)
    order = np.argsort(t, kind="stable")
    return cell[order], t[order]


register_model(
    "etas",
    GridETAS,
    "grid self-exciting point process fitted by EM, Mohler et al. 2015 "
    "(options: max_lag_days, days)",
)
