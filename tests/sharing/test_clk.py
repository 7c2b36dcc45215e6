"""Privacy-preserving encodings (CLKs): encoding, Dice, blocking keys, batch linking."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safestreets.errors import InputError
from safestreets.sharing import clk
from safestreets.sharing.names import normalise_persons

KEY = b"shared-key-of-the-member-countries"
OTHER_KEY = b"another-key-entirely-0123456789"


def persons(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    """Normalised person records from a few canonical rows."""
    frame = pl.DataFrame(rows, schema={k: pl.String for k in rows[0]})
    return normalise_persons(frame)


JOSE = {
    "record_id": "a",
    "given_names": "José Antonio",
    "surname_1": "Pérez",
    "surname_2": "Gómez",
    "date_of_birth": "1987-05-14",
    "sex": "M",
    "municipality": "Mixco",
}
PEPE = JOSE | {"record_id": "b", "given_names": "Pepe Antonio", "surname_1": "Peres"}
MARIA = {
    "record_id": "c",
    "given_names": "María Fernanda",
    "surname_1": "Castillo",
    "surname_2": "Orellana",
    "date_of_birth": "1993-11-02",
    "sex": "F",
    "municipality": "San Miguel",
}


def test_encoding_shape_and_determinism() -> None:
    f = persons([JOSE, MARIA])
    a = clk.encode(f, KEY)
    assert a.shape == (2, 16) and a.dtype == np.uint64
    assert np.array_equal(a, clk.encode(f, KEY))
    assert clk.encode(f, KEY, bits=512).shape == (2, 8)
    # A typical record sets neither too few nor too many bits.
    fill = clk.popcount(a) / 1024
    assert ((fill > 0.15) & (fill < 0.6)).all()


def test_same_record_has_dice_one_and_a_different_person_less_than_point_six() -> None:
    f = persons([JOSE, JOSE | {"record_id": "a2"}, MARIA])
    e = clk.encode(f, KEY)
    assert clk.dice(e[0], e[1:2])[0] == 1.0
    assert clk.dice(e[0], e[2:3])[0] < 0.6


def test_a_hypocorism_and_a_seseo_typo_stay_close() -> None:
    e = clk.encode(persons([JOSE, PEPE, MARIA]), KEY)
    d = clk.dice(e[0], e)
    assert d[1] > 0.85  # Pepe -> José; Peres vs Pérez differ by one bigram pair
    assert d[1] > d[2] + 0.3


def test_different_keys_give_different_encodings() -> None:
    f = persons([JOSE])
    a, b = clk.encode(f, KEY), clk.encode(f, OTHER_KEY)
    assert not np.array_equal(a, b)
    # Without the key an encoding says nothing: another key's encoding of the same person
    # is as far as a random person's.
    assert clk.dice(a[0], b)[0] < 0.6


def test_fields_are_salted() -> None:
    """The same text as given name and as surname sets different bits."""
    one = persons([{"record_id": "1", "given_names": "Castillo", "surname_1": None}])
    two = persons([{"record_id": "2", "given_names": None, "surname_1": "Castillo"}])
    assert clk.dice(clk.encode(one, KEY)[0], clk.encode(two, KEY))[0] < 0.2


def test_short_key_and_bad_length_are_refused() -> None:
    f = persons([JOSE])
    with pytest.raises(InputError):
        clk.encode(f, b"short")
    with pytest.raises(InputError):
        clk.encode(f, KEY, bits=1000)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), min_size=16, max_size=16))
def test_bytes_and_base64_round_trip(words: list[int]) -> None:
    row = np.array(words, dtype=np.uint64)
    assert np.array_equal(clk.from_bytes(clk.to_bytes(row)), row)
    assert np.array_equal(clk.from_base64(clk.to_base64(row)), row)
    assert len(clk.to_bytes(row)) == 128


def test_from_bytes_refuses_partial_words() -> None:
    with pytest.raises(InputError):
        clk.from_bytes(b"\x00" * 7)
    with pytest.raises(InputError):
        clk.from_base64("not base64!")


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(0, 2**64 - 1), min_size=4, max_size=4),
    st.lists(st.integers(0, 2**64 - 1), min_size=4, max_size=4),
)
def test_dice_is_symmetric_bounded_and_one_on_itself(x: list[int], y: list[int]) -> None:
    a, b = np.array(x, dtype=np.uint64), np.array(y, dtype=np.uint64)
    ab, ba = clk.dice(a, b[None, :])[0], clk.dice(b, a[None, :])[0]
    assert ab == pytest.approx(ba)
    assert 0.0 <= ab <= 1.0
    if a.any():
        assert clk.dice(a, a[None, :])[0] == 1.0
    # Row-wise form agrees with one-against-many.
    assert clk.dice(np.stack([a, b]), np.stack([b, a]))[0] == pytest.approx(ab)


def test_block_keys_are_keyed_and_shared_by_similar_records() -> None:
    f = persons([JOSE, PEPE, MARIA])
    blocks = clk.block_keys(f, KEY)
    assert set(blocks.columns) == set(clk.DEFAULT_BLOCK_RULES)
    assert blocks.schema["dob"] == pl.UInt64
    # Pepe Peres shares the phonetic surname + year and the date of birth with José Pérez.
    row0, row1, row2 = blocks.rows()
    shared = {c for c, a, b in zip(blocks.columns, row0, row1, strict=True) if a and a == b}
    assert {"surname_year", "dob", "names"} <= shared
    assert not {c for c, a, b in zip(blocks.columns, row0, row2, strict=True) if a and a == b}
    # Another key gives other values; missing fields give nulls (no national id here).
    assert clk.block_keys(f, OTHER_KEY)["dob"][0] != blocks["dob"][0]
    assert blocks["national_id"].null_count() == 3


def test_block_key_strings_round_trip() -> None:
    blocks = clk.block_keys(persons([JOSE, MARIA]), KEY)
    text = clk.block_key_strings(blocks)
    parsed = clk.parse_block_strings(text)
    for row, keys in zip(blocks.rows(), parsed, strict=True):
        assert sorted(int(v) for v in row if v is not None) == sorted(keys.tolist())
    with pytest.raises(InputError):
        clk.parse_block_strings(["zz"])


def _two_sides() -> tuple[pl.DataFrame, pl.DataFrame]:
    from safestreets.demo.persons import generate_persons

    records, truth = generate_persons(600, seed=3, duplicate_rate=0.5)
    with_truth = records.join(truth, on="record_id")
    # Left: the first record of each entity; right: a second record of the same entity.
    ranked = with_truth.with_columns(n=pl.int_range(pl.len()).over("entity_id"))
    left = ranked.filter(pl.col("n") == 0)
    right = ranked.filter(pl.col("n") == 1)
    return normalise_persons(left), normalise_persons(right)


def test_link_encodings_finds_the_duplicates_with_and_without_blocking() -> None:
    left, right = _two_sides()
    el, er = clk.encode(left, KEY), clk.encode(right, KEY)
    truth = dict(zip(right["entity_id"], right["record_id"], strict=True))
    expected = {
        (r, truth[e])
        for r, e in zip(left["record_id"], left["entity_id"], strict=True)
        if e in truth
    }
    assert len(expected) > 100
    for blocked in (False, True):
        kwargs = {}
        if blocked:
            kwargs = {
                "left_blocks": clk.block_keys(left, KEY),
                "right_blocks": clk.block_keys(right, KEY),
            }
        pairs = clk.link_encodings(
            el,
            er,
            left_keys=left["record_id"],
            right_keys=right["record_id"],
            threshold=0.7,
            **kwargs,
        )
        assert pairs.columns == ["left_id", "right_id", "dice"]
        found = set(zip(pairs["left_id"], pairs["right_id"], strict=True))
        tp = len(found & expected)
        precision, recall = tp / len(found), tp / len(expected)
        assert precision > 0.95 and recall > 0.9, (blocked, precision, recall)
        # One-to-one: no record linked twice; best first.
        assert pairs["left_id"].n_unique() == pairs.height == pairs["right_id"].n_unique()
        assert pairs["dice"].is_sorted(descending=True)


def test_link_encodings_checks_its_inputs() -> None:
    e = clk.encode(persons([JOSE, MARIA]), KEY)
    with pytest.raises(InputError):
        clk.link_encodings(e, e, left_keys=["a"], right_keys=["a", "b"])
    with pytest.raises(InputError):
        clk.link_encodings(e, e[:, :8], left_keys=["a", "b"], right_keys=["a", "b"])
    with pytest.raises(InputError):
        clk.link_encodings(
            e, e, left_keys=["a", "b"], right_keys=["a", "b"], left_blocks=pl.DataFrame()
        )
    all_pairs = clk.link_encodings(
        e, e, left_keys=["a", "b"], right_keys=["x", "y"], threshold=0.0, one_to_one=False
    )
    assert all_pairs.height == 4


def test_one_record_encodes_and_blocks_as_the_frame_does() -> None:
    from safestreets.demo.persons import generate_persons
    from safestreets.schema import PERSON_COLUMNS
    from safestreets.sharing.index import normalise_query
    from safestreets.sharing.linkage import prepare

    records, _ = generate_persons(300, seed=9)
    frame = prepare(records)
    bits = clk.encode(frame, KEY)
    blocks = clk.block_key_strings(clk.block_keys(frame, KEY))
    for i, row in enumerate(records.select(PERSON_COLUMNS).iter_rows(named=True)):
        rec = normalise_query(row)
        assert np.array_equal(clk.encode_record(rec, KEY), bits[i]), row["record_id"]
        assert clk.block_key_string(rec, KEY) == blocks[i], row["record_id"]
    # Straight from names.normalise_person (address folded from the raw field) too.
    from safestreets.sharing.names import normalise_person

    row = records.row(0, named=True)
    assert np.array_equal(clk.encode_record(normalise_person(row) | row, KEY), bits[0])
