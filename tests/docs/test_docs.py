"""docs/profiles.md and docs/data-model.md against the code, and the examples they point to.

The documents follow one convention the tests rely on: a documented key, field, column, code or
value is the first cell of a Markdown table row, written as a code span (| `key` | ... |). A
section is everything under a heading up to the next heading of the same or a higher level.
"""

from __future__ import annotations

import ast
import re
import typing
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from sqlalchemy import Engine, func, select

from safestreets import schema
from safestreets.cli.main import app
from safestreets.ingest import counts as counts_mod
from safestreets.ingest.counts import load_counts, load_population
from safestreets.ingest.load import ingest_file
from safestreets.ingest.parse import (
    DATETIME_FORMATS_DAYFIRST,
    TIME_FORMATS,
    parse_datetimes,
    parse_times,
)
from safestreets.ingest.profiles import (
    MAPPABLE_FIELDS,
    FieldSpec,
    Profile,
    builtin_profiles,
    load_profile,
    parse_profile,
)
from safestreets.ingest.report import IngestReport
from safestreets.ingest.transform import SEX_VALUES
from safestreets.store import tables

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"
PROFILES_MD = DOCS / "profiles.md"
DATA_MODEL_MD = DOCS / "data-model.md"
INGEST_SRC = ROOT / "src" / "safestreets" / "ingest"

# ---------------------------------------------------------------------------------------------
# Markdown helpers
# ---------------------------------------------------------------------------------------------

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_CODE_SPAN = re.compile(r"`([^`]+)`")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def _lines_outside_fences(text: str) -> Iterator[tuple[str, bool]]:
    """Each line with a flag: True when it is inside a fenced code block (or is a fence)."""
    inside = False
    for line in text.splitlines():
        if _FENCE.match(line):
            inside = not inside
            yield line, True
            continue
        yield line, inside


def _plain(heading: str) -> str:
    return heading.replace("`", "").strip()


def headings(text: str) -> list[tuple[int, str]]:
    out = []
    for line, fenced in _lines_outside_fences(text):
        m = _HEADING.match(line)
        if m and not fenced:
            out.append((len(m.group(1)), _plain(m.group(2))))
    return out


def section(text: str, title: str, *, prefix: bool = False) -> str:
    """The body under the heading titled ``title`` (or starting with it), subsections included."""
    lines = list(_lines_outside_fences(text))
    start = level = None
    for i, (line, fenced) in enumerate(lines):
        m = _HEADING.match(line)
        if not m or fenced:
            continue
        name = _plain(m.group(2))
        if start is None:
            if name == title or (prefix and name.startswith(title)):
                start, level = i + 1, len(m.group(1))
        elif len(m.group(1)) <= level:  # type: ignore[operator]
            return "\n".join(ln for ln, _ in lines[start:i])
    assert start is not None, f"no section {title!r}"
    return "\n".join(ln for ln, _ in lines[start:])


def md_tables(body: str) -> list[tuple[list[str], list[list[str]]]]:
    """The Markdown tables of ``body`` as (header cells, data rows); fenced code is skipped."""
    out: list[tuple[list[str], list[list[str]]]] = []
    current: list[list[str]] = []

    def flush() -> None:
        if len(current) >= 2:
            out.append((current[0], current[2:] if _is_rule(current[1]) else current[1:]))
        current.clear()

    for line, fenced in _lines_outside_fences(body):
        if not fenced and line.lstrip().startswith("|"):
            cells = [c.strip() for c in _CELL_SPLIT.split(line.strip())[1:-1]]
            current.append(cells)
        else:
            flush()
    flush()
    return out


def _is_rule(cells: list[str]) -> bool:
    return all(re.fullmatch(r":?-{3,}:?", c) for c in cells)


def keyed_rows(body: str, header: str | None = None) -> dict[str, list[str]]:
    """Rows whose first cell is one code span, keyed by it (only tables whose first header
    cell is ``header`` when given)."""
    rows: dict[str, list[str]] = {}
    for head, data in md_tables(body):
        if header is not None and head[0] != header:
            continue
        for cells in data:
            m = re.fullmatch(r"`([^`]+)`", cells[0])
            if m:
                assert m.group(1) not in rows, f"{m.group(1)} documented twice"
                rows[m.group(1)] = cells
    return rows


def spans(cell: str) -> list[str]:
    return _CODE_SPAN.findall(cell)


def fenced_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)


def _slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


@pytest.fixture(scope="module")
def profiles_md() -> str:
    return PROFILES_MD.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def data_model_md() -> str:
    return DATA_MODEL_MD.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# docs/profiles.md: keys, defaults, fields
# ---------------------------------------------------------------------------------------------


def _model_keys(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    """Dotted keys of a model, recursing into nested models and dicts of models."""
    for name, info in model.model_fields.items():
        key = prefix + name
        yield key, info
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from _model_keys(ann, key + ".")
        elif typing.get_origin(ann) is dict:
            value_type = typing.get_args(ann)[1]
            if isinstance(value_type, type) and issubclass(value_type, BaseModel):
                yield from _model_keys(value_type, key + ".<field>.")


def _render(value: object) -> str:
    """A default as the docs write it (YAML spelling)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value or '""'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    return str(value)


def test_every_profile_key_is_documented_and_exists(profiles_md: str) -> None:
    documented = set(keyed_rows(section(profiles_md, "Profile keys"), header="key"))
    in_model = {key for key, _ in _model_keys(Profile)}
    assert in_model - documented == set(), "profile keys missing from docs/profiles.md"
    assert documented - in_model == set(), "docs/profiles.md documents keys the model lacks"
    # FieldSpec is reached through `columns`; make sure the recursion did reach it.
    assert {f"columns.<field>.{k}" for k in FieldSpec.model_fields} <= in_model


def test_documented_defaults_match_the_model(profiles_md: str) -> None:
    rows = keyed_rows(section(profiles_md, "Profile keys"), header="key")
    for key, info in _model_keys(Profile):
        default_cell = rows[key][2]
        if info.is_required():
            assert default_cell == "required", f"{key} is required: {default_cell!r}"
            continue
        default = info.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            continue  # a nested options block; its keys are checked one by one
        assert f"`{_render(default)}`" in default_cell, (
            f"{key}: default is {_render(default)!r}, the doc says {default_cell!r}"
        )


def test_mappable_fields_are_documented(profiles_md: str) -> None:
    documented = set(keyed_rows(section(profiles_md, "Mappable fields"), header="field"))
    assert documented == set(MAPPABLE_FIELDS)


def test_default_date_and_time_formats_are_documented_in_order(profiles_md: str) -> None:
    formats, examples = [], []
    for head, data in md_tables(section(profiles_md, "Dates and times")):
        if head[:2] != ["#", "format"]:
            continue
        for cells in data:
            formats.append(spans(cells[1])[0])
            examples.append(spans(cells[2])[0])
    assert formats == [*DATETIME_FORMATS_DAYFIRST, *TIME_FORMATS]
    # Each example is read by its own format.
    n = len(DATETIME_FORMATS_DAYFIRST)
    for fmt, example in zip(formats[:n], examples[:n], strict=True):
        parsed = parse_datetimes(pl.Series([example]), [fmt])
        assert not parsed["invalid"][0], f"{example!r} does not fit {fmt!r}"
    for fmt, example in zip(formats[n:], examples[n:], strict=True):
        assert not parse_times(pl.Series([example]), [fmt])["invalid"][0], (fmt, example)


def test_utc_designator_z_is_read_as_utc() -> None:
    # docs/profiles.md ("Dates and times", safestreets-csv) says "Z" is read as +00:00.
    out = parse_datetimes(pl.Series(["2024-03-02T21:40:00Z"]))
    assert not out["invalid"][0] and out["has_offset"][0] and out["offset"][0] == "+00:00"


def test_sex_values_are_documented(profiles_md: str) -> None:
    rows = keyed_rows(section(profiles_md, "Victims"), header="becomes")
    assert set(rows) == set(schema.SEXES)
    for canonical, cells in rows.items():
        expected = {k for k, v in SEX_VALUES.items() if v == canonical}
        assert set(spans(cells[1])) == expected, canonical
    assert "m" not in SEX_VALUES, "a bare M is ambiguous and documented as such"


def test_report_fields_are_documented(profiles_md: str) -> None:
    documented = set(keyed_rows(section(profiles_md, "The report"), header="field"))
    assert documented == set(IngestReport.model_fields)
    assert "`rows_read == rows_loaded + rows_rejected + rows_duplicate`" in profiles_md


def test_ingest_options_mentioned_exist(profiles_md: str) -> None:
    command = typer.main.get_command(app).commands["ingest"]  # type: ignore[attr-defined]
    options = {opt for p in command.params for opt in p.opts if opt.startswith("--")}
    mentioned = set(re.findall(r"(--[a-z][a-z-]*)", section(profiles_md, "Using a profile")))
    assert mentioned
    assert mentioned <= options


# ---------------------------------------------------------------------------------------------
# docs/profiles.md: reason and warning codes, collected from the source
# ---------------------------------------------------------------------------------------------

#: Shapes of reason and warning codes: a second net besides the call patterns below.
_CODE_RE = re.compile(
    r"(missing|invalid|unknown|future|implausible|coordinates|outside|unresolved|ambiguous"
    r"|unrecognised|local_time|duplicate)_[a-z0-9_]+"
)


def _emitted_codes(path: Path) -> dict[str, set[str]]:
    """Codes a module can emit: reasons, warnings, sample names and f-string reason prefixes."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: dict[str, set[str]] = {"reason": set(), "warning": set(), "sample": set()}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("reason_where", "where") and len(node.args) == 2:
                arg = node.args[1]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found["reason"].add(arg.value)
                elif isinstance(arg, ast.JoinedStr):
                    head, hole = arg.values[0], arg.values[1]
                    assert isinstance(head, ast.Constant), ast.unparse(arg)
                    assert isinstance(hole, ast.FormattedValue), ast.unparse(arg)
                    # f"field_too_long:{spec.column}" -> <column>; f"missing_{name}" -> <field>
                    what = {"spec.column": "column", "name": "field"}[ast.unparse(hole.value)]
                    found["reason"].add(f"{head.value}<{what}>")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "setdefault"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "samples"
            and isinstance(node.args[0], ast.Constant)
        ):
            found["sample"].add(node.args[0].value)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "warnings"
            and isinstance(node.slice, ast.Constant)
        ):
            found["warning"].add(node.slice.value)
        elif isinstance(node, ast.FunctionDef) and "coordinate" in node.name:
            # Coordinate reasons are built as expressions: pl.lit("...") and area_reason = "..."
            for sub in ast.walk(node):
                if (
                    isinstance(sub, ast.Call)
                    and isinstance(sub.func, ast.Attribute)
                    and sub.func.attr == "lit"
                    and sub.args
                    and isinstance(sub.args[0], ast.Constant)
                    and isinstance(sub.args[0].value, str)
                ):
                    found["reason"].add(sub.args[0].value)
                if (
                    isinstance(sub, ast.Assign)
                    and isinstance(sub.value, ast.Constant)
                    and any(isinstance(t, ast.Name) and t.id == "area_reason" for t in sub.targets)
                ):
                    found["reason"].add(sub.value.value)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _CODE_RE.fullmatch(node.value)
            and not any(node.value in found[k] for k in ("warning", "sample"))
        ):
            found["reason"].add(node.value)
    return found


def _all_emitted() -> dict[str, dict[str, set[str]]]:
    return {p.name: _emitted_codes(p) for p in sorted(INGEST_SRC.glob("*.py"))}


def test_code_collector_finds_the_known_codes() -> None:
    # Guards the collector itself: if it silently found nothing, the next test would pass.
    emitted = _all_emitted()
    assert {"invalid_date", "outside_country", "coordinates_zero", "field_too_long:<column>"} <= (
        emitted["transform.py"]["reason"] | emitted["parse.py"]["reason"]
    )
    assert "ambiguous_sex_code" in emitted["transform.py"]["warning"]
    assert "invalid_period" in emitted["counts.py"]["reason"]
    assert emitted["load.py"]["sample"] == {"duplicate_in_file"}


def test_every_reason_and_warning_is_documented(profiles_md: str) -> None:
    emitted = _all_emitted()
    body = section(profiles_md, "Quarantine reasons and warnings")
    incident_reasons = set(keyed_rows(section(body, "Reasons (incident files)"), "reason"))
    samples = set(keyed_rows(section(body, "Reasons (incident files)"), "sample name"))
    warnings = set(keyed_rows(section(body, "Warnings (incident files)"), "warning"))
    table_rows = keyed_rows(section(body, "Reasons (counts and population files)"), "reason")

    # Victim lists for reconciliation are not loaded into the store: their reasons are in
    # docs/reconciliation.md.
    emitted.pop("victim_lists.py", None)
    counts_codes = emitted.pop("counts.py")
    assert counts_codes["warning"] == set() and counts_codes["sample"] == set()
    assert set(table_rows) == counts_codes["reason"]
    # The `file` column says which loader emits the code.
    counts_source = (INGEST_SRC / "counts.py").read_text(encoding="utf-8")
    population_part = counts_source[counts_source.index("def load_population") :]
    for code, cells in table_rows.items():
        in_population = f'"{code}"' in population_part
        in_counts = f'"{code}"' in counts_source[: counts_source.index("def load_population")]
        if in_counts and in_population:
            expected = "both"
        else:
            expected = "population" if in_population else "counts"
        assert cells[1] == expected, f"{code}: file column {cells[1]!r}, expected {expected!r}"

    merged: dict[str, set[str]] = {"reason": set(), "warning": set(), "sample": set()}
    for codes in emitted.values():
        for kind, values in codes.items():
            merged[kind] |= values
    assert merged["reason"] == incident_reasons
    assert merged["warning"] == warnings
    assert merged["sample"] == samples


# ---------------------------------------------------------------------------------------------
# docs/profiles.md: examples, built-in profiles, safestreets-csv
# ---------------------------------------------------------------------------------------------


def test_yaml_examples_in_profiles_md_are_valid_profiles(profiles_md: str) -> None:
    blocks = fenced_blocks(profiles_md, "yaml")
    assert len(blocks) >= 2
    for block in blocks:
        parse_profile(block, origin="docs/profiles.md")


def test_walkthrough_shows_the_example_profile_verbatim(profiles_md: str) -> None:
    example = (EXAMPLES / "gt-pnc-example.yaml").read_text(encoding="utf-8")
    assert example in fenced_blocks(profiles_md, "yaml")
    csv_head = (EXAMPLES / "gt-pnc-example.csv").read_text(encoding="utf-8").splitlines()[:3]
    walkthrough = section(profiles_md, "Write your own profile in 5 minutes")
    assert "\n".join(csv_head) in walkthrough


def test_builtin_profiles_are_documented(profiles_md: str) -> None:
    body = section(profiles_md, "Built-in profiles")
    documented = {name for level, name in headings(body) if level == 3}
    assert documented == set(builtin_profiles())


def test_safestreets_csv_columns_are_documented() -> None:
    text = PROFILES_MD.read_text(encoding="utf-8")
    rows = keyed_rows(section(text, "safestreets-csv"), header="column")
    profile = load_profile("safestreets-csv")
    profile_columns = [spec.column for spec in profile.columns.values()]
    assert list(rows) == profile_columns
    header = (EXAMPLES / "incidents.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == profile_columns


def test_links_between_docs_resolve(profiles_md: str, data_model_md: str) -> None:
    docs = {"profiles.md": profiles_md, "data-model.md": data_model_md}
    for name, text in docs.items():
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://")):
                continue
            path, _, anchor = target.partition("#")
            dest = (DOCS / path) if path else (DOCS / name)
            assert dest.exists(), f"{name}: broken link {target}"
            if anchor and dest.suffix == ".md":
                slugs = {_slug(h) for _, h in headings(dest.read_text(encoding="utf-8"))}
                assert anchor in slugs, f"{name}: no heading for #{anchor} in {dest.name}"


# ---------------------------------------------------------------------------------------------
# docs/data-model.md
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", sorted(tables.metadata.tables))
def test_every_table_column_is_documented(data_model_md: str, table: str) -> None:
    rows = keyed_rows(section(data_model_md, f"{table}:", prefix=True), header="column")
    columns = tables.metadata.tables[table].columns
    assert set(rows) == {c.name for c in columns}
    for column in columns:
        required = rows[column.name][2] == "yes"
        assert required == (not column.nullable), f"{table}.{column.name}: required column"


@pytest.mark.parametrize(
    ("table", "spec"),
    [
        ("incident", schema.INCIDENT),
        ("victim", schema.VICTIM),
        ("stat_count", schema.COUNT),
        ("population", schema.POPULATION),
    ],
)
def test_canonical_schemas_are_documented(
    data_model_md: str, table: str, spec: dict[str, pl.DataType]
) -> None:
    rows = keyed_rows(section(data_model_md, f"{table}:", prefix=True), header="column")
    assert set(spec) <= set(rows)


def test_controlled_vocabularies_are_documented(data_model_md: str) -> None:
    rows = keyed_rows(section(data_model_md, "Controlled vocabularies"), header="field")
    documented = {spans(cells[1])[0]: spans(cells[2]) for cells in rows.values()}
    constants = {
        name: value
        for name, value in vars(schema).items()
        if name.isupper()
        and isinstance(value, tuple)
        and all(isinstance(v, str) for v in value)
        # Column lists (PERSON_COLUMNS, ...) are schemas, documented with their formats.
        and not name.endswith("_COLUMNS")
    }
    assert set(documented) == set(constants)
    for name, values in constants.items():
        assert documented[name] == list(values), name
    for field in rows:
        table, column = field.split(".")
        assert column in tables.metadata.tables[table].columns, field


def test_counts_and_population_headers(data_model_md: str) -> None:
    counts_header = ",".join(counts_mod.COUNT_COLUMNS)
    population_header = ",".join(counts_mod.POPULATION_COLUMNS)
    assert counts_header in fenced_blocks(data_model_md, "text")[0]
    assert any(b.strip() == population_header for b in fenced_blocks(data_model_md, "text"))
    assert (EXAMPLES / "counts.csv").read_text(encoding="utf-8").splitlines()[0] == counts_header
    population = (EXAMPLES / "population.csv").read_text(encoding="utf-8").splitlines()[0]
    assert population == population_header
    # The excerpt shown in the doc is taken from the example file.
    example_lines = set((EXAMPLES / "counts.csv").read_text(encoding="utf-8").splitlines())
    excerpt = fenced_blocks(data_model_md, "text")[0].splitlines()
    assert [ln for ln in excerpt if ln != "..."] and all(
        ln in example_lines for ln in excerpt if ln != "..."
    )


# ---------------------------------------------------------------------------------------------
# The examples load as the docs say
# ---------------------------------------------------------------------------------------------


def _frame(engine: Engine, table: str) -> pl.DataFrame:
    with engine.connect() as conn:
        return pl.read_database(select(tables.metadata.tables[table]), conn)


def test_incidents_example_loads_with_safestreets_csv(sqlite_engine: Engine) -> None:
    path = EXAMPLES / "incidents.csv"
    n_rows = len(path.read_text(encoding="utf-8").splitlines()) - 1
    report = ingest_file(path, load_profile("safestreets-csv"), sqlite_engine)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (n_rows, n_rows, 0)
    assert n_rows == 15
    assert report.rows_duplicate == 0 and report.rows_unmapped_category == 0
    assert report.warnings == {} and report.rejections == {}

    incidents = _frame(sqlite_engine, "incident")
    assert set(incidents["country"]) == {"BZ", "GT", "SV", "HN", "NI", "CR", "PA"}
    assert incidents["iccs_code"].null_count() == 0
    first = incidents.filter(pl.col("source_record_id") == "GT-PNC-2024-0001").row(0, named=True)
    assert str(first["occurred_at"]).startswith("2024-03-03 03:40")  # 21:40 at -06:00, in UTC
    only_code = incidents.filter(pl.col("local_category").is_null()).row(0, named=True)
    assert (only_code["iccs_code"], only_code["mapping_quality"]) == ("060121", "exact")
    day_only = incidents.filter(pl.col("source_record_id") == "GT-PNC-2024-0004").row(0, named=True)
    assert day_only["occurred_precision"] == "day"
    assert day_only["location_precision"] == "admin2"
    assert day_only["handling_code"] == "NATIONAL"

    again = ingest_file(path, load_profile("safestreets-csv"), sqlite_engine)
    assert (again.rows_loaded, again.rows_duplicate_in_store) == (0, n_rows)


def test_gt_pnc_example_loads_as_the_walkthrough_says(sqlite_engine: Engine) -> None:
    profile = load_profile(str(EXAMPLES / "gt-pnc-example.yaml"))
    report = ingest_file(EXAMPLES / "gt-pnc-example.csv", profile, sqlite_engine)
    assert (report.rows_read, report.rows_loaded) == (12, 10)
    assert (report.rows_rejected, report.rows_duplicate) == (1, 1)
    assert report.rows_duplicate_in_file == 1
    assert report.rejections == {"invalid_date": 1}
    assert report.rejection_samples == {"invalid_date": [11], "duplicate_in_file": [13]}
    assert report.unmapped_categories == {"Hallazgo de cadáver": 1}
    assert report.rows_unmapped_category == 1
    assert report.warnings == {}

    incidents = _frame(sqlite_engine, "incident")
    assert {"GT-01", "GT-09", "GT-17"} <= set(incidents["admin1"])
    assert {"0101", "0108", "1701"} <= set(incidents["admin2"])
    bus = incidents.filter(pl.col("local_category") == "Robo a bus").row(0, named=True)
    assert (bus["iccs_code"], bus["place_type"], bus["weapon"]) == (
        "040111",
        "public_transport",
        "firearm",
    )
    peten = incidents.filter(pl.col("admin1") == "GT-17").row(0, named=True)
    assert (peten["occurred_precision"], peten["location_precision"]) == ("day", "admin2")
    assert str(peten["occurred_at"]).startswith("2024-03-07 06:00")
    with sqlite_engine.connect() as conn:
        quarantined = conn.execute(select(func.count()).select_from(tables.quarantine)).scalar()
    assert quarantined == 1
    sexes = Counter(_frame(sqlite_engine, "victim")["sex"])
    assert sexes == {"female": 5, "male": 4, "unknown": 1}

    # Without the map on Sexo, the five "M" rows are ambiguous (the walkthrough says so).
    columns = dict(profile.columns)
    columns["victim_sex"] = FieldSpec(column="Sexo")
    unmapped = profile.model_copy(update={"columns": columns})
    again = ingest_file(EXAMPLES / "gt-pnc-example.csv", unmapped, sqlite_engine)
    assert again.warnings.get("ambiguous_sex_code") == 5
    assert (again.rows_loaded, again.rows_duplicate_in_store) == (0, 10)


def test_counts_example_loads(sqlite_engine: Engine) -> None:
    path = EXAMPLES / "counts.csv"
    n_rows = len(path.read_text(encoding="utf-8").splitlines()) - 1
    report = load_counts(path, sqlite_engine)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (n_rows, n_rows, 0)
    assert report.rows_duplicate == 0
    stored = _frame(sqlite_engine, "stat_count")
    assert set(stored["country"]) == {"GT", "SV", "HN"}
    assert set(stored["unit"]) == set(schema.COUNT_UNITS)
    assert {"2023", "2023-Q2", "2023-05", "2023-W07"} == set(stored["period"])
    assert "Guatemala" not in set(stored["admin1"].drop_nulls())  # resolved to GT-01
    again = load_counts(path, sqlite_engine)
    assert (again.rows_loaded, again.rows_duplicate_in_store) == (0, n_rows)


def test_population_example_loads_and_reload_replaces(sqlite_engine: Engine) -> None:
    path = EXAMPLES / "population.csv"
    n_rows = len(path.read_text(encoding="utf-8").splitlines()) - 1
    report = load_population(path, sqlite_engine, source="example")
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (n_rows, n_rows, 0)
    again = load_population(path, sqlite_engine, source="example again")
    assert again.rows_loaded == n_rows
    stored = _frame(sqlite_engine, "population")
    assert stored.height == n_rows
    assert set(stored["source"]) == {"example again"}
    assert set(stored["country"]) == {"GT", "SV", "HN"}
