"""National identity numbers of the seven countries: normalisation, format and check digits.

One rule per country (``ID_RULES``). A number is normalised (upper-case letters and digits only;
Costa Rica and Panama cédulas padded to fixed widths so that ``1-234-567`` and ``102340567``
compare equal) and given one status:

* ``valid``: it fits the country's format, and the check digit holds where the rule has one;
* ``check_failed``: it fits the format but the check digit (or letter) does not hold. A warning
  that lowers the weight of the ID in matching, never a rejection: the algorithms are not all
  officially published;
* ``bad_format``: it does not fit the country's format (length, characters, department or
  municipality code out of range, impossible birth date);
* ``unchecked``: no country, or a country without a rule.

``check_id`` works on one number (the online query path), ``check_ids`` on whole columns with
Polars expressions only (1,000,000 rows in well under a second: no per-row Python). The two are
kept in agreement by property tests. Every rule and its source is in docs/sharing.md.
"""

from __future__ import annotations

import io
import random
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Final

import polars as pl

from safestreets.reference import _data
from safestreets.reference.geo import admin2

ID_STATUSES: Final = ("valid", "check_failed", "bad_format", "unchecked")


@dataclass(frozen=True)
class IdCheck:
    """The outcome of checking one national identity number.

    Attributes:
        country: ISO 3166-1 alpha-2 code the number was checked against (None if unknown).
        normalised: Upper-case letters and digits only, padded where the rule says so.
        status: One of ``valid``, ``check_failed``, ``bad_format``, ``unchecked``.
        kind: The document (``dpi``, ``dui``, ``dni``, ``cedula``, ``dimex``, ``ssn``) or "".
        message: Why the status is what it is, in one sentence.
    """

    country: str | None
    normalised: str
    status: str
    kind: str
    message: str


@dataclass(frozen=True)
class IdRule:
    """How one country's identity number is written and checked (documented in docs/sharing.md).

    Attributes:
        country: ISO 3166-1 alpha-2 code.
        name: The document and number, in English.
        local_name: The name used in the country.
        format: The layout, as a person writes it.
        example: A number that satisfies the rule (made up, with a correct check digit).
        check: The check algorithm, or what is verified when there is none.
        source: Where the rule comes from.
        documented: True only when the issuing authority publishes the check algorithm.
        rule_status: ``check digit``, ``check letter``, ``format only`` or
            ``format only (provisional)``.
    """

    country: str
    name: str
    local_name: str
    format: str
    example: str
    check: str
    source: str
    documented: bool
    rule_status: str


ID_RULES: Final[Mapping[str, IdRule]] = MappingProxyType(
    {
        "GT": IdRule(
            country="GT",
            name="Personal identification document (DPI), unique identification code (CUI)",
            local_name="Documento Personal de Identificación / Código Único de Identificación",
            format="13 digits, written 4-5-4: 8-digit serial, check digit, 2-digit department "
            "(01-22), 2-digit municipality (01 up to the number of municipalities of the "
            "department)",
            example="2589 14688 0101",
            check="weights 2..9 on the 8 serial digits; the sum modulo 11 must equal the check "
            "digit, so a serial whose remainder is 10 has no valid number (stdnum-js accepts 0 "
            "there; the older community code and the cui-gt package do not, and neither do "
            "we). Department and municipality must exist (municipality counts per department "
            "from the shipped INE list, which includes Sipacate and Petatán)",
            source="community code copied widely for years (the `cuiIsValid`/`DPIIsValid` "
            "JavaScript function), stdnum-js `gt/cui` and the `cui-gt` package; RENAP does not "
            "publish the algorithm",
            documented=False,
            rule_status="check digit",
        ),
        "SV": IdRule(
            country="SV",
            name="Unique identity document (DUI)",
            local_name="Documento Único de Identidad",
            format="9 digits, written 8-1 (01234567-8); a leading zero lost by a spreadsheet "
            "(8 digits) is restored",
            example="04621396-8",
            check="weights 9,8,...,2 on the first 8 digits; check digit = (10 - sum mod 10) "
            "mod 10. An all-zero number is bad_format",
            source="community code (JavaScript and Python validators shared for years on "
            "GitHub and forums, all with these weights); the Registro Nacional de las Personas "
            "Naturales does not publish it",
            documented=False,
            rule_status="check digit",
        ),
        "HN": IdRule(
            country="HN",
            name="National identity document (DNI)",
            local_name="Documento Nacional de Identificación (tarjeta de identidad)",
            format="13 digits, written 4-4-5: municipality of registration (2-digit department "
            "01-18 and 2-digit municipality), 4-digit year of registration, 5-digit serial; a "
            "leading zero lost by a spreadsheet (12 digits) is restored",
            example="0801-1990-12345",
            check="no check digit: department and municipality must exist (shipped INE list), "
            "year 1880-2100",
            source="Registro Nacional de las Personas (RNP) card layout as described in public "
            "guides; no check digit is known",
            documented=False,
            rule_status="format only",
        ),
        "NI": IdRule(
            country="NI",
            name="Identity card (cédula de identidad)",
            local_name="Cédula de identidad",
            format="3-digit municipality code, birth date DDMMYY, 4-digit serial and a check "
            "letter, written 001-010190-0001A",
            example="001-150385-0012V",
            check="the 13 digits read as one number, modulo 23, index into "
            "ABCDEFGHJKLMNPQRSTUVWXY (no I, O, Z) gives the letter; the embedded date must be a "
            "real date (either century)",
            source="community-derived (Denis Torres Guadamuz's GPL validator, 2008, and its "
            "ports); the Consejo Supremo Electoral does not publish the algorithm",
            documented=False,
            rule_status="check letter",
        ),
        "CR": IdRule(
            country="CR",
            name="Identity card (cédula de identidad) or resident card (DIMEX)",
            local_name="Cédula de identidad / Documento de Identidad Migratorio para Extranjeros",
            format="cédula: 9 digits, province 1-9, 4-digit volume (tomo), 4-digit entry "
            "(asiento), written 1-0234-0567 or without leading zeros 1-234-567 (padded); "
            "the 10-digit form 01-0234-0567 is accepted. DIMEX: 11 or 12 digits starting with 1",
            example="1-0234-0567",
            check="no check digit: format only",
            source="Ministerio de Hacienda, 'Ayuda cédulas' (layout of physical-person and "
            "resident numbers), as cited by python-stdnum `cr.cpf` and `cr.cr`",
            documented=True,
            rule_status="format only",
        ),
        "PA": IdRule(
            country="PA",
            name="Identity card (cédula de identidad personal)",
            local_name="Cédula de identidad personal",
            format="prefix-volume-entry: province 1-13 (optionally followed by AV or PI), or PE "
            "(born abroad), E (foreigner), N (naturalised); volume up to 4 digits, entry up to "
            "6; written 8-123-4567, PE-12-345, E-8-12345. Normalised by padding: 08 0123 "
            "004567 -> 080123004567",
            example="8-123-4567",
            check="no check digit: format only (written with its separators; a number whose "
            "separators were lost cannot be split and is bad_format)",
            source="Tribunal Electoral cédula layout as encoded in community validators "
            "(e.g. the `cedula-panama` regular expression)",
            documented=False,
            rule_status="format only",
        ),
        "BZ": IdRule(
            country="BZ",
            name="Social security number",
            local_name="Social Security Board registration number",
            format="digits only; 6 to 9 digits accepted provisionally",
            example="123456",
            check="none known. The Social Security Board does not publish the layout of its "
            "registration number: a number of 6-9 digits is reported valid (format only), "
            "anything else unchecked (not bad_format, since the layout is not known)",
            source="Social Security Board of Belize registration pages (card exists, number "
            "layout not published); provisional rule by us",
            documented=False,
            rule_status="format only (provisional)",
        ),
    }
)

_KINDS: Final = {"GT": "dpi", "SV": "dui", "HN": "dni", "NI": "cedula", "PA": "cedula", "BZ": "ssn"}
_NI_LETTERS: Final = "ABCDEFGHJKLMNPQRSTUVWXY"
_GT_WEIGHTS: Final = (2, 3, 4, 5, 6, 7, 8, 9)
_SV_WEIGHTS: Final = (9, 8, 7, 6, 5, 4, 3, 2)
_DAYS_IN_MONTH: Final = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# Written forms that carry structure lost by stripping separators (checked on the upper-cased
# raw text). Rust's regex (Polars) and Python's re agree on these patterns.
_SEP = r"[ \t]*[-. \t/][ \t]*"
_CR_WRITTEN: Final = rf"^[ \t]*([1-9]){_SEP}([0-9]{{1,4}}){_SEP}([0-9]{{1,4}})[ \t]*$"
_PA_WRITTEN: Final = (
    rf"^[ \t]*(PE|E|N|[0-9]{{1,2}}(?:AV|PI)?){_SEP}([0-9]{{1,4}}){_SEP}([0-9]{{1,6}})[ \t]*$"
)
_PA_NORMAL: Final = r"^([0-9]{2}|[0-9]{2}AV|[0-9]{2}PI|PE|E|N)([0-9]{10})$"


def read_reference_csv(name: str) -> pl.DataFrame:
    """Read one of this package's reference CSVs (``#`` lines are its source/licence header).

    Args:
        name: File name inside ``safestreets/reference/data``.

    Returns:
        The table, every column as strings.
    """
    return pl.read_csv(
        io.BytesIO(_data.read_bytes(name)), comment_prefix="#", infer_schema_length=0
    )


# --- countries --------------------------------------------------------------


# Letters NFKD does not decompose, transliterated so that folding keeps only a-z and 0-9.
TRANSLITERATE: Final = {
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
_NOT_ALNUM: Final = re.compile(r"[^a-z0-9]+")


def fold_text(text: str) -> str:
    """The folding of ``names.fold`` (defined here so that ``ids`` does not import ``names``)."""
    if text.isascii():
        text = text.lower()
    else:
        text = unicodedata.normalize("NFKD", text).lower()
        text = "".join(c for c in text if not unicodedata.category(c).startswith("M"))
        for src, dst in TRANSLITERATE.items():
            text = text.replace(src, dst)
    return _NOT_ALNUM.sub(" ", text).strip()


def fold_text_expr(expr: pl.Expr) -> pl.Expr:
    """``fold_text`` as a Polars expression (nulls stay null)."""
    return (
        expr.str.normalize("NFKD")
        .str.to_lowercase()
        .str.replace_all(r"\p{M}+", "")
        .str.replace_many(list(TRANSLITERATE), list(TRANSLITERATE.values()))
        .str.replace_all(r"[^a-z0-9]+", " ")
        .str.strip_chars()
    )


def _fold_key(text: str) -> str:
    return fold_text(text)


@lru_cache(maxsize=1)
def country_aliases() -> Mapping[str, str]:
    """Folded country names, codes and Spanish demonyms -> ISO 3166-1 alpha-2.

    Built from pycountry (ISO codes and English names), Babel's Spanish territory names, the
    shipped country table, and ``demonyms_es.csv`` (Spanish nationality adjectives).

    Returns:
        A read-only mapping such as ``{"gtm": "GT", "guatemala": "GT", "guatemalteca": "GT"}``.
    """
    import pycountry
    from babel import Locale

    out: dict[str, str] = {}
    for c in pycountry.countries:
        for name in (
            c.alpha_2,
            c.alpha_3,
            c.name,
            getattr(c, "common_name", None),
            getattr(c, "official_name", None),
        ):
            if name:
                out.setdefault(_fold_key(name), c.alpha_2)
    for code, name in Locale("es").territories.items():
        if len(code) == 2 and code.isalpha() and code.isupper():
            out.setdefault(_fold_key(name), code)
    extra = read_reference_csv("demonyms_es.csv")
    for code, names in zip(extra["iso2"], extra["names"], strict=True):
        for name in names.split("|"):
            out[_fold_key(name)] = code
    out.pop("", None)
    return MappingProxyType(out)


def country_code(text: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code of a country written as a code, a name or a demonym.

    Args:
        text: ``GT``, ``GTM``, ``Guatemala``, ``guatemalteca``, ``Estados Unidos``, ...

    Returns:
        The alpha-2 code, or None when the text names no known country.
    """
    if text is None:
        return None
    return country_aliases().get(_fold_key(text))


def country_expr(expr: pl.Expr) -> pl.Expr:
    """``country_code`` vectorised: a Utf8 expression of free-text countries -> alpha-2 codes."""
    folded = fold_text_expr(expr)
    old, new = _alias_series()
    return folded.replace_strict(old, new, default=None, return_dtype=pl.String)


@lru_cache(maxsize=1)
def _alias_series() -> tuple[pl.Series, pl.Series]:
    aliases = country_aliases()
    return pl.Series(list(aliases), dtype=pl.String), pl.Series(aliases.values(), dtype=pl.String)


# --- municipality counts --------------------------------------------------------------


@lru_cache(maxsize=2)
def _municipality_counts(country: str) -> Mapping[int, int]:
    """Department number -> number of municipalities, from the shipped INE list (admin2.csv)."""
    codes = admin2(country)["national_code"].drop_nulls()
    counts: dict[int, int] = {}
    for code in codes:
        dept, muni = int(code[:2]), int(code[2:4])
        counts[dept] = max(counts.get(dept, 0), muni)
    return MappingProxyType(counts)


# --- scalar path --------------------------------------------------------------


def _strip(raw: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", raw.upper())


def normalise_id(country: str | None, raw: str | None) -> str:
    """The normalised form of an identity number (upper-case letters and digits only).

    Costa Rica and Panama cédulas written with separators are padded to fixed widths (the
    separators carry the structure); an El Salvador DUI of 8 digits and a Honduras DNI of 12 get
    back the leading zero that spreadsheets drop. Idempotent.

    Args:
        country: ISO alpha-2 code (or None).
        raw: The number as written.

    Returns:
        The normalised number ("" for None or no letters/digits).
    """
    if raw is None:
        return ""
    up = raw.upper()
    if country == "CR":
        m = re.match(_CR_WRITTEN, up)
        if m:
            return m[1] + m[2].zfill(4) + m[3].zfill(4)
        s = _strip(up)
        return s[1:] if len(s) == 10 and s.isdigit() and s[0] == "0" else s
    if country == "PA":
        m = re.match(_PA_WRITTEN, up)
        if m:
            prefix = m[1]
            if prefix[0].isdigit():
                digits = re.match(r"[0-9]+", prefix)
                assert digits is not None
                prefix = digits[0].zfill(2) + prefix[digits.end() :]
            return prefix + m[2].zfill(4) + m[3].zfill(6)
        return _strip(up)
    s = _strip(up)
    if country == "SV" and len(s) == 8 and s.isdigit():
        return "0" + s
    if country == "HN" and len(s) == 12 and s.isdigit():
        return "0" + s
    return s


def _ni_date_ok(ddmmyy: str) -> bool:
    dd, mm, yy = int(ddmmyy[:2]), int(ddmmyy[2:4]), int(ddmmyy[4:6])
    if not 1 <= mm <= 12 or dd < 1 or dd > _DAYS_IN_MONTH[mm - 1]:
        return False
    # 29 February: 19yy is a leap year when yy % 4 == 0 and yy != 0, 20yy when yy % 4 == 0.
    return not (mm == 2 and dd == 29 and yy % 4 != 0)


def _gt_check(n: str) -> int:
    return sum(int(d) * w for d, w in zip(n[:8], _GT_WEIGHTS, strict=True)) % 11


def _sv_check(n: str) -> int:
    return (10 - sum(int(d) * w for d, w in zip(n[:8], _SV_WEIGHTS, strict=True)) % 10) % 10


def _ni_letter(n: str) -> str:
    return _NI_LETTERS[int(n[:13]) % 23]


def _dept_muni_ok(country: str, dept: int, muni: int) -> bool:
    count = _municipality_counts(country).get(dept)
    return count is not None and 1 <= muni <= count


def check_id(country: str | None, raw: str | None) -> IdCheck:
    """Normalise one identity number and check it against its country's rule.

    Args:
        country: ISO alpha-2 code, or any spelling ``country_code`` accepts; None if unknown.
        raw: The number as written.

    Returns:
        The ``IdCheck`` (status ``unchecked`` for no number, no country or no rule).

    Examples:
        >>> check_id("GT", "2589 14688 0101").status
        'valid'
        >>> check_id("NI", "001-150385-0012C").status
        'check_failed'
    """
    code = country if country in ID_RULES else country_code(country)
    n = normalise_id(code, raw)
    kind = _KINDS.get(code or "", "")

    def out(status: str, message: str, kind: str = kind) -> IdCheck:
        return IdCheck(code, n, status, kind, message)

    if not n:
        return out("unchecked", "no identity number")
    if code is None:
        return out("unchecked", "no issuing country: the number is not checked", "")
    if code not in ID_RULES:
        return out("unchecked", f"no rule for {code}: the number is not checked", "")
    if code == "GT":
        if not re.fullmatch(r"[0-9]{13}", n):
            return out("bad_format", "a DPI/CUI has 13 digits")
        if not _dept_muni_ok("GT", int(n[9:11]), int(n[11:13])):
            return out("bad_format", f"no department/municipality {n[9:11]}/{n[11:13]}")
        if _gt_check(n) != int(n[8]):
            return out("check_failed", "the check digit (9th) does not match")
        return out("valid", "format and check digit hold")
    if code == "SV":
        if not re.fullmatch(r"[0-9]{9}", n):
            return out("bad_format", "a DUI has 9 digits (8 and a check digit)")
        if n[:8] == "00000000":
            return out("bad_format", "an all-zero DUI is not issued")
        if _sv_check(n) != int(n[8]):
            return out("check_failed", "the check digit (last) does not match")
        return out("valid", "format and check digit hold")
    if code == "HN":
        if not re.fullmatch(r"[0-9]{13}", n):
            return out("bad_format", "a DNI has 13 digits")
        if not _dept_muni_ok("HN", int(n[:2]), int(n[2:4])):
            return out("bad_format", f"no department/municipality {n[:2]}/{n[2:4]}")
        if not 1880 <= int(n[4:8]) <= 2100:
            return out("bad_format", f"registration year {n[4:8]} out of range")
        return out("valid", "format holds (no check digit)")
    if code == "NI":
        if re.fullmatch(r"[0-9]{13}", n):
            return out("bad_format", "the check letter is missing")
        if not re.fullmatch(r"[0-9]{13}[A-Z]", n):
            return out("bad_format", "a cédula has 13 digits and a letter")
        if n[:3] == "000":
            return out("bad_format", "municipality code 000 does not exist")
        if not _ni_date_ok(n[3:9]):
            return out("bad_format", f"embedded birth date {n[3:9]} is not a real date")
        if _ni_letter(n) != n[13]:
            return out("check_failed", "the check letter does not match")
        return out("valid", "format, birth date and check letter hold")
    if code == "CR":
        if re.fullmatch(r"[1-9][0-9]{8}", n):
            return out("valid", "format holds (no check digit)", "cedula")
        if re.fullmatch(r"1[0-9]{10,11}", n):
            return out("valid", "format holds (no check digit)", "dimex")
        return out("bad_format", "a cédula has 9 digits (province 1-9), a DIMEX 11-12", "cedula")
    if code == "PA":
        m = re.fullmatch(_PA_NORMAL, n)
        if not m:
            return out("bad_format", "write a cédula as prefix-volume-entry, e.g. 8-123-4567")
        if m[1][0].isdigit() and not 1 <= int(m[1][:2]) <= 13:
            return out("bad_format", f"no province {m[1][:2]}")
        return out("valid", "format holds (no check digit)")
    # BZ
    if re.fullmatch(r"[0-9]{6,9}", n):
        return out("valid", "provisional format holds (layout not published)")
    return out("unchecked", "does not fit the provisional format (layout not published)")


# --- vectorised path --------------------------------------------------------------
#
# Rows are split by country and each country's expressions run on its own rows only (a
# when/then chain over all countries would evaluate every branch on every row).

_SMALL: Final = 16  # below this many rows the scalar path is faster than building expressions


def _digit(n: pl.Expr, i: int) -> pl.Expr:
    return n.str.slice(i, 1).cast(pl.Int64, strict=False)


def _int(n: pl.Expr, start: int, length: int) -> pl.Expr:
    return n.str.slice(start, length).cast(pl.Int64, strict=False)


def _weighted(n: pl.Expr, weights: tuple[int, ...]) -> pl.Expr:
    """Weighted sum of the first ``len(weights)`` digits, by integer arithmetic (one parse
    instead of a string slice per digit)."""
    k = len(weights)
    head = _int(n, 0, k)
    return pl.sum_horizontal([(head // 10 ** (k - 1 - i)) % 10 * w for i, w in enumerate(weights)])


def _normalise_expr(country: str | None) -> pl.Expr:
    """``normalise_id`` for the rows of one country, from the columns ``_up`` (the upper-cased
    raw text) and ``_st`` (its letters and digits)."""
    up, stripped = pl.col("_up"), pl.col("_st")
    if country == "CR":
        parts = up.str.extract_groups(_CR_WRITTEN)
        return (
            pl.when(parts.struct.field("1").is_not_null())
            .then(
                pl.concat_str(
                    parts.struct.field("1"),
                    parts.struct.field("2").str.zfill(4),
                    parts.struct.field("3").str.zfill(4),
                )
            )
            .when(stripped.str.contains(r"^0[0-9]{9}$"))
            .then(stripped.str.slice(1))
            .otherwise(stripped)
        )
    if country == "PA":
        parts = up.str.extract_groups(_PA_WRITTEN)
        prefix = parts.struct.field("1")
        digits = prefix.str.extract(r"^([0-9]+)", 1)
        prefix = (
            pl.when(digits.is_not_null())
            .then(pl.concat_str(digits.str.zfill(2), prefix.str.replace(r"^[0-9]+", "")))
            .otherwise(prefix)
        )
        return (
            pl.when(parts.struct.field("1").is_not_null())
            .then(
                pl.concat_str(
                    prefix,
                    parts.struct.field("2").str.zfill(4),
                    parts.struct.field("3").str.zfill(6),
                )
            )
            .otherwise(stripped)
        )
    if country in ("SV", "HN"):
        short = 8 if country == "SV" else 12
        return (
            pl.when(stripped.str.contains(rf"^[0-9]{{{short}}}$"))
            .then(pl.concat_str(pl.lit("0"), stripped))
            .otherwise(stripped)
        )
    return stripped


def _dept_muni_expr(country: str, dept: pl.Expr, muni: pl.Expr) -> pl.Expr:
    counts = _municipality_counts(country)
    limit = dept.replace_strict(dict(counts), default=0, return_dtype=pl.Int64)
    return (muni >= 1) & (muni <= limit)


def _grade(bad_format: pl.Expr, check_ok: pl.Expr | None = None) -> pl.Expr:
    bad = pl.when(bad_format).then(pl.lit("bad_format"))
    if check_ok is None:
        return bad.otherwise(pl.lit("valid"))
    return bad.when(~check_ok).then(pl.lit("check_failed")).otherwise(pl.lit("valid"))


def _status_expr(country: str | None, n: pl.Expr) -> pl.Expr:
    """The status of the normalised numbers ``n`` of one country (the tests of ``check_id``)."""
    if country == "GT":
        place = _dept_muni_expr("GT", _int(n, 9, 2), _int(n, 11, 2))
        ok = (_weighted(n, _GT_WEIGHTS) % 11) == _digit(n, 8)
        return _grade(~n.str.contains(r"^[0-9]{13}$") | ~place, ok)
    if country == "SV":
        ok = ((10 - _weighted(n, _SV_WEIGHTS) % 10) % 10) == _digit(n, 8)
        return _grade(~n.str.contains(r"^[0-9]{9}$") | n.str.starts_with("00000000"), ok)
    if country == "HN":
        place = _dept_muni_expr("HN", _int(n, 0, 2), _int(n, 2, 2))
        year = _int(n, 4, 4)
        return _grade(~(n.str.contains(r"^[0-9]{13}$") & place & (year >= 1880) & (year <= 2100)))
    if country == "NI":
        dd, mm, yy = _int(n, 3, 2), _int(n, 5, 2), _int(n, 7, 2)
        dim = mm.replace_strict(
            {i + 1: d for i, d in enumerate(_DAYS_IN_MONTH)}, default=0, return_dtype=pl.Int64
        )
        date_ok = (dd >= 1) & (dd <= dim) & ~((mm == 2) & (dd == 29) & (yy % 4 != 0))
        letter = (_int(n, 0, 13) % 23).replace_strict(
            dict(enumerate(_NI_LETTERS)), default=None, return_dtype=pl.String
        )
        bad = ~n.str.contains(r"^[0-9]{13}[A-Z]$") | n.str.starts_with("000") | ~date_ok
        return _grade(bad, letter == n.str.slice(13, 1))
    if country == "CR":
        return _grade(~n.str.contains(r"^(?:[1-9][0-9]{8}|1[0-9]{10,11})$"))
    if country == "PA":
        prefix = n.str.extract(_PA_NORMAL, 1)
        province = _int(prefix, 0, 2)
        ok = prefix.is_not_null() & (province.is_null() | ((province >= 1) & (province <= 13)))
        return _grade(~ok)
    if country == "BZ":
        return (
            pl.when(n.str.contains(r"^[0-9]{6,9}$"))
            .then(pl.lit("valid"))
            .otherwise(pl.lit("unchecked"))
        )
    return pl.lit("unchecked")


def _check_frame(codes: pl.Series, raws: pl.Series) -> pl.DataFrame:
    """The vectorised path of ``check_ids``: alpha-2 codes (or null) and raw numbers."""
    frame = pl.DataFrame({"code": codes, "raw": raws}).with_row_index("_row")
    parts = []
    for code, part in frame.partition_by("code", as_dict=True, maintain_order=False).items():
        country = code[0]
        country = country if country in ID_RULES else None
        n = pl.col("_n")
        parts.append(
            part.with_columns(_up=pl.col("raw").str.to_uppercase())
            .with_columns(_st=pl.col("_up").str.replace_all(r"[^A-Z0-9]", ""))
            .with_columns(_n=_normalise_expr(country))
            .with_columns(id_n=pl.when(n != "").then(n))
            .with_columns(
                id_status=pl.when(pl.col("id_n").is_not_null()).then(
                    _status_expr(country, pl.col("id_n"))
                )
            )
            .select("_row", "id_n", "id_status")
        )
    schema = {"_row": pl.UInt32, "id_n": pl.String, "id_status": pl.String}
    out = pl.concat(parts) if parts else pl.DataFrame(schema=schema)
    return out.sort("_row").drop("_row")


def check_ids(countries: pl.Series, ids: pl.Series) -> pl.DataFrame:
    """Normalise and check whole columns of identity numbers (vectorised ``check_id``).

    Args:
        countries: Issuing countries (alpha-2 codes or any spelling ``country_code`` accepts).
        ids: The numbers as written.

    Returns:
        A frame of the same length with ``id_n`` (normalised, null when there is no number)
        and ``id_status`` (null when there is no number; otherwise as ``check_id``).
    """
    countries, ids = countries.cast(pl.String), ids.cast(pl.String)
    if len(ids) < _SMALL:
        rows = [check_id(c, r) for c, r in zip(countries, ids, strict=True)]
        return pl.DataFrame(
            {
                "id_n": [x.normalised or None for x in rows],
                "id_status": [x.status if x.normalised else None for x in rows],
            },
            schema={"id_n": pl.String, "id_status": pl.String},
        )
    # Countries repeat: resolve each distinct spelling once.
    distinct = countries.unique().drop_nulls()
    resolved = distinct.to_frame("c").select(
        pl.when(pl.col("c").is_in(list(ID_RULES)))
        .then(pl.col("c"))
        .otherwise(country_expr(pl.col("c")))
    )["c"]
    codes = countries.replace_strict(distinct, resolved, default=None, return_dtype=pl.String)
    return _check_frame(codes, ids)


# --- synthetic numbers --------------------------------------------------------------


def make_valid_id(country: str, rng: random.Random, *, written: bool = True) -> str:
    """A made-up identity number that satisfies the country's rule (status ``valid``).

    For synthetic data and tests. Numbers are random: any resemblance to an issued number is
    chance.

    Args:
        country: ISO alpha-2 code with a rule in ``ID_RULES``.
        rng: The random source (seeded by the caller for reproducible data).
        written: Return the number as people write it (``001-150385-0012B``); False gives the
            normalised form.

    Returns:
        The number.

    Raises:
        KeyError: For a country without a rule.
    """
    if country not in ID_RULES:
        raise KeyError(f"no identity-number rule for {country!r}")
    if country == "GT":
        counts = _municipality_counts("GT")
        while True:
            serial = f"{rng.randrange(10_000_000, 100_000_000)}"
            total = sum(int(d) * w for d, w in zip(serial, _GT_WEIGHTS, strict=True)) % 11
            if total < 10:  # a remainder of 10 has no check digit: such serials are not issued
                break
        dept = rng.choice(sorted(counts))
        n = f"{serial}{total}{dept:02d}{rng.randint(1, counts[dept]):02d}"
        return f"{n[:4]} {n[4:9]} {n[9:]}" if written else n
    if country == "SV":
        body = f"{rng.randrange(1, 100_000_000):08d}"
        n = body + str(_sv_check(body + "0"))
        return f"{n[:8]}-{n[8]}" if written else n
    if country == "HN":
        counts = _municipality_counts("HN")
        dept = rng.choice(sorted(counts))
        n = f"{dept:02d}{rng.randint(1, counts[dept]):02d}{rng.randint(1940, 2008)}"
        n += f"{rng.randrange(100_000):05d}"
        return f"{n[:4]}-{n[4:8]}-{n[8:]}" if written else n
    if country == "NI":
        muni = rng.randint(1, 999)
        year = rng.randint(1940, 2008)
        month = rng.randint(1, 12)
        day = rng.randint(1, 28)
        digits = f"{muni:03d}{day:02d}{month:02d}{year % 100:02d}{rng.randrange(10_000):04d}"
        n = digits + _ni_letter(digits)
        return f"{n[:3]}-{n[3:9]}-{n[9:]}" if written else n
    if country == "CR":
        province, tomo, asiento = rng.randint(1, 9), rng.randint(1, 9999), rng.randint(1, 9999)
        return (
            f"{province}-{tomo:04d}-{asiento:04d}"
            if written
            else f"{province}{tomo:04d}{asiento:04d}"
        )
    if country == "PA":
        prefix = rng.choice([str(p) for p in range(1, 14)] + ["PE", "E", "N", "8AV", "4PI"])
        tomo, asiento = rng.randint(1, 999), rng.randint(1, 99999)
        return (
            normalise_id("PA", f"{prefix}-{tomo}-{asiento}")
            if not written
            else (f"{prefix}-{tomo}-{asiento}")
        )
    return f"{rng.randrange(100_000, 1_000_000_000)}"
