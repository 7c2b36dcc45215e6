"""The International Classification of Crime for Statistical Purposes (ICCS), version 1.0.

UNODC (2015), endorsed by the UN Statistical Commission. 320 codes in four levels: sections
(2 digits, ``01``-``11``), divisions (4), groups (5) and classes (6); every code begins with
its parent's code. Names are the official English and Spanish names of the structure; the
alphabetical indexes of both language versions are shipped too.

Codes are always strings (leading zeros matter: ``"0101"`` is intentional homicide).
"""

from __future__ import annotations

from functools import lru_cache

import polars as pl

from safestreets.errors import ReferenceError_
from safestreets.reference._data import read_csv

__all__ = [
    "ICCS_LEVEL_LENGTHS",
    "iccs_descendants",
    "iccs_index",
    "iccs_level",
    "iccs_name",
    "iccs_parent",
    "iccs_rollup",
    "iccs_rollup_series",
    "iccs_table",
    "is_iccs_code",
]

#: Length of an ICCS code at each level.
ICCS_LEVEL_LENGTHS: dict[int, int] = {1: 2, 2: 4, 3: 5, 4: 6}
_LANGS = ("es", "en")


@lru_cache(maxsize=1)
def iccs_table() -> pl.DataFrame:
    """Return the ICCS v1.0 structure.

    Returns:
        320 rows in classification order with columns ``code``, ``level`` (Int64, 1-4),
        ``parent`` (null for sections), ``section``, ``name_en``, ``name_es``, ``is_leaf``
        (Boolean) and ``residual_other`` (Boolean; the "Other ..." residual codes ending in 9).
    """
    df = read_csv("iccs_v1_0.csv", {"level": pl.Int64})
    return df.with_columns(
        (pl.col("is_leaf") == "1").alias("is_leaf"),
        (pl.col("residual_other") == "1").alias("residual_other"),
    )


@lru_cache(maxsize=1)
def _rows() -> dict[str, dict[str, object]]:
    return {r["code"]: r for r in iccs_table().iter_rows(named=True)}


@lru_cache(maxsize=1)
def _children() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for code, row in _rows().items():
        parent = row["parent"]
        if isinstance(parent, str):
            out.setdefault(parent, []).append(code)
    return out


def _row(code: str) -> dict[str, object]:
    row = _rows().get(code) if isinstance(code, str) else None
    if row is None:
        raise ReferenceError_(
            f"unknown ICCS code {code!r}",
            hint="ICCS v1.0 codes are strings of 2, 4, 5 or 6 digits with leading zeros, "
            "e.g. '0101' (intentional homicide); see safestreets.reference.iccs_table()",
        )
    return row


def is_iccs_code(code: str) -> bool:
    """Return whether ``code`` is an ICCS v1.0 code (exact string, leading zeros included).

    Args:
        code: Candidate code.

    Returns:
        ``True`` if the code exists in the structure.
    """
    return isinstance(code, str) and code in _rows()


def iccs_name(code: str, lang: str = "es") -> str:
    """Return the official name of an ICCS code.

    Args:
        code: ICCS code.
        lang: ``"es"`` (default) or ``"en"``.

    Returns:
        The name, e.g. ``"Homicidio intencional"`` for ``"0101"``.

    Raises:
        ReferenceError_: If the code is unknown.
        ValueError: If ``lang`` is not ``"es"`` or ``"en"``.
    """
    if lang not in _LANGS:
        raise ValueError(f"lang must be one of {_LANGS}, got {lang!r}")
    return str(_row(code)[f"name_{lang}"])


def iccs_level(code: str) -> int:
    """Return the level (1 section, 2 division, 3 group, 4 class) of an ICCS code.

    Raises:
        ReferenceError_: If the code is unknown.
    """
    return int(str(_row(code)["level"]))


def iccs_parent(code: str) -> str | None:
    """Return the parent code, or ``None`` for a section.

    Raises:
        ReferenceError_: If the code is unknown.
    """
    parent = _row(code)["parent"]
    return parent if isinstance(parent, str) else None


def _check_level(level: int) -> int:
    if level not in ICCS_LEVEL_LENGTHS:
        raise ValueError(f"ICCS level must be 1, 2, 3 or 4, got {level!r}")
    return level


def iccs_rollup(code: str, level: int) -> str:
    """Return the ancestor of ``code`` at ``level``.

    A code already at or above ``level`` (coarser) is returned unchanged, so rolling a mixed
    list of codes up to level 2 never invents finer codes.

    Args:
        code: ICCS code.
        level: Target level 1-4.

    Returns:
        The ancestor (or the code itself).

    Raises:
        ReferenceError_: If the code is unknown.
        ValueError: If ``level`` is not 1-4.

    Examples:
        >>> iccs_rollup("040111", 2)
        '0401'
        >>> iccs_rollup("04", 3)
        '04'
    """
    _check_level(level)
    _row(code)
    return code[: ICCS_LEVEL_LENGTHS[level]]


def iccs_rollup_series(codes: pl.Series, level: int) -> pl.Series:
    """Vectorised :func:`iccs_rollup`.

    Args:
        codes: String Series of ICCS codes; nulls stay null.
        level: Target level 1-4.

    Returns:
        A String Series of the same length and name.

    Raises:
        ReferenceError_: If any non-null value is not an ICCS code (up to five are listed).
        ValueError: If ``level`` is not 1-4.
    """
    _check_level(level)
    s = codes.cast(pl.String)
    distinct = s.drop_nulls().unique()
    unknown = sorted(set(distinct.to_list()) - _rows().keys())
    if unknown:
        raise ReferenceError_(
            f"{len(unknown)} unknown ICCS code(s) in column {codes.name!r}: "
            + ", ".join(repr(c) for c in unknown[:5]),
            hint="ICCS codes are strings with leading zeros, e.g. '0101'; was the column read "
            "as an integer?",
        )
    n = ICCS_LEVEL_LENGTHS[level]
    return s.str.slice(0, n).alias(codes.name)


def iccs_descendants(code: str) -> list[str]:
    """Return ``code`` and all codes below it, in classification order.

    Raises:
        ReferenceError_: If the code is unknown.
    """
    _row(code)
    out = [code]
    children = _children()
    stack = list(reversed(children.get(code, [])))
    while stack:
        c = stack.pop()
        out.append(c)
        stack.extend(reversed(children.get(c, [])))
    return out


@lru_cache(maxsize=2)
def iccs_index(lang: str = "es") -> pl.DataFrame:
    """Return the alphabetical index of the ICCS (Annex 2) in Spanish or English.

    Only entries whose code exists in the structure are kept; for the 14 entries per
    language whose printed code does not exist (errata of the publication), the suggested
    corrected code is used.

    Args:
        lang: ``"es"`` (default, 957 terms) or ``"en"`` (966 terms).

    Returns:
        Columns ``term`` and ``code``.

    Raises:
        ValueError: If ``lang`` is not ``"es"`` or ``"en"``.
    """
    if lang not in _LANGS:
        raise ValueError(f"lang must be one of {_LANGS}, got {lang!r}")
    return read_csv(f"iccs_index_{lang}.csv", {}).select("term", "code")
