"""`safestreets demo`: generate and load the synthetic demo region."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from safestreets.cli._common import DatabaseOpt, console, progress_bar
from safestreets.config import get_settings


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
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    database: DatabaseOpt = None,
) -> None:
    """Generate the SYNTHETIC demo region for all seven countries and load it."""
    from safestreets import demo as demo_mod
    from safestreets.ingest.load import load_canonical
    from safestreets.store.batches import has_synthetic
    from safestreets.store.engine import get_engine
    from safestreets.store.migrate import upgrade

    engine = get_engine(database)
    upgrade(engine)
    if if_missing and has_synthetic(engine):
        console.print("synthetic demo data already loaded; nothing to do")
        return
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
        f"{report.rows_duplicate:,} already present) in {report.seconds:.1f} s; layers in {folder}"
    )
