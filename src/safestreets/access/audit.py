"""The audit chain: verification, anchors, and what it records.

Entries are appended by :mod:`safestreets.store.audit_log` in the transaction of the action
they record. Here the chain is checked: :func:`verify` walks the log in ``seq`` order and
names the first entry that was edited, deleted, inserted or moved, and :func:`anchor` /
:func:`check_anchor` let someone outside the system hold the head hash and later prove that
history up to it was not rewritten, even by someone who recomputed every hash.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, select

from safestreets.errors import InputError
from safestreets.store import tables
from safestreets.store.audit_log import GENESIS, Entry, utc

__all__ = [
    "Anchor",
    "Problem",
    "VerifyResult",
    "anchor",
    "check_anchor",
    "check_chain",
    "iter_entries",
    "verify",
]

Kind = Literal["edited", "deleted", "inserted", "reordered", "rewritten"]

#: Entries read per page while verifying (keyset pagination on ``seq``).
PAGE = 5000


@dataclass(frozen=True)
class Problem:
    """The first break in the chain: where, what kind, and in words."""

    seq: int
    kind: Kind
    message: str


@dataclass(frozen=True)
class VerifyResult:
    """What :func:`verify` found."""

    entries: int
    head_seq: int
    head_hash: str
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        """True when the chain is intact."""
        return self.problem is None

    def describe(self) -> str:
        """One line for people."""
        if self.problem is None:
            return f"audit chain intact: {self.entries} entries, head {self.head_seq}"
        p = self.problem
        return f"audit chain broken at entry {p.seq} ({p.kind}): {p.message}"


@dataclass(frozen=True)
class Anchor:
    """The head of the chain at one moment, to be kept outside the system."""

    seq: int
    hash: str
    at: datetime

    def to_json(self) -> str:
        """One JSON line (the format of an anchor file)."""
        at = self.at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return json.dumps({"seq": self.seq, "hash": self.hash, "at": at})

    @classmethod
    def from_json(cls, line: str) -> Anchor:
        """Parse one anchor line (raises InputError with a hint when it is not one)."""
        try:
            data = json.loads(line)
            return cls(int(data["seq"]), str(data["hash"]), utc(str(data["at"]).rstrip("Z")))
        except (ValueError, KeyError, TypeError):
            raise InputError(
                f"not an audit anchor: {line.strip()[:80]!r}",
                hint='an anchor line looks like {"seq": 12, "hash": "<64 hex>", "at": "..."}',
            ) from None


def _entry(row: Any) -> Entry:
    return Entry(
        seq=int(row.seq),
        at=utc(row.at),
        actor=row.actor,
        agency=row.agency,
        action=row.action,
        target=row.target,
        detail=row.detail,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def iter_entries(conn: Connection, *, upto: int | None = None) -> Iterator[Entry]:
    """The log in ``seq`` order, read page by page (memory stays flat on long logs)."""
    t = tables.audit_log
    last = 0
    while True:
        q = select(t).where(t.c.seq > last).order_by(t.c.seq).limit(PAGE)
        if upto is not None:
            q = q.where(t.c.seq <= upto)
        rows = conn.execute(q).all()
        if not rows:
            return
        for row in rows:
            yield _entry(row)
        last = int(rows[-1].seq)


def _missing(first: int, last: int) -> str:
    return f"entry {first} is" if first == last else f"entries {first} to {last} are"


def check_chain(
    entries: Iterable[Entry],
    head: tuple[int, str],
    *,
    seq_of_hash: Callable[[str], int | None],
) -> VerifyResult:
    """Walk ``entries`` (in ``seq`` order) against the chain rules; the first break wins.

    ``head`` is the stored (seq, hash) of the newest entry; ``seq_of_hash`` finds the entry
    that has a given stored hash (used only to explain a break). Kinds:

    - ``deleted``: a gap in ``seq``, the head beyond the last entry, or an entry whose hash is
      right for the next ``seq`` (the entries after a deleted one were renumbered);
    - ``inserted``: an entry the chain goes around (the next entry links to the one before
      it), one whose hash is right for the previous ``seq`` (renumbered to make room), or
      entries beyond the head;
    - ``reordered``: an entry whose previous hash is that of an entry stored after it;
    - ``edited``: an entry whose fields do not give its hash, or whose hash was recomputed
      (the next entry, or the head, still holds the old one).
    """
    head_seq, head_hash = head
    expected_seq, expected_prev = 1, GENESIS
    previous: Entry | None = None
    count = 0
    problem: Problem | None = None
    it = iter(entries)
    current = next(it, None)
    while current is not None:
        following = next(it, None)
        e = current
        count += 1
        if e.seq != expected_seq:
            problem = Problem(
                expected_seq,
                "deleted",
                f"{_missing(expected_seq, e.seq - 1)} missing "
                f"(the log goes from {expected_seq - 1} to {e.seq})",
            )
            return VerifyResult(count - 1, head_seq, head_hash, problem)
        self_ok = e.expected_hash() == e.hash
        link_ok = e.prev_hash == expected_prev
        if not (self_ok and link_ok):
            problem = _explain(e, previous, following, expected_prev, self_ok, seq_of_hash)
            return VerifyResult(count - 1, head_seq, head_hash, problem)
        expected_seq, expected_prev, previous = e.seq + 1, e.hash, e
        current = following
    last = expected_seq - 1
    if head_seq > last:
        problem = Problem(
            last + 1,
            "deleted",
            f"{_missing(last + 1, head_seq)} missing (the head records entry {head_seq})",
        )
    elif head_seq < last:
        problem = Problem(
            head_seq + 1,
            "inserted",
            f"entries {head_seq + 1} to {last} were added behind the head (entry {head_seq})",
        )
    elif head_hash != expected_prev:
        problem = Problem(
            last,
            "edited",
            f"entry {last} was changed and its hash recomputed (the head holds the old hash)",
        )
    return VerifyResult(count, head_seq, head_hash, problem)


def _explain(
    e: Entry,
    previous: Entry | None,
    following: Entry | None,
    expected_prev: str,
    self_ok: bool,
    seq_of_hash: Callable[[str], int | None],
) -> Problem:
    linked_to = seq_of_hash(e.prev_hash) if e.prev_hash != expected_prev else None
    if linked_to is not None and linked_to > e.seq:
        return Problem(
            e.seq,
            "reordered",
            f"entry {e.seq} follows entry {linked_to} in the chain but is stored before it",
        )
    skipped = following is not None and following.prev_hash == expected_prev
    if not self_ok:
        if e.expected_hash(e.seq - 1) == e.hash:
            return Problem(
                e.seq - 1,
                "inserted",
                f"an entry was inserted at {e.seq - 1} and the later ones renumbered",
            )
        if e.expected_hash(e.seq + 1) == e.hash:
            return Problem(
                e.seq,
                "deleted",
                f"entry {e.seq} was deleted and the later ones renumbered",
            )
        if skipped:
            return Problem(
                e.seq, "inserted", f"entry {e.seq} is not in the chain (the next one skips it)"
            )
        return Problem(e.seq, "edited", f"entry {e.seq} was changed: its hash does not match")
    if skipped:
        return Problem(
            e.seq, "inserted", f"entry {e.seq} is not in the chain (the next one skips it)"
        )
    if previous is None:
        return Problem(e.seq, "edited", "the first entry does not start from the genesis hash")
    return Problem(
        previous.seq,
        "edited",
        f"entry {previous.seq} was changed and its hash recomputed "
        f"(entry {e.seq} holds the old hash)",
    )


def _head(conn: Connection) -> tuple[int, str]:
    h = tables.audit_head
    row = conn.execute(select(h.c.seq, h.c.hash).where(h.c.id == 1)).one()
    return int(row.seq), str(row.hash)


def _seq_of_hash(conn: Connection) -> Callable[[str], int | None]:
    t = tables.audit_log

    def find(h: str) -> int | None:
        seq = conn.execute(select(t.c.seq).where(t.c.hash == h).limit(1)).scalar()
        return None if seq is None else int(seq)

    return find


def verify(engine: Engine) -> VerifyResult:
    """Check the whole chain and the head; names the first broken entry and how it broke."""
    with engine.connect() as conn:
        return check_chain(iter_entries(conn), _head(conn), seq_of_hash=_seq_of_hash(conn))


def anchor(engine: Engine, *, now: datetime | None = None) -> Anchor:
    """The current head (seq, hash), to be written to a file or printed and kept elsewhere."""
    with engine.connect() as conn:
        seq, h = _head(conn)
    return Anchor(seq, h, now or datetime.now(UTC))


def check_anchor(engine: Engine, seq: int, hash_: str) -> VerifyResult:
    """Whether history up to an anchor is still the one anchored.

    The chain up to ``seq`` must verify and entry ``seq`` must still have the anchored hash:
    anyone who rewrote an earlier entry and recomputed every hash since (and the head) is
    caught here, because they cannot change the copy of the hash held outside.
    """
    with engine.connect() as conn:
        head_seq, head_hash = _head(conn)
        if seq > head_seq:
            problem = Problem(
                head_seq + 1,
                "deleted",
                f"the anchor is at entry {seq} but the log now ends at {head_seq}",
            )
            return VerifyResult(0, head_seq, head_hash, problem)
        if seq == 0:
            stored: str | None = GENESIS
        else:
            t = tables.audit_log
            stored = conn.execute(select(t.c.hash).where(t.c.seq == seq)).scalar()
        if stored is None:
            return VerifyResult(
                0, head_seq, head_hash, Problem(seq, "deleted", f"anchored entry {seq} is gone")
            )
        if stored != hash_:
            problem = Problem(
                seq,
                "rewritten",
                f"history up to entry {seq} was rewritten after the anchor "
                f"(its hash is now {stored[:12]}…, the anchor holds {hash_[:12]}…)",
            )
            return VerifyResult(0, head_seq, head_hash, problem)
        prefix = check_chain(
            iter_entries(conn, upto=seq), (seq, hash_), seq_of_hash=_seq_of_hash(conn)
        )
        return VerifyResult(prefix.entries, head_seq, head_hash, prefix.problem)
