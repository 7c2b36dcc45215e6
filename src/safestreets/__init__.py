"""safestreets: citizen-security information system for Central America.

The names a notebook user needs, imported lazily so that ``import safestreets`` stays cheap::

    import safestreets as ss
    engine = ss.get_engine()                      # SAFESTREETS_DATABASE_URL or the SQLite file
    report = ss.ingest_file(path, ss.load_profile("cdmx-fgj"), engine)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "get_engine": "safestreets.store.engine",
    "ingest_file": "safestreets.ingest.load",
    "load_profile": "safestreets.ingest.profiles",
    "load_counts": "safestreets.ingest.counts",
    "load_population": "safestreets.ingest.counts",
    "generate_region": "safestreets.demo",
    "SafeStreetsError": "safestreets.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'safestreets' has no attribute {name!r}")
