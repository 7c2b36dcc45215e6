"""`safestreets alerts`: load alerts through profiles, list, show, cancel and expire them, and
encode person lists for the privacy-preserving mode.

The CLI acts as the local operator (whoever runs it on the database host already holds the
database), unless ``--as-user`` names a registered account: then that account's roles and
agency apply, and the audit entries carry its name (the operator vouches for the user, which
is acceptable on the database host only). docs/alerts.md documents every command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Connection

from safestreets.access.policy import Principal
from safestreets.cli._common import DatabaseOpt, console, operator, ready_engine
from safestreets.errors import InputError, NotFound
from safestreets.stats.export import plain as export_plain

alerts_app = typer.Typer(
    help="Cross-border alerts: bulk load through profiles, list, show, cancel, expire, encode.",
    no_args_is_help=True,
)
profiles_app = typer.Typer(help="List and show alert profiles.", no_args_is_help=True)
alerts_app.add_typer(profiles_app, name="profiles")

AsUserOpt = Annotated[
    str | None,
    typer.Option(
        "--as-user",
        help="Act as this registered user (their roles and agency apply; audited under "
        "their name). Default: the local operator.",
    ),
]


def acting_principal(conn: Connection, as_user: str | None) -> Principal:
    """The operator, or the registered user ``as_user`` with their current roles."""
    if as_user is None:
        return operator()
    from safestreets.access.accounts import principal_for

    return principal_for(conn, as_user)


def plain(value: Any) -> Any:
    """A value ready for JSON (:func:`safestreets.stats.export.plain`; bytes left out)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return None
    return export_plain(value)


def echo_json(data: Any) -> None:
    """One JSON document (or line) on stdout."""
    typer.echo(json.dumps(data, ensure_ascii=False, default=plain))


# --- load ----------------------------------------------------------------------------------


@alerts_app.command("load")
def alerts_load(
    file: Annotated[
        Path, typer.Argument(help="CSV, XLSX, JSON/NDJSON or Parquet file (.gz accepted).")
    ],
    profile: Annotated[
        str,
        typer.Option("--profile", "-p", help="Built-in alert profile name or a YAML path."),
    ],
    agency: Annotated[
        str | None,
        typer.Option("--agency", help="Owner agency of the alerts (overrides the profile)."),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the report as JSON to this file.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    as_user: AsUserOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Load alerts in bulk from a file through an alert profile (one transaction)."""
    from safestreets.sharing.profiles import load_alert_file, load_alert_profile

    prof = load_alert_profile(profile)
    engine = ready_engine(database)
    with engine.begin() as conn:
        principal = acting_principal(conn, as_user)
        result = load_alert_file(conn, principal, file, prof, owner_agency=agency)
    data = result.as_dict()
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if json_out:
        echo_json(data)
        return
    t = Table(title=f"Alert load: {escape(file.name)} ({escape(prof.name)})", show_header=False)
    t.add_column("", style="bold")
    t.add_column("", justify="right")
    t.add_row("owner agency", escape(result.owner_agency))
    t.add_row("read as", escape(result.read_as))
    for key in ("rows", "inserted", "updated", "unchanged", "rejected", "warnings"):
        t.add_row(key, f"{data[key]:,}")
    console.print(t)
    if result.problems:
        p = Table(title="Problems (error: row set aside; warning: row stored)")
        for col in ("row", "external_id", "field", "severity", "message"):
            p.add_column(col)
        for prob in result.problems[:200]:
            p.add_row(
                str(prob["row"]),
                escape(str(prob["external_id"] or "")),
                prob["field"],
                prob["severity"],
                escape(prob["message"]),
            )
        console.print(p)
        if len(result.problems) > 200:
            console.print(f"... {len(result.problems) - 200} more: see --report or --json")
    for note in result.notes:
        console.print(f"note: {escape(note)}", highlight=False)


# --- list, show, cancel, expire ------------------------------------------------------------


def _subject_text(row: dict[str, Any]) -> str:
    """A short description of the alert's subject for a table."""
    if row.get("encoding") == "clk":
        return "(encoded person)"
    names = [row.get(k) for k in ("given_names", "surname_1", "surname_2")]
    text = " ".join(n for n in names if n)
    if text or row.get("national_id"):
        return text or str(row["national_id"])
    if row.get("plate") or row.get("vin"):
        plate = f"{row.get('plate') or ''} {row.get('plate_country') or ''}".strip()
        return plate or str(row["vin"])
    bits = [row.get(k) for k in ("serial", "make", "calibre")]
    return " ".join(str(b) for b in bits if b)


@alerts_app.command("list")
def alerts_list(
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="Only this kind (repeatable).")
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help="Only this status: active, expired, cancelled (repeatable)."),
    ] = None,
    agency: Annotated[
        str | None, typer.Option("--agency", help="Only this owner agency's alerts.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most N alerts.")] = 100,
    json_out: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
    as_user: AsUserOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """List the alerts one may see (by the record rules; the read is audited)."""
    from safestreets.schema import ALERT_KINDS
    from safestreets.store.alerts import AlertFilter, alerts_for

    unknown = sorted(set(kind or ()) - set(ALERT_KINDS))
    if unknown:
        raise InputError(
            f"unknown alert kind(s) {', '.join(unknown)}", hint="kinds: " + ", ".join(ALERT_KINDS)
        )
    bad_status = sorted(set(status or ()) - {"active", "expired", "cancelled"})
    if bad_status:
        raise InputError(
            f"unknown status {', '.join(bad_status)}", hint="active, expired or cancelled"
        )
    where = AlertFilter(
        kinds=tuple(kind or ()), status=tuple(status or ()), owner_agency=agency, limit=limit
    )
    engine = ready_engine(database)
    with engine.begin() as conn:
        frame = alerts_for(acting_principal(conn, as_user), conn=conn, where=where)
    if json_out:
        for row in frame.iter_rows(named=True):
            echo_json(row)
        return
    t = Table(
        "reference", "kind", "owner", "code", "status", "valid until", "external id", "subject"
    )
    for row in frame.iter_rows(named=True):
        t.add_row(
            row["reference"],
            row["kind"],
            escape(row["owner_agency"]),
            row["handling_code"],
            row["status"],
            f"{row['valid_until']:%Y-%m-%d}",
            escape(row["external_id"] or ""),
            escape(_subject_text(row)),
        )
    console.print(t)


@alerts_app.command("show")
def alerts_show(
    reference: Annotated[str, typer.Argument(help="The alert's reference, e.g. GT-WP-7K3M9QXA.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the alert as JSON.")] = False,
    as_user: AsUserOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Show one alert (if the record rules let one see it; the read is audited)."""
    from safestreets.store.alerts import AlertFilter, alerts_for

    engine = ready_engine(database)
    with engine.begin() as conn:
        frame = alerts_for(
            acting_principal(conn, as_user),
            conn=conn,
            where=AlertFilter(reference=reference.strip().upper(), limit=1),
        )
    if not frame.height:
        raise NotFound(f"no alert {reference} that you may see", hint="`safestreets alerts list`")
    row = frame.row(0, named=True)
    if json_out:
        echo_json(row)
        return
    t = Table(title=f"Alert {row['reference']}", show_header=False)
    t.add_column("", style="bold")
    t.add_column("")
    for key, value in row.items():
        if value is None or key == "alert_id":
            continue
        t.add_row(key, escape(str(plain(value))))
    console.print(t)


@alerts_app.command("cancel")
def alerts_cancel(
    reference: Annotated[str, typer.Argument(help="The alert's reference.")],
    as_user: AsUserOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Cancel an alert: it stays stored and audited but never hits again."""
    from safestreets.sharing.service import cancel_alert

    ref = reference.strip().upper()
    engine = ready_engine(database)
    with engine.begin() as conn:
        cancel_alert(conn, acting_principal(conn, as_user), ref)
    console.print(f"alert {escape(ref)} cancelled")


@alerts_app.command("expire")
def alerts_expire(database: DatabaseOpt = None) -> None:
    """Mark every active alert past its validity as expired (e.g. daily from cron).

    Queries never return an expired alert whether or not this ran; marking them keeps lists
    and counts honest. Runs as the local operator.
    """
    from safestreets.store.alerts import expire_alerts

    engine = ready_engine(database)
    with engine.begin() as conn:
        n = expire_alerts(conn, operator())
    console.print(f"{n} alert(s) marked expired")


# --- profiles ------------------------------------------------------------------------------


@profiles_app.command("list")
def profiles_list() -> None:
    """List the built-in alert profiles."""
    from safestreets.sharing.profiles import builtin_alert_profiles, load_alert_profile

    t = Table("name", "kind", "owner agency", "description")
    for name in builtin_alert_profiles():
        p = load_alert_profile(name)
        kind = p.kind or f"(column {p.kind_column})"
        t.add_row(name, escape(kind), escape(p.owner_agency or "(--agency)"), escape(p.description))
    console.print(t)


@profiles_app.command("show")
def profiles_show(name: Annotated[str, typer.Argument(help="Profile name or path.")]) -> None:
    """Print an alert profile's YAML (after checking it)."""
    from safestreets.sharing.profiles import load_alert_profile

    p = load_alert_profile(name)
    assert p.path is not None  # load_alert_profile always reads a file
    typer.echo(p.path.read_text(encoding="utf-8"), nl=False)


# --- encode --------------------------------------------------------------------------------


def encode_persons(frame: pl.DataFrame, key: bytes, *, file: str = "the file") -> pl.DataFrame:
    """Replace the personal data of a person list by CLK encodings.

    Args:
        frame: Text columns: ``record_id``, canonical person columns, and optionally alert
            columns (``kind``, ``warrant_ref``, ``valid_until`` ...) which are carried over.
        key: The shared key.
        file: Named in messages.

    Returns:
        ``record_id``, ``clk`` (base64), ``clk_blocks`` (space-separated hex keys) and the
        carried alert columns; no person column.

    Raises:
        InputError: A column that is neither a person nor an alert column (it could carry
            personal data into the output), or missing/duplicate record ids.
    """
    from safestreets.schema import PERSON_COLUMNS
    from safestreets.sharing.alerts import ALERT_COLUMNS
    from safestreets.sharing.clk import block_key_strings, block_keys, encode, to_base64
    from safestreets.sharing.names import normalise_persons

    person = [c for c in PERSON_COLUMNS if c != "record_id"]
    carried_allowed = [
        c for c in ALERT_COLUMNS if c not in person and c not in ("clk", "clk_blocks")
    ]
    cols = [c for c in frame.columns if c != "__row"]
    unknown = [c for c in cols if c not in PERSON_COLUMNS and c not in carried_allowed]
    if unknown:
        raise InputError(
            f"{file}: unknown column(s) {', '.join(unknown)}",
            hint="person columns: " + ", ".join(PERSON_COLUMNS) + "; alert columns are carried "
            "over; other columns are refused so that no personal data leaks into the output",
        )
    if "record_id" not in cols:
        raise InputError(f"{file}: no record_id column", hint="each person needs its own id")
    ids = frame.get_column("record_id").cast(pl.String).str.strip_chars()
    rows = (
        frame.get_column("__row")
        if "__row" in frame.columns
        else pl.int_range(1, frame.height + 1, eager=True)
    )
    blank = rows.filter(ids.is_null() | (ids == "")).to_list()
    if blank:
        raise InputError(f"{file}: rows without a record_id: {', '.join(map(str, blank[:20]))}")
    dupes = sorted(ids.filter(ids.is_duplicated()).unique().to_list())
    if dupes:
        raise InputError(f"{file}: record_id repeated: {', '.join(dupes[:20])}")
    persons = frame.select(
        ids.alias("record_id"),
        *[
            (pl.col(c).cast(pl.String) if c in cols else pl.lit(None, pl.String)).alias(c)
            for c in person
        ],
    )
    features = normalise_persons(persons)
    bits = encode(features, key)
    blocks = block_key_strings(block_keys(features, key))
    carried = [c for c in cols if c in carried_allowed]
    return pl.DataFrame(
        {
            "record_id": ids,
            "clk": [to_base64(row) for row in bits],
            "clk_blocks": pl.Series(blocks, dtype=pl.String),
        }
    ).hstack(frame.select(carried))


@alerts_app.command("encode")
def alerts_encode(
    file: Annotated[
        Path, typer.Argument(help="Canonical person CSV (other formats as for `load`).")
    ],
    key_file: Annotated[
        Path, typer.Option("--key-file", help="The key shared by the member countries.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV of encodings to write.")],
) -> None:
    """Turn a person list into privacy-preserving encodings (no names leave the file)."""
    from safestreets.ingest.readers import read_whole
    from safestreets.sharing.service import read_clk_key

    key = read_clk_key(key_file)
    frame = read_whole(file, name="persons")
    encoded = encode_persons(frame, key, file=file.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    encoded.write_csv(out)
    console.print(
        f"{encoded.height} person(s) encoded to {escape(str(out))} "
        "(load them with --profile safestreets-clk)",
        highlight=False,
    )
