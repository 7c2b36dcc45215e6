"""Online indexes: persons, CLK encodings, firearms, vehicles."""

from __future__ import annotations

import random
import string
from functools import lru_cache

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safestreets.errors import InputError
from safestreets.schema import PERSON_COLUMNS
from safestreets.sharing import clk, linkage
from safestreets.sharing.index import (
    PERSON_RULES,
    ClkIndex,
    FirearmIndex,
    PersonIndex,
    VehicleIndex,
    normalise_query,
)

KEY = b"shared-key-of-the-member-countries"

JOSE = {
    "given_names": "José Antonio",
    "surname_1": "Pérez",
    "surname_2": "Gómez",
    "date_of_birth": "1987-05-14",
    "sex": "M",
    "national_id": None,
    "municipality": "Mixco",
}
JOSE_KEY = 900_001


@lru_cache(maxsize=1)
def _synthetic() -> pl.DataFrame:
    from safestreets.demo.persons import generate_persons

    records, truth = generate_persons(3000, seed=11, duplicate_rate=0.3)
    return records.join(truth, on="record_id").with_columns(key=pl.int_range(pl.len()))


@lru_cache(maxsize=1)
def _person_index() -> PersonIndex:
    base = _synthetic().select(*PERSON_COLUMNS, "key")
    row = {c: JOSE.get(c) for c in PERSON_COLUMNS} | {"record_id": "jose", "key": JOSE_KEY}
    jose = pl.DataFrame([row], schema=base.schema)
    return PersonIndex.build(pl.concat([base, jose]))


def _fields(row: dict[str, object]) -> dict[str, object]:
    return {k: row[k] for k in PERSON_COLUMNS if k != "record_id"}


def test_query_normaliser_agrees_with_the_batch_preparation() -> None:
    records = _synthetic().select(PERSON_COLUMNS)
    prepared = linkage.prepare(records)
    for row, expected in zip(
        records.iter_rows(named=True), prepared.iter_rows(named=True), strict=True
    ):
        got = normalise_query(row)
        for col in linkage.KEEP_COLUMNS:
            if col == "record_id":
                continue
            want = expected[col]
            have = got[col]
            if col == "aliases_n":  # [] and None both mean "no alias"
                want, have = want or None, have or None
            assert have == want, (row["record_id"], col, have, want)


def test_a_typo_and_a_hypocorism_are_found() -> None:
    index = _person_index()
    query = JOSE | {"given_names": "Pepe Antonio", "surname_1": "Peres", "municipality": None}
    found = index.query(query, threshold=0.5)
    assert found and found[0].key == JOSE_KEY
    assert found[0].probability > 0.9
    assert "date_of_birth" in found[0].agreeing and "surname_1" in found[0].agreeing
    # A different person with the same surname is not a hit.
    other = JOSE | {"given_names": "María Fernanda", "date_of_birth": "1961-01-30", "sex": "F"}
    assert all(c.key != JOSE_KEY for c in index.query(other, threshold=0.8))


def test_every_rule_finds_the_record_itself() -> None:
    index = _person_index()
    frame = _synthetic()
    for row in frame.head(300).iter_rows(named=True):
        rec = normalise_query(_fields(row))
        for rule in PERSON_RULES:
            keys = [k for k in rule.py(rec) if k is not None]
            if keys:
                rows = index._tables[rule.name].lookup(keys)
                assert row["key"] in rows.tolist(), (rule.name, row["record_id"])


def test_duplicates_of_synthetic_people_are_found() -> None:
    index = _person_index()
    frame = _synthetic()
    entity = dict(zip(frame["key"].to_list(), frame["entity_id"].to_list(), strict=True))
    sizes = frame.group_by("entity_id").len()
    dup = frame.join(sizes.filter(pl.col("len") > 1), on="entity_id").head(200)
    found = 0
    for row in dup.iter_rows(named=True):
        others = [
            c for c in index.query(_fields(row), threshold=0.5, limit=5) if c.key != row["key"]
        ]
        found += any(entity.get(c.key) == row["entity_id"] for c in others)
    assert found / dup.height > 0.9


def test_threshold_limit_and_order() -> None:
    index = _person_index()
    row = _synthetic().row(0, named=True)
    got = index.query(_fields(row), threshold=0.0, limit=3)
    assert 1 <= len(got) <= 3
    assert got[0].key == row["key"]
    assert [c.probability for c in got] == sorted((c.probability for c in got), reverse=True)
    assert all(isinstance(c.key, int) for c in got)
    assert index.query({"given_names": None}) == []


def test_a_very_common_key_does_not_explode_the_query() -> None:
    rng = random.Random(0)
    rows = [
        {
            "given_names": "Juan",
            "surname_1": "López",
            "surname_2": None,
            "date_of_birth": f"1990-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "municipality": rng.choice(["Mixco", "Villa Nueva", "Cobán", "Escuintla"]),
            "key": i,
        }
        for i in range(400)
    ]
    rows.append(
        {
            "given_names": "Juan",
            "surname_1": "López",
            "surname_2": None,
            "date_of_birth": "1990-02-29",  # invalid day: only the year is kept
            "municipality": "Salamá",
            "key": 999,
        }
    )
    index = PersonIndex.build(pl.DataFrame(rows))
    index.max_block = 50  # every name and name+year block is larger than this
    q = {"given_names": "Juan", "surname_1": "López", "date_of_birth": "1990-07-04"}
    target = next(r for r in rows if r["date_of_birth"] == "1990-07-04" and r["key"] != 999)
    cand_rows, _ = index.candidates(normalise_query(q))
    assert len(cand_rows) <= 50  # only the small given name + date block was taken
    assert index.query(q, threshold=0.5)[0].key == target["key"]


def test_remove_drops_keys_from_answers() -> None:
    index = PersonIndex.build(
        pl.DataFrame([JOSE | {"key": 1}, JOSE | {"key": 2, "surname_2": "Gomes"}])
    )
    assert len(index) == 2
    assert {c.key for c in index.query(JOSE, threshold=0.5)} == {1, 2}
    assert index.remove([1, 1, 77]) == 1
    assert len(index) == 1
    assert [c.key for c in index.query(JOSE, threshold=0.5)] == [2]
    assert index.remove([1]) == 0


def test_index_needs_unique_keys() -> None:
    with pytest.raises(InputError):
        PersonIndex.build(pl.DataFrame([JOSE | {"key": 1}, JOSE | {"key": 1}]))
    with pytest.raises(InputError):
        PersonIndex.build(pl.DataFrame([JOSE]))


# --- CLK ------------------------------------------------------------------------------------


def _encoded() -> tuple[pl.DataFrame, np.ndarray, list[str | None]]:
    frame = _synthetic().head(800)
    normalised = linkage.prepare(frame.select(PERSON_COLUMNS))
    bits = clk.encode(normalised, KEY)
    blocks = clk.block_key_strings(clk.block_keys(normalised, KEY))
    return frame, bits, blocks


def test_clk_index_finds_the_same_person_with_and_without_blocks() -> None:
    frame, bits, blocks = _encoded()
    keys = frame["key"].to_numpy()
    scan = ClkIndex.build(keys, bits)
    blocked = ClkIndex.build(keys, bits, blocks=blocks)
    # The block frame itself does as well as its text form.
    normalised = linkage.prepare(frame.select(PERSON_COLUMNS))
    framed = ClkIndex.build(keys, bits, blocks=clk.block_keys(normalised, KEY))
    assert framed.query(bits[3], blocks=blocks[3])[0].key == keys[3]
    for i in (0, 5, 17):
        for index, qb in ((scan, None), (blocked, blocks[i])):
            got = index.query(bits[i], threshold=0.85, blocks=qb)
            assert got[0].key == keys[i] and got[0].probability == 1.0
            assert got[0].agreeing == () and got[0].match_weight == 0.0
    # An encoding stored without blocking keys is still compared with blocked queries.
    partly = ClkIndex.build(keys, bits, blocks=[None, *blocks[1:]])
    assert partly.query(bits[0], blocks=blocks[0])[0].key == keys[0]
    blocked.remove([int(keys[0])])
    assert all(c.key != keys[0] for c in blocked.query(bits[0], blocks=blocks[0]))
    assert len(blocked) == len(keys) - 1
    with pytest.raises(InputError):
        scan.query(bits[0][:8])


# --- firearms -------------------------------------------------------------------------------


def _firearms() -> FirearmIndex:
    rng = random.Random(5)
    alphabet = "ACDEFGHJKMNPRTUVWXY0123456789"
    rows = [
        {
            "key": i,
            "serial": "".join(rng.choice(alphabet) for _ in range(rng.randint(6, 10))),
            "make": rng.choice(["Glock", "Taurus", "Beretta", "S&W"]),
            "calibre": rng.choice(["9mm", ".38", ".40", ".45"]),
        }
        for i in range(2000)
    ]
    rows += [
        {"key": 5001, "serial": "TCZ41O5728", "make": "Taurus", "calibre": ".38 SPL"},
        {"key": 5002, "serial": "TCZ4105728", "make": "Taurus", "calibre": "9mm"},
        {"key": 5003, "serial": "GKX-55##21", "make": "Glock", "calibre": "9x19"},
    ]
    return FirearmIndex.build(pl.DataFrame(rows))


def test_misread_serial_is_found_and_calibre_mismatch_ranks_lower() -> None:
    index = _firearms()
    got = index.query({"serial": "tcz-4IO5728", "make": "TAURUS", "calibre": "38 Special"})
    assert [c.key for c in got][:1] == [5001]
    # The same serial with another calibre is far below (and not a hit at 0.8).
    low = index.query(
        {"serial": "tcz-4IO5728", "make": "TAURUS", "calibre": "38 Special"}, threshold=0.0
    )
    weights = {c.key: c.match_weight for c in low}
    assert weights[5001] > weights[5002] + 10
    assert 5002 not in {c.key for c in got}


def test_missing_and_extra_characters_are_found_without_a_scan() -> None:
    index = _firearms()
    assert index.query({"serial": "TCZ415728", "calibre": ".38"})[0].key == 5001
    assert index.query({"serial": "TCZ41057288", "calibre": ".38"})[0].key == 5001


def test_obliterated_patterns_both_ways() -> None:
    index = _firearms()
    # A query with unreadable characters finds the stored serial.
    got = index.query({"serial": "TCZ4??5728", "calibre": ".38"})
    assert got and got[0].key == 5001 and "serial" in got[0].agreeing
    # A stored pattern is found by a full serial.
    got = index.query({"serial": "GKX5507211", "make": "glock"}, threshold=0.5)
    assert all(c.key != 5003 for c in got)  # one character too many
    got = index.query({"serial": "GKX5547 21", "make": "glock"}, threshold=0.5)
    assert got and got[0].key == 5003
    # Open ends: any number of leading characters.
    got = index.query({"serial": "??105728", "calibre": ".38"}, open_ends=True)
    assert got and got[0].key == 5001


def test_firearm_removal_and_no_serial() -> None:
    index = _firearms()
    assert index.query({"make": "Taurus", "calibre": ".38"}) == []
    index.remove([5001])
    assert all(c.key != 5001 for c in index.query({"serial": "TCZ4105728", "calibre": ".38"}))


_SERIALS = st.text(alphabet="ACDEFGHJKMNPRTUVWXY0123456789", min_size=6, max_size=12)


@settings(max_examples=40, deadline=None)
@given(_SERIALS, st.integers(0, 11), st.sampled_from(["delete", "insert", "replace", "swap"]))
def test_any_single_edit_is_found(serial: str, pos: int, edit: str) -> None:
    index = FirearmIndex.build(pl.DataFrame({"key": [1, 2], "serial": [serial, "ZZZ999ZZZ"]}))
    i = pos % len(serial)
    if edit == "delete":
        q = serial[:i] + serial[i + 1 :]
    elif edit == "insert":
        q = serial[:i] + "K" + serial[i:]
    elif edit == "replace":
        q = serial[:i] + ("7" if serial[i] != "7" else "8") + serial[i + 1 :]
    else:
        q = serial[:i] + serial[i + 1 : i + 2] + serial[i] + serial[i + 2 :]
    rows = index._near.lookup(q) if index._near else np.zeros(0)
    assert 0 in rows.tolist()


# --- vehicles -------------------------------------------------------------------------------


def _vehicles() -> VehicleIndex:
    rng = random.Random(8)
    rows = [
        {
            "key": i,
            "plate": "P-"
            + "".join(rng.choice(string.digits) for _ in range(3))
            + "".join(rng.choice("BCDFGHJKLMNPRSTVWXYZ") for _ in range(3)),
            "plate_country": "GT",
            "make": rng.choice(["Toyota", "Nissan", "Honda"]),
        }
        for i in range(2000)
    ]
    rows.append(
        {
            "key": 7001,
            "plate": "P-512DHK",
            "plate_country": "GT",
            "vin": "1M8GDM9AXKP042788",
            "make": "Toyota",
            "model": "Hilux",
            "colour": "blanco",
            "year": "2019",
        }
    )
    return VehicleIndex.build(pl.DataFrame(rows, infer_schema_length=None))


def test_vehicle_found_by_plate_without_prefix_vin_and_partial_vin() -> None:
    index = _vehicles()
    assert index.query({"plate": "512 dhk", "plate_country": "Guatemala"})[0].key == 7001
    assert index.query({"plate": "P512DHK"})[0].key == 7001  # no country given
    assert index.query({"vin": "1M8GDM9AXKPO42788"})[0].key == 7001  # O read as 0
    assert index.query({"vin": "KP042788", "make": "toyota"})[0].key == 7001
    # One VIN character misread, different plate (re-plated): still found through the halves.
    got = index.query({"vin": "1M8GDM9AXKP042789", "make": "Toyota", "model": "Hilux"})
    assert got and got[0].key == 7001


def test_vehicle_plate_typo_needs_support_and_removal() -> None:
    index = _vehicles()
    q = {"plate": "P-512DHX", "plate_country": "GT"}
    assert all(c.key != 7001 for c in index.query(q))
    backed = index.query(q | {"make": "Toyota", "model": "Hilux", "colour": "white"})
    assert backed and backed[0].key == 7001
    index.remove([7001])
    assert index.query({"vin": "1M8GDM9AXKP042788"}) == []


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12))
def test_vectorised_canonical_serial_agrees_with_the_scalar_one(text: str) -> None:
    from safestreets.sharing.firearms import canonical_serial
    from safestreets.sharing.index import canonical_serial_expr

    got = pl.DataFrame({"s": [text]}).select(canonical_serial_expr(pl.col("s"))).item()
    assert got == (canonical_serial(text) or None)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=20))
def test_vectorised_vin_agrees_with_the_scalar_one(text: str) -> None:
    from safestreets.sharing.vehicles import canonical_vin

    index = VehicleIndex.build(pl.DataFrame({"key": [1], "vin": [text]}))
    vin = canonical_vin(text)
    found = index._vins.lookup([f"v:{vin}"]) if index._vins is not None else np.zeros(0)
    assert (0 in found.tolist()) == (len(vin) >= 6)
