"""Firearm tracing: serial numbers, calibres, makes, and the score of two firearm records.

Serial numbers are read off metal by people under pressure, so the same firearm appears in a
stolen list, a seizure and a crime-scene recovery with different spellings of its serial:

* **misreadings** of similar glyphs. :func:`canonical_serial` folds the pairs the issue names,
  ``O->0``, ``I->1``, ``L->1``, ``S->5``, ``B->8``, ``Z->2``, in both records before they are
  compared. No other pairs are folded: ``Q``/``D``/``G`` are true serial letters often enough
  (Glock prefixes, Taurus ``TD``) that folding them would merge different firearms, and a
  single misread of that kind is still found as a one-character difference.
* **missing or extra characters** and other single slips: :func:`serial_similarity` is the
  optimal-string-alignment similarity (Levenshtein plus adjacent transpositions, rapidfuzz)
  of the canonical serials, normalised by the longer length.
* **obliterated characters**: an officer writes each unreadable character as ``?``, ``*``,
  ``_`` or ``#``. :func:`serial_pattern` turns such a serial into a regular expression in which
  each unknown stands for exactly one character, so a pattern with *k* unknowns matches
  serials of the same length. With ``open_ends=True`` a run of unknowns at the start or the end
  stands for any number of characters (for a serial whose length is not known either).

Calibres and makes are normalised with curated tables shipped as package data
(``reference/data/firearm_calibres.csv`` and ``firearm_makes.csv``, with their source notes).

:func:`score_firearm` combines the evidence as a sum of log2 Bayes factors, like the person
model: the figures in :data:`FIREARM_WEIGHTS` are set by judgement (no labelled firearm data
to train on), chosen so that an exact serial with nothing else known is a hit, a missing make
or model does not count against a match, and a calibre that disagrees sinks even an exact
serial (a different calibre means a different firearm or a bad record that needs a person).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from safestreets.reference._data import read_bytes
from safestreets.sharing.comparisons import Score, probability_of

__all__ = [
    "CONFUSABLES",
    "FIREARM_WEIGHTS",
    "UNKNOWN_MARKS",
    "Score",
    "calibres_compatible",
    "canonical_serial",
    "is_pattern",
    "normalise_calibre",
    "normalise_firearm_type",
    "normalise_make",
    "score_firearm",
    "serial_pattern",
    "serial_similarity",
]

#: Glyph pairs folded before serials are compared (the misreadings the issue names).
CONFUSABLES: Final = {"O": "0", "I": "1", "L": "1", "S": "5", "B": "8", "Z": "2"}
#: Characters that stand for one unreadable (obliterated) character of a serial.
UNKNOWN_MARKS: Final = "?*_#"

_FOLD = str.maketrans(CONFUSABLES)
_MARKS = re.compile(r"[\u0300-\u036f]+")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]+")
_WILD = "?"


def _ascii_upper(s: str) -> str:
    if not s.isascii():
        s = _MARKS.sub("", unicodedata.normalize("NFKD", s))
    return s.upper()


# ---------------------------------------------------------------------------------------------
# Serials
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def canonical_serial(s: str | None) -> str:
    """The comparison form of a serial number.

    Upper-cased, accents removed, everything but letters and digits dropped (so unknown-marks
    and separators vanish), and the confusable glyphs of :data:`CONFUSABLES` folded.

    Args:
        s: A serial as written, or None.

    Returns:
        The canonical serial ("" for None or nothing legible).

    Examples:
        >>> canonical_serial("abz-1o5 s")
        'A821055'

    """
    if not s:
        return ""
    return _NOT_ALNUM.sub("", _ascii_upper(s)).translate(_FOLD)


@lru_cache(maxsize=65536)
def _template(s: str | None) -> str:
    """Canonical serial keeping each unknown mark as ``?`` (separators dropped)."""
    if not s:
        return ""
    out = []
    for ch in _ascii_upper(s):
        if ch in UNKNOWN_MARKS:
            out.append(_WILD)
        elif ch.isascii() and ch.isalnum():
            out.append(ch.translate(_FOLD))
    return "".join(out)


def is_pattern(s: str | None) -> bool:
    """Whether a serial has unreadable characters and at least one legible one.

    Args:
        s: A serial as written.

    Returns:
        True when :func:`serial_pattern` gives a pattern for it.
    """
    t = _template(s)
    return _WILD in t and any(ch != _WILD for ch in t)


def pattern_known(s: str | None) -> int:
    """Number of legible characters in a serial (all of them if it is not a pattern)."""
    return sum(ch != _WILD for ch in _template(s))


@lru_cache(maxsize=16384)
def serial_pattern(s: str | None, *, open_ends: bool = False) -> re.Pattern[str] | None:
    """A regular expression over canonical serials for a serial with unreadable characters.

    Each unknown mark (``?``, ``*``, ``_``, ``#``) stands for exactly one character; the
    legible characters are canonicalised like :func:`canonical_serial`, so the pattern is meant
    for ``fullmatch`` against canonical serials.

    Args:
        s: A serial as written, e.g. ``"AB??4567"``.
        open_ends: Read a leading or trailing run of unknowns as "any number of characters".

    Returns:
        The compiled pattern, or None when the serial has no unknown character or no legible
        one (a serial of unknowns carries no information).

    Examples:
        >>> bool(serial_pattern("AB??4567").fullmatch(canonical_serial("ab124567")))
        True
    """
    if not is_pattern(s):
        return None
    t = _template(s)
    head = len(t) - len(t.lstrip(_WILD))
    tail = len(t) - len(t.rstrip(_WILD))
    core = t[head : len(t) - tail]
    body = "".join("." if ch == _WILD else ch for ch in core)
    if open_ends:
        lead = ".*" if head else ""
        trail = ".*" if tail else ""
    else:
        lead, trail = "." * head, "." * tail
    return re.compile(lead + body + trail)


def _same(x: str, y: str) -> bool:
    return x in (y, _WILD) or y == _WILD


def _wild_distance(a: str, b: str, *, open_start: bool = False, open_end: bool = False) -> int:
    """Edit distance with adjacent transpositions where ``?`` (on either side) matches anything.

    rapidfuzz has no wildcard; serials are short (< 30 characters), so this small dynamic
    programme costs microseconds. With open ends the unmatched start/end of ``b`` is free
    (semi-global alignment).
    """
    n, m = len(a), len(b)
    prev2: list[int] = []
    prev = [0] * (m + 1) if open_start else list(range(m + 1))
    for i in range(1, n + 1):
        cur = [i] + [0] * m
        x = a[i - 1]
        for j in range(1, m + 1):
            best = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (0 if _same(x, b[j - 1]) else 1))
            if i > 1 and j > 1 and _same(x, b[j - 2]) and _same(a[i - 2], b[j - 1]):
                best = min(best, prev2[j - 2] + 1)
            cur[j] = best
        prev2, prev = prev, cur
    return min(prev) if open_end else prev[m]


def serial_similarity(a: str | None, b: str | None, *, open_ends: bool = False) -> float:
    """Similarity of two serials in [0, 1]; 1 means the same canonical serial.

    Optimal string alignment (Levenshtein plus adjacent transpositions) of the canonical
    serials, normalised by the longer length, so one missing, extra or misread character in a
    ten-character serial gives 0.9. If either serial has unreadable characters they match any
    character (a pattern that matches gives 1).

    Args:
        a: A serial as written (may be a pattern).
        b: Another.
        open_ends: As in :func:`serial_pattern`.

    Returns:
        The similarity; 0 when either serial has no legible character.
    """
    pa, pb = is_pattern(a), is_pattern(b)
    if not pa and not pb:
        ca, cb = canonical_serial(a), canonical_serial(b)
        if not ca or not cb:
            return 0.0
        return float(OSA.normalized_similarity(ca, cb))
    if not pa:
        a, b = b, a
    ta, tb = _template(a), _template(b) if is_pattern(b) else canonical_serial(b)
    if not tb:
        return 0.0
    head = len(ta) - len(ta.lstrip(_WILD))
    tail = len(ta) - len(ta.rstrip(_WILD))
    core = ta[head : len(ta) - tail] if open_ends else ta
    dist = _wild_distance(
        core, tb, open_start=open_ends and head > 0, open_end=open_ends and tail > 0
    )
    return max(0.0, 1.0 - dist / max(len(core), len(tb)))


# ---------------------------------------------------------------------------------------------
# Calibres, makes, types
# ---------------------------------------------------------------------------------------------

_CAL_WORDS = re.compile(r"\b(calibre|caliber|calibr|cal|cartucho|municion|cartridge|ammo)\b\.?")
_CAL_X = re.compile(r"\s*[x×\*]\s*")
_CAL_MM = re.compile(r"(\d)\s+mm\b")
_CAL_SPACES = re.compile(r"\s+")


def _calibre_key(s: str) -> str:
    """Lookup key of a calibre spelling (see the notes in firearm_calibres.csv)."""
    s = s.casefold()
    if not s.isascii():
        s = _MARKS.sub("", unicodedata.normalize("NFKD", s))
    s = re.sub(r"(\d),(\d)", r"\1.\2", s)
    s = _CAL_WORDS.sub(" ", s)
    s = s.replace("smith and wesson", "s&w").replace("smith & wesson", "s&w")
    s = re.sub(r"\bs\s*&\s*w\b", "s&w", s)
    s = _CAL_X.sub("x", s)
    s = _CAL_MM.sub(r"\1mm", s)
    s = re.sub(r"[^a-z0-9.&/x\- ]", " ", s)
    s = _CAL_SPACES.sub(" ", s).strip(" .-")
    s = re.sub(r"^0?\.(?=\d)", "", s)  # ".38", "0.38" -> "38"
    return s


def _read_table(name: str) -> list[dict[str, str]]:
    text = read_bytes(name).decode("utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


@lru_cache(maxsize=1)
def _calibre_table() -> dict[str, str]:
    table = {}
    for row in _read_table("firearm_calibres.csv"):
        table[_calibre_key(row["alias"])] = row["calibre"]
        table[_calibre_key(row["calibre"])] = row["calibre"]
    return table


@lru_cache(maxsize=4096)
def normalise_calibre(s: str | None) -> str | None:
    """One canonical form of a calibre.

    ``"9mm"``, ``"9 mm"``, ``"9x19"``, ``"9mm Luger"``, ``"Parabellum"`` and ``"calibre 9"``
    all give ``"9x19mm"``; ``".38 Special"``/``"38 SPL"`` give ``".38 Special"``; ``"12 GA"``
    and ``"calibre 12"`` give ``"12 gauge"``; ``".223"`` gives ``"5.56x45mm"``. The table and
    its assumptions are in ``reference/data/firearm_calibres.csv``.

    Args:
        s: A calibre as written.

    Returns:
        The canonical calibre; a spelling not in the table comes back as its upper-cased
        lookup key (so two records with the same unusual calibre still agree); None when empty.
    """
    if s is None:
        return None
    key = _calibre_key(s)
    if not key:
        return None
    table = _calibre_table()
    if key in table:
        return table[key]
    # "9mm luger +p", "38 special (revolver)": try the leading words.
    words = key.split(" ")
    for n in range(len(words) - 1, 0, -1):
        hit = table.get(" ".join(words[:n]))
        if hit is not None:
            return hit
    return key.upper()


# Pairs of canonical calibres a register may use for the same firearm: a .357 Magnum revolver
# fires .38 Special; "7.62mm" with no case length may be any 7.62; .22 LR chambers take .22 Short.
_COMPATIBLE: Final = (
    frozenset({".357 Magnum", ".38 Special"}),
    frozenset({".44 Magnum", ".44 Special"}),
    frozenset({"7.62mm", "7.62x39mm"}),
    frozenset({"7.62mm", "7.62x51mm"}),
    frozenset({"7.62mm", "7.62x25mm Tokarev"}),
    frozenset({".22 LR", ".22 Short"}),
    frozenset({".32 S&W", ".32 S&W Long"}),
)


def calibres_compatible(a: str, b: str) -> bool:
    """Whether two different canonical calibres may describe the same firearm.

    Args:
        a: A canonical calibre (from :func:`normalise_calibre`).
        b: Another.

    Returns:
        True for the pairs listed in ``_COMPATIBLE`` (e.g. .357 Magnum and .38 Special).
    """
    return frozenset({a, b}) in _COMPATIBLE


def _make_key(s: str) -> str:
    s = s.casefold().replace("&", " and ")
    if not s.isascii():
        s = _MARKS.sub("", unicodedata.normalize("NFKD", s))
    return re.sub(r"[^a-z0-9]+", "", s)


@lru_cache(maxsize=1)
def _make_table() -> dict[str, str]:
    table = {}
    for row in _read_table("firearm_makes.csv"):
        table[_make_key(row["alias"])] = row["make"]
        table[_make_key(row["make"])] = row["make"]
    return table


@lru_cache(maxsize=4096)
def normalise_make(s: str | None) -> str | None:
    """One canonical form of a firearm manufacturer.

    ``"S&W"``, ``"SW"``, ``"Smith and Wesson"`` give ``"Smith & Wesson"``; ``"Jericho"`` (a
    model often written as the make) gives ``"IWI"``; a misspelling of a known make of five or
    more letters (``"Berreta"``) is matched fuzzily (rapidfuzz ratio >= 85).

    Args:
        s: A make as written.

    Returns:
        The canonical make; an unknown make comes back upper-cased with runs of other
        characters as one space (compare makes with ``_make_key``); None when empty.
    """
    if s is None:
        return None
    key = _make_key(s)
    if not key:
        return None
    table = _make_table()
    if key in table:
        return table[key]
    if len(key) >= 5:
        hit = process.extractOne(key, list(table), scorer=fuzz.ratio, score_cutoff=85)
        if hit is not None:
            return table[hit[0]]
    folded = s if s.isascii() else _MARKS.sub("", unicodedata.normalize("NFKD", s))
    return re.sub(r"[^A-Z0-9]+", " ", folded.upper()).strip()


_TYPES: Final = {
    "pistol": "pistol",
    "pistola": "pistol",
    "handgun": "pistol",
    "revolver": "revolver",
    "rifle": "rifle",
    "fusil": "rifle",
    "carabina": "rifle",
    "carbine": "rifle",
    "shotgun": "shotgun",
    "escopeta": "shotgun",
    "submachine gun": "submachine gun",
    "subametralladora": "submachine gun",
    "smg": "submachine gun",
    "ametralladora": "machine gun",
    "machine gun": "machine gun",
    "assault rifle": "rifle",
    "fusil de asalto": "rifle",
}


@lru_cache(maxsize=1024)
def normalise_firearm_type(s: str | None) -> str | None:
    """Firearm type in English (pistol, revolver, rifle, shotgun, submachine gun, machine gun).

    Args:
        s: A type as written, Spanish or English (``"Pistola"``, ``"escopeta"``).

    Returns:
        The type, the folded text if unknown, or None when empty.
    """
    if not s:
        return None
    key = s.casefold().strip()
    if not key.isascii():
        key = _MARKS.sub("", unicodedata.normalize("NFKD", key))
    key = re.sub(r"[^a-z ]+", " ", key)
    key = re.sub(r"\s+", " ", key).strip()
    if not key:
        return None
    return _TYPES.get(key, key)


def _model_key(model: str | None, make: str | None) -> str:
    if not model:
        return ""
    key = _make_key(model)
    if make:
        for alias, canon in _make_table().items():
            if canon == make and len(alias) >= 3 and key.startswith(alias):
                key = key[len(alias) :]
                break
    return key


def _models_agree(a: str, b: str) -> bool:
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    # "G17"/"17", "PT92"/"92": the shorter is the numeric part of the longer.
    if len(short) >= 2 and any(ch.isdigit() for ch in short) and long_.endswith(short):
        return True
    return len(short) >= 4 and fuzz.ratio(a, b) >= 85


# ---------------------------------------------------------------------------------------------
# Score
# ---------------------------------------------------------------------------------------------

#: log2 Bayes factors of each level (set by judgement, see the module docstring).
FIREARM_WEIGHTS: Final[Mapping[str, float]] = {
    "prior": -4.0,
    "serial_exact": 13.0,  # same canonical serial of 6+ characters
    "serial_exact_short": 7.0,  # same canonical serial of fewer than 6 characters
    "serial_pattern_per_known": 1.5,  # pattern matched: per legible character ...
    "serial_pattern_max": 12.0,  # ... capped below an exact serial
    # One edit apart, both 6+ characters. Makers number serially, so a neighbouring serial
    # may be another firearm of the same make: a hit here is a lead for the follow-up request.
    "serial_close": 8.0,
    "serial_close_short": 4.0,  # one edit apart, 4 or 5 characters (needs make or calibre)
    "serial_near": 3.0,  # two edits apart, both 8+ characters
    "serial_differ": -8.0,
    "make_agree": 3.0,
    "make_differ": -4.0,
    "model_agree": 1.5,
    "model_differ": -1.0,
    "calibre_agree": 2.0,
    "calibre_compatible": 0.0,
    "calibre_differ": -14.0,
    "type_agree": 1.0,
    "type_differ": -3.0,
}


def _serial_weight(q: str | None, c: str | None, open_ends: bool) -> float | None:
    """Weight of the serial comparison; None when either serial is missing."""
    w = FIREARM_WEIGHTS
    q_pat, c_pat = is_pattern(q), is_pattern(c)
    cq, cc = canonical_serial(q), canonical_serial(c)
    if not cq or not cc:
        return None
    if q_pat or c_pat:
        if q_pat and c_pat:
            # Two patterns agree where both are legible; count only those characters.
            tq, tc = _template(q), _template(c)
            ok = len(tq) == len(tc) and all(_same(x, y) for x, y in zip(tq, tc, strict=True))
            known = sum(x != _WILD and y != _WILD for x, y in zip(tq, tc, strict=False))
        else:
            pat, other = (q, cc) if q_pat else (c, cq)
            rx = serial_pattern(pat, open_ends=open_ends)
            ok = rx is not None and rx.fullmatch(other) is not None
            known = pattern_known(pat)
        if ok:
            return min(w["serial_pattern_max"], w["serial_pattern_per_known"] * known)
        return w["serial_differ"] / 2  # a partly unreadable serial is weaker evidence against
    if cq == cc:
        return w["serial_exact"] if len(cq) >= 6 else w["serial_exact_short"]
    d = OSA.distance(cq, cc)
    n = min(len(cq), len(cc))
    if d == 1 and n >= 6:
        return w["serial_close"]
    if d == 1 and n >= 4:
        return w["serial_close_short"]
    if d == 2 and n >= 8:
        return w["serial_near"]
    return w["serial_differ"]


def score_firearm(
    query: Mapping[str, Any], candidate: Mapping[str, Any], *, open_ends: bool = False
) -> Score:
    """Score a firearm query against a candidate record.

    Args:
        query: ``serial``, ``make``, ``model``, ``calibre``, ``firearm_type`` (any missing).
        candidate: The same fields of a stored record.
        open_ends: Read leading/trailing unknowns of a serial as "any number of characters".

    Returns:
        The :class:`Score`; ``agreeing`` lists the fields with positive evidence.

    Examples:
        >>> score_firearm({"serial": "ABC12345"}, {"serial": "A8C12345"}).probability > 0.99
        True
    """
    w = FIREARM_WEIGHTS
    total = w["prior"]
    agreeing: list[str] = []

    sw = _serial_weight(query.get("serial"), candidate.get("serial"), open_ends)
    if sw is not None:
        total += sw
        if sw > 0:
            agreeing.append("serial")

    mq, mc = normalise_make(query.get("make")), normalise_make(candidate.get("make"))
    if mq and mc:
        if _make_key(mq) == _make_key(mc):
            total += w["make_agree"]
            agreeing.append("make")
        else:
            total += w["make_differ"]

    kq = _model_key(query.get("model"), mq)
    kc = _model_key(candidate.get("model"), mc)
    if kq and kc:
        if _models_agree(kq, kc):
            total += w["model_agree"]
            agreeing.append("model")
        else:
            total += w["model_differ"]

    cq, cc = normalise_calibre(query.get("calibre")), normalise_calibre(candidate.get("calibre"))
    if cq and cc:
        if cq == cc:
            total += w["calibre_agree"]
            agreeing.append("calibre")
        elif calibres_compatible(cq, cc):
            total += w["calibre_compatible"]
        else:
            total += w["calibre_differ"]

    tq = normalise_firearm_type(query.get("firearm_type"))
    tc = normalise_firearm_type(candidate.get("firearm_type"))
    if tq and tc:
        if tq == tc:
            total += w["type_agree"]
            agreeing.append("firearm_type")
        else:
            total += w["type_differ"]

    return Score(
        match_weight=round(total, 6),
        probability=probability_of(total),
        agreeing=tuple(agreeing),
    )
