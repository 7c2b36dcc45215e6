"""`safestreets persons link` and `safestreets persons dedupe`: batch matching of person files.

Both read canonical person files (docs/sharing.md), fit the match model on the records (or use
a saved one with ``--model``), and write the pairs (and clusters) as CSV. Rows without a
record id or repeating one are set aside and reported, never matched silently.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from safestreets.cli._common import console, err_console
from safestreets.errors import InputError

persons_app = typer.Typer(
    help="Link and deduplicate person files (canonical person CSV; Splink, DuckDB).",
    no_args_is_help=True,
)

ThresholdOpt = Annotated[
    float,
    typer.Option(
        "--threshold",
        "-t",
        min=0.0,
        max=1.0,
        help="Match probability at or above which a pair is kept.",
    ),
]
ModelOpt = Annotated[
    Path | None,
    typer.Option("--model", "-m", help="Use this saved model (from --save-model); no training."),
]
SaveModelOpt = Annotated[
    Path | None, typer.Option("--save-model", help="Write the model used as JSON.")
]
ExtraOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--extra",
        help="A further column to accept and compare (exact / one typo), e.g. postcode. "
        "Repeat for more.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress line.")]


@contextmanager
def _step(label: str, quiet: bool) -> Iterator[None]:
    """A Rich spinner on stderr while a step runs (nothing when quiet or not a terminal)."""
    if quiet or not err_console.is_terminal:
        yield
        return
    with err_console.status(label):
        yield


def _load_model(path: Path | None) -> Any:
    if path is None:
        return None
    from safestreets.sharing.comparisons import MatchModel

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read the model ({exc.strerror or exc})", hint="check the path"
        ) from None
    return MatchModel.from_json(text)


def _read(path: Path, extra: list[str]) -> tuple[Any, list[Any]]:
    from safestreets.sharing.persons import read_persons

    return read_persons(path, extra=extra)


def _problems(path: Path, problems: list[Any]) -> dict[str, Any]:
    return {
        "file": str(path),
        "set_aside": [
            {"row": p.row, "record_id": p.record_id, "reason": p.reason} for p in problems
        ],
    }


def _warn_problems(path: Path, problems: list[Any], as_json: bool) -> None:
    if as_json or not problems:
        return
    shown = ", ".join(f"row {p.row} ({p.reason})" for p in problems[:5])
    more = f" and {len(problems) - 5:,} more" if len(problems) > 5 else ""
    err_console.print(
        f"[yellow]warning:[/] {escape(path.name)}: {len(problems):,} row(s) set aside: "
        f"{escape(shown)}{more}",
        highlight=False,
        soft_wrap=True,
    )


def _save_model(model: Any, path: Path | None) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(model.to_json() + "\n", encoding="utf-8")


def _model_or_train(
    model: Any, frames: list[Any], extra: list[str], quiet: bool
) -> tuple[Any, str]:
    from safestreets.sharing import linkage

    if model is not None:
        return model, "saved"
    with _step("training the match model (Splink)", quiet):
        right = frames[1] if len(frames) == 2 else None
        return linkage.model_for(frames[0], right, extra=extra)


@persons_app.command("link")
def link(
    left: Annotated[Path, typer.Option("--left", help="First person file.")],
    right: Annotated[Path, typer.Option("--right", help="Second person file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Pairs CSV to write.")],
    threshold: ThresholdOpt = 0.5,
    model_path: ModelOpt = None,
    save_model: SaveModelOpt = None,
    extra: ExtraOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Link two person files: the matching pairs, their probability and the fields that agreed.

    Without --model the model is fitted on the two files (Splink); --save-model keeps it.
    """
    from safestreets.sharing import linkage
    from safestreets.sharing.persons import write_pairs

    started = time.perf_counter()
    model = _load_model(model_path)
    extras = list(model.extra) if model is not None else list(extra or [])
    with _step("reading the person files", quiet):
        a, a_problems = _read(left, extras)
        b, b_problems = _read(right, extras)
    _warn_problems(left, a_problems, as_json)
    _warn_problems(right, b_problems, as_json)
    with _step("normalising names, dates and ids", quiet):
        frames = [linkage.prepare(a, extra=extras), linkage.prepare(b, extra=extras)]
    model, source = _model_or_train(model, frames, extras, quiet)
    with _step("linking", quiet):
        pairs = linkage.link(frames[0], frames[1], model=model, threshold=threshold)
    write_pairs(pairs, out)
    _save_model(model, save_model)
    summary = {
        "command": "link",
        "left": {"records": a.height, **_problems(left, a_problems)},
        "right": {"records": b.height, **_problems(right, b_problems)},
        "pairs": pairs.height,
        "threshold": threshold,
        "model": source,
        "out": str(out),
        "seconds": round(time.perf_counter() - started, 2),
    }
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    console.print(
        f"linked {a.height:,} × {b.height:,} records: {pairs.height:,} pairs at match "
        f"probability ≥ {threshold} ({source} model) in {summary['seconds']} s → "
        f"{escape(str(out))}",
        highlight=False,
        soft_wrap=True,
    )


@persons_app.command("dedupe")
def dedupe(
    file: Annotated[Path, typer.Argument(help="Person file to deduplicate.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Clusters CSV (record_id, cluster_id, size).")
    ],
    pairs_out: Annotated[
        Path | None, typer.Option("--pairs", help="Also write the matching pairs as CSV.")
    ] = None,
    threshold: ThresholdOpt = 0.5,
    model_path: ModelOpt = None,
    save_model: SaveModelOpt = None,
    extra: ExtraOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Group the records of one person file that are the same person into clusters.

    Every record gets a cluster (a record alone is a cluster of one); --pairs also writes the
    matching pairs. Without --model the model is fitted on the file (Splink).
    """
    from safestreets.sharing import linkage
    from safestreets.sharing.persons import write_clusters, write_pairs

    started = time.perf_counter()
    model = _load_model(model_path)
    extras = list(model.extra) if model is not None else list(extra or [])
    with _step("reading the person file", quiet):
        frame, problems = _read(file, extras)
    _warn_problems(file, problems, as_json)
    with _step("normalising names, dates and ids", quiet):
        prepared = linkage.prepare(frame, extra=extras)
    model, source = _model_or_train(model, [prepared], extras, quiet)
    with _step("deduplicating", quiet):
        pairs, clusters = linkage.dedupe(prepared, model=model, threshold=threshold)
    write_clusters(clusters, out)
    if pairs_out is not None:
        write_pairs(pairs, pairs_out)
    _save_model(model, save_model)
    n_clusters = clusters["cluster_id"].n_unique()
    multi = clusters.filter(clusters["cluster_size"] > 1)
    summary = {
        "command": "dedupe",
        "records": frame.height,
        **_problems(file, problems),
        "pairs": pairs.height,
        "clusters": n_clusters,
        "records_in_multi_record_clusters": multi.height,
        "threshold": threshold,
        "model": source,
        "out": str(out),
        "pairs_out": None if pairs_out is None else str(pairs_out),
        "seconds": round(time.perf_counter() - started, 2),
    }
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    console.print(
        f"deduplicated {frame.height:,} records: {n_clusters:,} persons "
        f"({multi.height:,} records in clusters of two or more, {pairs.height:,} pairs at "
        f"match probability ≥ {threshold}; {source} model) in {summary['seconds']} s → "
        f"{escape(str(out))}",
        highlight=False,
        soft_wrap=True,
    )


__all__ = ["persons_app"]
