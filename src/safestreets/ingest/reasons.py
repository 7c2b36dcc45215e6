"""Per-row rejection reasons, gathered column by column and listed only for rejected rows."""

from __future__ import annotations

import numpy as np
import polars as pl


class Reasons:
    """Collects reason codes for the rows of one frame.

    Each check adds a column that holds its code where the check fails and null elsewhere;
    a row is rejected when any column holds a code, and it is reported with all of them.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self._columns: list[pl.Series] = []

    def flag(self, mask: pl.Series | np.ndarray, code: str) -> None:
        """Give ``code`` to the rows where ``mask`` is true (null counts as false)."""
        m = pl.Series(mask).fill_null(False)
        self._columns.append(pl.select(pl.when(m).then(pl.lit(code))).to_series())

    def add(self, codes: pl.Series) -> None:
        """A column of codes computed elsewhere (null where the row passes)."""
        self._columns.append(codes)

    def _frame(self) -> pl.DataFrame:
        return pl.DataFrame({f"r{i}": c for i, c in enumerate(self._columns)})

    def rejected(self) -> pl.Series:
        """True for each row with at least one reason."""
        if not self._columns:
            return pl.repeat(False, self.n, dtype=pl.Boolean, eager=True)
        return self._frame().select(pl.any_horizontal(pl.all().is_not_null()))[:, 0]

    def lists(self, rejected: pl.Series) -> pl.Series:
        """The reasons of the rejected rows, in row order (lists are built only for those)."""
        if not self._columns:
            return pl.Series("reasons", [], dtype=pl.List(pl.String))
        return (
            self._frame()
            .filter(rejected)
            .select(pl.concat_list(pl.all()).list.drop_nulls().alias("reasons"))["reasons"]
        )
