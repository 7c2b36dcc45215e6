"""Access to the package data files shipped in ``safestreets/reference/data``."""

from __future__ import annotations

import io
from importlib import resources
from typing import Any

import polars as pl

_PACKAGE = "safestreets.reference"


def read_bytes(name: str) -> bytes:
    """Return the raw bytes of a shipped data file.

    Args:
        name: File name inside ``safestreets/reference/data``.

    Returns:
        The file content.
    """
    return resources.files(_PACKAGE).joinpath("data", name).read_bytes()


def read_csv(name: str, schema: dict[str, Any]) -> pl.DataFrame:
    """Read a shipped CSV file with an explicit schema (all other columns as strings).

    Args:
        name: File name inside ``safestreets/reference/data``.
        schema: Polars dtypes of the columns that are not plain strings.

    Returns:
        The table.
    """
    return pl.read_csv(
        io.BytesIO(read_bytes(name)),
        schema_overrides=schema,
        infer_schema_length=0,
    )
