"""`safestreets agencies`, `safestreets users` and `safestreets audit`.

The CLI acts as the local operator (whoever can run it on the database host already has the
database); every change it makes is audited under ``operator:<login name>``.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from safestreets.cli._common import DatabaseOpt, console, err_console, operator, ready_engine
from safestreets.errors import InputError

agencies_app = typer.Typer(help="Agencies that own records and employ users.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts, roles and API tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the three command groups to the main app."""
    app.add_typer(agencies_app, name="agencies")
    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")


# --- agencies ------------------------------------------------------------------------------


@agencies_app.command("add")
def agencies_add(
    agency_id: Annotated[str, typer.Argument(help="Id, as records carry it in owner_agency.")],
    name: Annotated[str, typer.Option("--name", help="Full name.")],
    country: Annotated[
        str | None, typer.Option("--country", help="Member country (ISO alpha-2).")
    ] = None,
    regional: Annotated[
        bool, typer.Option("--regional", help="A regional body (no country), e.g. SICA.")
    ] = False,
    database: DatabaseOpt = None,
) -> None:
    """Register an agency (of a member country, or a regional body with --regional)."""
    from safestreets.access.accounts import add_agency

    if (country is None) == (not regional):
        raise InputError(
            "give the agency's country or --regional",
            hint="e.g. `safestreets agencies add GT-PNC --name 'Policía Nacional Civil' "
            "--country GT`",
        )
    engine = ready_engine(database)
    with engine.begin() as conn:
        a = add_agency(conn, operator(), agency_id=agency_id, name=name, country=country)
    console.print(f"agency {escape(a.agency_id)} added ({a.country or 'regional'})")


@agencies_app.command("list")
def agencies_list(database: DatabaseOpt = None) -> None:
    """List the agencies."""
    from safestreets.access.accounts import list_agencies

    with ready_engine(database).connect() as conn:
        rows = list_agencies(conn)
    t = Table("agency", "name", "country")
    for a in rows:
        t.add_row(escape(a.agency_id), escape(a.name), a.country or "(regional)")
    console.print(t)


# --- users ---------------------------------------------------------------------------------


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    agency: Annotated[str, typer.Option("--agency", help="The user's agency id.")],
    role: Annotated[
        list[str] | None,
        typer.Option(
            "--role", help="A role (repeatable): admin, analyst, liaison, viewer, regional."
        ),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="No password: the account uses API tokens.")
    ] = False,
    database: DatabaseOpt = None,
) -> None:
    """Create a user account (asks for the password unless told otherwise)."""
    from safestreets.access.accounts import add_user

    password: str | None = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not no_password:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    engine = ready_engine(database)
    with engine.begin() as conn:
        u = add_user(
            conn,
            operator(),
            username=username,
            agency_id=agency,
            roles=role or (),
            password=password,
        )
    roles = ", ".join(u.roles) or "no roles"
    console.print(f"user {escape(u.username)} added to {escape(u.agency_id)} ({roles})")


@users_app.command("list")
def users_list(
    agency: Annotated[str | None, typer.Option("--agency", help="Only this agency.")] = None,
    database: DatabaseOpt = None,
) -> None:
    """List user accounts and their roles."""
    from safestreets.access.accounts import list_users

    with ready_engine(database).connect() as conn:
        rows = list_users(conn, operator(), agency_id=agency)
    t = Table("user", "agency", "country", "roles", "state", "password")
    for u in rows:
        t.add_row(
            escape(u.username),
            escape(u.agency_id),
            u.country or "(regional)",
            ", ".join(u.roles),
            "disabled" if u.disabled else "active",
            "yes" if u.has_password else "no (tokens only)",
        )
    console.print(t)


@users_app.command("roles")
def users_roles(
    username: Annotated[str, typer.Argument(help="Login name.")],
    grant: Annotated[list[str] | None, typer.Option("--grant", help="Role to grant.")] = None,
    revoke: Annotated[list[str] | None, typer.Option("--revoke", help="Role to revoke.")] = None,
    database: DatabaseOpt = None,
) -> None:
    """Show, grant or revoke roles of a user."""
    from safestreets.access.accounts import get_user, set_roles

    engine = ready_engine(database)
    with engine.begin() as conn:
        if grant or revoke:
            u = set_roles(conn, operator(), username, grant=grant or (), revoke=revoke or ())
        else:
            u = get_user(conn, username)
    console.print(f"{escape(u.username)}: {', '.join(u.roles) or 'no roles'}")


@users_app.command("disable")
def users_disable(
    username: Annotated[str, typer.Argument(help="Login name.")],
    enable: Annotated[bool, typer.Option("--enable", help="Enable the account again.")] = False,
    database: DatabaseOpt = None,
) -> None:
    """Disable an account (it sees nothing, cannot log in, its tokens stop working)."""
    from safestreets.access.accounts import set_disabled

    engine = ready_engine(database)
    with engine.begin() as conn:
        u = set_disabled(conn, operator(), username, disabled=not enable)
    console.print(f"user {escape(u.username)} {'disabled' if u.disabled else 'enabled'}")


@users_app.command("token-create")
def users_token_create(
    username: Annotated[str, typer.Argument(help="Login name.")],
    label: Annotated[str | None, typer.Option("--label", help="What the token is for.")] = None,
    expires_days: Annotated[
        int | None, typer.Option("--expires-days", min=1, help="Expire after N days.")
    ] = None,
    database: DatabaseOpt = None,
) -> None:
    """Create an API token; its secret is printed once and cannot be shown again."""
    from safestreets.access.accounts import create_token

    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    engine = ready_engine(database)
    with engine.begin() as conn:
        tok = create_token(conn, operator(), username, label=label, expires_at=expires)
    # The secret alone on stdout (for scripts); the note on stderr.
    typer.echo(tok.secret)
    err_console.print(
        f"token {tok.token_id} ({tok.prefix}…) for {escape(username)}: store the secret now, "
        "it is not kept"
    )


@users_app.command("token-revoke")
def users_token_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's number.")],
    database: DatabaseOpt = None,
) -> None:
    """Revoke an API token for good."""
    from safestreets.access.accounts import revoke_token

    engine = ready_engine(database)
    with engine.begin() as conn:
        tok = revoke_token(conn, operator(), token_id)
    console.print(f"token {tok.token_id} ({tok.prefix}…) of {escape(tok.username)} revoked")


# --- audit ---------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(
    anchor_file: Annotated[
        Path | None,
        typer.Option("--anchor", help="Also check every anchor in this file (JSON lines)."),
    ] = None,
    database: DatabaseOpt = None,
) -> None:
    """Check the hash chain; exit 1 and name the first broken entry when it is not intact."""
    from safestreets.access.audit import Anchor, check_anchor, verify

    engine = ready_engine(database)
    result = verify(engine)
    broken = [] if result.ok else [result.describe()]
    anchors = 0
    if anchor_file is not None:
        if not anchor_file.is_file():
            raise InputError(f"no anchor file {anchor_file}", hint="`safestreets audit anchor`")
        for line in anchor_file.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            a = Anchor.from_json(line)
            anchors += 1
            checked = check_anchor(engine, a.seq, a.hash)
            if not checked.ok:
                broken.append(f"anchor of {a.at:%Y-%m-%d %H:%M} UTC: {checked.describe()}")
    if broken:
        for line in broken:
            err_console.print(escape(line), highlight=False, soft_wrap=True)
        # sys.exit, not typer.Exit: main() runs click without standalone mode, where Exit
        # codes are returned, not raised.
        sys.exit(1)
    suffix = f"; {anchors} anchors match" if anchor_file is not None else ""
    console.print(result.describe() + suffix, highlight=False)


@audit_app.command("anchor")
def audit_anchor(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Append the anchor to this file.")
    ] = None,
    database: DatabaseOpt = None,
) -> None:
    """Print the head of the chain (seq and hash) as one JSON line, to keep elsewhere."""
    from safestreets.access.audit import anchor

    a = anchor(ready_engine(database))
    line = a.to_json()
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    typer.echo(line)


@audit_app.command("show")
def audit_show(
    agency: Annotated[
        str | None, typer.Option("--agency", help="Only this agency's trail.")
    ] = None,
    action: Annotated[
        list[str] | None, typer.Option("--action", help="Only these actions (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest N entries.")] = 50,
    json_out: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
    database: DatabaseOpt = None,
) -> None:
    """Show the newest audit entries (reading them is audited too)."""
    from safestreets.store.access_reads import audit_trail

    frame = audit_trail(
        operator(),
        conn=ready_engine(database),
        agency=agency,
        actions=action or (),
        limit=limit,
    )
    if json_out:
        for row in frame.iter_rows(named=True):
            row["at"] = row["at"].isoformat()
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    t = Table("seq", "at (UTC)", "actor", "agency", "action", "target", "detail")
    for row in frame.iter_rows(named=True):
        t.add_row(
            str(row["seq"]),
            f"{row['at']:%Y-%m-%d %H:%M:%S}",
            escape(row["actor"]),
            escape(row["agency"] or ""),
            escape(row["action"]),
            escape(row["target"] or ""),
            escape((row["detail"] or "")[:80]),
        )
    console.print(t)
