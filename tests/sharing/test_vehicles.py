"""Plates, VINs and vehicle scores."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from safestreets.sharing.vehicles import (
    canonical_plate,
    canonical_vin,
    normalise_colour,
    normalise_country,
    normalise_vehicle_make,
    plate_parts,
    score_vehicle,
    vin_check,
    vin_check_digit,
)


def test_plates_are_upper_case_alnum_with_o_and_i_folded() -> None:
    assert canonical_plate("p-123 abo", "GT") == "P123AB0"
    assert canonical_plate("P 123ABO", "Guatemala") == canonical_plate("p123ab0", "GTM")
    assert canonical_plate("HAI 1234", "HN") == "HA11234"
    assert canonical_plate(None, "GT") == ""


def test_guatemalan_class_prefix_stays_meaningful() -> None:
    assert plate_parts("P-123ABC", "GT") == ("P", "123ABC")
    assert plate_parts("C-123ABC", "GT") == ("C", "123ABC")
    # An official plate keeps its letter O (it is not folded to zero).
    assert plate_parts("O-123ABC", "GT") == ("O", "123ABC")
    # Without a country no prefix is split off.
    assert plate_parts("P-123ABC") == ("", "P123ABC")


@given(st.text(alphabet=string.ascii_letters + string.digits + " -", max_size=10))
def test_canonical_plate_is_idempotent(plate: str) -> None:
    once = canonical_plate(plate, "SV")
    assert canonical_plate(once, "SV") == once


def test_country_names_and_codes() -> None:
    assert normalise_country("Guatemala") == normalise_country("GTM") == "GT"
    assert normalise_country("México") == "MX"
    assert normalise_country("Panamá") == "PA"
    assert normalise_country("Narnia") is None


def test_vin_check_digit_of_a_known_vin() -> None:
    # The worked example of 49 CFR 565 / Wikipedia "Vehicle identification number".
    assert vin_check_digit("1M8GDM9AXKP042788") == "X"
    assert vin_check("1M8GDM9AXKP042788") == "valid"
    assert vin_check("11111111111111111") == "valid"
    # A misread character makes the check fail: a warning, not a rejection.
    assert vin_check("1M8GDM9AXKP042789") == "check_failed"
    # O, I and Q never occur in VINs: they are read as 0, 1, 0.
    assert canonical_vin("1m8gdm9axkpo42788") == "1M8GDM9AXKP042788"
    assert vin_check("1M8GDM9AXKPO42788") == "valid"
    # The check digit is optional outside North America and China.
    assert vin_check("WVWZZZ1JZXW000001") == "unchecked"
    assert vin_check("1M8GDM9AXKP04278") == "bad_format"
    assert vin_check(None) == "unchecked"


def test_makes_and_colours() -> None:
    assert normalise_vehicle_make("VW") == normalise_vehicle_make("Volkswagen") == "VOLKSWAGEN"
    assert normalise_vehicle_make("chevy") == "CHEVROLET"
    assert normalise_colour("Gris plomo") == "grey"
    assert normalise_colour("ROJO VINO") == "red"
    assert normalise_colour("Café") == "brown"


STOLEN = {
    "plate": "P-512DHK",
    "plate_country": "GT",
    "vin": "1M8GDM9AXKP042788",
    "make": "Toyota",
    "model": "Hilux",
    "colour": "blanco",
    "year": "2019",
}


def test_plate_with_country_is_a_hit_and_make_supports() -> None:
    s = score_vehicle({"plate": "p512dhk", "plate_country": "Guatemala"}, STOLEN)
    assert s.probability > 0.95 and s.agreeing == ("plate",)
    more = score_vehicle({"plate": "512DHK", "plate_country": "GT", "make": "TOYOTA"}, STOLEN)
    assert more.probability > 0.95 and more.agreeing == ("plate", "make")


def test_same_plate_in_another_country_or_class_is_not_a_hit() -> None:
    assert score_vehicle({"plate": "P512DHK", "plate_country": "SV"}, STOLEN).probability < 0.1
    assert score_vehicle({"plate": "C-512DHK", "plate_country": "GT"}, STOLEN).probability < 0.1


def test_vin_decides_even_when_replated() -> None:
    s = score_vehicle(
        {"vin": "1M8GDM9AXKP042788", "plate": "P-999ZZZ", "plate_country": "GT"}, STOLEN
    )
    assert s.probability > 0.99 and "vin" in s.agreeing
    # The last eight characters (all that is legible on a chassis) still count.
    partial = score_vehicle({"vin": "KP042788", "make": "Toyota"}, STOLEN)
    assert partial.probability > 0.9
    other = score_vehicle({"vin": "2HGFG12637H500001", "plate": "P512DHK"}, STOLEN)
    assert other.probability < 0.1


def test_one_misread_plate_character_needs_support() -> None:
    alone = score_vehicle({"plate": "P-512DHX", "plate_country": "GT"}, STOLEN)
    backed = score_vehicle(
        {"plate": "P-512DHX", "plate_country": "GT", "make": "Toyota", "model": "HILUX"}, STOLEN
    )
    assert alone.probability < 0.5 < backed.probability
    assert backed.match_weight > alone.match_weight
