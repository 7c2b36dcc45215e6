"""Reconciliation benchmark: accuracy and time of victim-list matching on synthetic lists.

Three sources (police, forensic, prosecutor) generated with known truth by
``safestreets.demo.homicide_lists`` (El Salvador, misses, date shifts, misspellings, rounded
ages, unidentified bodies, double homicides as hard negatives), reconciled at default settings.
Prints pairwise precision, recall and F1, the error of the consolidated count, the share of
linkage errors that a reviewer meets among the victims flagged ``needs_review``, and seconds
(reconciliation only, not generation). Target (issue): precision and recall >= 0.98 at 2k.

    .venv/bin/python benchmarks/bench_reconcile.py [--sweep] [--json]

``--sweep`` adds a threshold sweep on the 10k lists (the evidence for the default threshold).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

#: (victims, years): 50k over one year is a stress case, 8x El Salvador's worst year.
RUNS: tuple[tuple[int, int], ...] = ((2_000, 1), (10_000, 1), (50_000, 5), (50_000, 1))
SWEEP = (0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.9)


def run(victims: int, years: int, seed: int = 1, **settings: Any) -> dict[str, Any]:
    from safestreets.demo.homicide_lists import generate_homicide_lists
    from safestreets.stats.reconcile import evaluate, reconcile

    lists, truth = generate_homicide_lists(seed=seed, victims=victims, years=years)
    t0 = time.perf_counter()
    recon = reconcile(lists, **settings)
    seconds = time.perf_counter() - t0
    ev = evaluate(recon, truth)
    return {
        "victims": victims,
        "years": years,
        "records": sum(f.height for f in lists.values()),
        **settings,
        **ev,
        "review_pairs": recon.summary["review_pairs"],
        "needs_review": recon.summary["needs_review"],
        "parameters": recon.summary["parameters"]["method"],
        "blocking": "narrow" if "department" in recon.summary["blocking"] else "wide",
        "seconds": seconds,
    }


def _table(rows: list[dict[str, Any]], first: str) -> str:
    head = (
        f"| {first} | records | precision | recall | F1 | count error | flagged errors "
        "| needs review | blocking | seconds |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        key = (
            f"{r['victims']:,} / {r['years']} yr" if first == "victims / years" else r["threshold"]
        )
        lines.append(
            f"| {key} | {r['records']:,} | {r['precision']:.4f} | {r['recall']:.4f} "
            f"| {r['f1']:.4f} | {r['count_error']:+.0f} ({100 * r['relative_count_error']:+.2f}%) "
            f"| {100 * r['errors_flagged']:.0f}% | {r['needs_review']:,} | {r['blocking']} "
            f"| {r['seconds']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="threshold sweep on 10k victims")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args()
    rows = [run(v, y) for v, y in RUNS]
    sweep = [run(10_000, 1, threshold=t) for t in SWEEP] if args.sweep else []
    if args.json:
        print(json.dumps({"runs": rows, "sweep": sweep}, indent=2))
        return
    print("Reconciliation of 3 synthetic lists (SV), default settings")
    print(_table(rows, "victims / years"))
    if sweep:
        print("\nThreshold sweep, 10,000 victims / 1 yr")
        print(_table(sweep, "threshold"))


if __name__ == "__main__":
    main()
