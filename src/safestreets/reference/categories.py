"""Mapping of Spanish local crime categories to the ICCS.

The curated table ``categories_es.csv`` holds the common category labels of Central American
police, prosecutors and forensic institutes, with the ICCS code each maps to, the quality of
the correspondence and optional weapon / place-of-occurrence hints. Rows for a specific
country override the region-wide rows (``country == "*"``); for instance Costa Rica's OIJ
uses *asalto* for robbery and *robo* for theft with force on things.

``mapping_quality`` is one of ``exact``, ``broader`` (the local category is broader than the
ICCS code), ``narrower`` (the local category is narrower, e.g. *feminicidio* within 0101) or
``ambiguous`` (partial overlap or depends on case details). Rows with an empty ICCS code are
known labels that are deliberately not mapped (e.g. missing-person reports).
"""

from __future__ import annotations

import re
from functools import lru_cache

import polars as pl

from safestreets import schema
from safestreets.errors import InputError, ReferenceError_
from safestreets.reference._data import read_csv
from safestreets.reference.geo import normalise_name
from safestreets.reference.iccs import is_iccs_code

__all__ = [
    "MAPPING_QUALITIES",
    "PLACE_TYPES",
    "WEAPONS",
    "category_table",
    "map_categories",
    "normalise_category",
]

# The controlled vocabularies are those of the canonical record (one schema).
MAPPING_QUALITIES: tuple[str, ...] = schema.MAPPING_QUALITY
WEAPONS: tuple[str, ...] = schema.WEAPONS
PLACE_TYPES: tuple[str, ...] = schema.PLACE_TYPES
CONTEXTS: tuple[str, ...] = schema.CONTEXTS
_OUT_COLS = ("iccs_code", "mapping_quality", "weapon", "place_type", "context")
_Entry = tuple[str | None, str | None, str | None, str | None, str | None]


def normalise_category(s: str) -> str:
    """Normalise a category label for matching (same as :func:`geo.normalise_name`).

    Args:
        s: A label such as ``"EXTORSIÓN"`` or ``"Robo a bus/microbús"``.

    Returns:
        Lower-case, accent-free text with punctuation and whitespace collapsed to single spaces.
    """
    return normalise_name(s)


@lru_cache(maxsize=1)
def category_table() -> pl.DataFrame:
    """Return the curated Spanish category -> ICCS table.

    Returns:
        Columns ``term`` (as written), ``term_norm`` (:func:`normalise_category` of ``term``),
        ``country`` (ISO2 or ``*``), ``iccs_code`` (null for deliberately unmapped labels),
        ``mapping_quality``, ``weapon``, ``place_type``, ``context`` (homicide context, e.g.
        ``gender_related`` for femicide), ``notes``; empty values are null.
    """
    return read_csv("categories_es.csv", {})


_ES_END = re.compile(r"(?<=[nrlsdzj])es$")


def _singular_word(w: str) -> str:
    if len(w) <= 4:
        return w
    if _ES_END.search(w):
        return w[:-2]
    if w[-1] == "s" and w[-2] in "aeo":
        return w[:-1]
    return w


def _singular_key(norm: str) -> str:
    """Crude Spanish singularisation of every word (``robos a buses`` -> ``robo a bus``).

    Applied to both the table terms and the input labels, it only has to be consistent.
    """
    return " ".join(_singular_word(w) for w in norm.split(" "))


def _entries(df: pl.DataFrame) -> dict[str, _Entry]:
    cols = ["term_norm", *_OUT_COLS]
    return {r[0]: (r[1], r[2], r[3], r[4], r[5]) for r in df.select(cols).iter_rows()}


class _Lookup:
    def __init__(self, layers: list[dict[str, _Entry]]) -> None:
        # Later layers win: "*" rows, then country rows, then overrides.
        self.exact: dict[str, _Entry] = {}
        for layer in layers:
            self.exact.update(layer)
        self.singular: dict[str, _Entry] = {}
        for key, entry in self.exact.items():
            skey = _singular_key(key)
            # On a collision prefer the entry whose exact key is already the singular form.
            if skey not in self.singular or key == skey:
                self.singular[skey] = entry

    def get(self, value: str) -> _Entry | None:
        norm = normalise_name(value)
        hit = self.exact.get(norm)
        if hit is None:
            hit = self.singular.get(_singular_key(norm))
        return hit


def _check_country_code(country: str) -> str:
    code = country.strip().upper() if isinstance(country, str) else ""
    if code != "*" and not re.fullmatch(r"[A-Z]{2}", code):
        raise ReferenceError_(
            f"invalid country code {country!r}",
            hint="use an ISO 3166-1 alpha-2 code such as 'GT', or None for region-wide rows",
        )
    return code


@lru_cache(maxsize=16)
def _base_layers(country: str | None) -> tuple[dict[str, _Entry], ...]:
    t = category_table()
    layers = [_entries(t.filter(pl.col("country") == "*"))]
    if country is not None and country != "*":
        layers.append(_entries(t.filter(pl.col("country") == country)))
    return tuple(layers)


@lru_cache(maxsize=16)
def _base_lookup(country: str | None) -> _Lookup:
    return _Lookup(list(_base_layers(country)))


def _override_layer(overrides: pl.DataFrame) -> dict[str, _Entry]:
    if "term" not in overrides.columns or "iccs_code" not in overrides.columns:
        raise InputError(
            "category overrides need at least the columns 'term' and 'iccs_code'",
            hint="optional columns: mapping_quality, weapon, place_type, context",
        )
    df = overrides.select(
        pl.col("term").cast(pl.String),
        *[
            (pl.col(c) if c in overrides.columns else pl.lit(None)).cast(pl.String).alias(c)
            for c in _OUT_COLS
        ],
    ).filter(pl.col("term").is_not_null())
    for col, allowed in (
        ("mapping_quality", MAPPING_QUALITIES),
        ("weapon", WEAPONS),
        ("place_type", PLACE_TYPES),
        ("context", CONTEXTS),
    ):
        bad = sorted(set(df[col].drop_nulls().to_list()) - set(allowed))
        if bad:
            raise InputError(
                f"invalid {col} value(s) in category overrides: {', '.join(map(repr, bad))}",
                hint=f"allowed: {', '.join(allowed)}",
            )
    bad_codes = sorted(
        c for c in set(df["iccs_code"].drop_nulls().to_list()) if not is_iccs_code(c)
    )
    if bad_codes:
        raise ReferenceError_(
            f"unknown ICCS code(s) in category overrides: {', '.join(map(repr, bad_codes))}",
            hint="ICCS codes are strings with leading zeros, e.g. '0101'",
        )
    out: dict[str, _Entry] = {}
    for term, code, quality, weapon, place, context in df.iter_rows():
        out[normalise_name(term)] = (code, quality, weapon, place, context)
    return out


def map_categories(
    values: pl.Series,
    country: str | None = None,
    overrides: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Map local category labels to ICCS codes.

    Labels are matched on :func:`normalise_category` (case, accents, punctuation and spacing
    are ignored), then, if that fails, on a crude singular form (``"Robos a buses"`` matches
    ``"Robo a bus"``). Precedence: ``overrides`` > rows of ``country`` > region-wide rows.
    Each distinct label is looked up once.

    Args:
        values: Series of local labels (any dtype castable to string).
        country: ISO2 code of the source country (enables its specific rows, e.g. ``"CR"``);
            ``None`` uses the region-wide rows only.
        overrides: Optional source-specific table with columns ``term`` and ``iccs_code``
            and optionally ``mapping_quality``, ``weapon``, ``place_type``, ``context``; a null
            ``iccs_code`` marks a label as deliberately unmapped.

    Returns:
        A DataFrame with one row per input value (same order) and columns ``local_category``
        (the input, verbatim), ``iccs_code``, ``mapping_quality``, ``weapon``, ``place_type``,
        ``context``
        (all null for unknown labels and null inputs).

    Raises:
        ReferenceError_: If ``country`` is not a two-letter code or an override uses an
            unknown ICCS code.
        InputError: If ``overrides`` lacks required columns or has invalid values.
    """
    code = _check_country_code(country) if country is not None else None
    if overrides is None:
        lookup = _base_lookup(code)
    else:
        lookup = _Lookup([*_base_layers(code), _override_layer(overrides)])
    local = values.cast(pl.String).alias("local_category")
    distinct = local.drop_nulls().unique().to_list()
    rows: dict[str, list[str | None]] = {"local_category": [], **{c: [] for c in _OUT_COLS}}
    for v in distinct:
        hit = lookup.get(v)
        if hit is None:
            continue
        rows["local_category"].append(v)
        for col, x in zip(_OUT_COLS, hit, strict=True):
            rows[col].append(x)
    mapping = pl.DataFrame(rows, schema={c: pl.String for c in rows})
    return local.to_frame().join(mapping, on="local_category", how="left", maintain_order="left")
