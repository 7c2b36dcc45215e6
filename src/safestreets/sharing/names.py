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
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Final

import polars as pl

from safestreets.sharing.ids import (
    check_id,
    check_ids,
    country_code,
    country_expr,
    fold_text,
    fold_text_expr,
    read_reference_csv,
)

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
    return "" if text is None else fold_text(text)


def fold_expr(expr: pl.Expr) -> pl.Expr:
    """``fold`` as a Polars expression (nulls stay null).

    Args:
        expr: A Utf8 expression.

    Returns:
        The folded expression.
    """
    return fold_text_expr(expr)


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
# Doubled letters collapse by replacing each pair with one letter, four times over (a run of up
# to 16 letters ends as one). Written as literal pairs because Polars' regex engine has no
# back-references; the scalar path does exactly the same.
_PAIRS: Final = [c + c for c in _LETTERS]
_COLLAPSE_PASSES: Final = 4
_SPACES: Final = re.compile(r" +")


def phonetic(text: str | None) -> str:
    """A Spanish phonetic key (Central American pronunciation) of a name.

    The text is folded, then ``PHONETIC_RULES`` are applied in order, the result is upper-cased
    and runs of one letter collapse (rr -> R, ss -> S; runs of up to 16 letters). Each word is
    keyed separately (spaces are kept). Vowels are kept: Spanish vowels are stable and dropping
    them merges too much.

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
    t = t.upper()
    for _ in range(_COLLAPSE_PASSES):
        for pair in _PAIRS:
            t = t.replace(pair, pair[0])
    return _SPACES.sub(" ", t).strip()


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
    for _ in range(_COLLAPSE_PASSES):
        out = out.str.replace_many(_PAIRS, list(_LETTERS))
    return out.str.replace_all(" +", " ").str.strip_chars()


# --- record normalisation ----------------------------------------------------------------
#
# Each step exists twice: as a Python function on one value (``normalise_person``, the online
# query path, and any frame under ``_SMALL`` rows) and as a Polars expression (large frames,
# evaluated once per distinct value: names, dates and places repeat a lot). Property tests keep
# the two in agreement.

_SMALL: Final = 16
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
_PARTICLE_RE: Final = r"\b(?:" + "|".join(PARTICLES) + r")\b"
_WIDOW: Final = r"^(?:(.+?) )?(?:viuda|vda) de (.+)$"
_MARRIED: Final = r"^(.+?) de (.+)$"
_DATE_ISO: Final = r"^([0-9]{4})(?:[-/.]([0-9]{1,2})(?:[-/.]([0-9]{1,2}))?)?(?:[ T].*)?$"
_DATE_DMY: Final = r"^([0-9]{1,2})[-/.]([0-9]{1,2})[-/.]([0-9]{4})(?:[ T].*)?$"
_DATE_MY: Final = r"^([0-9]{1,2})[-/.]([0-9]{4})$"
_ALIAS_MARKERS: Final = (
    r"\(a\)|;|\||\ba\.?k\.?a\.?(?:\s|$)|\balias\b|\bconocid[oa]s? (?:como|por)\b|\bapodad[oa]\b"
    r"|\b(?:le |la )?dicen\b|\s+o\s+"
)
_ARTICLE: Final = r"^(?:el|la|los|las) (.+)$"
_COMPOUND_DROPPED: Final = tuple(
    " ".join(w for w in s.split() if w not in PARTICLES) for s in COMPOUND_SURNAMES
)
_PY_PARTICLE: Final = re.compile(_PARTICLE_RE)
_PY_WIDOW: Final = re.compile(_WIDOW)
_PY_MARRIED: Final = re.compile(_MARRIED)
_PY_DATES: Final = tuple(re.compile(p) for p in (_DATE_ISO, _DATE_DMY, _DATE_MY))
_PY_ALIAS: Final = re.compile(_ALIAS_MARKERS)
_PY_ARTICLE: Final = re.compile(_ARTICLE)

#: Columns ``normalise_persons`` adds, in order, with their types.
NORMALISED_SCHEMA: Final = pl.Schema(
    {
        "given_n": pl.String(),
        "given_1": pl.String(),
        "given_2": pl.String(),
        "surname_1_n": pl.String(),
        "surname_2_n": pl.String(),
        "married_n": pl.String(),
        "given_1_ph": pl.String(),
        "surname_1_ph": pl.String(),
        "surname_2_ph": pl.String(),
        "dob_year": pl.Int16(),
        "dob_month": pl.Int8(),
        "dob_day": pl.Int8(),
        "dob": pl.String(),
        "sex_n": pl.String(),
        "id_n": pl.String(),
        "id_country_n": pl.String(),
        "id_status": pl.String(),
        "id_note": pl.String(),
        "nationality_n": pl.String(),
        "aliases_n": pl.List(pl.String()),
        "municipality_n": pl.String(),
    }
)
NORMALISED_COLUMNS: Final = tuple(NORMALISED_SCHEMA)


def _nonempty(text: str | None) -> str | None:
    return text if text else None


def _drop_particles(text: str) -> str:
    return _SPACES.sub(" ", _PY_PARTICLE.sub(" ", text)).strip()


def _given_one(raw: str | None) -> str | None:
    if raw is None:
        return None
    tokens = [t for t in fold_text(raw).split(" ") if t and t not in PARTICLES]
    return _nonempty(" ".join(HYPOCORISMS.get(t, t) for t in tokens))


def _surname_one(raw: str | None) -> tuple[str | None, str | None]:
    """(base surname, married surname) of one surname field, both particle-free; the married
    part is "" (not None) when present but made of particles only."""
    if raw is None:
        return None, None
    folded = fold_text(raw)
    base: str | None = folded
    spouse: str | None = None
    m = _PY_WIDOW.match(folded)
    if m is None and folded not in COMPOUND_SURNAMES:
        m = _PY_MARRIED.match(folded)
    if m is not None:
        base, spouse = m[1], m[2]
    return (
        None if base is None else _nonempty(_drop_particles(base)),
        None if spouse is None else _drop_particles(spouse),
    )


def _order_surnames(
    b1: str | None, b2: str | None, hyphen_1: bool
) -> tuple[str | None, str | None]:
    if b1 is None and b2 is not None:
        b1, b2 = b2, None
    if b1 is not None and b2 is None:
        words = b1.split(" ")
        if (
            len(words) == 2
            and not hyphen_1
            and words[0] not in _SURNAME_PREFIXES
            and b1 not in _COMPOUND_DROPPED
        ):
            return words[0], words[1]
    return b1, b2


def _date_one(raw: str | None) -> tuple[int | None, int | None, int | None]:
    if raw is None:
        return None, None, None
    s = raw.strip()
    groups: list[str | None] = [None] * 3
    if m := _PY_DATES[0].match(s):
        groups = [m[1], m[2], m[3]]
    elif m := _PY_DATES[1].match(s):
        groups = [m[3], m[2], m[1]]
    elif m := _PY_DATES[2].match(s):
        groups = [m[2], m[1], None]
    y, mo, d = (None if g is None else int(g) for g in groups)
    if mo is not None and d is not None and mo > 12 and 1 <= d <= 12:
        mo, d = d, mo  # month/day written the US way
    y_ok = y is not None and 1850 <= y <= 2100
    m_ok = y_ok and mo is not None and 1 <= mo <= 12
    if m_ok and mo is not None and y is not None:
        leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
        dim = 29 if mo == 2 and leap else _DAYS[mo]
        d_ok = d is not None and 1 <= d <= dim
    else:
        d_ok = False
    return (y if y_ok else None, mo if m_ok else None, d if d_ok else None)


def _aliases_one(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    out = []
    for part in _PY_ALIAS.sub("\x1f", raw.lower()).split("\x1f"):
        folded = _PY_ARTICLE.sub(r"\g<1>", fold_text(part))
        if folded:
            out.append(folded)
    return out


def _id_note(
    country: str | None, id_n: str | None, status: str | None, dob: str | None
) -> str | None:
    if country != "NI" or status not in ("valid", "check_failed") or dob is None or id_n is None:
        return None
    ddmmyy = dob[8:10] + dob[5:7] + dob[2:4]
    if id_n[3:9] == ddmmyy:
        return None
    return f"birth date in the cédula ({id_n[3:9]}) differs from date_of_birth"


def normalise_person(record: Mapping[str, object]) -> dict[str, object]:
    """The normalised columns of one person record (the scalar twin of ``normalise_persons``).

    For the online query path: one record in well under a millisecond, where a one-row frame
    through Polars costs tens of milliseconds.

    Args:
        record: Canonical person fields (``schema.PERSON_COLUMNS``); missing keys count as null.

    Returns:
        A dict with the keys of ``NORMALISED_SCHEMA``, equal to the row ``normalise_persons``
        would add.
    """

    def raw(name: str) -> str | None:
        value = record.get(name)
        return None if value is None else str(value)

    given_n = _given_one(raw("given_names"))
    tokens = given_n.split(" ") if given_n is not None else []
    given_1 = tokens[0] if tokens else None
    given_2 = _nonempty(" ".join(tokens[1:]))
    b1, sp1 = _surname_one(raw("surname_1"))
    b2, sp2 = _surname_one(raw("surname_2"))
    spouse = sp2 if sp2 is not None else sp1
    s1_raw = raw("surname_1")
    s1, s2 = _order_surnames(b1, b2, s1_raw is not None and "-" in s1_raw)
    y, m, d = _date_one(raw("date_of_birth"))
    dob = f"{y:04d}-{m:02d}-{d:02d}" if y is not None and m is not None and d is not None else None
    id_country = country_code(raw("id_country"))
    checked = check_id(id_country, raw("national_id"))
    id_n = checked.normalised or None
    id_status = checked.status if id_n is not None else None
    sex = raw("sex")
    muni = raw("municipality")

    def key(text: str | None) -> str | None:
        return None if text is None else _nonempty(phonetic(text))

    return {
        "given_n": given_n,
        "given_1": given_1,
        "given_2": given_2,
        "surname_1_n": s1,
        "surname_2_n": s2,
        "married_n": _nonempty(spouse),
        "given_1_ph": key(given_1),
        "surname_1_ph": key(s1),
        "surname_2_ph": key(s2),
        "dob_year": y,
        "dob_month": m,
        "dob_day": d,
        "dob": dob,
        "sex_n": None if sex is None else _SEX.get(fold_text(sex)),
        "id_n": id_n,
        "id_country_n": id_country,
        "id_status": id_status,
        "id_note": _id_note(id_country, id_n, id_status, dob),
        "nationality_n": country_code(raw("nationality")),
        "aliases_n": _aliases_one(raw("aliases")),
        "municipality_n": None if muni is None else _nonempty(fold_text(muni)),
    }


# --- the same, vectorised ----------------------------------------------------------------------


def _null_if_empty(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr != "").then(expr)


def _drop_particles_expr(folded: pl.Expr) -> pl.Expr:
    return folded.str.replace_all(_PARTICLE_RE, " ").str.replace_all(" +", " ").str.strip_chars()


def _by_unique(
    values: pl.Expr | pl.Series, df: pl.DataFrame, exprs: Mapping[str, pl.Expr]
) -> pl.DataFrame:
    """Evaluate ``exprs`` (over column ``v``) once per distinct value of ``values`` and spread
    the results back to the rows of ``df`` (names, dates and places repeat a lot). Names
    starting with ``_`` are intermediate steps and are not returned."""
    if isinstance(values, pl.Series):
        rows = values.to_frame("v")
    else:  # with_columns broadcasts a literal (a missing column) to the frame's height
        rows = df.with_columns(__v=values).select(v="__v")
    distinct = rows.unique("v")
    for name, expr in exprs.items():  # in order: later expressions may use earlier ones
        distinct = distinct.with_columns(expr.alias(name))
    distinct = distinct.select("v", *(name for name in exprs if not name.startswith("_")))
    return rows.join(distinct, on="v", how="left", nulls_equal=True, maintain_order="left").drop(
        "v"
    )


def _given_expr(v: pl.Expr) -> pl.Expr:
    tokens = fold_text_expr(v).str.split(" ")
    mapped = tokens.list.eval(
        pl.element()
        .filter(~pl.element().is_in(PARTICLES) & (pl.element() != ""))
        .replace(dict(HYPOCORISMS))
    )
    return _null_if_empty(mapped.list.join(" "))


# The expression builders below return their steps in order, each step a column that later
# steps read by name: an expression reused inline would be evaluated once per use.


def _surname_exprs(v: pl.Expr) -> dict[str, pl.Expr]:
    f, w, m = pl.col("_f"), pl.col("_w"), pl.col("_m")
    is_widow = pl.col("_is_w")
    is_married = pl.col("_is_m")
    return {
        "_f": fold_text_expr(v),
        "_w": f.str.extract_groups(_WIDOW),
        "_m": f.str.extract_groups(_MARRIED),
        "_is_w": f.str.contains(_WIDOW),
        "_is_m": f.str.contains(_MARRIED) & ~f.is_in(COMPOUND_SURNAMES),
        "b": _null_if_empty(
            _drop_particles_expr(
                pl.when(is_widow)
                .then(w.struct.field("1"))
                .when(is_married)
                .then(m.struct.field("1"))
                .otherwise(f)
            )
        ),
        "sp": _drop_particles_expr(
            pl.when(is_widow).then(w.struct.field("2")).when(is_married).then(m.struct.field("2"))
        ),
        "hyphen": v.str.contains("-").fill_null(False),
    }


def _date_exprs(v: pl.Expr) -> dict[str, pl.Expr]:
    def num(struct: str, field: str) -> pl.Expr:
        return pl.col(struct).struct.field(field).cast(pl.Int32, strict=False)

    def pick(iso: str, dmy: str, my: str | None) -> pl.Expr:
        rest = pl.when(pl.col("_is_dmy")).then(num("_dmy", dmy))
        return (
            pl.when(pl.col("_is_iso"))
            .then(num("_iso", iso))
            .otherwise(rest if my is None else rest.otherwise(num("_my", my)))
        )

    y = pl.col("_y")
    m0, d0 = pl.col("_m0"), pl.col("_d0")
    m, d = pl.col("_m"), pl.col("_d")  # after the swap
    swap = pl.col("_swap")
    y_ok, m_ok, d_ok = pl.col("_y_ok"), pl.col("_m_ok"), pl.col("_d_ok")
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    dim = (
        pl.when((m == 2) & leap)
        .then(29)
        .otherwise(m.replace_strict(_DAYS, default=0, return_dtype=pl.Int32))
    )
    return {
        "_s": v.str.strip_chars(),
        "_iso": pl.col("_s").str.extract_groups(_DATE_ISO),
        "_dmy": pl.col("_s").str.extract_groups(_DATE_DMY),
        "_my": pl.col("_s").str.extract_groups(_DATE_MY),
        "_is_iso": pl.col("_s").str.contains(_DATE_ISO),
        "_is_dmy": pl.col("_s").str.contains(_DATE_DMY),
        "_y": pick("1", "3", "2"),
        "_m0": pick("2", "2", "1"),
        "_d0": pick("3", "1", None),
        "_swap": (m0 > 12) & (d0 >= 1) & (d0 <= 12),  # month/day written the US way
        "_m": pl.when(swap).then(d0).otherwise(m0),
        "_d": pl.when(swap).then(m0).otherwise(d0),
        "_y_ok": (y >= 1850) & (y <= 2100),
        "_m_ok": y_ok & (m >= 1) & (m <= 12),
        "_d_ok": m_ok & (d >= 1) & (d <= dim),
        "dob_year": pl.when(y_ok).then(y).cast(pl.Int16),
        "dob_month": pl.when(m_ok).then(m).cast(pl.Int8),
        "dob_day": pl.when(d_ok).then(d).cast(pl.Int8),
    }


def _aliases_expr(v: pl.Expr) -> pl.Expr:
    parts = v.str.to_lowercase().str.replace_all(_ALIAS_MARKERS, "\x1f").str.split("\x1f")
    folded = parts.list.eval(fold_text_expr(pl.element()).str.replace(_ARTICLE, "${1}"))
    return folded.list.eval(pl.element().filter(pl.element() != ""))


def _normalise_frame(df: pl.DataFrame) -> pl.DataFrame:
    """The vectorised path of ``normalise_persons``: the new columns only."""

    def raw(name: str) -> pl.Expr:
        if name in df.columns:
            return pl.col(name).cast(pl.String)
        return pl.lit(None, dtype=pl.String)

    v = pl.col("v")
    given = _by_unique(
        raw("given_names"),
        df,
        {
            "given_n": _given_expr(v),
            "given_1": pl.col("given_n").str.split(" ").list.first(),
            "given_2": _null_if_empty(
                pl.col("given_n").str.split(" ").list.slice(1).list.join(" ")
            ),
        },
    )
    sur1 = _by_unique(raw("surname_1"), df, _surname_exprs(v))
    sur2 = _by_unique(raw("surname_2"), df, _surname_exprs(v))
    b1, b2 = sur1["b"], sur2["b"]
    work = pl.DataFrame(
        {"b1": b1, "b2": b2, "hyphen": sur1["hyphen"], "sp1": sur1["sp"], "sp2": sur2["sp"]}
    ).with_columns(married_n=_null_if_empty(pl.coalesce("sp2", "sp1")))
    shifted = pl.col("b1").is_null() & pl.col("b2").is_not_null()
    work = work.with_columns(
        b1=pl.when(shifted).then(pl.col("b2")).otherwise(pl.col("b1")),
        b2=pl.when(shifted).then(None).otherwise(pl.col("b2")),
    )
    words = pl.col("b1").str.split(" ")
    two = (
        pl.col("b2").is_null()
        & (words.list.len() == 2)
        & ~pl.col("hyphen")
        & ~words.list.first().is_in(_SURNAME_PREFIXES)
        & ~pl.col("b1").is_in(_COMPOUND_DROPPED)
    )
    work = work.with_columns(
        surname_1_n=pl.when(two).then(words.list.first()).otherwise(pl.col("b1")),
        surname_2_n=pl.when(two).then(words.list.last()).otherwise(pl.col("b2")),
    )
    key = {"ph": _null_if_empty(phonetic_expr(v))}
    phon = {
        "given_1_ph": _by_unique(given["given_1"], df, key)["ph"],
        "surname_1_ph": _by_unique(work["surname_1_n"], df, key)["ph"],
        "surname_2_ph": _by_unique(work["surname_2_n"], df, key)["ph"],
    }
    dates = _by_unique(raw("date_of_birth"), df, _date_exprs(v))
    dates = dates.with_columns(
        dob=pl.when(pl.col("dob_day").is_not_null()).then(
            pl.format(
                "{}-{}-{}",
                pl.col("dob_year").cast(pl.String).str.zfill(4),
                pl.col("dob_month").cast(pl.String).str.zfill(2),
                pl.col("dob_day").cast(pl.String).str.zfill(2),
            )
        )
    )
    small = {
        "sex_n": _by_unique(
            raw("sex"),
            df,
            {"x": fold_text_expr(v).replace_strict(_SEX, default=None, return_dtype=pl.String)},
        )["x"],
        "id_country_n": _by_unique(raw("id_country"), df, {"x": country_expr(v)})["x"],
        "nationality_n": _by_unique(raw("nationality"), df, {"x": country_expr(v)})["x"],
        "aliases_n": _by_unique(raw("aliases"), df, {"x": _aliases_expr(v)})["x"],
        "municipality_n": _by_unique(
            raw("municipality"), df, {"x": _null_if_empty(fold_text_expr(v))}
        )["x"],
    }
    national_id = df["national_id"] if "national_id" in df.columns else None
    if national_id is None:
        national_id = pl.Series([None] * df.height, dtype=pl.String)
    checked = check_ids(small["id_country_n"], national_id)
    out = pl.DataFrame(
        {
            **{c: given[c] for c in ("given_n", "given_1", "given_2")},
            "surname_1_n": work["surname_1_n"],
            "surname_2_n": work["surname_2_n"],
            "married_n": work["married_n"],
            **phon,
            **{c: dates[c] for c in ("dob_year", "dob_month", "dob_day", "dob")},
            "sex_n": small["sex_n"],
            "id_n": checked["id_n"],
            "id_country_n": small["id_country_n"],
            "id_status": checked["id_status"],
            "nationality_n": small["nationality_n"],
            "aliases_n": small["aliases_n"],
            "municipality_n": small["municipality_n"],
        }
    )
    n = pl.col("id_n")
    dob = pl.col("dob")
    ddmmyy = pl.concat_str(dob.str.slice(8, 2), dob.str.slice(5, 2), dob.str.slice(2, 2))
    out = out.with_columns(
        id_note=pl.when(
            (pl.col("id_country_n") == "NI")
            & pl.col("id_status").is_in(["valid", "check_failed"])
            & dob.is_not_null()
            & (n.str.slice(3, 6) != ddmmyy)
        ).then(
            pl.format("birth date in the cédula ({}) differs from date_of_birth", n.str.slice(3, 6))
        )
    )
    return out.select(NORMALISED_COLUMNS).cast(NORMALISED_SCHEMA)


def normalise_persons(df: pl.DataFrame) -> pl.DataFrame:
    """Add the normalised columns of canonical person records (docs/sharing.md).

    Vectorised: each step runs once per distinct value of its source column, as Polars
    expressions; frames of fewer than 16 rows take the scalar path (``normalise_person``),
    which gives the same values without the cost of building the expressions.

    Args:
        df: A frame with the canonical person columns (``schema.PERSON_COLUMNS``); missing
            columns are treated as null, other columns are kept.

    Returns:
        ``df`` with ``NORMALISED_COLUMNS`` added (replaced if present); the original columns
        are unchanged.
    """
    if df.height < _SMALL:
        rows = [normalise_person(r) for r in df.iter_rows(named=True)]
        new = (
            pl.DataFrame(rows, schema=NORMALISED_SCHEMA, orient="row")
            if rows
            else (pl.DataFrame(schema=NORMALISED_SCHEMA))
        )
    else:
        new = _normalise_frame(df)
    return df.with_columns(new)
