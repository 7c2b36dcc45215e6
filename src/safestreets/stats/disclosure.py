"""Disclosure control for published count tables: primary and complementary cell suppression.

A table is a long frame, one row per cell. The last two ``dims`` (or the only one) are the
table's axes; earlier dims are layers, each an independent table. With every layer we publish
the unsuppressed cells, every row and column total and the grand total.

1. Primary: cells with ``0 < value < k`` are suppressed. Zeros are not sensitive.
2. Complementary: for each primary cell that the published figures still pin down, add the
   cheapest cells that close an alternating cycle through it (a shortest path in the row/column
   graph, Dijkstra); along such a cycle values can move +1/-1 without leaving the totals or going
   negative, so no suppressed cell on it can be recovered. Cost is "fewest cells, then smallest
   values"; zero cells are used only when no cycle of non-zero cells exists.
3. Audit: the cycle test is exact (a cell can move iff it lies on such a cycle), and every layer
   with at most ``_LP_AUDIT_MAX`` suppressed cells is also checked by linear programming (HiGHS).
4. A sensitive cell that stays fixed even when its whole layer is suppressed (a single-cell 1-D
   table, a table with one row, a layer whose only non-zero cell is sensitive) cannot be protected
   by suppression: the whole layer is suppressed and every total that contains the cell is
   withheld (published as null, ``suppressed == "withheld"``), and a note says so.

Combinations of the axes absent from the input are structural: known to be empty, never used as
complements. See docs/disclosure.md for the rules in plain language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components, dijkstra

from safestreets.errors import InputError

__all__ = ["Protected", "feasible_ranges", "protect"]

PRIMARY = "primary"
SECONDARY = "secondary"
WITHHELD = "withheld"
ROW, COLUMN, GRAND = "row", "column", "grand"

# Cost of passing through a cell that is already suppressed: tiny but positive, so that among
# free cycles the shortest wins and csgraph never sees an explicit zero weight.
_EPS = 1e-6
# Bounds are integral (the constraint matrix is totally unimodular and the totals are integers),
# so half a unit separates "moves" from "fixed" whatever the solver's tolerance.
_TOL = 0.5
# Layers with at most this many suppressed cells get the LP audit on top of the cycle test.
_LP_AUDIT_MAX = 60
_RESERVED = ("suppressed", "total", "low", "high")

Bool = NDArray[np.bool_]
Int = NDArray[np.int64]
Float = NDArray[np.float64]
# A withheld total inside one layer: ("row", row code) | ("column", column code) | ("grand", -1).
Withheld = set[tuple[str, int]]


@dataclass(frozen=True)
class Protected:
    """A table made safe to publish.

    Attributes:
        cells: the input rows in input order; ``value`` is null where suppressed, and the column
            ``suppressed`` says why (null, ``"primary"`` or ``"secondary"``).
        totals: one row per published total: the dims (null for the dims summed over), ``value``
            (Int64; null if withheld), ``total`` (``"row"``, ``"column"`` or ``"grand"``) and
            ``suppressed`` (null, or ``"withheld"``).
        k: the threshold used; cells with ``0 < value < k`` are sensitive.
        n_primary: number of primary suppressions.
        n_secondary: number of complementary suppressions.
        notes: plain-language remarks for the analyst (layers that had to be withheld).
    """

    cells: pl.DataFrame
    totals: pl.DataFrame
    k: int
    n_primary: int
    n_secondary: int
    notes: list[str]


@dataclass(frozen=True)
class _Layer:
    """One independent table: its cells as positions in the input plus row/column codes."""

    pos: Int  # positions of the layer's cells in the input frame
    r: Int  # row code (always 0 for a 1-D table)
    c: Int  # column code
    v: Int  # true values
    n_rows: int
    n_cols: int
    two_d: bool


def protect(
    cells: pl.DataFrame, *, dims: Sequence[str], value: str = "count", k: int = 5
) -> Protected:
    """Suppress cells so that no sensitive count can be read or derived from a published table.

    Primary suppression hides cells with ``0 < value < k``; complementary suppression hides just
    enough further cells that every suppressed cell has a feasible range (over all non-negative
    tables that match the published cells and totals) wider than a point.

    Args:
        cells: one row per cell, unique on ``dims``; other columns are carried through untouched.
        dims: the cell's dimensions; the last two (or the only one) are the table's axes and any
            earlier ones are layers, each protected independently.
        value: a non-negative integer column without nulls.
        k: the threshold, at least 1 (``k=1`` suppresses nothing).

    Returns:
        The suppressed cells, the published totals, counts and notes (see ``Protected``).

    Raises:
        InputError: on missing, duplicate or reserved columns, nulls, negative or non-integer
            values, cells repeated on ``dims``, or ``k < 1``.
    """
    dims = _check(cells, dims, value)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"k must be an integer >= 1, got {k!r}", hint="k=5 is the usual rule")
    coded, layers = _code(cells, dims, value)
    height = cells.height
    suppressed = np.zeros(height, dtype=bool)
    primary = np.zeros(height, dtype=bool)
    withheld: list[tuple[int, str, int]] = []
    notes: list[str] = []
    for layer_id, layer in enumerate(layers):
        sensitive = (layer.v > 0) & (layer.v < k)
        primary[layer.pos] = sensitive
        if not sensitive.any():
            continue
        chosen, held, stuck, overruled = _protect_layer(layer, sensitive)
        suppressed[layer.pos] = chosen
        withheld.extend((layer_id, kind, code) for kind, code in sorted(held))
        if held or overruled:
            notes.append(_note(cells, dims, layer, stuck, held, overruled))
    hidden, sensitive_ = pl.Series(suppressed), pl.Series(primary)
    out = cells.with_columns(
        pl.when(hidden).then(None).otherwise(pl.col(value)).cast(cells.schema[value]).alias(value),
        pl.when(sensitive_)
        .then(pl.lit(PRIMARY))
        .when(hidden)
        .then(pl.lit(SECONDARY))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("suppressed"),
    )
    return Protected(
        cells=out,
        totals=_totals(coded, dims, value, cells.schema, withheld),
        k=k,
        n_primary=int(primary.sum()),
        n_secondary=int((suppressed & ~primary).sum()),
        notes=notes,
    )


def feasible_ranges(
    cells: pl.DataFrame,
    suppressed_mask: pl.Series | Bool | Sequence[bool],
    *,
    dims: Sequence[str],
    value: str = "count",
    totals: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The range an intruder can derive for each suppressed cell, by linear programming.

    For each suppressed cell, the minimum and maximum of its value over all non-negative tables
    that agree with the published cells and the published totals (every row, column and grand
    total of each layer, as ``protect`` publishes them). Solved per layer and per connected group
    of suppressed cells with HiGHS: two LPs per cell, so meant for audits and tests.

    Args:
        cells: the original table (true values, no nulls), as given to ``protect``.
        suppressed_mask: one boolean per row of ``cells``; True where the cell is not published.
        dims: as for ``protect``.
        value: as for ``protect``.
        totals: optionally ``Protected.totals``; totals whose value is null count as withheld
            and are left out of the constraints. By default every total is published.

    Returns:
        One row per suppressed cell, in input order: the dims, ``low`` and ``high`` (Float64;
        ``high`` is infinite when no published total bounds the cell).

    Raises:
        InputError: on the same problems as ``protect``, or a mask of the wrong length or with
            nulls.
    """
    dims = _check(cells, dims, value)
    mask = _mask(suppressed_mask, cells.height)
    coded, layers = _code(cells, dims, value)
    held = _withheld_codes(coded, dims, value, totals)
    low = np.zeros(cells.height)
    high = np.zeros(cells.height)
    for layer_id, layer in enumerate(layers):
        chosen = mask[layer.pos]
        if chosen.any():
            lo, hi = _ranges(layer, chosen, held.get(layer_id, set()))
            low[layer.pos[chosen]] = lo
            high[layer.pos[chosen]] = hi
    where = np.flatnonzero(mask)
    return cells.select(dims)[where].with_columns(
        pl.Series("low", low[where], dtype=pl.Float64),
        pl.Series("high", high[where], dtype=pl.Float64),
    )


# --- one layer ------------------------------------------------------------------------------


def _protect_layer(layer: _Layer, sensitive: Bool) -> tuple[Bool, Withheld, Int, bool]:
    """Suppression pattern, withheld totals, the stuck sensitive cells, and whether the LP
    audit had to overrule the cycle reasoning, for one layer."""
    if layer.two_d:
        chosen, stuck = _complement_2d(layer, sensitive)
    else:
        chosen, stuck = _complement_1d(layer, sensitive)
    held: Withheld = set()
    if stuck.size:
        chosen, held = _withhold(layer, stuck)
    overruled = False
    if chosen.sum() <= _LP_AUDIT_MAX:
        must_move = sensitive if held else chosen
        if (_fixed(layer, chosen, held) & must_move).any():
            # The cycle test and the LP disagree: trust the LP and fall back to the full rule.
            stuck = np.flatnonzero(_fixed(layer, np.ones_like(chosen), set()) & sensitive)
            chosen, held = _withhold(layer, stuck)
            overruled = True
    return chosen, held, stuck, overruled


def _withhold(layer: _Layer, stuck: Int) -> tuple[Bool, Withheld]:
    """Suppress the whole layer and withhold every total that contains a stuck cell.

    A stuck cell then appears in no published equation, so nothing bounds it from above.
    """
    held: Withheld = {(GRAND, -1)}
    if layer.two_d:
        held |= {(ROW, int(code)) for code in layer.r[stuck]}
        held |= {(COLUMN, int(code)) for code in layer.c[stuck]}
    return np.ones(layer.v.size, dtype=bool), held


def _complement_1d(layer: _Layer, sensitive: Bool) -> tuple[Bool, Int]:
    """1-D: two suppressed cells (one of them non-zero) can trade value under the grand total."""
    chosen = sensitive.copy()
    if chosen.sum() != 1:
        return chosen, np.empty(0, dtype=np.int64)
    others = np.flatnonzero(~chosen)
    if others.size == 0:
        return chosen, np.flatnonzero(chosen)
    nonzero = others[layer.v[others] > 0]
    pool = nonzero if nonzero.size else others
    chosen[pool[np.argmin(layer.v[pool])]] = True
    return chosen, np.empty(0, dtype=np.int64)


def _complement_2d(layer: _Layer, sensitive: Bool) -> tuple[Bool, Int]:
    """2-D: close an alternating cycle of suppressed cells through every sensitive cell.

    Graph: a node per row and per column; a cell (i, j) is an arc row i -> column j (its value
    goes up) and, if non-zero, an arc column j -> row i (its value goes down). A directed cycle
    is a direction along which the cells can move without changing any total or going negative,
    so a cell is protected iff a path closes a cycle through it using suppressed cells only.
    Arcs of suppressed cells cost ~0, others 1 + value/(total+1); new zero cells cost more than
    any path without them.
    """
    n, n_rows = layer.v.size, layer.n_rows
    nodes = n_rows + layer.n_cols
    cell_at = np.full((n_rows, layer.n_cols), -1, dtype=np.int64)
    cell_at[layer.r, layer.c] = np.arange(n)
    src = np.concatenate([layer.r, n_rows + layer.c])
    dst = np.concatenate([n_rows + layer.c, layer.r])
    exists = np.concatenate([np.ones(n, dtype=bool), layer.v > 0])
    cost = np.where(layer.v > 0, 1.0 + layer.v / (layer.v.sum() + 1.0), 2.0 * nodes + 1.0)
    weight = np.concatenate([cost, cost])
    chosen = sensitive.copy()
    weight[np.concatenate([chosen, chosen])] = _EPS
    protected = np.zeros(n, dtype=bool)
    stuck: list[int] = []
    for e in np.flatnonzero(sensitive):
        if protected[e]:
            continue
        keep = exists.copy()
        keep[[e, n + e]] = False  # the cycle must not come straight back over e itself
        graph = sparse.csr_matrix((weight[keep], (src[keep], dst[keep])), shape=(nodes, nodes))
        row, col = int(layer.r[e]), n_rows + int(layer.c[e])
        dist, pred = dijkstra(graph, indices=[col, row], return_predecessors=True)
        up, down = dist[0, row], (dist[1, col] if layer.v[e] > 0 else np.inf)
        if not np.isfinite(min(up, down)):
            stuck.append(int(e))
            continue
        start, end, which = (col, row, 0) if up <= down else (row, col, 1)
        cycle = [int(e), *_path_cells(pred[which], start, end, n_rows, cell_at)]
        new = [f for f in cycle if not chosen[f]]
        chosen[cycle] = True
        protected[cycle] = True
        weight[new] = _EPS
        weight[[n + f for f in new]] = _EPS
    return chosen, np.asarray(stuck, dtype=np.int64)


def _path_cells(pred: Int, start: int, end: int, n_rows: int, cell_at: Int) -> list[int]:
    """Cells on the Dijkstra path from ``start`` to ``end`` (rows are nodes < n_rows)."""
    out: list[int] = []
    node = end
    while node != start:
        prev = int(pred[node])
        if prev < n_rows:
            out.append(int(cell_at[prev, node - n_rows]))
        else:
            out.append(int(cell_at[node, prev - n_rows]))
        node = prev
    return out


# --- linear programming -----------------------------------------------------------------------


def _system(layer: _Layer, chosen: Bool, held: Withheld) -> tuple[list[Int], Int]:
    """Published equations restricted to the suppressed cells: who is in each, and their sum.

    In a 2-D layer the grand total is implied by the row totals (or the column totals) when all
    of those are published, so it is added only when it carries information of its own.
    """
    members: list[Int] = []
    axes: list[tuple[str, Int, int]] = []
    if layer.two_d:
        axes = [(ROW, layer.r, layer.n_rows), (COLUMN, layer.c, layer.n_cols)]
    for kind, codes, count in axes:
        for code in range(count):
            if (kind, code) not in held:
                group = np.flatnonzero(chosen & (codes == code))
                if group.size:
                    members.append(group)
    rows_held = any(kind == ROW for kind, _ in held)
    cols_held = any(kind == COLUMN for kind, _ in held)
    grand_implied = layer.two_d and not (rows_held and cols_held)
    if (GRAND, -1) not in held and not grand_implied:
        members.append(np.flatnonzero(chosen))
    rhs = np.asarray([layer.v[group].sum() for group in members], dtype=np.int64)
    return members, rhs


def _components(
    layer: _Layer, chosen: Bool, held: Withheld
) -> list[tuple[Int, sparse.csr_matrix, Float]]:
    """Independent sub-problems: suppressed cells linked through shared published equations.

    Returns (cells, A_eq, b_eq) per group; a group with no equation has a 0 x n matrix.
    """
    cells = np.flatnonzero(chosen)
    members, rhs = _system(layer, chosen, held)
    local = np.full(layer.v.size, -1, dtype=np.int64)
    local[cells] = np.arange(cells.size)
    eq = np.repeat(np.arange(len(members), dtype=np.int64), [g.size for g in members])
    var = local[np.concatenate(members)] if members else np.empty(0, dtype=np.int64)
    m, p = cells.size, len(members)
    link = sparse.coo_matrix((np.ones(var.size), (var, m + eq)), shape=(m + p, m + p))
    _, label = connected_components(link, directed=False)
    out = []
    for group in np.unique(label[:m]):
        vars_ = np.flatnonzero(label[:m] == group)
        eqs = np.flatnonzero(label[m:] == group)
        pos = np.full(m, -1, dtype=np.int64)
        pos[vars_] = np.arange(vars_.size)
        epos = np.full(p, -1, dtype=np.int64)
        epos[eqs] = np.arange(eqs.size)
        pick = np.isin(eq, eqs)
        a_eq = sparse.csr_matrix(
            (np.ones(int(pick.sum())), (epos[eq[pick]], pos[var[pick]])),
            shape=(eqs.size, vars_.size),
        )
        out.append((cells[vars_], a_eq, rhs[eqs].astype(np.float64)))
    return out


def _solve(c: Float, a_eq: sparse.csr_matrix, b_eq: Float) -> tuple[float, Float | None]:
    """Minimum of c @ x over the component; (-inf, None) when unbounded below."""
    res = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if res.status == 3:
        return -np.inf, None
    if res.status != 0:  # the true table is feasible, so anything else is a solver failure
        raise RuntimeError(f"disclosure audit LP failed: {res.message}")
    return float(res.fun), np.asarray(res.x, dtype=np.float64)


def _ranges(layer: _Layer, chosen: Bool, held: Withheld) -> tuple[Float, Float]:
    """Exact (min, max) of every suppressed cell of the layer, in the order of ``chosen``."""
    cells = np.flatnonzero(chosen)
    low = np.zeros(layer.v.size)
    high = np.zeros(layer.v.size)
    for group, a_eq, b_eq in _components(layer, chosen, held):
        if a_eq.shape[0] == 0:  # in no published equation: anything from 0 up
            low[group], high[group] = 0.0, np.inf
            continue
        if group.size == 1:  # alone in an equation: the equation gives it away
            low[group] = high[group] = float(layer.v[group[0]])
            continue
        for i, cell in enumerate(group):
            unit = np.zeros(group.size)
            unit[i] = 1.0
            low[cell] = _solve(unit, a_eq, b_eq)[0]
            high[cell] = -_solve(-unit, a_eq, b_eq)[0]
    low, high = np.round(low[cells], 6), np.round(high[cells], 6)
    return low, high


def _fixed(layer: _Layer, chosen: Bool, held: Withheld) -> Bool:
    """Which suppressed cells the published figures determine exactly (LP audit).

    Maximise (then, if needed, minimise) one unsettled cell at a time; every cell that the
    optimal table moves by a unit or more is settled as protected by the same solve.
    """
    fixed = np.zeros(layer.v.size, dtype=bool)
    for group, a_eq, b_eq in _components(layer, chosen, held):
        if a_eq.shape[0] == 0:
            continue
        if group.size == 1:
            fixed[group] = True
            continue
        truth = layer.v[group].astype(np.float64)
        moves = np.zeros(group.size, dtype=bool)
        for i in range(group.size):
            if moves[i]:
                continue
            for sign in (-1.0, 1.0):
                unit = np.zeros(group.size)
                unit[i] = sign
                _, x = _solve(unit, a_eq, b_eq)
                if x is None:
                    moves[i] = True
                else:
                    moves |= np.abs(x - truth) > _TOL
                if moves[i]:
                    break
            fixed[group[i]] = not moves[i]
    return fixed


# --- frames -----------------------------------------------------------------------------------


def _check(cells: pl.DataFrame, dims: Sequence[str], value: str) -> list[str]:
    """Validate the input table; return ``dims`` as a list."""
    if not isinstance(cells, pl.DataFrame):
        raise InputError("cells must be a Polars DataFrame", hint="build it with pl.DataFrame")
    if isinstance(dims, str) or not dims:
        raise InputError("dims must be a non-empty list of column names", hint='e.g. ["sex"]')
    dims = list(dims)
    if len(set(dims)) != len(dims):
        raise InputError(f"dims repeats a column: {dims}", hint="name each dimension once")
    missing = [name for name in [*dims, value] if name not in cells.columns]
    if missing:
        raise InputError(f"columns not in the table: {missing}", hint=f"have {cells.columns}")
    if value in dims:
        raise InputError(f"value column {value!r} is also a dim", hint="pick a count column")
    clash = [name for name in [*dims, value] if name in _RESERVED]
    if clash or "suppressed" in cells.columns:
        raise InputError(
            f"column names reserved for the output: {clash or ['suppressed']}",
            hint="rename them before protecting the table",
        )
    if not cells.schema[value].is_integer():
        raise InputError(
            f"{value!r} must be an integer column, got {cells.schema[value]}",
            hint="cast counts to an integer type",
        )
    nulls = cells.select(pl.col([*dims, value]).null_count()).row(0)
    if any(nulls):
        bad = [name for name, count in zip([*dims, value], nulls, strict=True) if count]
        raise InputError(f"nulls in {bad}", hint="fill or drop them; a count cannot be unknown")
    if cells.height and cells[value].min() < 0:  # type: ignore[operator]
        raise InputError(f"{value!r} has negative values", hint="counts are non-negative")
    dupes = cells.filter(cells.select(dims).is_duplicated())
    if dupes.height:
        raise InputError(
            f"{dupes.height} rows repeat a cell of {dims}, e.g. {dupes.select(dims).row(0)}",
            hint="aggregate to one row per cell first",
        )
    return dims


def _mask(mask: pl.Series | Bool | Sequence[bool], height: int) -> Bool:
    series = mask if isinstance(mask, pl.Series) else pl.Series(list(np.asarray(mask).tolist()))
    if series.len() != height or series.null_count() or series.dtype != pl.Boolean:
        raise InputError(
            f"suppressed_mask must be {height} booleans without nulls",
            hint="one True/False per row of cells",
        )
    return series.to_numpy().astype(bool)


def _code(cells: pl.DataFrame, dims: list[str], value: str) -> tuple[pl.DataFrame, list[_Layer]]:
    """Number the layers (first appearance) and rows/columns within each (sorted labels)."""
    layer_dims = dims[:-2]
    frame = cells.select([*dims, value]).with_row_index("_pos")
    if layer_dims:
        keys = frame.select(layer_dims).unique(maintain_order=True).with_row_index("_layer")
        frame = frame.join(keys, on=layer_dims, how="left").sort("_pos")
    else:
        frame = frame.with_columns(pl.lit(0, dtype=pl.UInt32).alias("_layer"))
    rank = pl.col(dims[-1]).rank("dense").over("_layer").cast(pl.Int64) - 1
    if len(dims) >= 2:
        row = pl.col(dims[-2]).rank("dense").over("_layer").cast(pl.Int64) - 1
    else:
        row = pl.lit(0, dtype=pl.Int64)
    frame = frame.with_columns(row.alias("_r"), rank.alias("_c"))
    layer = frame["_layer"].to_numpy().astype(np.int64)
    r = frame["_r"].to_numpy().astype(np.int64)
    c = frame["_c"].to_numpy().astype(np.int64)
    v = frame[value].to_numpy().astype(np.int64)
    order = np.argsort(layer, kind="stable")
    splits = np.flatnonzero(np.diff(layer[order])) + 1
    layers = [
        _Layer(
            pos=pos,
            r=r[pos],
            c=c[pos],
            v=v[pos],
            n_rows=int(r[pos].max()) + 1,
            n_cols=int(c[pos].max()) + 1,
            two_d=len(dims) >= 2,
        )
        for pos in np.split(order, splits)
        if pos.size
    ]
    return frame, layers


def _totals(
    coded: pl.DataFrame,
    dims: list[str],
    value: str,
    schema: pl.Schema,
    withheld: list[tuple[int, str, int]],
) -> pl.DataFrame:
    """Row, column and grand totals of every layer, withheld ones set to null."""
    layer_dims = dims[:-2]
    parts: list[tuple[str, list[str], str]] = [(GRAND, [], "_grand")]
    if len(dims) >= 2:
        parts = [(ROW, [dims[-2]], "_r"), (COLUMN, [dims[-1]], "_c"), *parts]
    order = {ROW: 0, COLUMN: 1, GRAND: 2}
    frames = []
    for kind, kept, code in parts:
        keys = ["_layer", code] if code != "_grand" else ["_layer"]
        frame = coded.group_by(keys).agg(
            *[pl.col(d).first() for d in [*layer_dims, *kept]],
            pl.col(value).sum().cast(pl.Int64),
        )
        if code == "_grand":
            frame = frame.with_columns(pl.lit(-1, dtype=pl.Int64).alias("_grand"))
        frames.append(
            frame.select(
                "_layer",
                pl.lit(order[kind]).alias("_order"),
                pl.col(code).cast(pl.Int64).alias("_code"),
                *[
                    pl.col(d)
                    if d in [*layer_dims, *kept]
                    else pl.lit(None, dtype=schema[d]).alias(d)
                    for d in dims
                ],
                pl.col(value),
                pl.lit(kind).alias("total"),
            )
        )
    if not frames or coded.height == 0:
        return pl.DataFrame(
            schema={
                **{d: schema[d] for d in dims},
                value: pl.Int64,
                "total": pl.String,
                "suppressed": pl.String,
            }
        )
    out = pl.concat(frames).sort("_layer", "_order", "_code")
    held = pl.DataFrame(
        [(layer, kind, code, WITHHELD) for layer, kind, code in withheld],
        schema={
            "_layer": pl.UInt32,
            "total": pl.String,
            "_code": pl.Int64,
            "suppressed": pl.String,
        },
        orient="row",
    )
    out = out.with_columns(pl.col("_layer").cast(pl.UInt32)).join(
        held, on=["_layer", "total", "_code"], how="left", maintain_order="left"
    )
    return out.select(
        *dims,
        pl.when(pl.col("suppressed").is_null()).then(pl.col(value)).alias(value),
        "total",
        "suppressed",
    )


def _withheld_codes(
    coded: pl.DataFrame,
    dims: list[str],
    value: str,
    totals: pl.DataFrame | None,
) -> dict[int, Withheld]:
    """Map the null totals of a ``Protected.totals`` frame to (layer, kind, code)."""
    out: dict[int, Withheld] = {}
    if totals is None:
        return out
    if "total" not in totals.columns or value not in totals.columns:
        raise InputError("totals must be Protected.totals", hint="pass protect(...).totals")
    held = totals.filter(pl.col(value).is_null())
    layer_dims = dims[:-2]
    specs: list[tuple[str, list[str], str]] = [(GRAND, [], "")]
    if len(dims) >= 2:
        specs += [(ROW, [dims[-2]], "_r"), (COLUMN, [dims[-1]], "_c")]
    for kind, kept, code in specs:
        rows = held.filter(pl.col("total") == kind)
        if rows.height == 0:
            continue
        on = [*layer_dims, *kept]
        if not on:  # a single-layer table's grand total
            out.setdefault(0, set()).add((GRAND, -1))
            continue
        keys = coded.select(*on, "_layer", pl.col(code) if code else pl.lit(-1).alias("_x"))
        found = rows.select(on).join(keys.unique(), on=on, how="inner")
        for layer, where in found.select("_layer", keys.columns[-1]).iter_rows():
            out.setdefault(int(layer), set()).add((kind, int(where)))
    return out


def _note(
    cells: pl.DataFrame, dims: list[str], layer: _Layer, stuck: Int, held: Withheld, lp: bool
) -> str:
    """Say, for the analyst, which layer was withheld and why."""
    layer_dims = dims[:-2]
    where = "table"
    if layer_dims:
        first = cells.select(layer_dims).row(int(layer.pos[0]))
        where = "layer " + ", ".join(f"{d}={x}" for d, x in zip(layer_dims, first, strict=True))
    axes = dims[-2:]
    named = [
        "("
        + ", ".join(f"{d}={x}" for d, x in zip(axes, cells.select(axes).row(int(p)), strict=True))
        + ")"
        for p in layer.pos[stuck]
    ]
    why = (
        "the LP audit rejected the complementary pattern, so as a precaution"
        if lp
        else f"sensitive cell(s) {', '.join(named)} would be derivable from the published "
        "totals even with every cell suppressed, so"
    )
    kinds = sorted({kind for kind, _ in held}, key=[ROW, COLUMN, GRAND].index)
    note = f"{where}: {why} all {layer.v.size} cells are suppressed"
    if held:
        note += f"; the {'/'.join(kinds)} totals containing {', '.join(named)} are withheld"
    return note
