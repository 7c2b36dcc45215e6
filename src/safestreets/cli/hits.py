"""`safestreets hits`: batch hit/no-hit checks and the follow-up flow from the command line.

A batch check (a passenger list, a list of seized firearms) runs one audited query per row,
exactly as the API does for one record; follow-up requests, decisions, released details and
the owner's view of who searched are the service's functions, acting as ``--as-user``.
docs/alerts.md documents every command.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from safestreets.cli._common import DatabaseOpt, console, err_console, ready_engine
from safestreets.cli.alerts import acting_principal, echo_json, plain
from safestreets.errors import InputError

hits_app = typer.Typer(
    help="Hit/no-hit checks against all alerts, and follow-up requests.", no_args_is_help=True
)

UserOpt = Annotated[
    str,
    typer.Option("--as-user", help="The registered user who acts (their roles and agency apply)."),
]
#: Columns of the results file of `hits check` (one line per hit; no_hit rows once).
RESULT_COLUMNS = (
    "record_id",
    "result",
    "query_id",
    "reference",
    "kind",
    "owner_agency",
    "contact",
    "instructions",
    "score",
    "handling_code",
    "follow_up",
    "message",
)


def _records(path: Path, subject: str) -> list[tuple[str, dict[str, str | None]]]:
    """The file's rows as (record id, fields of the subject); InputError on unknown columns."""
    from safestreets.ingest.readers import ROW, read_whole
    from safestreets.sharing.service import SUBJECT_FIELDS

    if subject not in SUBJECT_FIELDS:
        raise InputError(f"unknown subject {subject!r}", hint="person, vehicle or firearm")
    allowed = SUBJECT_FIELDS[subject]
    frame = read_whole(path, name="hits")
    cols = [c for c in frame.columns if c != ROW]
    unknown = [c for c in cols if c not in allowed and c != "record_id"]
    if unknown:
        raise InputError(
            f"{path.name}: unknown {subject} column(s) {', '.join(unknown)}",
            hint="allowed: record_id, " + ", ".join(allowed),
        )
    if not any(c in allowed for c in cols):
        raise InputError(
            f"{path.name}: no {subject} column", hint="allowed: record_id, " + ", ".join(allowed)
        )
    out = []
    for row in frame.iter_rows(named=True):
        rid = (row.get("record_id") or "").strip() or f"row {row[ROW]}"
        out.append((rid, {c: row[c] for c in cols if c in allowed}))
    return out


@hits_app.command("check")
def hits_check(
    file: Annotated[
        Path,
        typer.Argument(help="Records to check: canonical person, vehicle or firearm columns."),
    ],
    subject: Annotated[str, typer.Option("--subject", help="person, vehicle or firearm.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the results as CSV here.")
    ] = None,
    purpose: Annotated[
        str | None, typer.Option("--purpose", help="Why you ask (kept with every query).")
    ] = None,
    as_user: Annotated[
        str | None,
        typer.Option("--as-user", help="Act as this registered user (default: the operator)."),
    ] = None,
    database: DatabaseOpt = None,
) -> None:
    """Check every row of a file against all active alerts (one audited query per row)."""
    from safestreets.config import get_settings
    from safestreets.sharing.service import query_hits

    records = _records(file, subject)
    settings = get_settings()
    engine = ready_engine(database)
    cache_key = engine.url.render_as_string(hide_password=True)
    with engine.connect() as conn:
        principal = acting_principal(conn, as_user)
    lines: list[dict[str, Any]] = []
    counts = {"hit": 0, "no_hit": 0, "invalid": 0}
    for rid, record in records:
        # One transaction per row: a query that ran stays recorded even if a later one fails.
        try:
            with engine.begin() as conn:
                answer = query_hits(
                    conn,
                    principal,
                    subject=subject,
                    record=record,
                    purpose=purpose,
                    cache_key=cache_key,
                    secret=settings.secret_key,
                    clk_key_file=settings.clk_key_file,
                    threshold=settings.hit_threshold,
                )
        except InputError as exc:
            counts["invalid"] += 1
            lines.append({"record_id": rid, "result": "invalid", "message": exc.message})
            continue
        counts[answer.result] += 1
        base = {"record_id": rid, "result": answer.result, "query_id": answer.query_id}
        if not answer.hits:
            lines.append(base)
        for h in answer.hits:
            lines.append(
                {
                    **base,
                    "reference": h.reference,
                    "kind": h.kind,
                    "owner_agency": h.owner_agency,
                    "contact": h.contact,
                    "instructions": h.instructions,
                    "score": round(h.score, 4),
                    "handling_code": h.handling_code,
                    "follow_up": h.details is None,
                }
            )
    summary = (
        f"{len(records)} record(s): {counts['hit']} hit, {counts['no_hit']} no hit, "
        f"{counts['invalid']} invalid"
    )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS, extrasaction="ignore")
            w.writeheader()
            for line in lines:
                w.writerow({k: "" if line.get(k) is None else line[k] for k in RESULT_COLUMNS})
        console.print(f"{summary}; results in {escape(str(out))}", highlight=False)
        return
    t = Table("record", "result", "query", "reference", "kind", "owner", "contact", "score")
    for line in lines:
        score = line.get("score")
        t.add_row(
            escape(line["record_id"]),
            line["result"],
            str(line.get("query_id") or ""),
            line.get("reference") or "",
            line.get("kind") or "",
            escape(line.get("owner_agency") or ""),
            escape(line.get("contact") or line.get("message") or ""),
            "" if score is None else f"{score:.3f}",
        )
    console.print(t)
    err_console.print(summary, highlight=False)


@hits_app.command("request")
def hits_request(
    query_id: Annotated[int, typer.Argument(help="The query that hit (from `hits check`).")],
    reference: Annotated[str, typer.Argument(help="The alert it hit.")],
    reason: Annotated[str, typer.Option("--reason", help="Why you need the details.")],
    as_user: UserOpt,
    database: DatabaseOpt = None,
) -> None:
    """File a follow-up request for the details of an alert your query hit."""
    from safestreets.sharing.service import file_request

    engine = ready_engine(database)
    ref = reference.strip().upper()
    with engine.begin() as conn:
        principal = acting_principal(conn, as_user)
        request_id = file_request(conn, principal, query_id=query_id, reference=ref, reason=reason)
    console.print(f"request {request_id} filed for {escape(ref)}", highlight=False)


def _requests_table(title: str, frame: Any) -> Table:
    t = Table("request", "query", "reference", "owner", "requester", "status", "decision",
              title=title)  # fmt: skip
    for r in frame.iter_rows(named=True):
        t.add_row(
            str(r["request_id"]),
            str(r["query_id"]),
            r["reference"],
            escape(r["owner_agency"]),
            escape(f"{r['requester']} ({r['requester_agency'] or '-'})"),
            r["status"],
            escape(r["decision_reason"] or ""),
        )
    return t


@hits_app.command("requests")
def hits_requests(
    as_user: UserOpt,
    json_out: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
    database: DatabaseOpt = None,
) -> None:
    """List your follow-up requests, and those addressed to your agency if you decide them."""
    from safestreets.sharing.service import list_requests

    engine = ready_engine(database)
    with engine.begin() as conn:
        lists = list_requests(conn, acting_principal(conn, as_user))
    if json_out:
        for box, frame in lists.items():
            for row in frame.iter_rows(named=True):
                echo_json({"box": box, **row})
        return
    console.print(_requests_table("Sent", lists["sent"]))
    console.print(_requests_table("Received", lists["received"]))


@hits_app.command("decide")
def hits_decide(
    request_id: Annotated[int, typer.Argument(help="The request to decide.")],
    approve: Annotated[
        bool, typer.Option("--approve/--deny", help="Release the details, or refuse.")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (the requester reads it).")],
    as_user: UserOpt,
    database: DatabaseOpt = None,
) -> None:
    """Approve or deny a follow-up request addressed to your agency."""
    from safestreets.sharing.service import decide_request

    engine = ready_engine(database)
    with engine.begin() as conn:
        status = decide_request(
            conn, acting_principal(conn, as_user), request_id, approve=approve, reason=reason
        )
    console.print(f"request {request_id} {status}")


@hits_app.command("details")
def hits_details(
    request_id: Annotated[int, typer.Argument(help="Your approved request.")],
    as_user: UserOpt,
    json_out: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    database: DatabaseOpt = None,
) -> None:
    """Show the details an approved request released to you (the read is audited)."""
    from safestreets.sharing.service import released_details

    engine = ready_engine(database)
    with engine.begin() as conn:
        data = released_details(conn, acting_principal(conn, as_user), request_id)
    if json_out:
        echo_json(data)
        return
    t = Table(title=f"Released details of request {request_id}", show_header=False)
    t.add_column("", style="bold")
    t.add_column("")
    for key, value in data.items():
        if key == "details":
            for k, v in (value or {}).items():
                t.add_row(k, escape(str(plain(v))))
        elif value is not None:
            t.add_row(key, escape(str(plain(value))))
    console.print(t)


@hits_app.command("searches")
def hits_searches(
    as_user: UserOpt,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest N.")] = 200,
    json_out: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
    database: DatabaseOpt = None,
) -> None:
    """Who searched for your agency's alerts (queries that hit them), newest first."""
    from safestreets.sharing.service import searches

    engine = ready_engine(database)
    with engine.begin() as conn:
        frame = searches(conn, acting_principal(conn, as_user), limit=limit)
    if json_out:
        for row in frame.iter_rows(named=True):
            echo_json(row)
        return
    t = Table("query", "at (UTC)", "who", "agency", "subject", "purpose", "reference", "score")
    for r in frame.iter_rows(named=True):
        t.add_row(
            str(r["query_id"]),
            f"{r['at']:%Y-%m-%d %H:%M}",
            escape(r["actor"]),
            escape(r["agency"] or ""),
            r["subject"],
            escape(r["purpose"] or ""),
            r["reference"],
            f"{r['score']:.3f}",
        )
    console.print(t)


__all__ = ["RESULT_COLUMNS", "hits_app"]
