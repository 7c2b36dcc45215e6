"""`safestreets reconcile`: the files it writes and its user errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from safestreets.cli.reconcile import OUTPUT_FILES, reconcile
from safestreets.demo.homicide_lists import generate_homicide_lists
from safestreets.errors import InputError, SafeStreetsError

BOM = b"\xef\xbb\xbf"


def _app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    app.command("reconcile")(reconcile)

    @app.command()
    def other() -> None:  # a second command, so "reconcile" is a subcommand as in main
        pass

    return app


def _main(argv: list[str]) -> None:
    """What cli/main.py's main() does with user errors: one line, exit code 2."""
    try:
        _app()(args=argv, standalone_mode=False)
    except SafeStreetsError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("lists")
    lists, _ = generate_homicide_lists(seed=2, victims=150)
    paths = {}
    for source, frame in lists.items():
        path = folder / f"{source}.csv"
        frame.drop("source").write_csv(path)
        paths[source] = path
    # Two rows the reader must set aside.
    with paths["police"].open("a", encoding="utf-8") as fh:
        fh.write("BAD-1,31/02/2023,SV,,,,male,30,Juan,Pérez,,,\n")
        fh.write("BAD-2,,SV,,,,male,30,Juan,Pérez,,,\n")
    return paths


def test_writes_all_files_with_bom(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["reconcile", "--sources", *map(str, inputs.values()), "--out", str(out)]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    assert "consolidated victims" in result.output
    for name in OUTPUT_FILES:
        assert (out / name).is_file(), name
    headers = {}
    for name in OUTPUT_FILES:
        if name.endswith(".csv"):
            data = (out / name).read_bytes()
            assert data.startswith(BOM), name
            headers[name] = data[3:].decode("utf-8").splitlines()[0].split(",")
    assert headers["consolidated.csv"][:2] == ["consolidated_id", "date_of_death"]
    for s in inputs:
        assert f"{s}_record_id" in headers["consolidated.csv"]
        assert f"n_{s}" in headers["agreement.csv"] and f"reported_{s}" in headers["agreement.csv"]
    assert headers["agreement.csv"][:4] == ["country", "admin1", "month", "all_sources"]
    assert "police_only" in headers["agreement.csv"]
    assert "police+forensic" in headers["agreement.csv"]
    assert headers["review.csv"][:2] == ["reason", "match_probability"]
    assert headers["rejected.csv"] == ["source", "file", "row", "record_id", "reason", "raw"]
    rejected = (out / "rejected.csv").read_text(encoding="utf-8-sig")
    assert "BAD-1" in rejected and "unreadable date of death" in rejected
    assert "BAD-2" in rejected and "missing date of death" in rejected
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["records"]["police"]["rejected"] == 2
    assert summary["threshold"] == 0.3
    assert summary["parameters"]["method"] in ("estimated", "mixed", "priors")
    assert summary["consolidated_total"] > 0


def test_plain_file_arguments_and_options(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "o2"
    args = ["reconcile", str(inputs["police"]), str(inputs["forensic"]), "-o", str(out)]
    args += ["-n", "pnc", "-n", "iml", "--threshold", "0.8", "--priors", "--quiet"]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    assert result.output == ""
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["sources"] == ["pnc", "iml"]
    assert summary["threshold"] == 0.8
    assert summary["parameters"]["method"] == "priors"


def test_missing_file_is_an_input_error(inputs: dict[str, Path], tmp_path: Path) -> None:
    args = ["reconcile", str(inputs["police"]), str(tmp_path / "nope.csv"), "-o", str(tmp_path)]
    result = CliRunner().invoke(_app(), args)
    assert isinstance(result.exception, InputError)
    assert "no such file" in str(result.exception)


def test_file_without_date_column(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "fiscalia.csv"
    bad.write_text("nombre;edad\nJuan;30\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        _main(["reconcile", str(inputs["police"]), str(bad), "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "fiscalia.csv: no date-of-death column" in err[0]
    assert "Traceback" not in err[0]


def test_source_names_must_match_files(inputs: dict[str, Path], tmp_path: Path) -> None:
    args = ["reconcile", str(inputs["police"]), str(inputs["forensic"]), "-o", str(tmp_path)]
    result = CliRunner().invoke(_app(), [*args, "-n", "only-one"])
    assert isinstance(result.exception, InputError)
    result = CliRunner().invoke(_app(), ["reconcile", str(inputs["police"]), "-o", str(tmp_path)])
    assert isinstance(result.exception, InputError)
    assert "two sources" in str(result.exception)


def test_public_writes_only_the_protected_agreement_table(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    import polars as pl

    from safestreets.stats.disclosure import feasible_ranges

    out = tmp_path / "pub"
    files = [str(inputs[s]) for s in ("police", "forensic", "prosecutor")]
    result = CliRunner().invoke(
        _app(), ["reconcile", "--sources", *files, "--out", str(out), "--public", "--k", "5", "-q"]
    )
    assert result.exit_code == 0, result.output
    written = {p.name for p in out.iterdir()}
    assert written == {"agreement-public.csv", "agreement-public-totals.csv", "summary-public.json"}
    assert (out / "agreement-public.csv").read_bytes().startswith(BOM)
    pub = pl.read_csv(out / "agreement-public.csv", infer_schema_length=0)
    assert not any(c.startswith(("n_", "reported_")) for c in pub.columns)
    assert set(pub["disclosure_control"].to_list()) == {"k=5"}
    summary = json.loads((out / "summary-public.json").read_text(encoding="utf-8"))
    assert summary["disclosure_control"]["k"] == 5
    # Against the full table of the same run: small cells are blank, and none can be derived
    # from what is published (cells, consolidated row totals, column totals).
    full_out = tmp_path / "full"
    CliRunner().invoke(_app(), ["reconcile", *files, "--out", str(full_out), "-q"])
    full = pl.read_csv(full_out / "agreement.csv", infer_schema_length=0)
    patterns = full.columns[full.columns.index("month") + 1 : full.columns.index("consolidated")]
    keys = ["admin1", "month"]
    truth = full.unpivot(index=keys, on=patterns, variable_name="pattern", value_name="count")
    shown = pub.unpivot(index=keys, on=patterns, variable_name="pattern", value_name="shown")
    both = truth.join(shown, on=[*keys, "pattern"]).with_columns(
        pl.col("count").cast(pl.Int64), pl.col("shown").cast(pl.Int64)
    )
    assert (
        both.filter(pl.col("count").is_between(1, 4))["shown"].null_count()
        == both.filter(pl.col("count").is_between(1, 4)).height
    )
    mask = both["shown"].is_null()
    assert mask.any()
    ranges = feasible_ranges(
        both.with_columns(pl.col("admin1").fill_null("∅")),
        mask,
        dims=["admin1", "month", "pattern"],
        value="count",
    )
    assert (ranges["high"] - ranges["low"] >= 1 - 1e-6).all()
