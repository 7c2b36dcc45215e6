"""`safestreets demo`: generate and load the synthetic demo region, and its demo admin account.

The demo admin (:data:`DEMO_USER` of agency :data:`DEMO_AGENCY`, roles admin and analyst) gets
a random password the first time; it is printed once and stored only as its Argon2 hash.
Later runs say the account exists and how to set a new password (``--reset-admin``).
"""

from __future__ import annotations

import secrets
import string
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from safestreets.cli._common import DatabaseOpt, console, operator, progress_bar
from safestreets.config import get_settings

#: The demo's agency: the records of the synthetic Guatemalan police carry this owner.
DEMO_AGENCY = "GT-PNC"
DEMO_AGENCY_NAME = "Policía Nacional Civil de Guatemala (DEMO, datos sintéticos)"
DEMO_COUNTRY = "GT"
DEMO_USER = "demo-admin"
#: Admin manages the agency's accounts; analyst reads its data and may export and upload;
#: liaison runs cross-border hit/no-hit queries and decides the agency's follow-up requests.
DEMO_ROLES = ("admin", "analyst", "liaison")


def _password(length: int = 20) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _login_url() -> str:
    settings = get_settings()
    host = settings.host if settings.host not in ("0.0.0.0", "::") else "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{settings.port}/login"


def _print_credentials(password: str, *, what: str) -> None:
    console.print()
    console.print(
        f"[bold]{what}[/bold] (shown this once; only its hash is stored):", highlight=False
    )
    console.print(f"  sign in at  {_login_url()}", highlight=False, markup=False)
    console.print(f"  user        {DEMO_USER}", highlight=False, markup=False)
    console.print(f"  password    {password}", highlight=False, markup=False)
    console.print(
        "  forgot it?  safestreets demo --reset-admin  (prints a new one)", highlight=False
    )
    console.print()


def ensure_demo_admin(engine: Engine, *, reset: bool = False) -> str | None:
    """Create the demo agency and admin when missing (or give the admin a new password with
    ``reset``); the new password, or None when the account existed and was left alone."""
    from safestreets.access import accounts
    from safestreets.errors import NotFound

    actor = operator()
    password = _password()
    with engine.begin() as conn:
        if DEMO_AGENCY not in {a.agency_id for a in accounts.list_agencies(conn)}:
            accounts.add_agency(
                conn, actor, agency_id=DEMO_AGENCY, name=DEMO_AGENCY_NAME, country=DEMO_COUNTRY
            )
        try:
            user = accounts.get_user(conn, DEMO_USER)
        except NotFound:
            accounts.add_user(
                conn,
                actor,
                username=DEMO_USER,
                agency_id=DEMO_AGENCY,
                roles=DEMO_ROLES,
                password=password,
            )
            return password
        missing = [role for role in DEMO_ROLES if role not in user.roles]
        if missing:  # accounts made by an older demo lack roles added since
            accounts.set_roles(conn, actor, DEMO_USER, grant=missing)
        if not reset:
            return None
        if user.disabled:
            accounts.set_disabled(conn, actor, DEMO_USER, disabled=False)
        accounts.set_password(conn, actor, DEMO_USER, password)
        return password


def ensure_demo_exchange(engine: Engine, *, seed: int = 7) -> int:
    """Register the demo's alert-owning agencies and load their SYNTHETIC alerts (a re-run
    changes nothing). Returns the number of alerts inserted."""
    from safestreets.access import accounts
    from safestreets.demo.alerts import DEMO_AGENCIES, demo_alerts
    from safestreets.sharing.service import load_alerts

    actor = operator()
    inserted = 0
    with engine.begin() as conn:
        known = {a.agency_id for a in accounts.list_agencies(conn)}
        for agency_id, name, country in DEMO_AGENCIES:
            if agency_id not in known:
                accounts.add_agency(conn, actor, agency_id=agency_id, name=name, country=country)
        for agency_id, frame in demo_alerts(seed=seed).items():
            result = load_alerts(
                conn, actor, frame, owner_agency=agency_id, source="SYNTHETIC-DEMO"
            )
            inserted += result.counts.inserted
    return inserted


def demo(
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 7,
    incidents: Annotated[int, typer.Option(help="Total incidents to generate.")] = 250_000,
    years: Annotated[int, typer.Option(help="Calendar years to cover.")] = 3,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the point layers (default: data dir).")
    ] = None,
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Do nothing when synthetic data is already loaded.")
    ] = False,
    reset_admin: Annotated[
        bool,
        typer.Option(
            "--reset-admin",
            help=f"Give the demo admin ({DEMO_USER}) a new random password and print it; "
            "loads nothing.",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    database: DatabaseOpt = None,
) -> None:
    """Generate the SYNTHETIC demo region for all seven countries and load it; create the demo
    admin account (its password is printed once)."""
    from safestreets import demo as demo_mod
    from safestreets.ingest.load import load_canonical
    from safestreets.store.batches import has_synthetic
    from safestreets.store.engine import get_engine
    from safestreets.store.migrate import upgrade

    engine = get_engine(database)
    upgrade(engine)
    if reset_admin:
        password = ensure_demo_admin(engine, reset=True)
        assert password is not None
        _print_credentials(password, what="New password of the demo admin")
        return
    if if_missing and has_synthetic(engine):
        console.print("synthetic demo data already loaded; nothing to do")
    else:
        folder = out or get_settings().data_dir / "demo"
        demo_mod.write_demo(folder, seed=seed)
        chunks = (
            (c.incidents, c.victims)
            for c in demo_mod.generate_region(seed=seed, incidents=incidents, years=years)
        )
        with progress_bar("generating SYNTHETIC demo region", incidents, quiet) as progress:
            report = load_canonical(
                chunks,
                engine,
                source="SYNTHETIC-DEMO",
                label=f"demo seed={seed}",
                synthetic=True,
                progress=progress,
            )
        console.print(
            f"loaded {report.rows_loaded:,} SYNTHETIC incidents (batch {report.batch_id}; "
            f"{report.rows_duplicate:,} already present) in {report.seconds:.1f} s; "
            f"layers in {folder}"
        )
    password = ensure_demo_admin(engine)
    alerts = ensure_demo_exchange(engine, seed=seed)
    if alerts:
        console.print(f"loaded {alerts:,} SYNTHETIC cross-border alerts (GT-PNC, SV-PNC, HN-DPI)")
    if password is not None:
        _print_credentials(password, what="Demo admin account created")
    else:
        console.print(
            f"demo admin: user {DEMO_USER} (its password was printed when it was created; "
            "`safestreets demo --reset-admin` prints a new one)",
            highlight=False,
            markup=False,
        )
