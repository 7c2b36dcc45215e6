"""Stolen-vehicle matching: licence plates, VINs, and the score of two vehicle records.

* **Plates** (:func:`canonical_plate`): upper-cased letters and digits only, so ``"p-123 abc"``
  and ``"P123ABC"`` agree. Several countries of the region begin a plate with letters that
  give its class (Guatemala ``P`` particular, ``C`` commercial, ``M`` motorcycle, ``TC``
  freight...; El Salvador likewise; Costa Rica ``MOT``, ``CL``, ``TA``): that prefix is kept
  as it is, because ``P-123ABC`` and ``C-123ABC`` are two different registrations, but a
  record that left it out still matches on the rest (:func:`plate_parts`). In the rest of
  the plate ``O`` is folded to ``0`` and ``I`` to ``1``, the two misreadings of plates.
* **VINs** (:func:`canonical_vin`, :func:`vin_check`): ISO 3779 VINs have 17 characters and
  never use ``I``, ``O`` or ``Q``, so those letters are read as the digits they were mistaken
  for. Position 9 is a check digit (49 CFR 565) that is mandatory for North American VINs
  (first character 1-5) and Chinese ones (``L``, GB 16735); elsewhere it is optional, so it is
  checked only for those. A wrong check digit is reported as ``check_failed``, a warning that
  the VIN was probably misread, never a rejection.
* :func:`score_vehicle` sums log2 Bayes factors, like the firearm and person scores (weights
  in :data:`VEHICLE_WEIGHTS`, set by judgement): a VIN or a plate with its country decides;
  make, model, colour and year support.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from safestreets.sharing.comparisons import Score, probability_of

__all__ = [
    "PLATE_PREFIXES",
    "VEHICLE_WEIGHTS",
    "canonical_plate",
    "canonical_vin",
    "normalise_colour",
    "normalise_country",
    "normalise_vehicle_make",
    "plate_parts",
    "score_vehicle",
    "vin_check",
]

_MARKS = re.compile(r"[\u0300-\u036f]+")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]+")

#: Plate class prefixes kept apart from the rest of the plate, by country (common classes, not
#: every one: from the vehicle registries' published plate formats).
PLATE_PREFIXES: Final[Mapping[str, frozenset[str]]] = {
    "GT": frozenset(
        {"P", "C", "M", "A", "U", "O", "TC", "TRC", "CD", "CC", "MI", "DIS", "TE", "E"}
    ),
    "SV": frozenset({"P", "A", "C", "M", "N", "O", "V", "AB", "MB", "PNC", "RE", "T", "F", "D"}),
    "CR": frozenset({"MOT", "CL", "C", "TA", "CD", "AB"}),
}
_PLATE_FOLD = str.maketrans({"O": "0", "I": "1"})
_VIN_FOLD = str.maketrans({"O": "0", "I": "1", "Q": "0"})


def _upper_alnum(s: str) -> str:
    if not s.isascii():
        s = _MARKS.sub("", unicodedata.normalize("NFKD", s))
    return _NOT_ALNUM.sub("", s.upper())


def normalise_country(s: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code of a country written as a code, a name or a demonym.

    The same reading as the person records' countries (``ids.country_code``).

    Args:
        s: ``"GT"``, ``"GTM"``, ``"Guatemala"``, ``"México"``, ...

    Returns:
        The alpha-2 code, or None when empty or unknown.
    """
    from safestreets.sharing.ids import country_code

    if not s or not s.strip():
        return None
    return country_code(s)


@lru_cache(maxsize=65536)
def plate_parts(plate: str | None, country: str | None = None) -> tuple[str, str]:
    """Split a plate into its class prefix (kept as written) and the folded rest.

    Args:
        plate: The plate as written (``"P-123ABC"``).
        country: The issuing country (code or name); the prefix is split off only for the
            countries in :data:`PLATE_PREFIXES`.

    Returns:
        ``(prefix, body)`` with ``O``/``I`` folded in the body only:
        ``plate_parts("P-123 ABO", "GT") == ("P", "123AB0")``.
    """
    if not plate:
        return "", ""
    code = normalise_country(country)
    prefixes = PLATE_PREFIXES.get(code or "", frozenset())
    raw = plate.upper()
    if not raw.isascii():
        raw = _MARKS.sub("", unicodedata.normalize("NFKD", raw))
    # The prefix is the leading letters before a separator or a digit ("P-123ABC", "P123ABC").
    m = re.match(r"\s*([A-Z]{1,3})(?:[\s\-.]*)(?=\d)", raw)
    if m and m.group(1) in prefixes:
        return m.group(1), _upper_alnum(raw[m.end() :]).translate(_PLATE_FOLD)
    return "", _upper_alnum(raw).translate(_PLATE_FOLD)


def canonical_plate(plate: str | None, country: str | None = None) -> str:
    """The comparison form of a licence plate: class prefix + folded rest.

    Args:
        plate: The plate as written.
        country: The issuing country (code or name), if known.

    Returns:
        Upper-case letters and digits, ``O``->``0`` and ``I``->``1`` outside the class prefix
        ("" for None).

    Examples:
        >>> canonical_plate("p-123 abo", "GT")
        'P123AB0'
        >>> canonical_plate("O-1O3ABC", "GT")  # official plate: the class letter stays a letter
        'O103ABC'
    """
    prefix, body = plate_parts(plate, country)
    return prefix + body


def canonical_vin(vin: str | None) -> str:
    """Upper-case letters and digits of a VIN with ``I``, ``O``, ``Q`` read as 1, 0, 0.

    Args:
        vin: The VIN as written.

    Returns:
        The canonical VIN ("" for None).
    """
    if not vin:
        return ""
    return _upper_alnum(vin).translate(_VIN_FOLD)


_VIN_VALUES: Final = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS: Final = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
#: First characters of VINs whose check digit is mandatory (North America; China).
_CHECKED_REGIONS: Final = frozenset("12345L")


def vin_check_digit(vin: str) -> str:
    """The ISO 3779 / 49 CFR 565.15 check digit of a 17-character canonical VIN.

    Args:
        vin: 17 characters (letters other than I, O, Q, and digits).

    Returns:
        ``"0"``-``"9"`` or ``"X"``.
    """
    total = sum(_VIN_VALUES[ch] * w for ch, w in zip(vin, _VIN_WEIGHTS, strict=True))
    rest = total % 11
    return "X" if rest == 10 else str(rest)


def vin_check(vin: str | None) -> str:
    """Check a VIN's format and, where mandatory, its check digit.

    Args:
        vin: The VIN as written (``I``/``O``/``Q`` are read as 1/0/0 first).

    Returns:
        ``"valid"`` (format and check digit right), ``"check_failed"`` (North American or
        Chinese VIN with a wrong check digit: probably misread), ``"unchecked"`` (well formed,
        but the check digit is optional in its region, or no VIN given), ``"bad_format"``.

    Examples:
        >>> vin_check("1M8GDM9AXKP042788")
        'valid'
        >>> vin_check("1M8GDM9A1KP042788")
        'check_failed'
    """
    v = canonical_vin(vin)
    if not v:
        return "unchecked"
    if len(v) != 17 or any(ch not in _VIN_VALUES for ch in v):
        return "bad_format"
    if v[0] not in _CHECKED_REGIONS:
        return "unchecked"
    return "valid" if vin_check_digit(v) == v[8] else "check_failed"


_VEHICLE_MAKES: Final = {
    "VW": "VOLKSWAGEN",
    "VOLKSWAGON": "VOLKSWAGEN",
    "CHEVY": "CHEVROLET",
    "CHEV": "CHEVROLET",
    "GM": "CHEVROLET",
    "MERCEDES": "MERCEDES-BENZ",
    "MERCEDESBENZ": "MERCEDES-BENZ",
    "BENZ": "MERCEDES-BENZ",
    "MB": "MERCEDES-BENZ",
    "DATSUN": "NISSAN",
    "RANGEROVER": "LAND ROVER",
    "LANDROVER": "LAND ROVER",
    "MITSUBISHIMOTORS": "MITSUBISHI",
    "TOYOTAMOTOR": "TOYOTA",
    "HYUNDAIMOTOR": "HYUNDAI",
    "KIAMOTORS": "KIA",
    "INTERNATIONAL": "INTERNATIONAL",
    "NAVISTAR": "INTERNATIONAL",
    "ITALIKA": "ITALIKA",
}


@lru_cache(maxsize=4096)
def normalise_vehicle_make(s: str | None) -> str | None:
    """Canonical vehicle make (upper case): ``"VW"`` -> ``"VOLKSWAGEN"``, ``"Chevy"`` ->
    ``"CHEVROLET"``.

    Args:
        s: A make as written.

    Returns:
        The make, or None when empty.
    """
    if not s:
        return None
    key = _upper_alnum(s)
    if not key:
        return None
    return _VEHICLE_MAKES.get(key, key)


_COLOURS: Final = {
    "rojo": "red",
    "roja": "red",
    "red": "red",
    "vino": "red",
    "corinto": "red",
    "granate": "red",
    "maroon": "red",
    "burgundy": "red",
    "azul": "blue",
    "blue": "blue",
    "celeste": "blue",
    "navy": "blue",
    "blanco": "white",
    "blanca": "white",
    "white": "white",
    "negro": "black",
    "negra": "black",
    "black": "black",
    "gris": "grey",
    "plomo": "grey",
    "grey": "grey",
    "gray": "grey",
    "plateado": "silver",
    "plateada": "silver",
    "plata": "silver",
    "silver": "silver",
    "verde": "green",
    "green": "green",
    "amarillo": "yellow",
    "amarilla": "yellow",
    "yellow": "yellow",
    "cafe": "brown",
    "marron": "brown",
    "brown": "brown",
    "beige": "beige",
    "crema": "beige",
    "dorado": "gold",
    "dorada": "gold",
    "oro": "gold",
    "gold": "gold",
    "anaranjado": "orange",
    "naranja": "orange",
    "orange": "orange",
    "morado": "purple",
    "violeta": "purple",
    "purple": "purple",
}
# Colours a witness or a register may use for the same paint.
_NEAR_COLOURS: Final = (
    frozenset({"grey", "silver"}),
    frozenset({"beige", "gold"}),
    frozenset({"beige", "brown"}),
    frozenset({"red", "orange"}),
    frozenset({"white", "silver"}),
)


@lru_cache(maxsize=1024)
def normalise_colour(s: str | None) -> str | None:
    """Basic colour in English from a Spanish or English colour name (first known word).

    Args:
        s: ``"Gris plomo"``, ``"ROJO VINO"``, ``"silver"``...

    Returns:
        The colour, the folded text when no word is known, or None when empty.
    """
    if not s:
        return None
    text = s.casefold()
    if not text.isascii():
        text = _MARKS.sub("", unicodedata.normalize("NFKD", text))
    words = re.findall(r"[a-z]+", text)
    for word in words:
        if word in _COLOURS:
            return _COLOURS[word]
    return " ".join(words) or None


def _year(value: Any) -> int | None:
    if value is None:
        return None
    m = re.search(r"\d{4}", str(value))
    return int(m.group()) if m else None


#: log2 Bayes factors of each level (set by judgement, see the module docstring).
VEHICLE_WEIGHTS: Final[Mapping[str, float]] = {
    "prior": -6.0,
    "vin_exact": 20.0,  # same 17-character VIN
    "vin_partial_per_char": 1.5,  # one VIN is the end of the other (6+ characters): per char
    "vin_partial_max": 14.0,
    "vin_close": 10.0,  # one edit apart, both 17 characters
    "vin_differ": -12.0,  # both 17 characters, 2+ edits apart
    "vin_differ_partial": -4.0,
    "plate_exact": 12.0,  # same plate, same (or one unknown) country ...
    "plate_country_unknown": -2.0,  # ... minus this when a country is missing
    "plate_body": 9.0,  # same plate except that one record lacks the class prefix
    "plate_close": 5.0,  # one edit apart (5+ characters)
    "plate_other_country": -2.0,  # same plate characters, different countries
    "plate_other_class": -3.0,  # same digits, different class prefix (P- vs C-)
    "plate_differ": -5.0,  # different plates (a stolen car is often re-plated: not decisive)
    "make_agree": 2.0,
    "make_differ": -4.0,
    "model_agree": 1.5,
    "model_differ": -1.5,
    "colour_agree": 1.0,
    "colour_near": 0.0,
    "colour_differ": -1.0,  # repainting is common
    "year_agree": 1.0,
    "year_near": 0.0,  # one year apart (model year vs registration year)
    "year_differ": -2.0,
}


def _vin_weight(q: str, c: str) -> float | None:
    w = VEHICLE_WEIGHTS
    if not q or not c:
        return None
    if q == c:
        if len(q) == 17:
            return w["vin_exact"]
        return min(w["vin_partial_max"], w["vin_partial_per_char"] * len(q))
    short, long_ = sorted((q, c), key=len)
    if len(short) < 17 and len(short) >= 6 and long_.endswith(short):
        return min(w["vin_partial_max"], w["vin_partial_per_char"] * len(short))
    if len(q) == 17 and len(c) == 17:
        return w["vin_close"] if OSA.distance(q, c) == 1 else w["vin_differ"]
    return w["vin_differ_partial"]


def _plate_weight(query: Mapping[str, Any], cand: Mapping[str, Any]) -> float | None:
    w = VEHICLE_WEIGHTS
    cq = normalise_country(query.get("plate_country"))
    cc = normalise_country(cand.get("plate_country"))
    # A plate given without its country is read as a plate of the other record's country.
    pq, bq = plate_parts(query.get("plate"), cq or cc)
    pc, bc = plate_parts(cand.get("plate"), cc or cq)
    if not bq or not bc:
        return None
    if cq and cc and cq != cc:
        return w["plate_other_country"] if bq == bc else w["plate_differ"]
    unknown = 0.0 if (cq and cc) else w["plate_country_unknown"]
    if bq == bc:
        if pq == pc:
            return w["plate_exact"] + unknown
        if not pq or not pc:
            return w["plate_body"] + unknown
        return w["plate_other_class"]
    if (pq == pc or not pq or not pc) and max(len(bq), len(bc)) >= 5 and OSA.distance(bq, bc) == 1:
        return w["plate_close"] + unknown
    return w["plate_differ"]


def score_vehicle(query: Mapping[str, Any], candidate: Mapping[str, Any]) -> Score:
    """Score a vehicle query against a candidate record.

    Args:
        query: ``plate``, ``plate_country``, ``vin``, ``make``, ``model``, ``colour``, ``year``
            (any may be missing).
        candidate: The same fields of a stored record.

    Returns:
        The :class:`~safestreets.sharing.comparisons.Score`; ``agreeing`` lists the fields with
        positive evidence.

    Examples:
        >>> s = score_vehicle({"plate": "p123abc", "plate_country": "GT"},
        ...                   {"plate": "P-123ABC", "plate_country": "Guatemala"})
        >>> s.probability > 0.95, s.agreeing
        (True, ('plate',))
    """
    w = VEHICLE_WEIGHTS
    total = w["prior"]
    agreeing: list[str] = []

    def add(field: str, weight: float | None) -> None:
        nonlocal total
        if weight is None:
            return
        total += weight
        if weight > 0:
            agreeing.append(field)

    add("vin", _vin_weight(canonical_vin(query.get("vin")), canonical_vin(candidate.get("vin"))))
    add("plate", _plate_weight(query, candidate))

    mq = normalise_vehicle_make(query.get("make"))
    mc = normalise_vehicle_make(candidate.get("make"))
    if mq and mc:
        add("make", w["make_agree"] if mq == mc else w["make_differ"])

    oq, oc = _upper_alnum(query.get("model") or ""), _upper_alnum(candidate.get("model") or "")
    if oq and oc:
        same = oq == oc or (min(len(oq), len(oc)) >= 4 and fuzz.ratio(oq, oc) >= 85)
        add("model", w["model_agree"] if same else w["model_differ"])

    kq, kc = normalise_colour(query.get("colour")), normalise_colour(candidate.get("colour"))
    if kq and kc:
        if kq == kc:
            add("colour", w["colour_agree"])
        elif frozenset({kq, kc}) in _NEAR_COLOURS:
            add("colour", w["colour_near"])
        else:
            add("colour", w["colour_differ"])

    yq, yc = _year(query.get("year")), _year(candidate.get("year"))
    if yq is not None and yc is not None:
        gap = abs(yq - yc)
        add(
            "year",
            w["year_agree"] if gap == 0 else w["year_near"] if gap == 1 else w["year_differ"],
        )

    return Score(
        match_weight=round(total, 6), probability=probability_of(total), agreeing=tuple(agreeing)
    )
