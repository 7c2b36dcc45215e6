"""Small synthetic regions shared by the demo tests (generated once per session)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pytest

from safestreets.demo import DemoChunk, generate_region


@dataclass(frozen=True)
class Region:
    chunks: list[DemoChunk]
    incidents: pl.DataFrame
    victims: pl.DataFrame


def make_region(**kwargs: object) -> Region:
    chunks = list(generate_region(**kwargs))  # type: ignore[arg-type]
    return Region(
        chunks,
        pl.concat([c.incidents for c in chunks]),
        pl.concat([c.victims for c in chunks]),
    )


@pytest.fixture(scope="session")
def region() -> Region:
    """All seven countries, one year: enough incidents to hold the calibrated homicides."""
    return make_region(seed=11, incidents=40_000, years=1, chunk_size=15_000)


@pytest.fixture(scope="session")
def guatemala() -> Region:
    """Guatemala alone, one year: a big city with enough incidents to measure concentration."""
    return make_region(seed=7, incidents=30_000, years=1, countries=["GT"])
