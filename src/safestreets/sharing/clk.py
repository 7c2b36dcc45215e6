"""Privacy-preserving person encodings: cryptographic long-term keys (CLKs).

A country that may not share names in plain text contributes each person alert as a CLK
(Schnell, Bachteler & Reiher 2011): a Bloom filter of ``bits`` bits (1024 by default) into
which the bigrams of the person's normalised fields are hashed with a secret key shared by the
member countries. Two encodings of similar records share most of their set bits, so they are
compared by the Dice coefficient ``2|A∧B| / (|A|+|B|)`` without ever being decoded; a party
without the key cannot even test a guessed name.

Why NumPy and :mod:`hmac` instead of a library: the maintained CLK libraries (``clkhash`` and
``anonlink`` of the Data61 Anonlink project) were last released in 2023 and pin
``cryptography<41``, which conflicts with the current security fixes the rest of the stack
needs. What they do is small: HMAC-SHA256 from the standard library gives the keyed hashes,
and NumPy ``uint64`` arrays hold the filters and count bits (``np.bitwise_count``).

How a record is encoded (:func:`encode`):

* Each field of :data:`DEFAULT_FIELDS` is read from the normalised columns
  (``names.normalise_persons``): folded names become padded bigrams (``"_j", "jo", "os",
  "se", "e_"`` for ``jose``); dates, sex and similar codes become whole tokens.
* Tokens are salted with the field name (``"surname_1\\x1f" + bigram``) so the same bigram in
  two fields sets different bits, and hashed with *double hashing* (Kirsch & Mitzenmacher
  2006): two keyed hashes ``h1 = HMAC-SHA256(K1, token)``, ``h2 = HMAC-SHA256(K2, token)``,
  with ``K1``, ``K2`` derived from the shared key, give the ``k`` positions
  ``(h1 + i*h2) mod bits`` for ``i < k``.
* ``k`` is chosen per field (:class:`FieldSpec`), so that each field's share of the set bits
  roughly follows how much it says about identity (its log2 m/u weight in the person model):
  surnames and given names carry most, the date parts a fixed amount each, sex very little.
  With the defaults a typical record sets about 40 % of 1024 bits, where Bloom-filter
  comparisons work best (neither too sparse to tolerate a typo nor saturated).

Every distinct (field, token) is hashed once and every distinct field value is turned into
its bit row once, so a million records cost a few seconds, not a million HMAC loops.

Blocking (:func:`block_keys`): comparing a query with every stored encoding costs a scan, so
each record also gets a few keyed blocking keys (keyed BLAKE2b MACs of phonetic name keys with
the birth year, and so on); an index only compares encodings that share one. Like the encodings they
reveal nothing without the key, but they do reveal which records share a key: a known
limitation of blocked CLK linkage (as is the frequency attack on unhardened CLKs of
very common names) that the member countries accept by sharing them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from safestreets.errors import InputError

__all__ = [
    "DEFAULT_BLOCK_RULES",
    "DEFAULT_FIELDS",
    "FieldSpec",
    "block_key_string",
    "block_key_strings",
    "block_keys",
    "dice",
    "encode",
    "encode_record",
    "from_base64",
    "from_bytes",
    "link_encodings",
    "parse_block_strings",
    "popcount",
    "to_base64",
    "to_bytes",
]

Bits = npt.NDArray[np.uint64]


@dataclass(frozen=True)
class FieldSpec:
    """One field of the encoding.

    Attributes:
        name: The salt (and the label of the field).
        column: The normalised column it is read from.
        k: Bits set per token.
        kind: ``"bigrams"`` (padded bigrams of text), or ``"token"`` (the whole value).
    """

    name: str
    column: str
    k: int
    kind: Literal["bigrams", "token"] = "bigrams"


#: The default fields and their k. Names: k per bigram; a name of n letters gives n + 1
#: bigrams, so a 6-letter surname sets up to 7 * k bits. Dates and codes: one token each.
DEFAULT_FIELDS: Final[tuple[FieldSpec, ...]] = (
    FieldSpec("given", "given_n", 10),
    FieldSpec("surname_1", "surname_1_n", 12),
    FieldSpec("surname_2", "surname_2_n", 10),
    FieldSpec("married", "married_n", 6),
    FieldSpec("dob_year", "dob_year", 40, "token"),
    FieldSpec("dob_month", "dob_month", 30, "token"),
    FieldSpec("dob_day", "dob_day", 30, "token"),
    FieldSpec("sex", "sex_n", 8, "token"),
    FieldSpec("national_id", "id_n", 6),
    FieldSpec("municipality", "municipality_n", 4),
    FieldSpec("address", "address_n", 4),
)

#: Blocking rules: name -> the normalised columns whose values together make the key. Two
#: derived columns may be named too: ``name_pair`` (the phonetic keys of the first given name
#: and the first surname in sorted order, so a swap of the two still shares a key) and
#: ``address_head`` (the first two words of the folded address: house number and street).
#: Measured on FEBRL4 (heavily corrupted duplicates): these rules keep 99.3 % of the true pairs
#: with 7,900 candidate pairs out of 25 million.
DEFAULT_BLOCK_RULES: Final[Mapping[str, tuple[str, ...]]] = {
    "names": ("name_pair",),
    "surname_year": ("surname_1_ph", "dob_year"),
    "given_year": ("given_1_ph", "dob_year"),
    "dob": ("dob",),
    "surnames": ("surname_1_ph", "surname_2_ph"),
    "surname_municipality": ("surname_1_ph", "municipality_n"),
    "given_municipality": ("given_1_ph", "municipality_n"),
    "address": ("address_head",),
    "national_id": ("id_n",),
}


def _subkey(key: bytes, label: str) -> bytes:
    return hmac.new(key, b"safestreets-clk/" + label.encode(), hashlib.sha256).digest()


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) < 16:
        raise InputError(
            "the encoding key must be at least 16 bytes",
            hint="use the key file shared by the member countries",
        )


def _positions(token: bytes, k1: bytes, k2: bytes, k: int, bits: int) -> npt.NDArray[np.int64]:
    h1 = int.from_bytes(hmac.digest(k1, token, "sha256")[:8], "little")
    h2 = int.from_bytes(hmac.digest(k2, token, "sha256")[:8], "little")
    h2 |= 1  # odd step: with bits a power of two, the k positions never repeat early
    return np.array([(h1 + i * h2) % bits for i in range(k)], dtype=np.int64)


def _token_frame(uniques: pl.Series, kind: str) -> pl.DataFrame:
    """``u`` (index of the distinct value) and ``t`` (one of its tokens), vectorised.

    Bigrams are those of the value padded with ``_`` at both ends (``_jose_`` gives ``_j``,
    ``jo``, ``os``, ``se``, ``e_``); a ``token`` field is its whole value.
    """
    frame = pl.DataFrame({"t": uniques}).with_row_index("u")
    if kind == "token":
        return frame
    padded = pl.concat_str([pl.lit("_"), pl.col("t"), pl.lit("_")])
    # Each character joined to the next one (the last has none: null, dropped).
    pairs = padded.str.split("").list.eval(pl.concat_str([pl.element(), pl.element().shift(-1)]))
    return frame.select("u", pairs.alias("t")).explode("t").drop_nulls("t")


def _text_values(features: pl.DataFrame, column: str) -> pl.Series:
    """A column as text ("" and missing columns read as null), or a derived column."""
    if column == "name_pair":
        a, b = _text_values(features, "given_1_ph"), _text_values(features, "surname_1_ph")
        both = pl.col("a").is_not_null() & pl.col("b").is_not_null()
        pair = pl.DataFrame([a.alias("a"), b.alias("b")]).select(
            pl.when(both).then(
                pl.concat_str(
                    [pl.min_horizontal("a", "b"), pl.max_horizontal("a", "b")], separator="\x1f"
                )
            )
        )
        return pair.to_series().alias(column)
    if column == "address_head":
        addr = _text_values(features, "address_n")
        head = addr.str.split(" ").list.slice(0, 2).list.join(" ")
        return head.replace("", None).alias(column)
    if column not in features.columns:
        if column == "address_n" and "address" in features.columns:
            from safestreets.sharing.names import fold_expr

            folded = features.select(fold_expr(pl.col("address").cast(pl.String))).to_series()
            return folded.replace("", None).alias(column)
        return pl.Series(column, [None] * features.height, dtype=pl.String)
    s = features.get_column(column)
    if s.dtype == pl.List(pl.String):
        raise InputError(f"column {column} holds lists; encode single values")
    return s.cast(pl.String).replace("", None)


def encode(
    features: pl.DataFrame,
    key: bytes,
    *,
    bits: int = 1024,
    fields: Sequence[FieldSpec] = DEFAULT_FIELDS,
) -> Bits:
    """Encode normalised person records as CLKs.

    Args:
        features: Normalised records (``names.normalise_persons`` output; missing columns
            count as empty).
        key: The secret shared by the member countries (16 bytes or more).
        bits: Length of each encoding, a multiple of 64 (1024 by default).
        fields: What to encode (see :data:`DEFAULT_FIELDS`); both sides must use the same.

    Returns:
        An array of shape ``(n, bits // 64)``, dtype ``uint64``.

    Raises:
        InputError: A short key or a length that is not a multiple of 64.
    """
    _check_key(key)
    if bits <= 0 or bits % 64:
        raise InputError(f"encodings must have a multiple of 64 bits, not {bits}")
    words = bits // 64
    k1, k2 = _subkey(key, "h1"), _subkey(key, "h2")
    out = np.zeros((features.height, words), dtype=np.uint64)
    for spec in fields:
        values = _text_values(features, spec.column)
        if values.null_count() == len(values):
            continue
        # Distinct values, and each record's index among them (nulls stay null).
        uniques = values.drop_nulls().unique().sort()
        index = values.rank("dense").cast(pl.Int64) - 1
        table = _value_table(uniques, spec, k1, k2, bits)
        idx = index.to_numpy()
        rows = np.nonzero(~index.is_null().to_numpy())[0]
        out[rows] |= table[idx[rows].astype(np.int64)]
    return out


def _value_table(
    uniques: pl.Series, spec: FieldSpec, k1: bytes, k2: bytes, bits: int, chunk: int = 65536
) -> Bits:
    """The bit row of each distinct value of one field.

    Each distinct token is hashed once (HMAC in Python: a few thousand per field); the bits
    of a chunk of values are set in a boolean matrix by one fancy assignment and packed into
    64-bit words (bit ``p`` is bit ``p % 64`` of word ``p // 64``).
    """
    words = bits // 64
    positions: list[npt.NDArray[np.int64]] = []
    token_id: dict[str, int] = {}
    tables = []
    for start in range(0, len(uniques), chunk):
        part = uniques.slice(start, chunk)
        tokens = _token_frame(part, spec.kind)
        for tok in tokens.get_column("t").unique().to_list():
            if tok not in token_id:
                token_id[tok] = len(positions)
                salted = f"{spec.name}\x1f{tok}".encode()
                positions.append(_positions(salted, k1, k2, spec.k, bits))
        known = pl.Series(list(token_id), dtype=pl.String)
        ids = pl.Series(range(len(token_id)), dtype=pl.Int64)
        tok_idx = tokens.get_column("t").replace_strict(known, ids, return_dtype=pl.Int64)
        pos = np.stack(positions)[tok_idx.to_numpy()]
        u = tokens.get_column("u").to_numpy().astype(np.int64)
        matrix = np.zeros((len(part), bits), dtype=bool)
        matrix[u[:, None], pos] = True
        packed = np.packbits(matrix, axis=1, bitorder="little")
        tables.append(packed.view("<u8").astype(np.uint64).reshape(len(part), words))
    if not tables:
        return np.zeros((0, words), dtype=np.uint64)
    return np.concatenate(tables)


def _record_value(record: Mapping[str, Any], column: str) -> str | None:
    """One record's text value of a column, read as :func:`_text_values` reads a frame."""
    if column == "name_pair":
        a, b = _record_value(record, "given_1_ph"), _record_value(record, "surname_1_ph")
        return None if a is None or b is None else "\x1f".join(sorted((a, b)))
    if column == "address_head":
        addr = _record_value(record, "address_n")
        return None if addr is None else (" ".join(addr.split(" ")[:2]) or None)
    if column == "address_n" and column not in record and record.get("address") is not None:
        from safestreets.sharing.names import fold

        return fold(str(record["address"])) or None
    v = record.get(column)
    if v is None or isinstance(v, list | tuple):
        return None
    return str(v) or None


@lru_cache(maxsize=65536)
def _cached_positions(
    token: bytes, k1: bytes, k2: bytes, k: int, bits: int
) -> npt.NDArray[np.int64]:
    return _positions(token, k1, k2, k, bits)


def encode_record(
    record: Mapping[str, Any],
    key: bytes,
    *,
    bits: int = 1024,
    fields: Sequence[FieldSpec] = DEFAULT_FIELDS,
) -> Bits:
    """Encode one normalised record: the same bits as :func:`encode`, without a frame.

    For the online query path (a one-row frame through :func:`encode` costs milliseconds of
    Polars overhead; this costs tens of microseconds once the record's tokens are cached).

    Args:
        record: One normalised record (``names.normalise_person`` output, or
            ``index.normalise_query``; ``address_n`` is folded from ``address`` if absent).
        key: The shared secret.
        bits: As in :func:`encode`.
        fields: As in :func:`encode`.

    Returns:
        The encoding, shape ``(bits // 64,)``.
    """
    _check_key(key)
    if bits <= 0 or bits % 64:
        raise InputError(f"encodings must have a multiple of 64 bits, not {bits}")
    k1, k2 = _subkey(key, "h1"), _subkey(key, "h2")
    row = np.zeros(bits // 64, dtype=np.uint64)
    for spec in fields:
        value = _record_value(record, spec.column)
        if value is None:
            continue
        if spec.kind == "token":
            tokens = [value]
        else:
            padded = f"_{value}_"
            tokens = [padded[i : i + 2] for i in range(len(padded) - 1)]
        for tok in tokens:
            pos = _cached_positions(f"{spec.name}\x1f{tok}".encode(), k1, k2, spec.k, bits)
            np.bitwise_or.at(
                row, pos >> 6, np.left_shift(np.uint64(1), (pos & 63).astype(np.uint64))
            )
    return row


def block_key_string(
    record: Mapping[str, Any],
    key: bytes,
    *,
    rules: Mapping[str, Sequence[str]] = DEFAULT_BLOCK_RULES,
) -> str | None:
    """One normalised record's blocking keys as :func:`block_key_strings` writes them.

    Args:
        record: One normalised record (as for :func:`encode_record`).
        key: The shared secret.
        rules: As in :func:`block_keys`.

    Returns:
        Space-separated 16-digit hex keys, or None when the record has none.
    """
    _check_key(key)
    kb = _subkey(key, "block")
    out = []
    for name, columns in rules.items():
        values = [_record_value(record, c) for c in columns]
        if any(v is None for v in values):
            continue
        text = f"{name}\x1e" + "\x1f".join(v for v in values if v is not None)
        digest = hashlib.blake2b(text.encode(), key=kb, digest_size=8).digest()
        out.append(f"{int.from_bytes(digest, 'little'):016x}")
    return " ".join(out) or None


def popcount(a: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """Number of set bits of each row (last axis) of a ``uint64`` array.

    Args:
        a: Encodings, shape ``(..., words)``.

    Returns:
        Bit counts, shape ``(...)``.
    """
    if hasattr(np, "bitwise_count"):  # NumPy 2
        return np.bitwise_count(a).sum(axis=-1, dtype=np.int64)
    as_bytes = a.view(np.uint8)  # pragma: no cover - NumPy 1.26 fallback
    return _BYTE_BITS[as_bytes].reshape(*a.shape, 8).sum(axis=(-1, -2), dtype=np.int64)


_BYTE_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)


def dice(a: Bits, b: Bits) -> npt.NDArray[np.float64]:
    """Dice coefficients ``2|A∧B| / (|A|+|B|)``.

    Args:
        a: One encoding ``(words,)``, or encodings ``(n, words)``.
        b: Encodings ``(m, words)`` compared with ``a`` (one against many), or ``(n, words)``
            compared row by row.

    Returns:
        The coefficients, shape ``(m,)`` or ``(n,)``; 0 where both encodings are empty.
    """
    a = np.asarray(a, dtype=np.uint64)
    b = np.asarray(b, dtype=np.uint64)
    if b.ndim == 1:
        b = b[None, :]
    if a.shape[-1] != b.shape[-1]:
        raise InputError(
            f"encodings of different lengths ({a.shape[-1] * 64} and {b.shape[-1] * 64} bits)",
            hint="both sides must encode with the same number of bits",
        )
    inter = popcount(a & b)
    total = popcount(a) + popcount(b)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(total > 0, 2.0 * inter / np.maximum(total, 1), 0.0)
    return np.asarray(out, dtype=np.float64)


def block_keys(
    features: pl.DataFrame,
    key: bytes,
    *,
    rules: Mapping[str, Sequence[str]] = DEFAULT_BLOCK_RULES,
) -> pl.DataFrame:
    """Keyed blocking keys of normalised records.

    Args:
        features: Normalised records (``names.normalise_persons`` output).
        key: The shared secret.
        rules: Rule name -> the columns that together make the key.

    Returns:
        One ``UInt64`` column per rule: an 8-byte keyed BLAKE2b MAC of ``rule | values`` with
        a key derived from ``key``, null where any of the rule's columns is null.
    """
    _check_key(key)
    kb = _subkey(key, "block")
    cols = []
    for name, columns in rules.items():
        frame = pl.DataFrame([_text_values(features, c).alias(c) for c in columns])
        text = frame.select(
            pl.concat_str([pl.col(c) for c in columns], separator="\x1f").alias(name)
        ).to_series()
        uniques = text.drop_nulls().unique()
        prefix = f"{name}\x1e"
        # Keyed BLAKE2b (RFC 7693's MAC mode): as keyed as HMAC-SHA256 and three times
        # faster, which matters here (one digest per distinct key value: millions).
        digests = b"".join(
            hashlib.blake2b((prefix + u).encode(), key=kb, digest_size=8).digest()
            for u in uniques.to_list()
        )
        hashes = pl.Series(np.frombuffer(digests, dtype="<u8").astype(np.uint64))
        cols.append(text.replace_strict(uniques, hashes, default=None, return_dtype=pl.UInt64))
    return pl.DataFrame(cols) if cols else pl.DataFrame()


def _hex16(values: pl.Series) -> pl.Series:
    """64-bit integers as 16 lower-case hex digits (nulls stay null), vectorised."""
    x = values.fill_null(0).to_numpy().astype(np.uint64)
    shifts = np.arange(60, -4, -4, dtype=np.uint64)
    nibbles = ((x[:, None] >> shifts) & np.uint64(15)).astype(np.uint8)
    chars = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles]
    text = pl.Series(values.name, np.ascontiguousarray(chars).view("S16").ravel())
    out = text.cast(pl.String)
    return out.set(values.is_null(), None) if values.null_count() else out


def block_key_strings(blocks: pl.DataFrame) -> list[str | None]:
    """Blocking keys as text for storage: each row's keys as space-separated 16-digit hex.

    Args:
        blocks: Output of :func:`block_keys`.

    Returns:
        One string per row (None when the row has no key).
    """
    if not blocks.columns:
        return [None] * blocks.height
    hexes = pl.DataFrame([_hex16(blocks.get_column(c)) for c in blocks.columns])
    out = hexes.select(pl.concat_str(pl.all(), separator=" ", ignore_nulls=True)).to_series()
    return [s or None for s in out.to_list()]


def parse_block_strings(values: Sequence[str | None]) -> list[npt.NDArray[np.uint64]]:
    """The inverse of :func:`block_key_strings`: each row's keys as an array.

    Raises:
        InputError: A key that is not 16 hexadecimal digits.
    """
    out = []
    for v in values:
        parts = (v or "").split()
        try:
            out.append(np.array([int(p, 16) for p in parts], dtype=np.uint64))
        except ValueError as exc:
            raise InputError(
                f"bad blocking key in {v!r}", hint="keys are 16-digit hexadecimal numbers"
            ) from exc
    return out


def to_bytes(row: Bits) -> bytes:
    """One encoding as bytes (little-endian 64-bit words) for a binary column."""
    return np.ascontiguousarray(row, dtype="<u8").tobytes()


def from_bytes(b: bytes) -> Bits:
    """One encoding from :func:`to_bytes`.

    Raises:
        InputError: A length that is not a whole number of 64-bit words.
    """
    if len(b) % 8 or not b:
        raise InputError("an encoding is a whole, non-zero number of 64-bit words")
    return np.frombuffer(b, dtype="<u8").astype(np.uint64)


def to_base64(row: Bits) -> str:
    """One encoding as base64 text (JSON, CSV)."""
    return base64.b64encode(to_bytes(row)).decode("ascii")


def from_base64(text: str) -> Bits:
    """One encoding from :func:`to_base64`.

    Raises:
        InputError: Text that is not base64 of whole 64-bit words.
    """
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:
        raise InputError("the encoding is not valid base64") from exc
    return from_bytes(raw)


def _candidate_pairs(
    left_blocks: pl.DataFrame, right_blocks: pl.DataFrame
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    frames = []
    for c in left_blocks.columns:
        if c not in right_blocks.columns:
            continue
        lf = left_blocks.select(pl.col(c).alias("b")).with_row_index("l").drop_nulls()
        rf = right_blocks.select(pl.col(c).alias("b")).with_row_index("r").drop_nulls()
        frames.append(lf.join(rf, on="b").select("l", "r"))
    if not frames:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = pl.concat(frames).unique()
    return pairs["l"].to_numpy().astype(np.int64), pairs["r"].to_numpy().astype(np.int64)


def _unpack(bits: Bits) -> npt.NDArray[np.float32]:
    """Encodings as 0/1 float32 rows, so that a matrix product counts common bits."""
    as_bytes = np.ascontiguousarray(bits, dtype="<u8").view(np.uint8)
    return np.unpackbits(as_bytes, axis=1).astype(np.float32)


def _all_pairs_above(
    left: Bits, right: Bits, threshold: float, *, left_chunk: int = 2048, right_chunk: int = 16384
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Every pair with Dice >= threshold, all against all.

    The common bits of all pairs of two chunks are one matrix product of their 0/1 bit
    matrices (BLAS; exact in float32 below 2**24 bits), an order of magnitude faster than
    popcounts of every pair's AND; chunks bound the memory (about 200 MB).
    """
    pl_, pr = popcount(left).astype(np.float32), popcount(right).astype(np.float32)
    li, ri, dv = [], [], []
    for rs in range(0, right.shape[0], right_chunk):
        rbits = _unpack(right[rs : rs + right_chunk])
        rcount = pr[rs : rs + right_chunk]
        for ls in range(0, left.shape[0], left_chunk):
            inter = _unpack(left[ls : ls + left_chunk]) @ rbits.T
            total = pl_[ls : ls + left_chunk, None] + rcount[None, :]
            d = 2.0 * inter / np.maximum(total, 1.0)
            a, b = np.nonzero(d >= threshold)
            li.append(a + ls)
            ri.append(b + rs)
            dv.append(d[a, b].astype(np.float64))
    if not li:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return (
        np.concatenate(li).astype(np.int64),
        np.concatenate(ri).astype(np.int64),
        np.concatenate(dv),
    )


def _greedy_one_to_one(
    li: npt.NDArray[np.int64], ri: npt.NDArray[np.int64], d: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """Keep each record's best pair: pairs by falling Dice, taken while both sides are free
    (the greedy solver anonlink uses; ties broken by position, so the result is stable)."""
    order = np.lexsort((ri, li, -d))
    used_l: set[int] = set()
    used_r: set[int] = set()
    keep = np.zeros(len(d), dtype=bool)
    for i in order.tolist():
        a, b = int(li[i]), int(ri[i])
        if a in used_l or b in used_r:
            continue
        used_l.add(a)
        used_r.add(b)
        keep[i] = True
    return keep


def link_encodings(
    left_bits: Bits,
    right_bits: Bits,
    *,
    left_keys: Sequence[object] | npt.NDArray[np.generic] | pl.Series,
    right_keys: Sequence[object] | npt.NDArray[np.generic] | pl.Series,
    threshold: float = 0.6,
    left_blocks: pl.DataFrame | None = None,
    right_blocks: pl.DataFrame | None = None,
    one_to_one: bool = True,
) -> pl.DataFrame:
    """Link two sets of encodings by Dice coefficient (batch privacy-preserving linkage).

    Args:
        left_bits: Encodings ``(n, words)``.
        right_bits: Encodings ``(m, words)``.
        left_keys: The ``n`` record ids of the left side.
        right_keys: The ``m`` record ids of the right side.
        threshold: Smallest Dice coefficient of a link. The default 0.6 is for one-to-one
            linking: measured F1 0.992 (blocked) and 0.995 (all pairs) on FEBRL4 without the
            social security number, 0.997 on synthetic Central American records (precision
            0.998); 0.8 loses a tenth of the true pairs on FEBRL4's corrupted duplicates.
            Without one-to-one assignment use a higher threshold.
        left_blocks: :func:`block_keys` of the left records; with ``right_blocks`` only pairs
            sharing a key are compared. Without them every pair is compared (in chunks).
        right_blocks: Likewise for the right records.
        one_to_one: Keep at most one link per record (greedy, best Dice first), as when each
            side has no duplicates of its own.

    Returns:
        ``left_id``, ``right_id``, ``dice``, best first.

    Raises:
        InputError: Keys and encodings of different lengths, or encodings of different widths.
    """
    left_bits = np.asarray(left_bits, dtype=np.uint64)
    right_bits = np.asarray(right_bits, dtype=np.uint64)
    lk = pl.Series("left_id", left_keys)
    rk = pl.Series("right_id", right_keys)
    if len(lk) != left_bits.shape[0] or len(rk) != right_bits.shape[0]:
        raise InputError("each encoding needs one key (lengths differ)")
    if left_bits.shape[1] != right_bits.shape[1]:
        raise InputError("the two sides' encodings have different lengths")
    if (left_blocks is None) != (right_blocks is None):
        raise InputError("give blocking keys for both sides or for neither")
    if left_blocks is not None and right_blocks is not None:
        li, ri = _candidate_pairs(left_blocks, right_blocks)
        d = np.zeros(0)
        if len(li):
            parts = []
            for s in range(0, len(li), 1_000_000):
                parts.append(
                    dice(left_bits[li[s : s + 1_000_000]], right_bits[ri[s : s + 1_000_000]])
                )
            d = np.concatenate(parts)
        ok = d >= threshold
        li, ri, d = li[ok], ri[ok], d[ok]
    else:
        li, ri, d = _all_pairs_above(left_bits, right_bits, threshold)
    if one_to_one and len(d):
        keep = _greedy_one_to_one(li, ri, d)
        li, ri, d = li[keep], ri[keep], d[keep]
    order = np.lexsort((ri, li, -d))
    return pl.DataFrame(
        {
            "left_id": lk.gather(li[order]),
            "right_id": rk.gather(ri[order]),
            "dice": d[order],
        }
    )
