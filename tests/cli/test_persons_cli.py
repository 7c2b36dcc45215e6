"""`safestreets persons link` and `dedupe` end to end on tiny CSVs."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from tests.cli.test_cli import run as run_cli

LEFT = """record_id,given_names,surname_1,surname_2,date_of_birth,sex,national_id,id_country
a1,José Luis,Pérez,García,1980-03-12,M,,
a2,María,Méndez de López,,1968-01-20,F,,
a3,Ana,Ramírez,Cruz,1990-05-07,F,,
,Sin,Identificador,,,,,
"""
RIGHT = """record_id,given_names,surname_1,surname_2,date_of_birth,sex
b1,Pepe,Perez,Garcia,12/03/1980,H
b2,Maria,López,,1968-01-20,mujer
b3,Carlos,Gómez,Soto,1999-02-14,M
"""


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    return run_cli(args, capsys, words=False)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    left, right = tmp_path / "left.csv", tmp_path / "right.csv"
    left.write_text(LEFT, encoding="utf-8")
    right.write_text(RIGHT, encoding="utf-8")
    return left, right


def test_link_writes_the_pairs(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pairs.csv"
    code, stdout, err = run(
        ["persons", "link", "--left", str(files[0]), "--right", str(files[1]), "--out", str(out)],
        capsys,
    )
    assert code == 0, err
    assert "2 pairs" in " ".join(stdout.split())
    assert "row 5 (no record_id)" in err  # set aside, and said so
    pairs = pl.read_csv(out)
    assert pairs.columns == ["left_id", "right_id", "match_probability", "match_weight", "agreeing"]
    assert sorted(pairs.select("left_id", "right_id").iter_rows()) == [("a1", "b1"), ("a2", "b2")]
    assert (pairs["match_probability"] >= 0.5).all()
    first = pairs.filter(pl.col("left_id") == "a1").row(0, named=True)
    assert {"given_names", "surname_1", "date_of_birth", "sex"} <= set(first["agreeing"].split(","))


def test_dedupe_json_pairs_and_saved_model(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    both = tmp_path / "both.csv"
    both.write_text(LEFT + "".join(RIGHT.splitlines(keepends=True)[1:]), encoding="utf-8")
    model = tmp_path / "model.json"
    code, stdout, err = run(
        [
            "persons",
            "dedupe",
            str(both),
            "--out",
            str(tmp_path / "c.csv"),
            "--pairs",
            str(tmp_path / "p.csv"),
            "--save-model",
            str(model),
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["records"] == 6 and summary["pairs"] == 2 and summary["clusters"] == 4
    assert summary["set_aside"] == [{"row": 5, "record_id": None, "reason": "no record_id"}]
    assert summary["model"] == "default"
    clusters = pl.read_csv(tmp_path / "c.csv")
    assert clusters.columns == ["record_id", "cluster_id", "cluster_size"]
    assert dict(clusters.select("record_id", "cluster_id").iter_rows())["b2"] == "a2"
    assert pl.read_csv(tmp_path / "p.csv").columns[:2] == ["id_1", "id_2"]
    # the saved model is used as given with --model, at a stricter threshold
    code, stdout, err = run(
        [
            "persons",
            "dedupe",
            str(both),
            "--out",
            str(tmp_path / "c2.csv"),
            "--model",
            str(model),
            "--threshold",
            "0.999",
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["model"] == "saved" and summary["pairs"] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("record_id,nombre\n1,Ana\n", "unknown column(s) nombre"),
        ('record_id,given_names\n1,"Ana\n', "cannot be parsed"),
    ],
)
def test_bad_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    f = tmp_path / "in.csv"
    if content is not None:
        f.write_text(content, encoding="utf-8")
    code, _, err = run(["persons", "dedupe", str(f), "--out", str(tmp_path / "c.csv")], capsys)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_bad_model_file(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "model.json"
    bad.write_text('{"prior": 0.1}', encoding="utf-8")
    code, _, err = run(
        [
            "persons",
            "link",
            "--left",
            str(files[0]),
            "--right",
            str(files[1]),
            "--out",
            str(tmp_path / "p.csv"),
            "--model",
            str(bad),
        ],
        capsys,
    )
    assert code == 2 and "not a match model" in err and "Traceback" not in err
    assert not (tmp_path / "p.csv").exists()
