"""Firearm serials, calibres, makes and scores."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safestreets.sharing.firearms import (
    calibres_compatible,
    canonical_serial,
    is_pattern,
    normalise_calibre,
    normalise_firearm_type,
    normalise_make,
    score_firearm,
    serial_pattern,
    serial_similarity,
)

SERIALS = st.text(alphabet=string.ascii_uppercase + string.digits, min_size=1, max_size=14)


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("ABZ-1O5 s", "A821055"),
        ("  tcz 41o8 ", "TC24108"),
        ("0I5B2", "01582"),  # already canonical digits stay
        ("ÁB-12", "A812"),
        (None, ""),
        ("--", ""),
    ],
)
def test_canonical_serial_folds_the_issues_confusables(written: str | None, canonical: str) -> None:
    assert canonical_serial(written) == canonical


def test_misread_glyphs_give_the_same_serial() -> None:
    # 0/O, 1/I/L, 5/S, 8/B, 2/Z: every pair the issue names.
    assert canonical_serial("OIL5B2") == canonical_serial("01l s8z") == "011582"
    # Q and D are real serial letters: not folded.
    assert canonical_serial("Q") != canonical_serial("0")
    assert canonical_serial("D") != canonical_serial("0")


@given(SERIALS)
def test_canonical_serial_is_idempotent(s: str) -> None:
    assert canonical_serial(canonical_serial(s)) == canonical_serial(s)


@given(SERIALS, SERIALS)
def test_serial_similarity_is_symmetric_and_bounded(a: str, b: str) -> None:
    ab = serial_similarity(a, b)
    assert ab == pytest.approx(serial_similarity(b, a))
    assert 0.0 <= ab <= 1.0
    assert (ab == 1.0) == (canonical_serial(a) == canonical_serial(b))


def test_serial_similarity_tolerates_one_missing_or_transposed_character() -> None:
    assert serial_similarity("ABCDEF1234", "ABCDEF124") == pytest.approx(0.9)
    assert serial_similarity("ABCDEF1234", "ABCDEF1243") == pytest.approx(0.9)
    assert serial_similarity("ABCDEF1234", "XYZW987654") < 0.2
    assert serial_similarity("", "ABC") == 0.0


def test_pattern_with_unknowns_matches_same_length_only() -> None:
    rx = serial_pattern("AB??-4567")
    assert rx is not None
    assert rx.pattern == "A8..4567"
    assert rx.fullmatch(canonical_serial("ABX94567"))
    assert not rx.fullmatch(canonical_serial("ABX994567"))  # one character too many
    for mark in "?*_#":
        assert is_pattern(f"12{mark}45")
    assert serial_pattern("AB124567") is None  # no unknowns
    assert serial_pattern("????") is None  # nothing legible


def test_open_ended_pattern_accepts_any_number_of_leading_characters() -> None:
    rx = serial_pattern("??4567", open_ends=True)
    assert rx is not None
    assert rx.fullmatch("ABC4567") and rx.fullmatch("4567")
    assert serial_similarity("??4567", "TCZ4567", open_ends=True) == 1.0
    assert serial_similarity("??4567", "TCZ4567") < 1.0


@given(SERIALS, st.data())
def test_a_serial_matches_its_own_obliterated_pattern(s: str, data: st.DataObject) -> None:
    if len(s) < 2:
        return
    hidden = data.draw(st.sets(st.integers(0, len(s) - 1), min_size=1, max_size=len(s) - 1))
    written = "".join("#" if i in hidden else ch for i, ch in enumerate(s))
    rx = serial_pattern(written)
    assert rx is not None and rx.fullmatch(canonical_serial(s))
    assert serial_similarity(written, s) == 1.0


@pytest.mark.parametrize(
    ("spellings", "canonical"),
    [
        (["9mm", "9 mm", "9x19", "9 x 19 mm", "9mm Luger", "Parabellum", "calibre 9"], "9x19mm"),
        ([".38 Special", "38 SPL", "cal. 38", ".38 spc"], ".38 Special"),
        ([".40 S&W", "40 Smith & Wesson", ".40"], ".40 S&W"),
        ([".45 ACP", "45 auto", "11,43 mm"], ".45 ACP"),
        (["7.62x39", "7,62 x 39 mm", "7.62×39"], "7.62x39mm"),
        (["5.56x45", ".223", "223 Rem"], "5.56x45mm"),
        (["12 GA", "calibre 12", "12ga", "Cal. 12"], "12 gauge"),
        ([".380", "9mm corto", "380 Auto"], ".380 ACP"),
        ([".22", "22 LR", ".22 L.R."], ".22 LR"),
    ],
)
def test_normalise_calibre(spellings: list[str], canonical: str) -> None:
    assert {normalise_calibre(s) for s in spellings} == {canonical}


def test_unknown_calibre_is_kept_and_empty_is_none() -> None:
    assert normalise_calibre("6.5 Creedmoor") == normalise_calibre("6,5 creedmoor")
    assert normalise_calibre("") is None and normalise_calibre(None) is None
    assert calibres_compatible(".357 Magnum", ".38 Special")
    assert not calibres_compatible("9x19mm", ".380 ACP")


@pytest.mark.parametrize(
    ("spellings", "canonical"),
    [
        (["Smith & Wesson", "S&W", "SW", "smith and wesson", "S & W"], "Smith & Wesson"),
        (["Glock", "GLOCK GmbH"], "Glock"),
        (["Beretta", "Berreta", "Pietro Beretta"], "Beretta"),
        (["Jericho", "IWI", "IMI"], "IWI"),
        (["Hi-Point", "Hi Point", "HIPOINT"], "Hi-Point"),
        (["CZ", "Česká zbrojovka"], "CZ"),
        (["Norinco"], "Norinco"),
        (["Taurus", "Forjas Taurus"], "Taurus"),
    ],
)
def test_normalise_make(spellings: list[str], canonical: str) -> None:
    assert {normalise_make(s) for s in spellings} == {canonical}


def test_firearm_type_spanish_and_english() -> None:
    assert normalise_firearm_type("Pistola") == normalise_firearm_type("pistol") == "pistol"
    assert normalise_firearm_type("ESCOPETA") == "shotgun"
    assert normalise_firearm_type(" ") is None


GLOCK = {"serial": "BXK123", "make": "Glock", "model": "17", "calibre": "9mm"}


def test_misread_serial_scores_as_a_hit() -> None:
    s = score_firearm({"serial": "8XK-I23", "make": "GLOCK"}, GLOCK)
    assert s.probability > 0.99
    assert s.agreeing == ("serial", "make")


def test_missing_character_and_obliterated_pattern_score_high() -> None:
    long_ = {"serial": "TCZ4105728", "make": "Taurus", "calibre": ".38 SPL"}
    long_hit = score_firearm({"serial": "TCZ410572", "make": "Taurus"}, long_)
    assert long_hit.probability > 0.95
    # A short serial one character off is weaker evidence: a hit only with make and calibre.
    short = score_firearm({"serial": "BXK12", "make": "Glock"}, GLOCK)
    assert short.match_weight < long_hit.match_weight
    assert score_firearm({"serial": "BXK12"}, GLOCK).probability <= 0.5
    assert (
        score_firearm({"serial": "BXK12", "make": "Glock", "calibre": "9"}, GLOCK).probability > 0.9
    )
    hidden = score_firearm({"serial": "TC??105728", "calibre": "38"}, long_)
    assert hidden.probability > 0.95 and "serial" in hidden.agreeing


def test_calibre_disagreement_sinks_an_exact_serial() -> None:
    same = score_firearm({"serial": "TCZ4105728", "calibre": ".38"}, {"serial": "TCZ4105728"})
    other = score_firearm(
        {"serial": "TCZ4105728", "calibre": "9mm"}, {"serial": "TCZ4105728", "calibre": ".45"}
    )
    assert same.probability > 0.99
    assert other.probability < 0.5
    assert other.match_weight < same.match_weight
    # Compatible calibres neither help nor sink.
    compat = score_firearm(
        {"serial": "TCZ4105728", "calibre": ".357"}, {"serial": "TCZ4105728", "calibre": "38 SPL"}
    )
    assert compat.probability > 0.99


def test_missing_make_does_not_sink_but_a_different_make_counts_against() -> None:
    base = {"serial": "TCZ4105728", "make": "Taurus", "calibre": "38"}
    no_make = score_firearm({"serial": "TCZ4105728", "calibre": ".38"}, base)
    other_make = score_firearm({"serial": "TCZ4105728", "make": "Colt", "calibre": ".38"}, base)
    assert no_make.probability > 0.99
    assert other_make.match_weight < no_make.match_weight


def test_different_serials_are_no_hit() -> None:
    s = score_firearm({"serial": "ZZ9900", "make": "Glock"}, GLOCK)
    assert s.probability < 0.1
    assert "serial" not in s.agreeing


@settings(max_examples=50)
@given(SERIALS)
def test_score_is_symmetric(s: str) -> None:
    q = {"serial": s, "make": "S&W", "calibre": "9"}
    c = {"serial": s[::-1], "make": "Smith and Wesson", "calibre": "9x19"}
    assert score_firearm(q, c).match_weight == pytest.approx(score_firearm(c, q).match_weight)
