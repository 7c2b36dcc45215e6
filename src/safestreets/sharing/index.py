"""Online matching of one record against every active alert: no batch job per query.

A liaison officer's hit/no-hit query must be answered in milliseconds against a million
alerts, so each subject has an in-memory index built once (and rebuilt when the alerts change):

* :class:`PersonIndex`: alerts normalised once (``linkage.prepare``, the same normalisation as
  batch linking), blocking keys of several rules kept as sorted ``uint64`` hash arrays (Polars
  ``hash``, ``np.argsort``; looked up with ``np.searchsorted``), then the candidates scored
  with the person match model (``comparisons.MatchModel``). The query record is normalised
  with :func:`normalise_query`, a scalar twin of ``names.normalise_persons`` for one record:
  the frame version costs about 100 ms of fixed Polars overhead per call, the scalar one tens
  of microseconds; the tests keep the two in agreement.
* :class:`ClkIndex`: privacy-preserving encodings compared by Dice coefficient, with keyed
  blocking keys when the contributor sent them (otherwise a vectorised scan).
* :class:`FirearmIndex`: canonical serials looked up exactly, near serials (one character
  missing, extra, misread or swapped) through a deletion-neighbourhood index (symmetric
  delete, as in SymSpell: every serial is also indexed with each one of its characters
  deleted, so a query finds them by its own deletions without a scan), serials with
  unreadable characters by a regular expression over the serials of that length.
* :class:`VehicleIndex`: plates (with and without class prefix, and their deletion
  neighbourhoods), VINs, their halves and their last six characters.

Every index answers ``query(record, threshold=..., limit=...) -> list[Candidate]`` best first,
has ``len()`` (active records) and ``remove(keys)`` (a boolean mask: expired or cancelled
alerts drop out at once; a rebuild compacts them away).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from safestreets.errors import InputError
from safestreets.sharing import clk as clk_mod
from safestreets.sharing import firearms, vehicles

__all__ = [
    "PERSON_RULES",
    "Candidate",
    "ClkIndex",
    "FirearmIndex",
    "PersonIndex",
    "VehicleIndex",
    "canonical_serial_expr",
    "normalise_query",
]

Rows = npt.NDArray[np.int64]
_SEP: Final = "\x1f"


@dataclass(frozen=True)
class Candidate:
    """One alert that may be the queried subject.

    Attributes:
        key: The alert's key (its id in the store).
        probability: Match probability (for a CLK index, the Dice coefficient).
        match_weight: log2 of the match odds (for a CLK index, 0).
        agreeing: The fields or comparisons that agreed (empty for a CLK index).
    """

    key: int
    probability: float
    match_weight: float
    agreeing: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# Shared machinery: sorted hash arrays, keys and the active mask
# ---------------------------------------------------------------------------------------------


def _hash_strings(values: Sequence[str | None] | pl.Series) -> npt.NDArray[np.uint64]:
    """Polars' 64-bit hash of text values (the same for the index and the query)."""
    s = values if isinstance(values, pl.Series) else pl.Series(values, dtype=pl.String)
    return s.cast(pl.String).hash(seed=0).to_numpy()


class _HashTable:
    """Rows by key: sorted 64-bit hashes of the keys and the row of each (multimap)."""

    __slots__ = ("hashes", "rows")

    def __init__(self, rows: npt.ArrayLike, keys: pl.Series) -> None:
        frame = pl.DataFrame({"row": np.asarray(rows, dtype=np.int64), "k": keys}).drop_nulls()
        h = _hash_strings(frame.get_column("k"))
        order = np.argsort(h, kind="stable")
        self.hashes = h[order]
        self.rows = frame.get_column("row").to_numpy()[order]

    @classmethod
    def from_lists(cls, keys: pl.Series) -> _HashTable:
        """From one list of keys per row (row = position)."""
        frame = (
            pl.DataFrame({"k": keys})
            .with_row_index("row")
            .with_columns(pl.col("k").list.unique())
            .explode("k")
        )
        return cls(frame.get_column("row").cast(pl.Int64), frame.get_column("k"))

    def spans(self, hashes: npt.NDArray[np.uint64]) -> tuple[Rows, Rows]:
        """The [lo, hi) range of each hash."""
        lo = np.searchsorted(self.hashes, hashes, side="left")
        hi = np.searchsorted(self.hashes, hashes, side="right")
        return lo.astype(np.int64), hi.astype(np.int64)

    def lookup(self, keys: Sequence[str]) -> Rows:
        """Every row of any of ``keys`` (possibly repeated)."""
        if not keys:
            return np.zeros(0, dtype=np.int64)
        lo, hi = self.spans(_hash_strings(keys))
        parts = [self.rows[a:b] for a, b in zip(lo.tolist(), hi.tolist(), strict=True) if b > a]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.hashes)


class _Keyed:
    """Alert keys, the row of each, and the active mask shared by every index."""

    def _init_keys(self, keys: npt.ArrayLike) -> None:
        self._keys = np.asarray(keys, dtype=np.int64)
        if len(np.unique(self._keys)) != len(self._keys):
            raise InputError("the index records repeat a key", hint="keys are alert ids")
        self._key_order = np.argsort(self._keys, kind="stable")
        self._active = np.ones(len(self._keys), dtype=bool)
        self._n_active = len(self._keys)

    def remove(self, keys: Iterable[int]) -> int:
        """Drop records from the answers (expired or cancelled alerts).

        Args:
            keys: Keys of the records to drop; unknown keys are ignored.

        Returns:
            How many active records were dropped.
        """
        wanted = np.asarray(list(keys), dtype=np.int64)
        if not len(wanted) or not len(self._keys):
            return 0
        sorted_keys = self._keys[self._key_order]
        pos = np.searchsorted(sorted_keys, wanted)
        pos = np.clip(pos, 0, len(sorted_keys) - 1)
        found = sorted_keys[pos] == wanted
        rows = self._key_order[pos[found]]
        newly = rows[self._active[rows]]
        self._active[newly] = False
        self._n_active -= len(np.unique(newly))
        return len(np.unique(newly))

    def __len__(self) -> int:
        return self._n_active


_Scored = tuple[int, float, float, tuple[str, ...]]


def _ranked(scored: Sequence[_Scored], threshold: float, limit: int) -> list[Candidate]:
    """Candidates at or above the threshold, best first (ties: heavier weight, then key)."""
    keep = [s for s in scored if s[1] >= threshold]
    keep.sort(key=lambda s: (-s[1], -s[2], s[0]))
    return [Candidate(k, p, w, a) for k, p, w, a in keep[:limit]]


# ---------------------------------------------------------------------------------------------
# Persons: the scalar normaliser of one query record
# ---------------------------------------------------------------------------------------------


def normalise_query(record: Mapping[str, Any], *, extra: Sequence[str] = ()) -> dict[str, Any]:
    """Normalise one canonical person record as ``linkage.prepare`` does a frame.

    ``names.normalise_person`` (the scalar twin of ``names.normalise_persons``: a one-row
    frame through Polars costs about 100 ms of fixed overhead, the scalar path a fraction of a
    millisecond), plus ``address_n`` and the model's extra fields as ``linkage.prepare`` adds
    them, plus ``married_ph`` for the blocking rules.

    Args:
        record: Canonical person fields (``schema.PERSON_COLUMNS``; missing = empty).
        extra: Extra fields compared by the model (``<name>_n``: folded, no spaces).

    Returns:
        The normalised values by column name.
    """
    from safestreets.schema import PERSON_COLUMNS
    from safestreets.sharing import names

    scalar = getattr(names, "normalise_person", None)
    if scalar is not None:
        out: dict[str, Any] = dict(scalar(record))
    else:  # pragma: no cover - a names module without the scalar path: slow but right
        row = {
            c: [None if record.get(c) is None else str(record.get(c))]
            for c in PERSON_COLUMNS
            if c != "record_id"
        }
        frame = pl.DataFrame(row, schema={c: pl.String for c in row})
        out = names.normalise_persons(frame).drop(list(row)).to_dicts()[0]

    def folded(name: str) -> str | None:
        v = record.get(name)
        return (names.fold(str(v)) or None) if v is not None else None

    out["address_n"] = folded("address")
    for e in extra:
        v = folded(e)
        out[f"{e}_n"] = (v.replace(" ", "") or None) if v is not None else None
    married = out.get("married_n")
    out["married_ph"] = (names.phonetic(married) or None) if married else None
    return out


# ---------------------------------------------------------------------------------------------
# Persons: blocking rules
# ---------------------------------------------------------------------------------------------


def _pair_py(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return None
    return _SEP.join(sorted((a, b)))


def _join_py(*vals: Any) -> str | None:
    if any(v is None for v in vals):
        return None
    return _SEP.join(str(v) for v in vals)


def _pair_expr(a: str, b: str) -> pl.Expr:
    both = pl.col(a).is_not_null() & pl.col(b).is_not_null()
    return pl.when(both).then(
        pl.concat_str([pl.min_horizontal(a, b), pl.max_horizontal(a, b)], separator=_SEP)
    )


def _join_expr(*cols: str) -> pl.Expr:
    return pl.concat_str([pl.col(c) for c in cols], separator=_SEP)


def _name_string_py(r: Mapping[str, Any]) -> str | None:
    g, s = r.get("given_1"), r.get("surname_1_n")
    return f"{g} {s}" if g is not None and s is not None else None


@dataclass(frozen=True)
class _Rule:
    """A blocking rule: its keys per record, as a Polars expression (index side, a list per
    row) and in Python (query side). Both must give the same strings."""

    name: str
    expr: Callable[[], pl.Expr]
    py: Callable[[Mapping[str, Any]], list[str | None]]


PERSON_RULES: Final[tuple[_Rule, ...]] = (
    _Rule("national_id", lambda: pl.concat_list(pl.col("id_n")), lambda r: [r["id_n"]]),
    # Given name with any surname (sorted pairs: a given name swapped with a surname, a
    # dropped or swapped surname, a married surname used as the surname all still share one).
    _Rule(
        "names",
        lambda: pl.concat_list(
            _pair_expr("given_1_ph", "surname_1_ph"),
            _pair_expr("given_1_ph", "surname_2_ph"),
            _pair_expr("given_1_ph", "married_ph"),
        ),
        lambda r: [
            _pair_py(r["given_1_ph"], r["surname_1_ph"]),
            _pair_py(r["given_1_ph"], r["surname_2_ph"]),
            _pair_py(r["given_1_ph"], r["married_ph"]),
        ],
    ),
    _Rule(
        "surname_year",
        lambda: pl.concat_list(
            _join_expr("surname_1_ph", "dob_year"), _join_expr("surname_2_ph", "dob_year")
        ),
        lambda r: [
            _join_py(r["surname_1_ph"], r["dob_year"]),
            _join_py(r["surname_2_ph"], r["dob_year"]),
        ],
    ),
    _Rule(
        "given_dob",
        lambda: pl.concat_list(_join_expr("given_1_ph", "dob")),
        lambda r: [_join_py(r["given_1_ph"], r["dob"])],
    ),
    _Rule(
        "surnames",
        lambda: pl.concat_list(_pair_expr("surname_1_ph", "surname_2_ph")),
        lambda r: [_pair_py(r["surname_1_ph"], r["surname_2_ph"])],
    ),
    _Rule(
        "dob_municipality",
        lambda: pl.concat_list(_join_expr("dob", "municipality_n")),
        lambda r: [_join_py(r["dob"], r["municipality_n"])],
    ),
    # Aliases against aliases and against the name ("conocido como Juan López").
    _Rule(
        "aliases",
        lambda: pl.concat_list(
            pl.col("aliases_n").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            pl.concat_str([pl.col("given_1"), pl.col("surname_1_n")], separator=" "),
        ),
        lambda r: [*(r["aliases_n"] or []), _name_string_py(r)],
    ),
)


class PersonIndex(_Keyed):
    """Person alerts ready for single-record queries (see the module docstring).

    Build with :meth:`build`; query with :meth:`query`.

    Attributes:
        max_block: A key shared by more records than this is skipped (a very common name
            with a common birth year): the rarer keys of the same query find the match.
        max_candidates: Blocks are taken rarest first until this many candidate rows.
        max_scored: Candidates scored with the model, the most promising first (how many
            rules found them, then agreement of identity number, birth date and names).
    """

    max_block: int = 2000
    max_candidates: int = 4000
    max_scored: int = 30

    def __init__(self) -> None:  # use build()
        self._frame = pl.DataFrame()
        self._tables: dict[str, _HashTable] = {}
        self._checks: dict[str, npt.NDArray[np.uint64]] = {}
        self._model: Any = None
        self._extra: tuple[str, ...] = ()

    @classmethod
    def build(cls, records: pl.DataFrame, *, model: Any = None) -> PersonIndex:
        """Build the index.

        Args:
            records: Canonical person columns (``schema.PERSON_COLUMNS``, ``record_id``
                optional) and ``key`` (int, the alert id).
            model: A ``comparisons.MatchModel`` (trained, or ``default_model()`` if None).

        Returns:
            The index.

        Raises:
            InputError: No ``key`` column, or a key repeated.
        """
        from safestreets.schema import PERSON_COLUMNS
        from safestreets.sharing import comparisons, linkage, names

        if "key" not in records.columns:
            raise InputError("the person index needs a key column (the alert id)")
        self = cls()
        self._init_keys(records.get_column("key").to_numpy())
        self._model = model if model is not None else comparisons.default_model()
        self._extra = tuple(getattr(self._model, "extra", ()) or ())
        # Columns empty in every record may come untyped (Null) from a store: make them text.
        src = records.drop("record_id", strict=False).with_columns(
            *[pl.col(c).cast(pl.String) for c in PERSON_COLUMNS[1:] if c in records.columns],
            record_id=pl.int_range(pl.len()).cast(pl.String),
        )
        prepared = linkage.prepare(src, extra=self._extra).drop("record_id")
        prepared = prepared.with_columns(
            married_ph=pl.when(pl.col("married_n").is_not_null()).then(
                names.phonetic_expr(pl.col("married_n"))
            )
        ).with_columns(pl.col("married_ph").replace("", None))
        self._frame = prepared.rechunk()  # one chunk: gathering candidate rows stays cheap
        for rule in PERSON_RULES:
            keys = prepared.select(rule.expr().alias("k")).get_column("k")
            self._tables[rule.name] = _HashTable.from_lists(keys)
        for col in ("id_n", "dob", "given_n", "surname_1_n", "surname_2_n"):
            self._checks[col] = _hash_strings(prepared.get_column(col).cast(pl.String))
        return self

    @property
    def model(self) -> Any:
        """The match model the index scores with."""
        return self._model

    def query_keys(self, rec: Mapping[str, Any]) -> list[tuple[str, str]]:
        """The blocking keys of a normalised query record: ``(rule, key)`` pairs."""
        out = []
        for rule in PERSON_RULES:
            for k in dict.fromkeys(rule.py(rec)):
                if k is not None:
                    out.append((rule.name, k))
        return out

    def candidates(self, rec: Mapping[str, Any]) -> tuple[Rows, Rows]:
        """Candidate rows of a normalised query and how many rule keys found each."""
        keys = self.query_keys(rec)
        if not keys:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        hashes = _hash_strings([k for _, k in keys])
        spans = []
        for (rule, _), h in zip(keys, hashes, strict=True):
            table = self._tables[rule]
            los, his = table.spans(np.array([h], dtype=np.uint64))
            size = int(his[0] - los[0])
            if size:
                spans.append((size, rule, int(los[0]), int(his[0])))
        spans.sort()
        chosen: list[Rows] = []
        total = 0
        for size, rule, lo, hi in spans:
            if size > self.max_block:
                continue
            chosen.append(self._tables[rule].rows[lo:hi])
            total += size
            if total >= self.max_candidates:
                break
        if not chosen and spans:  # only very common keys: take a slice of the rarest
            size, rule, lo, hi = spans[0]
            chosen.append(self._tables[rule].rows[lo : lo + self.max_block])
        if not chosen:  # no key of the query is in the index: no candidate at all
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        rows, counts = np.unique(np.concatenate(chosen), return_counts=True)
        live = self._active[rows]
        return rows[live], counts[live]

    def query(
        self, record: Mapping[str, Any], *, threshold: float = 0.8, limit: int = 10
    ) -> list[Candidate]:
        """Alerts that may be this person, best first.

        Args:
            record: Canonical person fields (``given_names``, ``surname_1``, ...; missing =
                empty).
            threshold: Smallest match probability returned.
            limit: Most candidates returned.

        Returns:
            The candidates at or above the threshold (probability and weight from the model,
            ``agreeing`` = the comparisons that agreed).
        """
        rec = normalise_query(record, extra=self._extra)
        rows, counts = self.candidates(rec)
        if not len(rows):
            return []
        if len(rows) > self.max_scored:
            promise = counts.astype(np.float64) * 2.0
            weights = {"id_n": 8.0, "dob": 4.0, "given_n": 2.0, "surname_1_n": 2.0}
            weights["surname_2_n"] = 1.0
            for col, w in weights.items():
                v = rec.get(col)
                if v is not None:
                    promise += w * (self._checks[col][rows] == _hash_strings([str(v)])[0])
            best = np.argsort(-promise, kind="stable")[: self.max_scored]
            rows = rows[best]
        cands = self._frame[rows.tolist()].to_dicts()
        scored = []
        for row, cand in zip(rows.tolist(), cands, strict=True):
            s = self._model.score(rec, cand)
            scored.append((int(self._keys[row]), s.probability, s.match_weight, s.agreeing))
        return _ranked(scored, threshold, limit)


# ---------------------------------------------------------------------------------------------
# Privacy-preserving encodings
# ---------------------------------------------------------------------------------------------


class ClkIndex(_Keyed):
    """Person alerts contributed as CLK encodings; queries are encodings too.

    With blocking keys (``clk.block_keys``, stored as ``clk.block_key_strings``) on both the
    alerts and the query only encodings sharing a key are compared, the rarest keys first
    (a key shared by more than ``max_block`` alerts is skipped, as in :class:`PersonIndex`);
    otherwise every active encoding is compared (a scan in chunks: about 0.1 s for a million
    alerts on two cores).

    Attributes:
        max_block: Skip a blocking key shared by more alerts than this.
        max_candidates: Stop taking blocks after this many candidates.
    """

    max_block: int = 5000
    max_candidates: int = 20000
    _CHUNK: Final = 65536

    def __init__(self) -> None:  # use build()
        self._bits = np.zeros((0, 16), dtype=np.uint64)
        self._counts = np.zeros(0, dtype=np.int64)
        self._blocks: _HashTable | None = None
        self._unblocked = np.zeros(0, dtype=np.int64)

    @classmethod
    def build(
        cls,
        keys: npt.ArrayLike,
        bits: npt.NDArray[np.uint64],
        *,
        blocks: Sequence[str | None] | pl.Series | pl.DataFrame | None = None,
    ) -> ClkIndex:
        """Build the index.

        Args:
            keys: Alert ids, one per encoding.
            bits: Encodings ``(n, words)`` (``clk.encode``).
            blocks: Optional blocking keys per encoding: ``clk.block_key_strings`` text
                (space-separated hex, None for none) or the ``clk.block_keys`` frame.

        Returns:
            The index.

        Raises:
            InputError: Keys and encodings (or blocks) of different lengths.
        """
        self = cls()
        bits = np.ascontiguousarray(bits, dtype=np.uint64)
        if bits.ndim != 2:
            raise InputError("encodings must be a two-dimensional array (one row each)")
        self._init_keys(keys)
        if len(self._keys) != bits.shape[0]:
            raise InputError("each encoding needs one key (lengths differ)")
        self._bits = bits
        self._counts = clk_mod.popcount(bits)
        if blocks is not None:
            if isinstance(blocks, pl.DataFrame):
                blocks = clk_mod.block_key_strings(blocks)
            text = pl.Series("b", blocks, dtype=pl.String)
            if len(text) != len(self._keys):
                raise InputError("blocking keys: one entry per encoding")
            # The hex strings themselves are the keys: no parsing, one vectorised hash.
            self._blocks = _HashTable.from_lists(text.str.split(" "))
            # Encodings sent without blocking keys are compared with every blocked query.
            bare = (text.is_null() | (text.str.strip_chars() == "")).to_numpy()
            self._unblocked = np.nonzero(bare)[0].astype(np.int64)
        return self

    def _block_rows(self, hexes: list[str]) -> Rows:
        assert self._blocks is not None
        lo, hi = self._blocks.spans(_hash_strings(hexes))
        spans = sorted((int(b - a), int(a), int(b)) for a, b in zip(lo, hi, strict=True) if b > a)
        chosen: list[Rows] = []
        total = 0
        for size, a, b in spans:
            if size > self.max_block:
                continue
            chosen.append(self._blocks.rows[a:b])
            total += size
            if total >= self.max_candidates:
                break
        rows = np.unique(np.concatenate([*chosen, self._unblocked]))
        return rows[self._active[rows]]

    def _dice_all(self, row: npt.NDArray[np.uint64]) -> npt.NDArray[np.float64]:
        """Dice of ``row`` with every encoding, chunk by chunk (the temporary arrays of a
        chunk stay in cache: several times faster than one pass over a million rows)."""
        n = len(self._keys)
        inter = np.empty(n, dtype=np.int64)
        buf = np.empty((min(n, self._CHUNK), self._bits.shape[1]), dtype=np.uint64)
        for s in range(0, n, self._CHUNK):
            e = min(s + self._CHUNK, n)
            np.bitwise_and(self._bits[s:e], row, out=buf[: e - s])
            inter[s:e] = clk_mod.popcount(buf[: e - s])
        total = self._counts + clk_mod.popcount(row)
        return np.asarray(2.0 * inter / np.maximum(total, 1), dtype=np.float64)

    def query(
        self,
        bits_row: npt.NDArray[np.uint64],
        *,
        threshold: float = 0.85,
        limit: int = 10,
        blocks: str | Sequence[int] | None = None,
    ) -> list[Candidate]:
        """Encodings whose Dice coefficient with ``bits_row`` reaches the threshold.

        Args:
            bits_row: One encoding ``(words,)`` made with the same key and settings.
            threshold: Smallest Dice coefficient returned.
            limit: Most candidates returned.
            blocks: The query's blocking keys (a ``block_key_strings`` entry or the integers);
                used only if the index has blocking keys.

        Returns:
            Candidates with ``probability`` = Dice, ``match_weight`` 0, best first.
        """
        row = np.asarray(bits_row, dtype=np.uint64).reshape(-1)
        if not len(self._keys):
            return []
        if row.shape[0] != self._bits.shape[1]:
            raise InputError(
                f"the query encoding has {row.shape[0] * 64} bits, the alerts "
                f"{self._bits.shape[1] * 64}",
                hint="encode the query with the same settings as the alerts",
            )
        if self._blocks is not None and blocks is not None:
            hexes = (
                blocks.split() if isinstance(blocks, str) else [f"{int(v):016x}" for v in blocks]
            )
            rows = self._block_rows(hexes)
            if not len(rows):
                return []
            inter = clk_mod.popcount(self._bits[rows] & row)
            total = self._counts[rows] + clk_mod.popcount(row)
            d = 2.0 * inter / np.maximum(total, 1)
        else:
            d_all = self._dice_all(row)
            rows = np.nonzero((d_all >= threshold) & self._active)[0]
            d = d_all[rows]
        hit = np.nonzero(d >= threshold)[0]
        scored: list[_Scored] = [
            (int(self._keys[rows[i]]), float(d[i]), 0.0, ()) for i in hit.tolist()
        ]
        return _ranked(scored, threshold, limit)


# ---------------------------------------------------------------------------------------------
# Firearms and vehicles
# ---------------------------------------------------------------------------------------------


def _deletions(s: str) -> list[str]:
    return list(dict.fromkeys(s[:i] + s[i + 1 :] for i in range(len(s))))


def _deletions_expr(col: str, max_len: int) -> pl.Expr:
    """Every string with one character deleted (a list per row), vectorised."""
    c = pl.col(col)
    return pl.concat_list(
        [
            pl.when(c.str.len_chars() > i).then(
                pl.concat_str([c.str.slice(0, i), c.str.slice(i + 1)])
            )
            for i in range(max_len)
        ]
    )


def _text_column(records: pl.DataFrame, name: str) -> pl.Series:
    if name not in records.columns:
        return pl.Series(name, [None] * records.height, dtype=pl.String)
    return records.get_column(name).cast(pl.String)


def canonical_serial_expr(expr: pl.Expr) -> pl.Expr:
    """``firearms.canonical_serial`` as a Polars expression (nulls and "" give null).

    Agrees with the scalar function (``tests/sharing/test_index.py`` checks it): accents
    removed, upper case, only A-Z and 0-9 kept, the confusable glyphs folded.
    """
    folded = (
        expr.str.normalize("NFKD")
        .str.replace_all(r"\p{M}+", "")
        .str.to_uppercase()
        .str.replace_all(r"[^A-Z0-9]+", "")
        .str.replace_many(list(firearms.CONFUSABLES), list(firearms.CONFUSABLES.values()))
    )
    return pl.when(folded != "").then(folded)


class _NearTable:
    """Exact and one-edit lookups of canonical strings (symmetric delete)."""

    def __init__(self, values: pl.Series, *, min_len: int = 4) -> None:
        frame = pl.DataFrame({"v": values}).with_row_index("row")
        self.exact = _HashTable(frame.get_column("row").cast(pl.Int64), frame.get_column("v"))
        long_ = frame.filter(pl.col("v").str.len_chars() >= min_len)
        self.min_len = min_len
        longest: Any = long_.get_column("v").str.len_chars().max()
        max_len = int(longest or 0)
        if max_len:
            dels = long_.select("row", _deletions_expr("v", max_len).list.unique().alias("d"))
            dels = dels.explode("d")
        else:  # no string long enough
            dels = pl.DataFrame({"row": [], "d": []}, schema={"row": pl.Int64, "d": pl.String})
        self.deleted = _HashTable(dels.get_column("row").cast(pl.Int64), dels.get_column("d"))

    def lookup(self, q: str, *, near: bool = True) -> Rows:
        """Rows equal to ``q`` and, with ``near``, one edit away (plus a few that are not:
        the caller scores them)."""
        parts = [self.exact.lookup([q])]
        if near and len(q) >= self.min_len:
            qd = _deletions(q)
            parts += [self.deleted.lookup([q]), self.exact.lookup(qd), self.deleted.lookup(qd)]
        return np.unique(np.concatenate(parts))


class FirearmIndex(_Keyed):
    """Firearm alerts (stolen, recovered) by serial; scored with ``firearms.score_firearm``.

    A query without a serial finds nothing (make, model and calibre are shared by thousands
    of firearms: they only support a serial).
    """

    max_candidates: int = 500

    def __init__(self) -> None:  # use build()
        self._records = pl.DataFrame()
        self._canon = pl.Series(dtype=pl.String)
        self._near: _NearTable | None = None
        self._by_len: dict[int, Rows] = {}
        self._patterns: list[tuple[int, str]] = []

    @classmethod
    def build(cls, records: pl.DataFrame) -> FirearmIndex:
        """Build the index.

        Args:
            records: ``key`` and the firearm columns (``schema.FIREARM_COLUMNS``: serial,
                make, model, calibre, firearm_type; missing = empty). A serial with unreadable
                characters (``?*_#``) is kept as a pattern.

        Returns:
            The index.
        """
        if "key" not in records.columns:
            raise InputError("the firearm index needs a key column (the alert id)")
        self = cls()
        self._init_keys(records.get_column("key").to_numpy())
        from safestreets.schema import FIREARM_COLUMNS

        self._records = pl.DataFrame([_text_column(records, c) for c in FIREARM_COLUMNS])
        serial = self._records.get_column("serial")
        is_pat = serial.str.contains(r"[?*_#]").fill_null(False)
        canon = (
            pl.DataFrame({"s": serial.set(is_pat, None)})
            .select(canonical_serial_expr(pl.col("s")))
            .to_series()
        )
        self._canon = canon
        self._near = _NearTable(canon)
        lengths = canon.str.len_chars().fill_null(0).to_numpy()
        order = np.argsort(lengths, kind="stable")
        bounds = np.searchsorted(lengths[order], np.arange(lengths.max(initial=0) + 2))
        self._by_len = {
            int(n): order[bounds[n] : bounds[n + 1]].astype(np.int64)
            for n in range(1, len(bounds) - 1)
            if bounds[n + 1] > bounds[n]
        }
        for row in np.nonzero(is_pat.to_numpy())[0].tolist():
            text = serial[row]
            if firearms.is_pattern(text):
                self._patterns.append((row, text))
        return self

    def query(
        self,
        record: Mapping[str, Any],
        *,
        threshold: float = 0.8,
        limit: int = 10,
        open_ends: bool = False,
    ) -> list[Candidate]:
        """Firearm alerts that may be this firearm, best first.

        Args:
            record: ``serial`` (may contain ``?*_#`` for unreadable characters), ``make``,
                ``model``, ``calibre``, ``firearm_type``.
            threshold: Smallest match probability returned.
            limit: Most candidates returned.
            open_ends: Read leading/trailing unknowns as "any number of characters".

        Returns:
            The candidates (``agreeing`` = the fields that agreed).
        """
        serial = record.get("serial")
        if not serial or self._near is None:
            return []
        parts: list[Rows] = []
        if firearms.is_pattern(serial):
            rx = firearms.serial_pattern(serial, open_ends=open_ends)
            assert rx is not None
            template_len = len(re.sub(r"[^A-Za-z0-9?*_#]", "", serial))
            if open_ends:
                known = firearms.pattern_known(serial)
                lengths = [n for n in self._by_len if n >= known]
            else:
                lengths = [template_len] if template_len in self._by_len else []
            for n in lengths:
                rows = self._by_len[n]
                hit = self._canon.gather(rows).str.contains(f"^(?:{rx.pattern})$").to_numpy()
                parts.append(rows[hit])
        else:
            q = firearms.canonical_serial(serial)
            if not q:
                return []
            parts.append(self._near.lookup(q))
            for row, text in self._patterns:
                pat = firearms.serial_pattern(text, open_ends=open_ends)
                if pat is not None and pat.fullmatch(q):
                    parts.append(np.array([row], dtype=np.int64))
        if not parts:
            return []
        rows = np.unique(np.concatenate(parts))
        rows = rows[self._active[rows]][: self.max_candidates]
        scored = []
        for row, cand in zip(rows.tolist(), self._records[rows.tolist()].to_dicts(), strict=True):
            s = firearms.score_firearm(record, cand, open_ends=open_ends)
            scored.append((int(self._keys[row]), s.probability, s.match_weight, s.agreeing))
        return _ranked(scored, threshold, limit)


class VehicleIndex(_Keyed):
    """Stolen-vehicle alerts by plate and VIN; scored with ``vehicles.score_vehicle``."""

    max_candidates: int = 500

    def __init__(self) -> None:  # use build()
        self._records = pl.DataFrame()
        self._plates: _NearTable | None = None
        self._vins: _HashTable | None = None

    @classmethod
    def build(cls, records: pl.DataFrame) -> VehicleIndex:
        """Build the index.

        Args:
            records: ``key`` and the vehicle columns (``schema.VEHICLE_COLUMNS``: plate,
                plate_country, vin, make, model, colour, year; missing = empty).

        Returns:
            The index.
        """
        if "key" not in records.columns:
            raise InputError("the vehicle index needs a key column (the alert id)")
        self = cls()
        self._init_keys(records.get_column("key").to_numpy())
        from safestreets.schema import VEHICLE_COLUMNS

        self._records = pl.DataFrame([_text_column(records, c) for c in VEHICLE_COLUMNS])
        pairs = self._records.select("plate", "plate_country")
        distinct = pairs.unique().drop_nulls("plate")
        body_of = {(p, c): vehicles.plate_parts(p, c)[1] or None for p, c in distinct.iter_rows()}
        bodies = pl.Series(
            "body",
            [body_of.get((p, c)) if p is not None else None for p, c in pairs.iter_rows()],
            dtype=pl.String,
        )
        # Plates are indexed by their body (without the class prefix), so "P-123ABC" and
        # "123ABC" meet; the score tells a different class prefix apart.
        self._plates = _NearTable(bodies, min_len=5)
        vins = self._records.select(
            pl.col("vin")
            .str.normalize("NFKD")
            .str.to_uppercase()
            .str.replace_all(r"[^A-Z0-9]+", "")
            .str.replace_many(["I", "O", "Q"], ["1", "0", "0"])  # as vehicles.canonical_vin
        ).to_series()
        n = len(vins)
        vin_keys = pl.concat(
            [
                ("v:" + vins).alias("k"),
                ("h:" + vins.str.slice(0, 9)).alias("k"),
                ("t:" + vins.str.slice(9)).alias("k"),
                ("s:" + vins.str.slice(-6)).alias("k"),
            ]
        )
        rows = np.tile(np.arange(n, dtype=np.int64), 4)
        keep = (vins.str.len_chars().fill_null(0) >= 6).to_numpy()
        self._vins = _HashTable(rows[np.tile(keep, 4)], vin_keys.filter(np.tile(keep, 4)))
        return self

    def query(
        self, record: Mapping[str, Any], *, threshold: float = 0.8, limit: int = 10
    ) -> list[Candidate]:
        """Vehicle alerts that may be this vehicle, best first.

        Args:
            record: ``plate``, ``plate_country``, ``vin``, ``make``, ``model``, ``colour``,
                ``year``.
            threshold: Smallest match probability returned.
            limit: Most candidates returned.

        Returns:
            The candidates (``agreeing`` = the fields that agreed).
        """
        if self._plates is None or self._vins is None:
            return []
        parts: list[Rows] = []
        body = vehicles.plate_parts(record.get("plate"), record.get("plate_country"))[1]
        if body:
            parts.append(self._plates.lookup(body))
            # A query written with its class prefix but no country: try the plate without it.
            raw = vehicles.plate_parts(record.get("plate"))[1]
            m = re.match(r"^[A-Z]{1,3}(?=\d)", raw)
            if m and not record.get("plate_country"):
                parts.append(self._plates.lookup(raw[m.end() :]))
        vin = vehicles.canonical_vin(record.get("vin"))
        if len(vin) >= 6:
            keys = [f"s:{vin[-6:]}"]
            if len(vin) == 17:
                keys += [f"v:{vin}", f"h:{vin[:9]}", f"t:{vin[9:]}"]
            parts.append(self._vins.lookup(keys))
        if not parts:
            return []
        rows = np.unique(np.concatenate(parts))
        rows = rows[self._active[rows]][: self.max_candidates]
        scored = []
        for row, cand in zip(rows.tolist(), self._records[rows.tolist()].to_dicts(), strict=True):
            s = vehicles.score_vehicle(record, cand)
            scored.append((int(self._keys[row]), s.probability, s.match_weight, s.agreeing))
        return _ranked(scored, threshold, limit)
