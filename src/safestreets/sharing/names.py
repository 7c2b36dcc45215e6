"""Normalisation of person records that knows Hispanic names (docs/sharing.md, "How names are
normalised").

Everything runs on Polars expressions (``normalise_persons`` on 1,000,000 rows takes seconds); the
scalar functions ``fold`` and ``phonetic`` give the same answers for single values (the online
query path) and are kept in agreement with their expressions by property tests.

Why the phonetic key is written here: no maintained Python library implements a Spanish phonetic
algorithm. abydos (``PhoneticSpanish``, ``SpanishMetaphone``) was last released in January 2020,
works one string at a time in Python (too slow for a million rows) and follows Castilian
pronunciation, which keeps *z*/*c* apart from *s*; Central American Spanish has *seseo*. The key
below is a short list of regular-expression rules that Polars runs natively.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Final

import polars as pl

from safestreets.sharing.ids import check_ids, country_expr, read_reference_csv

#: Words dropped from given names and surnames ("María de los Ángeles", "de la Cruz").
PARTICLES: Final = ("de", "del", "la", "las", "los", "y")

#: Compound surnames that contain "de" and are not married forms (folded).
COMPOUND_SURNAMES: Final = (
    "ponce de leon",
    "montes de oca",
    "diaz de leon",
    "fernandez de cordoba",
    "nunez de balboa",
    "ruiz de alarcon",
    "perez de cuellar",
    "garcia de paredes",
)

#: First words of two-word surnames that are one surname ("San Martín"), never split in two.
_SURNAME_PREFIXES: Final = ("san", "santa", "santo", "mac", "mc", "van", "von", "da", "di", "le")

# Letters NFKD does not decompose, transliterated so that fold keeps only a-z and 0-9.
_TRANSLITERATE: Final = {
    "ß": "ss",
    "æ": "ae",
    "ø": "o",
    "œ": "oe",
    "ł": "l",
    "đ": "d",
    "ð": "d",
    "þ": "th",
    "ı": "i",
}

_DAYS: Final = {
    1: 31,
    2: 28,
    3: 31,
    4: 30,
    5: 31,
    6: 30,
    7: 31,
    8: 31,
    9: 30,
    10: 31,
    11: 30,
    12: 31,
}

_SEX: Final = {
    "m": "M",
    "h": "M",
    "v": "M",
    "masculino": "M",
    "masc": "M",
    "hombre": "M",
    "varon": "M",
    "male": "M",
    "man": "M",
    "f": "F",
    "femenino": "F",
    "fem": "F",
    "mujer": "F",
    "female": "F",
    "woman": "F",
}


@lru_cache(maxsize=1)
def _hypocorism_table() -> pl.DataFrame:
    return read_reference_csv("hypocorisms_es.csv")


def _load_hypocorisms() -> Mapping[str, str]:
    table = _hypocorism_table()
    return MappingProxyType(dict(zip(table["nickname"], table["canonical"], strict=True)))


#: Folded nickname or abbreviation -> canonical folded given name (``hypocorisms_es.csv``).
HYPOCORISMS: Final[Mapping[str, str]] = _load_hypocorisms()


# --- folding ---------------------------------------------------------------------------------


def fold(text: str | None) -> str:
    """Fold a name for comparison: lower case, accents and diaeresis removed, ñ -> n.

    Punctuation, hyphens and any character outside a-z and 0-9 become spaces; runs of spaces
    collapse and the ends are stripped. Letters that do not decompose are transliterated
    (ß -> ss, æ -> ae, ø -> o, ł -> l, ...); other scripts are dropped.

    Args:
        text: Any string, or None.

    Returns:
        The folded text ("" for None).

    Examples:
        >>> fold("  Peña-Núñez, María de los Ángeles ")
        'pena nunez maria de los angeles'
    """
    if text is None:
        return ""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).lower()
        text = "".join(c for c in text if not unicodedata.category(c).startswith("M"))
        for src, dst in _TRANSLITERATE.items():
            text = text.replace(src, dst)
    else:
        text = text.lower()
    return _NOT_ALNUM.sub(" ", text).strip()


_NOT_ALNUM: Final = re.compile(r"[^a-z0-9]+")


def fold_expr(expr: pl.Expr) -> pl.Expr:
    """``fold`` as a Polars expression (nulls stay null).

    Args:
        expr: A Utf8 expression.

    Returns:
        The folded expression.
    """
    return (
        expr.str.normalize("NFKD")
        .str.to_lowercase()
        .str.replace_all(r"\p{M}+", "")
        .str.replace_many(list(_TRANSLITERATE), list(_TRANSLITERATE.values()))
        .str.replace_all(r"[^a-z0-9]+", " ")
        .str.strip_chars()
    )


# --- phonetic key ----------------------------------------------------------------------------

#: The rules of the Spanish phonetic key, applied in this order to folded text (Rust regex
#: syntax, as Polars runs them; ``${1}`` is the first group). Upper-case letters in a
#: replacement are finished sounds that later rules leave alone.
PHONETIC_RULES: Final[tuple[tuple[str, str, str], ...]] = (
    (r"[^a-z]+", " ", "letters only (a digit separates words)"),
    (r"ph", "f", "ph sounds f"),
    (r"sh|ch", "X", "ch and sh: one sound"),
    (r"\bx([ei])", "J${1}", "x before e/i at the start of a word sounds j (Ximena, Ximénez)"),
    (r"\bx", "X", "x at the start of another word sounds sh (Mayan names: Xol, Xoc)"),
    (r"x", "KS", "x elsewhere sounds ks"),
    (r"ll", "Y", "yeísmo: ll and y alike"),
    (r"qu([ei])", "K${1}", "qu before e/i sounds k"),
    (r"gu([ei])", "G${1}", "gu before e/i sounds hard g"),
    (r"g([ei])", "J${1}", "g before e/i sounds j"),
    (r"c([ei])", "S${1}", "seseo: c before e/i sounds s"),
    (r"[ckq]", "K", "c, k, q otherwise sound k"),
    (r"[zs]", "S", "seseo: z and s alike"),
    (r"[vb]", "B", "b and v alike"),
    (r"w", "U", "w sounds u (Walter, Wilmer)"),
    (r"h", "", "h is silent"),
    (r"y([aeiou])", "Y${1}", "y before a vowel is a consonant"),
    (r"y", "I", "y otherwise is the vowel i (Ruy, Godoy)"),
    (r"n([Bp])", "M${1}", "n before b/v/p sounds m"),
)
_LETTERS: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PY_RULES: Final = tuple(
    (re.compile(pat), rep.replace("${1}", r"\g<1>")) for pat, rep, _ in PHONETIC_RULES
)
_DOUBLED: Final = re.compile(r"([A-Z])\1+")
_SPACES: Final = re.compile(r" +")


def phonetic(text: str | None) -> str:
    """A Spanish phonetic key (Central American pronunciation) of a name.

    The text is folded, then ``PHONETIC_RULES`` are applied in order, the result is upper-cased
    and runs of one letter collapse (rr -> R, ss -> S). Each word is keyed separately (spaces
    are kept). Vowels are kept: Spanish vowels are stable and dropping them merges too much.

    Args:
        text: A name (any case, accents allowed), or None.

    Returns:
        The key ("" for None or an empty name).

    Examples:
        >>> phonetic("González"), phonetic("Gonsales")
        ('GONSALES', 'GONSALES')
        >>> phonetic("Ximénez"), phonetic("Jiménez"), phonetic("Giménez")
        ('JIMENES', 'JIMENES', 'JIMENES')
    """
    t = fold(text)
    for pat, rep in _PY_RULES:
        t = pat.sub(rep, t)
    return _SPACES.sub(" ", _DOUBLED.sub(r"\1", t.upper())).strip()


def phonetic_expr(expr: pl.Expr) -> pl.Expr:
    """``phonetic`` as a Polars expression (nulls stay null).

    Args:
        expr: A Utf8 expression (folded or not).

    Returns:
        The phonetic keys.
    """
    out = fold_expr(expr)
    for pat, rep, _ in PHONETIC_RULES:
        out = out.str.replace_all(pat, rep)
    out = out.str.to_uppercase()
    for letter in _LETTERS:
        out = out.str.replace_all(f"{letter}{letter}+", letter)
    return out.str.replace_all(" +", " ").str.strip_chars()


# --- frame normalisation ---------------------------------------------------------------------

_PARTICLE_RE: Final = r"\b(?:" + "|".join(PARTICLES) + r")\b"


def _drop_particles(folded: pl.Expr) -> pl.Expr:
    return folded.str.replace_all(_PARTICLE_RE, " ").str.replace_all(" +", " ").str.strip_chars()


def _null_if_empty(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.is_not_null() & (expr != "")).then(expr)


def _given(raw: pl.Expr) -> pl.Expr:
    tokens = fold_expr(raw).str.split(" ")
    mapped = tokens.list.eval(
        pl.element()
        .filter(~pl.element().is_in(PARTICLES) & (pl.element() != ""))
        .replace(dict(HYPOCORISMS))
    )
    return _null_if_empty(mapped.list.join(" "))


def _dates(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Year, month, day of partial dates; invalid parts become null (see docs/sharing.md)."""
    s = raw.str.strip_chars()
    iso = s.str.extract_groups(r"^(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?(?:[ T].*)?$")
    dmy = s.str.extract_groups(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:[ T].*)?$")
    my = s.str.extract_groups(r"^(\d{1,2})[-/.](\d{4})$")

    def num(e: pl.Expr) -> pl.Expr:
        return e.cast(pl.Int32, strict=False)

    year = pl.coalesce(
        num(iso.struct.field("1")), num(dmy.struct.field("3")), num(my.struct.field("2"))
    )
    month = pl.coalesce(
        num(iso.struct.field("2")), num(dmy.struct.field("2")), num(my.struct.field("1"))
    )
    day = pl.coalesce(num(iso.struct.field("3")), num(dmy.struct.field("1")))
    return year, month, day


def _sex(raw: pl.Expr) -> pl.Expr:
    return fold_expr(raw).replace_strict(_SEX, default=None, return_dtype=pl.String)


_ALIAS_MARKERS: Final = (
    r"\(a\)|;|\||\ba\.?k\.?a\.?(?:\s|$)|\balias\b|\bconocid[oa]s? (?:como|por)\b|\bapodad[oa]\b"
    r"|\b(?:le |la )?dicen\b|\s+o\s+"
)


def _aliases(raw: pl.Expr) -> pl.Expr:
    parts = raw.str.to_lowercase().str.replace_all(_ALIAS_MARKERS, "\x1f").str.split("\x1f")
    return parts.list.eval(
        fold_expr(pl.element())
        .str.replace(r"^(?:el|la|los|las) (.+)$", "${1}")
        .filter(pl.element().is_not_null())
    ).list.eval(pl.element().filter(pl.element() != ""))


#: Columns ``normalise_persons`` adds, in order.
NORMALISED_COLUMNS: Final = (
    "given_n",
    "given_1",
    "given_2",
    "surname_1_n",
    "surname_2_n",
    "married_n",
    "given_1_ph",
    "surname_1_ph",
    "surname_2_ph",
    "dob_year",
    "dob_month",
    "dob_day",
    "dob",
    "sex_n",
    "id_n",
    "id_country_n",
    "id_status",
    "id_note",
    "nationality_n",
    "aliases_n",
    "municipality_n",
)


def normalise_persons(df: pl.DataFrame) -> pl.DataFrame:
    """Add the normalised columns of canonical person records (docs/sharing.md).

    Args:
        df: A frame with the canonical person columns (``schema.PERSON_COLUMNS``); missing
            columns are treated as null, other columns are kept.

    Returns:
        ``df`` with ``NORMALISED_COLUMNS`` added (replaced if present); the original columns
        are unchanged.
    """
    from safestreets.schema import PERSON_COLUMNS

    def raw(name: str) -> pl.Expr:
        if name in df.columns:
            return pl.col(name).cast(pl.String)
        return pl.lit(None, dtype=pl.String)

    tmp = {f"__{c}": raw(c) for c in PERSON_COLUMNS if c != "record_id"}
    work = df.with_columns(**tmp)

    # Given names.
    work = work.with_columns(given_n=_given(pl.col("__given_names")))
    given_tokens = pl.col("given_n").str.split(" ")
    work = work.with_columns(
        given_1=given_tokens.list.first(),
        given_2=_null_if_empty(given_tokens.list.slice(1).list.join(" ")),
    )

    # Surnames: married forms out, particles dropped, order repaired.
    s1, s2 = fold_expr(pl.col("__surname_1")), fold_expr(pl.col("__surname_2"))
    work = work.with_columns(__s1=s1, __s2=s2)
    widow = r"^(?:(.+?) )?(?:viuda|vda) de (.+)$"
    married = r"^(.+?) de (.+)$"

    def split(col: str) -> tuple[pl.Expr, pl.Expr]:
        c = pl.col(col)
        w = c.str.extract_groups(widow)
        m = c.str.extract_groups(married)
        is_widow = c.str.contains(widow)
        is_married = c.str.contains(married) & ~c.is_in(COMPOUND_SURNAMES)
        base = (
            pl.when(is_widow)
            .then(w.struct.field("1"))
            .when(is_married)
            .then(m.struct.field("1"))
            .otherwise(c)
        )
        spouse = (
            pl.when(is_widow).then(w.struct.field("2")).when(is_married).then(m.struct.field("2"))
        )
        return base, spouse

    b1, m1 = split("__s1")
    b2, m2 = split("__s2")
    work = work.with_columns(
        __b1=_null_if_empty(_drop_particles(b1)),
        __b2=_null_if_empty(_drop_particles(b2)),
        married_n=_null_if_empty(_drop_particles(pl.coalesce(m2, m1))),
    )
    # A lone second surname moves up; two words in the first surname with no second surname
    # are two surnames ("Pérez López"), unless hyphenated or a known one-surname form.
    shifted = pl.col("__b1").is_null() & pl.col("__b2").is_not_null()
    work = work.with_columns(
        __b1=pl.when(shifted).then(pl.col("__b2")).otherwise(pl.col("__b1")),
        __b2=pl.when(shifted).then(None).otherwise(pl.col("__b2")),
    )
    words = pl.col("__b1").str.split(" ")
    two = (
        pl.col("__b2").is_null()
        & (words.list.len() == 2)
        & ~pl.col("__surname_1").str.contains("-").fill_null(False)
        & ~words.list.first().is_in(_SURNAME_PREFIXES)
        & ~pl.col("__b1").is_in([_drop_compound(s) for s in COMPOUND_SURNAMES])
    )
    work = work.with_columns(
        surname_1_n=pl.when(two).then(words.list.first()).otherwise(pl.col("__b1")),
        surname_2_n=pl.when(two).then(words.list.last()).otherwise(pl.col("__b2")),
    )

    # Phonetic keys (computed once per distinct value: names repeat a lot).
    work = work.with_columns(
        given_1_ph=_null_if_empty(phonetic_expr(pl.col("given_1"))),
        surname_1_ph=_null_if_empty(phonetic_expr(pl.col("surname_1_n"))),
        surname_2_ph=_null_if_empty(phonetic_expr(pl.col("surname_2_n"))),
    )

    # Dates of birth.
    year, month, day = _dates(pl.col("__date_of_birth"))
    work = work.with_columns(__y=year, __m=month, __d=day)
    # Month > 12 with a day <= 12 can only be month/day written the US way: swap them.
    swap = (pl.col("__m") > 12) & (pl.col("__d") <= 12) & (pl.col("__d") >= 1)
    work = work.with_columns(
        __m=pl.when(swap).then(pl.col("__d")).otherwise(pl.col("__m")),
        __d=pl.when(swap).then(pl.col("__m")).otherwise(pl.col("__d")),
    )
    y_ok = (pl.col("__y") >= 1850) & (pl.col("__y") <= 2100)
    m_ok = y_ok & (pl.col("__m") >= 1) & (pl.col("__m") <= 12)
    y = pl.col("__y")
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    dim = (
        pl.when((pl.col("__m") == 2) & leap)
        .then(29)
        .otherwise(pl.col("__m").replace_strict(_DAYS, default=0, return_dtype=pl.Int32))
    )
    d_ok = m_ok & (pl.col("__d") >= 1) & (pl.col("__d") <= dim)
    work = work.with_columns(
        dob_year=pl.when(y_ok).then(pl.col("__y")).cast(pl.Int16),
        dob_month=pl.when(m_ok).then(pl.col("__m")).cast(pl.Int8),
        dob_day=pl.when(d_ok).then(pl.col("__d")).cast(pl.Int8),
    )
    work = work.with_columns(
        dob=pl.when(pl.col("dob_day").is_not_null()).then(
            pl.format(
                "{}-{}-{}",
                pl.col("dob_year").cast(pl.String).str.zfill(4),
                pl.col("dob_month").cast(pl.String).str.zfill(2),
                pl.col("dob_day").cast(pl.String).str.zfill(2),
            )
        )
    )

    # Sex, countries, identity numbers.
    work = work.with_columns(
        sex_n=_sex(pl.col("__sex")),
        id_country_n=country_expr(pl.col("__id_country")),
        nationality_n=country_expr(pl.col("__nationality")),
    )
    checked = check_ids(work["id_country_n"], work["__national_id"])
    work = work.with_columns(checked)
    # Nicaragua's cédula carries the birth date (DDMMYY): note a disagreement with the record.
    n = pl.col("id_n")
    ddmmyy = pl.format(
        "{}{}{}",
        pl.col("dob_day").cast(pl.String).str.zfill(2),
        pl.col("dob_month").cast(pl.String).str.zfill(2),
        (pl.col("dob_year") % 100).cast(pl.String).str.zfill(2),
    )
    work = work.with_columns(
        id_note=pl.when(
            (pl.col("id_country_n") == "NI")
            & pl.col("id_status").is_in(["valid", "check_failed"])
            & pl.col("dob").is_not_null()
            & (n.str.slice(3, 6) != ddmmyy)
        ).then(
            pl.format("birth date in the cédula ({}) differs from date_of_birth", n.str.slice(3, 6))
        )
    )

    work = work.with_columns(
        aliases_n=_aliases(pl.col("__aliases")),
        municipality_n=_null_if_empty(fold_expr(pl.col("__municipality"))),
    )
    return df.with_columns(work.select(NORMALISED_COLUMNS))


def _drop_compound(folded: str) -> str:
    return " ".join(w for w in folded.split() if w not in PARTICLES)
