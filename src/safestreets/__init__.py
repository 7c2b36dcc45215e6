"""safestreets: citizen-security information system for Central America.

The names a notebook user needs, imported lazily so that ``import safestreets`` stays cheap::

    import safestreets as ss
    engine = ss.get_engine()                      # SAFESTREETS_DATABASE_URL or the SQLite file
    report = ss.ingest_file(path, ss.load_profile("cdmx-fgj"), engine)
    table = ss.compute_indicator(
        "homicide_rate", ss.Request(by=("country", "year")), ss.StoreData(engine)
    ).frame
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str | tuple[str, str]] = {
    "get_engine": "safestreets.store.engine",
    "ingest_file": "safestreets.ingest.load",
    "load_profile": "safestreets.ingest.profiles",
    "load_counts": "safestreets.ingest.counts",
    "load_population": "safestreets.ingest.counts",
    "generate_region": "safestreets.demo",
    "SafeStreetsError": "safestreets.errors",
    "compute_indicator": ("safestreets.stats.indicators", "compute"),
    "Request": "safestreets.stats.indicators",
    "StoreData": "safestreets.store.aggregates",
    "FrameData": "safestreets.stats.frames",
    "load_catalogue": "safestreets.stats.catalogue",
    "make_public": "safestreets.stats.publish",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        target = _EXPORTS[name]
        module, attr = target if isinstance(target, tuple) else (target, name)
        return getattr(import_module(module), attr)
    raise AttributeError(f"module 'safestreets' has no attribute {name!r}")
