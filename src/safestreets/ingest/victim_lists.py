"""Victim-level homicide lists: read a file, normalise it to the canonical victim-list frame.

Each institution (police, prosecutor, forensic institute) keeps its own list of homicide
victims. This module turns one such file, whatever its headers (Spanish or English), encoding
(UTF-8, UTF-8 with BOM, CP1252) and delimiter (``,`` or ``;``), into one frame with the columns
of :data:`VICTIM_LIST` that :func:`safestreets.stats.reconcile.reconcile` matches across
sources. Rows whose date of death is missing, unreadable or implausible are never dropped
silently: they go to a *rejected* frame (:data:`REJECTED`) with the reason.

:func:`normalise_victim_list` is the pure core (string frame in, frames out);
:func:`read_table` and :func:`read_victim_list` are the file-reading shell around it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Final

import polars as pl

from safestreets.errors import InputError, ReferenceError_
from safestreets.ingest.parse import parse_datetimes
from safestreets.ingest.readers import ROW, header_renames, read_whole
from safestreets.records import unknown_name
from safestreets.reference import geo
from safestreets.schema import VICTIM_LIST
from safestreets.schema import VICTIM_LIST_REJECTED as REJECTED

__all__ = [
    "HEADER_ALIASES",
    "REJECTED",
    "VICTIM_LIST",
    "VictimList",
    "combine",
    "normalise_victim_list",
    "read_table",
    "read_victim_list",
    "unknown_name",
]

#: Accepted header spellings per canonical field, in order of preference. Headers are compared
#: after normalisation (lower case, no accents, runs of spaces/punctuation as one ``_``).
HEADER_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "source": ("source", "fuente", "institucion", "institution", "agency"),
    "record_id": (
        "record_id", "id", "id_registro", "registro", "correlativo", "id_victima", "folio",
        "numero_registro", "no_registro", "n",
    ),
    "date_of_death": (
        "date_of_death", "fecha_muerte", "fecha_de_muerte", "fecha_fallecimiento",
        "fecha_de_fallecimiento", "fecha_defuncion", "fecha_de_defuncion", "fecha_deceso",
        "death_date", "fecha_hecho", "fecha_del_hecho", "fecha_de_los_hechos", "fecha_hechos",
        "fecha", "date",
    ),
    "country": ("country", "pais", "iso2", "country_code", "codigo_pais"),
    "admin1": (
        "admin1", "departamento", "depto", "dpto", "provincia", "department", "province",
        "departamento_hecho", "departamento_del_hecho",
    ),
    "admin2": (
        "admin2", "municipio", "distrito", "canton", "municipality", "district",
        "municipio_hecho", "municipio_del_hecho",
    ),
    "place": ("place", "lugar", "lugar_hecho", "lugar_del_hecho", "localidad", "location"),
    "sex": ("sex", "sexo", "genero", "gender", "sexo_victima"),
    "age": ("age", "edad", "edad_anos", "edad_victima", "age_years"),
    "given_names": (
        "given_names", "nombres", "nombre", "primer_nombre", "first_name", "first_names",
        "given_name", "forenames",
    ),
    "surnames": ("surnames", "apellidos", "apellido", "last_name", "surname", "family_name"),
    "full_name": (
        "full_name", "nombre_completo", "nombre_victima", "victima", "name", "nombre_y_apellidos",
    ),
    "case_number": (
        "case_number", "numero_autopsia", "no_autopsia", "autopsia", "expediente",
        "numero_expediente", "no_expediente", "caso", "numero_caso", "no_caso", "case_no",
        "necropsia", "numero_necropsia", "protocolo",
    ),
    "lon": ("lon", "longitud", "longitude", "lng", "x"),
    "lat": ("lat", "latitud", "latitude", "y"),
}  # fmt: skip

_SEX = {
    "f": "female", "fem": "female", "femenino": "female", "mujer": "female", "female": "female",
    "woman": "female", "masculino": "male", "masc": "male", "hombre": "male", "h": "male",
    "varon": "male", "male": "male", "man": "male", "1": "male", "2": "female",
}  # fmt: skip
_NAME_PARTICLES = frozenset({"de", "del", "la", "las", "los", "y", "viuda", "vda"})
_MIN_YEAR = 1900


@dataclass(frozen=True)
class VictimList:
    """One or more victim lists in the canonical frame, with the rows set aside.

    Attributes:
        records: :data:`VICTIM_LIST` columns, one row per usable record.
        rejected: :data:`REJECTED` columns, one row per record set aside.
        notes: What the reader decided (encoding, columns used, codes it could not resolve).
    """

    records: pl.DataFrame
    rejected: pl.DataFrame
    notes: tuple[str, ...] = field(default=())

    def counts(self) -> dict[str, dict[str, int]]:
        """Valid and rejected rows per source."""
        out: dict[str, dict[str, int]] = {}
        for (s,), g in self.records.group_by("source", maintain_order=True):
            out.setdefault(str(s), {"valid": 0, "rejected": 0})["valid"] = g.height
        for (s,), g in self.rejected.group_by("source", maintain_order=True):
            out.setdefault(str(s), {"valid": 0, "rejected": 0})["rejected"] = g.height
        return out


# ---------------------------------------------------------------------------------------------
# Reading files (shell)
# ---------------------------------------------------------------------------------------------


def read_table(path: Path) -> pl.DataFrame:
    """Read a victim list into an all-string frame (headers stripped).

    The incident readers do the work (:func:`safestreets.ingest.readers.read_whole`): CSV in
    any common encoding with its delimiter sniffed, gzip or bzip2 compressed, XLSX (first
    sheet; date cells as ISO dates), JSON, NDJSON and Parquet.

    Raises:
        InputError: if the file is missing, empty, of another format or unreadable.
    """
    frame = read_whole(path, name="victim-list").drop(ROW)  # checks missing and empty files
    return frame.rename(header_renames(frame.columns, what=path.name))


def read_victim_list(
    path: Path,
    *,
    source: str | None = None,
    country: str | None = None,
    dayfirst: bool = True,
    today: date | None = None,
) -> VictimList:
    """Read one victim-list file into the canonical frame.

    Args:
        path: CSV, XLSX or Parquet file.
        source: Institution label. Default: the file's ``source``/``fuente`` column if it has
            one, else the file name without extension.
        country: ISO2 code used where the file has no country column (or a blank cell).
        dayfirst: Read 03/04/2023 as 3 April (Latin American usage).
        today: Dates after this day are implausible (default: the current date).

    Raises:
        InputError: if the file cannot be read or has no date-of-death column.
    """
    raw = read_table(path)
    return normalise_victim_list(
        raw,
        source=source,
        default_source=path.stem,
        country=country,
        file=path.name,
        dayfirst=dayfirst,
        today=today,
    )


# ---------------------------------------------------------------------------------------------
# Normalising (pure)
# ---------------------------------------------------------------------------------------------


def _header_key(name: str) -> str:
    return geo.normalise_name(name).replace(" ", "_")


def _map_headers(columns: Sequence[str]) -> dict[str, str]:
    """Canonical field -> the file's column (the most preferred alias present)."""
    keyed: dict[str, str] = {}
    for c in columns:
        keyed.setdefault(_header_key(c), c)
    found: dict[str, str] = {}
    for canon, aliases in HEADER_ALIASES.items():
        for alias in aliases:
            col = keyed.get(alias)
            if col is not None and col not in found.values():
                found[canon] = col
                break
    return found


def normalise_victim_list(
    raw: pl.DataFrame,
    *,
    source: str | None = None,
    default_source: str = "source",
    country: str | None = None,
    file: str = "",
    dayfirst: bool = True,
    today: date | None = None,
    first_row: int = 2,
) -> VictimList:
    """Normalise an all-string frame with any known headers to the canonical victim list.

    Header aliases: :data:`HEADER_ALIASES`. Sex codes: F/Femenino/Mujer are female,
    H/Hombre/Masculino/Varón male; a bare ``M`` means *mujer* when the same column also uses
    ``H``, otherwise *masculino*. Ages: the first number ("25 años"); months or days mean 0;
    outside 0-120 becomes unknown. Names: "NN", "Desconocido" and the like become null; a lone
    name column without a surname column is split as a full name (last two words surnames, or
    "SURNAMES, GIVEN NAMES"). Places: departments and municipalities are resolved to codes via
    :mod:`safestreets.reference.geo`; the written text is kept in ``place``.

    Args:
        raw: The file as read (all columns strings).
        source: Institution label for every row (overrides a source column).
        default_source: Label when neither ``source`` nor a source column is given.
        country: ISO2 code for rows without one.
        file: File name, for messages and the rejected rows.
        dayfirst: Day-first dates (03/04/2023 = 3 April).
        today: Later dates are rejected as implausible (default: the current date).
        first_row: Spreadsheet row number of the first record (2 under a one-line header).

    Returns:
        A :class:`VictimList`.

    Raises:
        InputError: if there is no date-of-death column, or no country anywhere.
    """
    label = file or "input"
    cols = _map_headers(raw.columns)
    if "date_of_death" not in cols:
        raise InputError(
            f"{label}: no date-of-death column among {', '.join(raw.columns) or '(none)'}",
            hint="name it fecha_muerte, fecha, fecha_hecho or date_of_death",
        )
    if country is not None:
        try:
            country = geo._check_country(country)
        except ReferenceError_ as exc:
            raise InputError(exc.message, hint=exc.hint) from None
    if "country" not in cols and country is None:
        raise InputError(
            f"{label}: no country column and no country given",
            hint="pass the country (e.g. --country SV) or add a column pais with ISO2 codes",
        )
    n = raw.height
    notes = [f"{label}: columns used: " + ", ".join(f"{k}={v}" for k, v in cols.items())]

    def col(name: str) -> pl.Series:
        if name in cols:
            return raw[cols[name]].cast(pl.String).str.strip_chars().replace("", None)
        return pl.Series(name, [None] * n, dtype=pl.String)

    # Source label and record id.
    if source is not None:
        src = pl.Series("source", [source.strip()] * n, dtype=pl.String)
    elif "source" in cols:
        src = col("source").fill_null(default_source)
    else:
        src = pl.Series("source", [default_source] * n, dtype=pl.String)
    rows = pl.int_range(first_row, first_row + n, dtype=pl.Int64, eager=True).alias("row")
    stem = Path(file).stem if file else default_source
    record_id = col("record_id").fill_null(stem + ":" + rows.cast(pl.String))

    # Dates.
    raw_date = col("date_of_death")
    dates, bad = _parse_dates(raw_date, dayfirst)
    limit = today or date.today()
    implausible = dates.is_not_null() & ((dates.dt.year() < _MIN_YEAR) | (dates > limit))

    # Country.
    ctry, bad_country = _countries(col("country"), country)

    reasons = (
        pl.DataFrame({"d": raw_date, "bad": bad, "imp": implausible, "c": ctry, "bc": bad_country})
        .select(
            pl.when(pl.col("d").is_null())
            .then(pl.lit("missing date of death"))
            .when(pl.col("bad"))
            .then(pl.lit("unreadable date of death: ") + pl.col("d"))
            .when(pl.col("imp"))
            .then(pl.lit("implausible date of death: ") + pl.col("d"))
            .when(pl.col("bc").is_not_null())
            .then(pl.lit("unknown country: ") + pl.col("bc"))
            .when(pl.col("c").is_null())
            .then(pl.lit("missing country"))
            .alias("reason")
        )
        .to_series()
    )

    admin1, admin2 = _admin_codes(ctry, col("admin1"), col("admin2"))
    unresolved = int(((col("admin2").is_not_null()) & admin2.is_null()).sum()) + int(
        ((col("admin1").is_not_null()) & admin1.is_null()).sum()
    )
    if unresolved:
        notes.append(f"{label}: {unresolved} place name(s) not found in the reference data")
    place = col("place")
    if place.is_null().all():
        place = pl.DataFrame({"a": col("admin2"), "b": col("admin1")}).select(
            pl.concat_str([pl.col("a"), pl.col("b")], separator=", ", ignore_nulls=True)
            .replace("", None)
            .alias("place")
        )["place"]

    given, surnames = _names(col("given_names"), col("surnames"), col("full_name"))
    records = pl.DataFrame(
        {
            "source": src,
            "record_id": record_id,
            "date_of_death": dates,
            "country": ctry,
            "admin1": admin1,
            "admin2": admin2,
            "place": place,
            "sex": _sex(col("sex")),
            "age": _ages(col("age")),
            "given_names": given,
            "surnames": surnames,
            "case_number": col("case_number"),
            "lon": _floats(col("lon")),
            "lat": _floats(col("lat")),
        },
        schema=VICTIM_LIST,
    )
    # A record id repeated in the file: the first usable one is kept.
    dup = (
        pl.DataFrame({"s": src, "r": record_id, "ok": reasons.is_null()})
        .select(pl.col("ok") & ~pl.struct("s", "r", "ok").is_first_distinct())
        .to_series()
    )
    reasons = (
        pl.DataFrame({"dup": dup, "reason": reasons})
        .select(
            pl.when(pl.col("dup"))
            .then(pl.lit("duplicate record_id in this source"))
            .otherwise(pl.col("reason"))
        )
        .to_series()
    )
    keep = reasons.is_null()
    rejected = pl.DataFrame(
        {
            "source": src,
            "file": [file] * n,
            "row": rows,
            "record_id": record_id,
            "reason": reasons,
            "raw": _raw_json(raw),
        },
        schema=REJECTED,
    ).filter(~keep)
    return VictimList(records.filter(keep), rejected, tuple(notes))


def _parse_dates(values: pl.Series, dayfirst: bool) -> tuple[pl.Series, pl.Series]:
    """Dates (``Date``) and a flag for non-blank values that are not dates."""
    parsed = parse_datetimes(values, dayfirst=dayfirst)
    out = parsed["value"].dt.date()
    # Excel serial day numbers exported as text (e.g. 45123 = 2023-07-16).
    serial = values.str.strip_chars().cast(pl.Int64, strict=False)
    fixed = pl.DataFrame({"v": out, "s": serial}).select(
        pl.coalesce(
            pl.col("v"),
            pl.when(pl.col("s").is_between(20000, 80000)).then(
                (pl.lit(date(1899, 12, 30)) + pl.duration(days=pl.col("s"))).cast(pl.Date)
            ),
        ).alias("v")
    )["v"]
    bad = values.is_not_null() & fixed.is_null()
    return fixed.alias("date_of_death"), bad


def _countries(values: pl.Series, default: str | None) -> tuple[pl.Series, pl.Series]:
    """ISO2 code per row and, where a written value is not one of the seven, that value."""
    lookup: dict[str, str] = {}
    for row in geo.countries().iter_rows(named=True):
        for key in (row["iso2"], row["iso3"], row["name_en"], row["name_es"]):
            lookup[geo.normalise_name(str(key))] = row["iso2"]
    distinct = values.drop_nulls().unique().to_list()
    mapping = {v: lookup.get(geo.normalise_name(v)) for v in distinct}
    code = values.replace_strict(mapping, default=None, return_dtype=pl.String)
    unknown = pl.Series(
        [v if v is not None and c is None else None for v, c in zip(values, code, strict=True)],
        dtype=pl.String,
    )
    if default is not None:
        code = code.fill_null(default)
    return code.alias("country"), unknown


def _admin_codes(
    country: pl.Series, admin1: pl.Series, admin2: pl.Series
) -> tuple[pl.Series, pl.Series]:
    keys = pl.DataFrame({"c": country, "a1": admin1, "a2": admin2})
    distinct = keys.unique().drop_nulls("c")
    out1: dict[tuple[str, str | None], str | None] = {}
    out2: dict[tuple[str, str | None, str | None], str | None] = {}
    for c, a1, a2 in distinct.iter_rows():
        code1 = geo.resolve_admin1(c, a1) if a1 is not None else None
        code2 = None
        if a2 is not None:
            code2 = geo.resolve_admin2(c, a2, code1) if code1 else geo.resolve_admin2(c, a2)
            if code2 is None and a1 is not None and code1 is None:
                code2 = geo.resolve_admin2(c, a2)
        if code1 is None and code2 is not None:
            code1 = _admin1_of_admin2(c, code2)
        out1[(c, a1)] = code1
        out2[(c, a1, a2)] = code2
    r1 = [
        out1.get((c, a1)) if c is not None else None for c, a1 in zip(country, admin1, strict=True)
    ]
    r2 = [
        out2.get((c, a1, a2)) if c is not None else None
        for c, a1, a2 in zip(country, admin1, admin2, strict=True)
    ]
    # A municipality that resolved fixes a department that did not (or was not given).
    r1 = [
        _admin1_of_admin2(c, b) if a is None and b is not None else a
        for c, a, b in zip(country, r1, r2, strict=True)
    ]
    return pl.Series("admin1", r1, dtype=pl.String), pl.Series("admin2", r2, dtype=pl.String)


_ADMIN1_OF: dict[str, dict[str, str]] = {}


def _admin1_of_admin2(country: str, code2: str) -> str | None:
    table = _ADMIN1_OF.get(country)
    if table is None:
        units = geo.admin2(country)
        table = {}
        for nat, gn, a1 in units.select("national_code", "geonames_admin2", "admin1").iter_rows():
            table[nat or gn] = a1
        _ADMIN1_OF[country] = table
    return table.get(code2)


def _sex(values: pl.Series) -> pl.Series:
    keys = values.map_elements(geo.normalise_name, return_dtype=pl.String)
    # "M" is mujer beside "H" (hombre), masculino beside "F" (femenino) or alone.
    m_is = "female" if (keys == "h").any() else "male"
    mapping = {**_SEX, "m": m_is}
    return keys.replace_strict(mapping, default="unknown", return_dtype=pl.String).fill_null(
        "unknown"
    )


def _ages(values: pl.Series) -> pl.Series:
    number = values.str.extract(r"(\d+)", 1).cast(pl.Int64, strict=False)
    lower = values.str.to_lowercase()
    infant = lower.str.contains(r"mes|dia|día|month|day|semana|week|hora|hour")
    age = pl.DataFrame({"n": number, "i": infant}).select(
        pl.when(pl.col("i") & pl.col("n").is_not_null())
        .then(0)
        .when(pl.col("n").is_between(0, 120))
        .then(pl.col("n"))
        .otherwise(None)
        .cast(pl.Int32)
        .alias("age")
    )
    return age["age"]


def _floats(values: pl.Series) -> pl.Series:
    return values.str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)


def _clean_name(text: str | None) -> str | None:
    if text is None or unknown_name(text):
        return None
    return " ".join(text.split())


def split_full_name(text: str | None) -> tuple[str | None, str | None]:
    """Split a full name into (given names, surnames), Spanish usage.

    "SURNAMES, GIVEN" is split at the comma; otherwise the last two words are surnames (one
    when there are only two words); particles ("de", "del", "la") stay with the next word.
    """
    text = _clean_name(text)
    if text is None:
        return None, None
    if "," in text:
        sur, _, given = text.partition(",")
        return _clean_name(given), _clean_name(sur)
    words: list[str] = []
    pending: list[str] = []
    for w in text.split():
        if w.lower() in _NAME_PARTICLES:
            pending.append(w)
        else:
            words.append(" ".join([*pending, w]))
            pending = []
    if pending and words:
        words[-1] = words[-1] + " " + " ".join(pending)
    if len(words) == 1:
        return None, words[0]
    k = 2 if len(words) >= 3 else 1
    return " ".join(words[:-k]), " ".join(words[-k:])


def _names(given: pl.Series, surnames: pl.Series, full: pl.Series) -> tuple[pl.Series, pl.Series]:
    g = [_clean_name(v) for v in given]
    s = [_clean_name(v) for v in surnames]
    if surnames.is_null().all() and full.is_null().all() and given.is_not_null().any():
        full, g = given, [None] * len(g)  # a lone "nombre" column holds the full name
    if full.is_not_null().any():
        for i, v in enumerate(full):
            if g[i] is None and s[i] is None and v is not None:
                g[i], s[i] = split_full_name(v)
    return (
        pl.Series("given_names", g, dtype=pl.String),
        pl.Series("surnames", s, dtype=pl.String),
    )


def _raw_json(raw: pl.DataFrame) -> pl.Series:
    return pl.Series(
        "raw",
        [json.dumps(r, ensure_ascii=False) for r in raw.cast(pl.String).iter_rows(named=True)],
        dtype=pl.String,
    )


def _dedupe(vl: VictimList, file: str) -> VictimList:
    """Keep the first record per (source, record_id); the others are rejected with a reason."""
    dup = vl.records.select(pl.struct("source", "record_id").is_first_distinct().not_())["source"]
    if not dup.any():
        return vl
    extra = vl.records.filter(dup)
    rejected = pl.concat(
        [
            vl.rejected,
            extra.select(
                "source",
                pl.lit(file).alias("file"),
                pl.lit(None, dtype=pl.Int64).alias("row"),
                "record_id",
                pl.lit("duplicate record_id in this source").alias("reason"),
                pl.struct(pl.all().cast(pl.String)).struct.json_encode().alias("raw"),
            ),
        ]
    )
    return VictimList(vl.records.filter(~dup), rejected, vl.notes)


def combine(lists: Sequence[VictimList]) -> VictimList:
    """Concatenate several lists; a repeated (source, record_id) is rejected after the first."""
    if not lists:
        return VictimList(pl.DataFrame(schema=VICTIM_LIST), pl.DataFrame(schema=REJECTED))
    merged = VictimList(
        pl.concat([v.records for v in lists]),
        pl.concat([v.rejected for v in lists]),
        tuple(n for v in lists for n in v.notes),
    )
    return _dedupe(merged, "")
