"""Shared fixtures of the reference-data tests."""

from __future__ import annotations

from pathlib import Path

import pytest

#: <project root> is two levels above this folder (tests/reference/conftest.py).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ``<project root>/../shared/data``; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} not available (upstream cross-check)")
    return SHARED_DATA
