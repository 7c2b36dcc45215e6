"""The audit chain: every kind of tampering is detected and named; anchors catch rewritten
history; concurrent appends stay one chain. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, delete, insert, select, update

from safestreets.access.audit import Anchor, anchor, check_anchor, check_chain, verify
from safestreets.access.policy import Principal
from safestreets.errors import InputError
from safestreets.store import tables
from safestreets.store.audit_log import GENESIS, Entry, append, append_for, entry_hash

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
LOG = tables.audit_log
HEAD = tables.audit_head


def fill(engine: Engine, n: int = 6) -> None:
    with engine.begin() as conn:
        for i in range(n):
            append(
                conn,
                actor=f"user{i % 3}",
                agency="GT-PNC" if i % 2 else "SV-PNC",
                action="read:incidents",
                target=None,
                detail={"rows": i, "filter": {"countries": ["GT"]}, "note": "ñandú"},
                now=T0 + timedelta(minutes=i, microseconds=i * 7),
            )


def row(conn: Connection, seq: int) -> dict[str, Any]:
    return dict(conn.execute(select(LOG).where(LOG.c.seq == seq)).one()._mapping)


def rehash(values: dict[str, Any]) -> str:
    return entry_hash(**{k: values[k] for k in values if k not in ("hash",)})


def renumber(conn: Connection, from_seq: int, by: int) -> None:
    """Shift entries >= from_seq by ``by``, one at a time (the primary key checks each row)."""
    seqs = [r.seq for r in conn.execute(select(LOG.c.seq).where(LOG.c.seq >= from_seq))]
    for s in sorted(seqs, reverse=by > 0):
        conn.execute(update(LOG).where(LOG.c.seq == s).values(seq=s + by))


def test_fresh_chain_verifies(store: Engine) -> None:
    assert verify(store).ok and verify(store).entries == 0
    fill(store)
    result = verify(store)
    assert result.ok and result.entries == 6 and result.head_seq == 6
    assert "intact" in result.describe()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("action", "login"),
        ("actor", "someone"),
        ("agency", None),
        ("target", "incident:1"),
        ("detail", '{"rows":0}'),
        ("at", T0 + timedelta(hours=5)),
        ("prev_hash", "0" * 64),
        ("hash", "1" * 64),
    ],
)
def test_edit_of_any_field_is_named(store: Engine, field: str, value: Any) -> None:
    fill(store)
    with store.begin() as conn:
        conn.execute(update(LOG).where(LOG.c.seq == 3).values({field: value}))
    p = verify(store).problem
    assert p is not None and (p.seq, p.kind) == (3, "edited"), p


def test_edit_with_recomputed_hash_is_named(store: Engine) -> None:
    fill(store)
    with store.begin() as conn:
        r = row(conn, 3)
        r["actor"] = "somebody-else"
        conn.execute(update(LOG).where(LOG.c.seq == 3).values(actor=r["actor"], hash=rehash(r)))
    p = verify(store).problem
    assert p is not None and (p.seq, p.kind) == (3, "edited")
    assert "recomputed" in p.message


def test_edit_of_the_last_entry_with_recomputed_hash_is_named(store: Engine) -> None:
    fill(store)
    with store.begin() as conn:
        r = row(conn, 6)
        r["action"] = "nothing"
        conn.execute(update(LOG).where(LOG.c.seq == 6).values(action="nothing", hash=rehash(r)))
    p = verify(store).problem
    assert p is not None and (p.seq, p.kind) == (6, "edited")


@pytest.mark.parametrize("seq", [1, 3, 6])
def test_deletion_is_named(store: Engine, seq: int) -> None:
    fill(store)
    with store.begin() as conn:
        conn.execute(delete(LOG).where(LOG.c.seq == seq))
    p = verify(store).problem
    assert p is not None and (p.seq, p.kind) == (seq, "deleted")


def test_deletion_hidden_by_renumbering_is_named(store: Engine) -> None:
    fill(store)
    with store.begin() as conn:
        conn.execute(delete(LOG).where(LOG.c.seq == 3))
        renumber(conn, 4, -1)
        conn.execute(update(HEAD).values(seq=5))
    p = verify(store).problem
    assert p is not None and (p.seq, p.kind) == (3, "deleted")


def test_insertion_is_named(store: Engine) -> None:
    """A forged entry, correctly chained to its predecessor, with the later ones moved up."""
    fill(store)
    with store.begin() as conn:
        prev = row(conn, 3)
        renumber(conn, 4, +1)
        forged = {
            "seq": 4,
            "at": T0 + timedelta(minutes=3, seconds=30),
            "actor": "ghost",
            "agency": "GT-PNC",
            "action": "read:incidents",
            "target": None,
            "detail": None,
            "prev_hash": prev["hash"],
        }
        conn.execute(insert(LOG).values(**forged, hash=rehash(forged)))
        conn.execute(update(HEAD).values(seq=7))
    p = verify(store).problem
    assert p is not None and (p.seq, p.kind) == (4, "inserted")


def test_careless_insertion_is_named(store: Engine) -> None:
    """A forged entry with a made-up hash: the chain goes around it."""
    fill(store)
    with store.begin() as conn:
        renumber(conn, 4, +1)
        conn.execute(
            insert(LOG).values(
                seq=4,
                at=T0,
                actor="ghost",
                agency=None,
                action="x",
                prev_hash="f" * 64,
                hash="e" * 64,
            )
        )
    p = verify(store).problem
    assert p is not None and (p.seq, p.kind) == (4, "inserted")


def test_entries_behind_the_head_are_named(store: Engine) -> None:
    fill(store)
    with store.begin() as conn:
        last = row(conn, 6)
        extra = {**last, "seq": 7, "prev_hash": last["hash"], "action": "late"}
        extra["hash"] = rehash(extra)
        conn.execute(insert(LOG).values(**extra))
    p = verify(store).problem
    assert p is not None and (p.seq, p.kind) == (7, "inserted")


@pytest.mark.parametrize(("a", "b"), [(2, 3), (2, 5)])
def test_swapped_entries_are_named(store: Engine, a: int, b: int) -> None:
    fill(store)
    with store.begin() as conn:
        ra, rb = row(conn, a), row(conn, b)
        conn.execute(update(LOG).where(LOG.c.seq == a).values({**rb, "seq": a}))
        conn.execute(update(LOG).where(LOG.c.seq == b).values({**ra, "seq": b}))
    p = verify(store).problem
    assert p is not None and (p.seq, p.kind) == (a, "reordered")


def test_anchor_catches_history_rewritten_with_every_hash_recomputed(store: Engine) -> None:
    fill(store)
    before = anchor(store, now=T0)
    assert (before.seq, len(before.hash)) == (6, 64)
    assert check_anchor(store, before.seq, before.hash).ok
    fill(store, 2)  # history goes on: the old anchor still holds
    assert check_anchor(store, before.seq, before.hash).ok
    # Rewrite entry 2 and recompute the whole chain and the head: verify cannot tell...
    with store.begin() as conn:
        rows = [row(conn, s) for s in range(1, 9)]
        rows[1]["actor"] = "rewritten"
        prev = GENESIS
        for r in rows:
            r["prev_hash"] = prev
            r["hash"] = prev = rehash(r)
            conn.execute(update(LOG).where(LOG.c.seq == r["seq"]).values(**r))
        conn.execute(update(HEAD).values(seq=8, hash=prev))
    assert verify(store).ok
    # ...but the anchor kept outside can.
    result = check_anchor(store, before.seq, before.hash)
    assert result.problem is not None and result.problem.kind == "rewritten"
    assert result.problem.seq == 6


def test_anchor_beyond_the_log_and_the_genesis_anchor(store: Engine) -> None:
    assert check_anchor(store, 0, GENESIS).ok
    fill(store, 3)
    a = anchor(store)
    with store.begin() as conn:
        conn.execute(delete(LOG).where(LOG.c.seq == 3))
        conn.execute(update(HEAD).values(seq=2, hash=row(conn, 2)["hash"]))
    assert verify(store).ok  # deleting the tail and moving the head back is invisible...
    p = check_anchor(store, a.seq, a.hash).problem
    assert p is not None and p.kind == "deleted"  # ...to everyone but the anchor's holder


def test_anchor_json_round_trip() -> None:
    a = Anchor(12, "a" * 64, T0)
    assert Anchor.from_json(a.to_json()) == a
    with pytest.raises(InputError):
        Anchor.from_json("not json")


def test_appends_roll_back_with_their_transaction(store: Engine) -> None:
    fill(store, 2)
    with pytest.raises(RuntimeError), store.begin() as conn:
        append_for(conn, Principal.public(), "read:nothing")
        raise RuntimeError("the action failed")
    result = verify(store)
    assert result.ok and result.entries == 2


def test_concurrent_appends_form_one_chain(store: Engine) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(15):
                with store.begin() as conn:
                    append(conn, actor=f"w{n}", agency=None, action="ping", detail={"i": i})
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    result = verify(store)
    assert result.ok and result.entries == 60 and result.head_seq == 60


def test_check_chain_needs_no_database() -> None:
    """The walk is pure: entries in, the first problem out (here: two entries swapped)."""
    entries = []
    prev = GENESIS
    for seq in (1, 2, 3, 4):
        fields = {
            "seq": seq,
            "at": T0,
            "actor": "a",
            "agency": None,
            "action": f"x{seq}",
            "target": None,
            "detail": None,
            "prev_hash": prev,
        }
        prev = entry_hash(**fields)  # type: ignore[arg-type]
        entries.append(Entry(**fields, hash=prev))  # type: ignore[arg-type]
    assert check_chain(entries, (4, prev), seq_of_hash=lambda h: None).ok
    # Rows 2 and 3 trade places (each keeps its seq): entry 2 now links to stored entry 3.
    a, b = entries[1], entries[2]
    swapped = [entries[0], replace(b, seq=2), replace(a, seq=3), entries[3]]
    by_hash = {e.hash: e.seq for e in swapped}
    p = check_chain(swapped, (4, prev), seq_of_hash=by_hash.get).problem
    assert p is not None and (p.seq, p.kind) == (2, "reordered")
