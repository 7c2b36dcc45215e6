"""`safestreets reconcile`: link victim lists of several institutions and write the tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from safestreets.cli._common import console
from safestreets.errors import InputError
from safestreets.stats.reconcile import DEFAULT_REVIEW_BAND, DEFAULT_THRESHOLD

#: The files written to the output folder.
OUTPUT_FILES = (
    "consolidated.csv",
    "agreement.csv",
    "review.csv",
    "rejected.csv",
    "summary.json",
)


def reconcile(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Victim lists (CSV, XLSX or Parquet), one per institution; two or more.",
            metavar="FILES...",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the output files.")],
    sources_marker: Annotated[
        bool,
        typer.Option(
            "--sources",
            help="Optional marker before the files: `reconcile --sources a.csv b.csv --out d`.",
        ),
    ] = False,
    source_name: Annotated[
        list[str] | None,
        typer.Option(
            "--source-name",
            "-n",
            help="Label of each file, in the order of the files (default: the file's "
            "source/fuente column, else the file name without extension).",
        ),
    ] = None,
    country: Annotated[
        str | None, typer.Option(help="ISO2 code for files without a country (pais) column.")
    ] = None,
    threshold: Annotated[
        float, typer.Option(help="Match probability at or above which two records are linked.")
    ] = DEFAULT_THRESHOLD,
    review_band: Annotated[
        float, typer.Option(help="Pairs within threshold ± this go to review.csv.")
    ] = DEFAULT_REVIEW_BAND,
    date_tolerance: Annotated[
        int, typer.Option(help="Largest difference in days between the dates of one victim.")
    ] = 3,
    age_tolerance: Annotated[int, typer.Option(help="Largest age difference still close.")] = 5,
    prefer: Annotated[
        str, typer.Option(help="Source whose date and names the consolidated record takes.")
    ] = "forensic",
    priors: Annotated[
        bool, typer.Option("--priors", help="Use the documented fixed m/u values; no estimation.")
    ] = False,
    monthfirst: Annotated[
        bool, typer.Option("--monthfirst", help="Read 03/04/2023 as March 4 (default: 3 April).")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the random sampling.")] = 1,
    public: Annotated[
        bool,
        typer.Option(
            "--public",
            help="Write only the agreement table, disclosure-controlled (no victim records).",
        ),
    ] = False,
    k: Annotated[int, typer.Option("--k", help="Smallest count published with --public.")] = 5,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Reconcile homicide victim lists (police, forensic, prosecutor) case by case.

    Writes consolidated.csv, agreement.csv, review.csv, rejected.csv (UTF-8 with BOM) and
    summary.json to --out; with --public only the disclosure-controlled agreement table.
    """
    from safestreets.ingest.victim_lists import combine, read_victim_list
    from safestreets.stats import reconcile as core

    del sources_marker  # only there so the documented `--sources a b` spelling parses
    if source_name and len(source_name) != len(files):
        raise InputError(
            f"{len(source_name)} --source-name value(s) for {len(files)} file(s)",
            hint="give one --source-name per file, in the same order, or none",
        )
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder", hint="give a folder for --out")
    lists = [
        read_victim_list(
            path,
            source=source_name[i] if source_name else None,
            country=country,
            dayfirst=not monthfirst,
        )
        for i, path in enumerate(files)
    ]
    merged = combine(lists)
    sources = list(dict.fromkeys(merged.records["source"].to_list()))
    for s in merged.rejected["source"].to_list():
        if s not in sources:
            sources.append(s)  # a source whose every row was rejected still counts
    frames = {s: merged.records.filter(merged.records["source"] == s) for s in sources}
    recon = core.reconcile(
        frames,
        rejected=merged.rejected,
        threshold=threshold,
        review_band=review_band,
        date_tolerance=date_tolerance,
        age_tolerance=age_tolerance,
        prefer_source=prefer,
        parameters="priors" if priors else "estimate",
        seed=seed,
    )
    summary = {
        **recon.summary,
        "files": [
            {"file": str(path), **lst.counts()} for path, lst in zip(files, lists, strict=True)
        ],
        "reader_notes": list(merged.notes),
    }
    out.mkdir(parents=True, exist_ok=True)
    if public:
        from safestreets.stats.publish import public_agreement

        pub = public_agreement(recon.agreement, k=k)
        _write_csv(pub.cells, out / "agreement-public.csv")
        _write_csv(pub.totals, out / "agreement-public-totals.csv")
        public_summary = {
            "disclosure_control": {
                "k": pub.k,
                "suppressed_cells": pub.suppressed,
                "statement": pub.statement,
            },
            "threshold": recon.summary.get("threshold"),
            "sources": list(recon.sources),
        }
        (out / "summary-public.json").write_text(
            json.dumps(public_summary, indent=2, ensure_ascii=False, default=str) + "\n",
            encoding="utf-8",
        )
        if not quiet:
            console.print(
                f"wrote agreement-public.csv ({pub.suppressed} cells suppressed, k={pub.k}), "
                f"agreement-public-totals.csv, summary-public.json to {escape(str(out))}"
            )
        return
    _write_csv(recon.consolidated, out / "consolidated.csv")
    _write_csv(recon.agreement, out / "agreement.csv")
    _write_csv(recon.review, out / "review.csv")
    _write_csv(recon.rejected, out / "rejected.csv")
    (out / "summary.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    if not quiet:
        _print_summary(summary, out)


def _write_csv(frame: object, path: Path) -> None:
    import polars as pl

    assert isinstance(frame, pl.DataFrame)
    # Probabilities to 4 decimals: enough to rank, short enough to read in a spreadsheet.
    rounded = frame.with_columns(pl.col(pl.Float64).round(4))
    # The BOM makes Excel open the file as UTF-8 (accents in names and places).
    rounded.write_csv(path, include_bom=True)


def _print_summary(summary: dict[str, object], out: Path) -> None:
    t = Table(title="Reconciliation", show_header=True)
    t.add_column("source")
    t.add_column("valid", justify="right")
    t.add_column("rejected", justify="right")
    records = summary["records"]
    assert isinstance(records, dict)
    for source, c in records.items():
        t.add_row(escape(str(source)), f"{c['valid']:,}", f"{c['rejected']:,}")
    console.print(t)
    patterns = summary["patterns"]
    assert isinstance(patterns, dict)
    console.print(
        f"consolidated victims: {summary['consolidated_total']:,} ("
        + ", ".join(f"{escape(k)} {v:,}" for k, v in patterns.items())
        + ")",
        highlight=False,
    )
    params = summary["parameters"]
    assert isinstance(params, dict)
    console.print(
        f"threshold {summary['threshold']}, review band ±{summary['review_band']}; "
        f"parameters {params['method']}; {summary['review_pairs']:,} pair(s) to review, "
        f"{summary['needs_review']:,} consolidated victim(s) flagged",
        highlight=False,
    )
    notes = summary["notes"]
    assert isinstance(notes, list)
    for note in notes:
        console.print(f"note: {escape(str(note))}", highlight=False)
    console.print(f"wrote {', '.join(OUTPUT_FILES)} to {escape(str(out))}", highlight=False)
