"""The alert exchange as services: manage alerts, hit/no-hit queries, follow-up requests.

The three faces (CLI, API, web pages) call these functions and hold no rule of their own.
Each function takes the connection of one transaction and the principal who asks; it checks
the principal's role and agency, lets the store apply the record rules in SQL, and the store
appends the audit entries in the same transaction. The flow follows the EU Prüm model: an
automated hit/no-hit answer first, then a follow-up request the owner agency decides, and
the details released to that requester only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import polars as pl
from sqlalchemy import Connection

from safestreets import schema
from safestreets.access.policy import Principal, RecordFacts, may, may_for_agency, may_see
from safestreets.errors import AccessDenied, InputError
from safestreets.sharing import matcher
from safestreets.sharing.alerts import (
    ALERT_COLUMNS,
    DEFAULT_INSTRUCTIONS,
    FIREARM_FIELDS,
    PERSON_FIELDS,
    VEHICLE_FIELDS,
    AlertProblem,
    reveals_personal_data,
    subject_of,
    validate_alerts,
)
from safestreets.store import alerts as store

__all__ = [
    "Hit",
    "HitAnswer",
    "cancel_alert",
    "create_alert",
    "decide_request",
    "file_request",
    "list_requests",
    "load_alerts",
    "query_hits",
    "read_clk_key",
    "released_details",
    "searches",
    "update_alert",
]

#: The fields a query of each subject may carry.
SUBJECT_FIELDS: Final = {
    "person": PERSON_FIELDS,
    "vehicle": VEHICLE_FIELDS,
    "firearm": FIREARM_FIELDS,
}
#: Minimum score of a vehicle or firearm candidate to count as a hit.
OBJECT_THRESHOLD: Final = 0.8
#: Minimum Dice coefficient of a privacy-preserving person encoding to count as a hit. Above
#: the batch linker's 0.6 because one query meets many alerts with no one-to-one assignment
#: to discard the weaker; at 0.7 batch linking of synthetic persons kept F1 0.993.
CLK_THRESHOLD: Final = 0.7


def _check_manage(principal: Principal, owner: str) -> None:
    if not may_for_agency(principal, "manage:alerts", owner):
        raise AccessDenied(
            f"{principal.name} may not manage the alerts of {owner}",
            hint="analysts and liaison officers manage their own agency's alerts",
        )


def _problems_error(problems: list[AlertProblem]) -> InputError:
    errors = [p for p in problems if p.severity == "error"]
    text = "; ".join(f"{p.field}: {p.message}" for p in errors)
    return InputError(
        f"the alert is invalid: {text}", hint="fix the fields named and send it again"
    )


@dataclass(frozen=True)
class LoadResult:
    """A bulk load: what was stored and every problem (rows with errors set aside)."""

    counts: store.LoadCounts
    problems: list[AlertProblem]
    rows: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        rejected = len({p.row for p in self.problems if p.severity == "error"})
        return {
            "rows": self.rows,
            **self.counts.as_dict(),
            "rejected": rejected,
            "problems": [p.as_dict() for p in self.problems],
        }


def load_alerts(
    conn: Connection,
    principal: Principal,
    frame: pl.DataFrame,
    *,
    owner_agency: str,
    defaults: Mapping[str, Any] | None = None,
    valid_days: int | None = None,
    source: str | None = None,
    now: datetime | None = None,
) -> LoadResult:
    """Validate and store a frame of alerts of ``owner_agency`` in one transaction.

    Rows with errors are set aside (listed in the result) and the rest are stored; a re-run
    of the same rows changes nothing.
    """
    _check_manage(principal, owner_agency)
    ready, problems = validate_alerts(frame, defaults=defaults, valid_days=valid_days, now=now)
    counts = store.upsert_alerts(
        conn, principal, ready, owner_agency=owner_agency, source=source, now=now
    )
    return LoadResult(counts=counts, problems=problems, rows=frame.height)


def create_alert(
    conn: Connection,
    principal: Principal,
    fields: Mapping[str, Any],
    *,
    owner_agency: str | None = None,
    now: datetime | None = None,
) -> tuple[str, list[AlertProblem]]:
    """One new alert (the API's POST): its reference and any warnings.

    Raises:
        InputError: The alert is invalid (every problem in one message), or its
            ``external_id`` exists already (use an update).
    """
    owner = owner_agency or principal.agency
    if owner is None:
        raise InputError("an alert needs an owner agency", hint="pass --agency")
    _check_manage(principal, owner)
    frame = pl.DataFrame({k: [None if v is None else str(v)] for k, v in fields.items()})
    ready, problems = validate_alerts(frame, now=now)
    if not ready.height:
        raise _problems_error(problems)
    counts = store.upsert_alerts(conn, principal, ready, owner_agency=owner, now=now)
    if counts.inserted != 1:
        raise InputError(
            f"{owner} already has an alert with external_id {fields.get('external_id')!r}",
            hint="change it with PATCH /api/v1/alerts/{reference}",
        )
    return counts.references[0], problems


def _stored_text(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored alert as the text fields validation reads."""
    out: dict[str, Any] = {}
    for c in ALERT_COLUMNS:
        v = row.get(c)
        if c in ("clk", "clk_blocks"):
            continue
        if isinstance(v, datetime):
            v = v.isoformat()
        out[c] = None if v is None else str(v)
    return out


def update_alert(
    conn: Connection,
    principal: Principal,
    reference: str,
    changes: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> list[AlertProblem]:
    """Change an alert's fields (owner agency only); the changed alert is validated whole.

    Returns the warnings. Raises InputError listing every problem when invalid.
    """
    alert_id, owner, _, _ = store.owner_of(conn, reference)
    _check_manage(principal, owner)
    unknown = sorted(set(changes) - set(ALERT_COLUMNS) - {"status"})
    if unknown or "kind" in changes or "external_id" in changes:
        raise InputError(
            "cannot change " + ", ".join(unknown or ["kind/external_id"]),
            hint="kind and external_id are fixed; file a new alert instead",
        )
    row = store.alert_rows(conn, [alert_id])[alert_id]
    merged = {**_stored_text(row), **{k: v for k, v in changes.items() if k != "status"}}
    frame = pl.DataFrame({k: [None if v is None else str(v)] for k, v in merged.items()})
    ready, problems = validate_alerts(frame, now=now)
    if not ready.height:
        raise _problems_error(problems)
    values = {k: ready.get_column(k)[0] for k in changes if k != "status"}
    if "status" in changes:
        if changes["status"] not in ("active", "cancelled"):
            raise InputError("status may be set to active or cancelled")
        values["status"] = changes["status"]
    store.update_alert(conn, principal, reference, values, now=now)
    return problems


def cancel_alert(
    conn: Connection, principal: Principal, reference: str, *, now: datetime | None = None
) -> None:
    """Cancel an alert (it stays stored and audited, but never hits again)."""
    update_alert(conn, principal, reference, {"status": "cancelled"}, now=now)


# --- hit/no-hit -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One alert a query hit, as the querying officer may see it."""

    reference: str
    kind: str
    owner_agency: str
    contact: str
    instructions: str
    handling_code: str
    score: float
    valid_until: datetime
    is_child: bool | None = None
    agreeing: tuple[str, ...] = ()
    #: The subject's fields, only where the rules allow (else None: ask by follow-up).
    details: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "reference": self.reference,
            "kind": self.kind,
            "owner_agency": self.owner_agency,
            "contact": self.contact,
            "instructions": self.instructions,
            "handling_code": self.handling_code,
            "score": round(self.score, 4),
            "valid_until": self.valid_until.isoformat(),
            "is_child": self.is_child,
            "agreeing": list(self.agreeing),
            "details": self.details,
            "follow_up": self.details is None,
        }


@dataclass(frozen=True)
class HitAnswer:
    """The answer to one query: ``no_hit``, or ``hit`` with the alerts hit."""

    query_id: int
    subject: str
    hits: tuple[Hit, ...] = field(default_factory=tuple)

    @property
    def result(self) -> str:
        """``hit`` or ``no_hit``."""
        return "hit" if self.hits else "no_hit"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "result": self.result,
            "query_id": self.query_id,
            "subject": self.subject,
            "hits": [h.as_dict() for h in self.hits],
        }


def _clean_record(subject: str, record: Mapping[str, Any]) -> dict[str, str | None]:
    allowed = SUBJECT_FIELDS[subject]
    unknown = sorted(set(record) - set(allowed) - {"record_id"})
    if unknown:
        raise InputError(
            f"unknown {subject} field(s): {', '.join(unknown)}",
            hint="allowed: " + ", ".join(allowed),
        )
    out: dict[str, str | None] = {}
    for k in allowed:
        v = record.get(k)
        v = None if v is None else str(v).strip()
        out[k] = v or None
    return out


def read_clk_key(path: Path) -> bytes:
    """The key the member countries share for privacy-preserving encodings, from ``path``
    (surrounding white space ignored). Read once per version of the file: queries use it
    on the hot path.

    Raises:
        InputError: Unreadable, or shorter than 16 bytes.
    """
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        raise InputError(
            f"cannot read the shared encoding key {path}: {exc.strerror}",
            hint="the key file is shared by the member countries (docs/alerts.md)",
        ) from None
    return _read_clk_key(path, stamp)


@lru_cache(maxsize=4)
def _read_clk_key(path: Path, _stamp: int) -> bytes:
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise InputError(
            f"cannot read the shared encoding key {path}: {exc.strerror}",
            hint="the key file is shared by the member countries (docs/alerts.md)",
        ) from None
    if len(key) < 16:
        raise InputError(
            f"the shared encoding key in {path} is too short (16 bytes at least)",
            hint="e.g. `python -c 'import secrets; print(secrets.token_hex(32))' > key`",
        )
    return key


def _digest(secret: str, subject: str, record: Mapping[str, Any]) -> str:
    text = subject + "|" + "|".join(f"{k}={record[k] or ''}" for k in sorted(record))
    return hmac.new(secret.encode(), text.encode("utf-8"), hashlib.sha256).hexdigest()


def _details(subject: str, row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in SUBJECT_FIELDS[subject] if row.get(k) is not None}


def query_hits(
    conn: Connection,
    principal: Principal,
    *,
    subject: str,
    record: Mapping[str, Any] | None = None,
    clk: bytes | None = None,
    clk_blocks: str | None = None,
    purpose: str | None = None,
    cache_key: str,
    secret: str,
    clk_key_file: Path | None = None,
    threshold: float = 0.9,
    now: datetime | None = None,
) -> HitAnswer:
    """Ask whether a person, vehicle or firearm is the subject of any active alert.

    Args:
        conn: One transaction (the query and its audit entries are kept together).
        principal: Who asks; needs the ``query:cross_border`` action.
        subject: ``person``, ``vehicle`` or ``firearm``.
        record: The subject's fields (canonical person, vehicle or firearm columns).
        clk: For persons, a privacy-preserving encoding instead of (or besides) ``record``.
        clk_blocks: Its keyed blocking keys (space-separated hex), when the sender made them.
        purpose: Why the officer asks (kept with the query, shown to owners of hits).
        cache_key: Names the store for the in-memory indexes (its URL).
        secret: Keys the digest kept of the query (no personal data is stored).
        clk_key_file: The shared encoding key; when given, a plain person query is also
            compared with the alerts contributed as encodings.
        threshold: Match probability from which a person candidate is a hit.
        now: The clock (tests).

    Returns:
        The answer. Hits on RESTRICTED and NATIONAL alerts (and on encodings) carry no
        personal data; the others carry the subject's fields when the access rules let the
        principal see the alert.
    """
    if not may(principal, "query:cross_border"):
        raise AccessDenied(
            f"{principal.name} may not run cross-border queries",
            hint="hit/no-hit queries need the liaison or regional role",
        )
    if subject not in SUBJECT_FIELDS:
        raise InputError(f"unknown subject {subject!r}", hint="person, vehicle or firearm")
    if record is None and clk is None:
        raise InputError("a query needs the subject's fields (or a clk encoding for a person)")
    if clk is not None and subject != "person":
        raise InputError("only person queries may be sent as clk encodings")
    now = now or datetime.now(UTC)
    fields = _clean_record(subject, record or {})
    if record is not None and not any(fields.values()):
        raise InputError(f"the {subject} query has no field filled in")
    idx = matcher.indexes(conn, cache_key)

    scored: dict[int, tuple[float, tuple[str, ...]]] = {}

    def keep(key: int, score: float, agreeing: tuple[str, ...]) -> None:
        if key not in scored or scored[key][0] < score:
            scored[key] = (score, agreeing)

    if subject == "person":
        if record is not None:
            for c in idx.persons(fields, threshold=threshold):
                keep(int(c.key), float(c.probability), tuple(c.agreeing))
        encodings: list[tuple[Any, str | None]] = []
        if clk is not None:
            encodings.append((_clk_row(clk), clk_blocks))
        if record is not None and clk_key_file is not None and idx.sizes["clk"]:
            from safestreets.sharing.clk import block_key_string, encode_record
            from safestreets.sharing.names import normalise_person

            key = read_clk_key(clk_key_file)
            one = normalise_person(fields)
            encodings.append((encode_record(one, key), block_key_string(one, key)))
        for bits, blocks in encodings:
            for c in idx.encodings(bits, threshold=CLK_THRESHOLD, blocks=blocks):
                keep(int(c.key), float(c.probability), ())
    else:
        for c in idx.objects(subject, fields, threshold=OBJECT_THRESHOLD):
            keep(int(c.key), float(c.probability), tuple(c.agreeing))

    rows = store.alert_rows(conn, sorted(scored), now=now)
    hits: list[Hit] = []
    for alert_id, row in rows.items():
        score, agreeing = scored[alert_id]
        own = principal.agency is not None and principal.agency == row["owner_agency"]
        facts = RecordFacts(
            owner_agency=row["owner_agency"],
            owner_country=row["country"],
            handling_code=row["handling_code"],
        )
        show = (
            row["encoding"] == "plain"
            and reveals_personal_data(row["handling_code"], own_agency=own)
            and may_see(principal, facts)
        )
        hits.append(
            Hit(
                reference=row["reference"],
                kind=row["kind"],
                owner_agency=row["owner_agency"],
                contact=row["contact"],
                instructions=row["instructions"] or DEFAULT_INSTRUCTIONS[row["kind"]],
                handling_code=row["handling_code"],
                score=score,
                valid_until=row["valid_until"],
                is_child=row["is_child"],
                agreeing=agreeing,
                details=_details(subject, row) if show else None,
            )
        )
    hits.sort(key=lambda h: (-h.score, h.reference))
    digest = _digest(secret, subject, fields) if record is not None else None
    query_id = store.record_query(
        conn,
        principal,
        subject=subject,
        mode="clk" if clk is not None else "plain",
        purpose=purpose,
        digest=digest,
        hits=[
            store.HitRow(
                alert_id=aid,
                reference=rows[aid]["reference"],
                owner_agency=rows[aid]["owner_agency"],
                score=scored[aid][0],
            )
            for aid in rows
        ],
        now=now,
    )
    return HitAnswer(query_id=query_id, subject=subject, hits=tuple(hits))


def _clk_row(clk: bytes) -> Any:
    import numpy as np

    if len(clk) % 8:
        raise InputError("a clk encoding is a whole number of 64-bit words")
    return np.frombuffer(clk, dtype=np.uint64)


# --- follow-up requests ---------------------------------------------------------------------


def file_request(
    conn: Connection,
    principal: Principal,
    *,
    query_id: int,
    reference: str,
    reason: str,
    now: datetime | None = None,
) -> int:
    """Ask the owner of an alert one's own query hit for the details. Returns the request id.

    Raises:
        NotFound: The query did not hit that alert.
        AccessDenied: The query was someone else's.
        InputError: No reason given, or a request for this hit is already pending.
    """
    if not may(principal, "query:cross_border"):
        raise AccessDenied(f"{principal.name} may not file follow-up requests")
    if not reason or not reason.strip():
        raise InputError("a follow-up request needs a reason", hint="say why you need the details")
    query, alert_id = store.query_hit(conn, query_id, reference)
    if query["user_id"] is None or query["user_id"] != principal.user_id:
        raise AccessDenied(
            f"query {query_id} is not {principal.name}'s",
            hint="a follow-up request is filed by the officer who ran the query",
        )
    pending = store.requests_where(conn, requester_user_id=principal.user_id, status="pending")
    if pending.filter((pl.col("query_id") == query_id) & (pl.col("reference") == reference)).height:
        raise InputError(f"a request for {reference} from query {query_id} is already pending")
    return store.file_request(
        conn,
        principal,
        query_id=query_id,
        alert_id=alert_id,
        reference=reference,
        owner_agency=query["owner_agency"],
        reason=reason.strip(),
        now=now,
    )


def _check_decider(principal: Principal, owner: str) -> None:
    if not may_for_agency(principal, "decide:requests", owner):
        raise AccessDenied(
            f"{principal.name} may not decide requests addressed to {owner}",
            hint="the owner agency's admins and liaison officers decide them",
        )


def decide_request(
    conn: Connection,
    principal: Principal,
    request_id: int,
    *,
    approve: bool,
    reason: str,
    now: datetime | None = None,
) -> str:
    """Approve or deny a pending request addressed to the principal's agency."""
    req = store.get_request(conn, request_id)
    _check_decider(principal, req["owner_agency"])
    if not reason or not reason.strip():
        raise InputError("a decision needs a reason", hint="the requester reads it")
    return store.decide_request(
        conn, principal, request_id, approve=approve, reason=reason.strip(), now=now
    )


def list_requests(conn: Connection, principal: Principal) -> dict[str, pl.DataFrame]:
    """The principal's own requests (``sent``) and, for deciders, those addressed to their
    agency (``received``)."""
    decides = principal.agency is not None and may(principal, "decide:requests")
    return {
        "sent": store.requests_where(conn, requester_user_id=principal.user_id or -1),
        # Without a ground the store answers an empty frame of the same columns.
        "received": store.requests_where(conn, owner_agency=principal.agency if decides else None),
    }


def released_details(
    conn: Connection, principal: Principal, request_id: int, *, now: datetime | None = None
) -> dict[str, Any]:
    """The alert's details released by an approved request, to its requester only."""
    row = store.released_alert(conn, principal, request_id, now=now)
    subject = subject_of(row["kind"])
    return {
        "request_id": request_id,
        "reference": row["reference"],
        "kind": row["kind"],
        "owner_agency": row["owner_agency"],
        "contact": row["contact"],
        "reason": row["reason"],
        "iccs_code": row["iccs_code"],
        "warrant_ref": row["warrant_ref"],
        "valid_until": row["valid_until"],
        "details": _details(subject, row),
    }


def searches(
    conn: Connection, principal: Principal, *, limit: int = 200, now: datetime | None = None
) -> pl.DataFrame:
    """Who searched for the alerts of the principal's agency (hits only)."""
    if principal.agency is None:
        raise AccessDenied("only an agency's users see who searched for its alerts")
    _check_decider(principal, principal.agency)
    return store.searches_of(conn, principal, agency=principal.agency, limit=limit, now=now)


#: Every alert kind, for the faces' option lists.
KINDS: Final = tuple(schema.ALERT_KINDS)
