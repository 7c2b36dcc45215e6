"""The service's in-memory match indexes over the active alerts, kept fresh by version.

A hit/no-hit query must answer in milliseconds against a million alerts, so the service
keeps one index per subject (persons in plain text, persons as privacy-preserving encodings,
vehicles, firearms) in memory, built from the store. Every change to the alerts bumps the
store's ``alert_state.version`` in the same transaction; each query reads that one number and
rebuilds the indexes when it moved. Expiry needs no rebuild: every candidate is checked
against the store (status and validity) before it becomes a hit.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Connection, Engine

from safestreets import schema
from safestreets.sharing.alerts import FIREARM_FIELDS, PERSON_FIELDS, VEHICLE_FIELDS
from safestreets.store import alerts as store

__all__ = ["MatchIndexes", "indexes"]

_KINDS_OF: dict[str, list[str]] = {}
for _kind, _subject in schema.ALERT_KINDS.items():
    _KINDS_OF.setdefault(_subject, []).append(_kind)


@dataclass
class MatchIndexes:
    """The indexes of one store at one alert version."""

    version: int
    built_at: datetime
    person: Any = None
    clk: Any = None
    vehicle: Any = None
    firearm: Any = None
    sizes: dict[str, int] = field(default_factory=dict)


def _text(fields: tuple[str, ...]) -> list[pl.Expr]:
    # A column that is empty in every stored alert comes back untyped (Null): make it text.
    return [pl.col(f).cast(pl.String) for f in fields]


def _build(conn: Connection | Engine, version: int) -> MatchIndexes:
    from safestreets.sharing.index import ClkIndex, FirearmIndex, PersonIndex, VehicleIndex

    now = datetime.now(UTC)
    out = MatchIndexes(version=version, built_at=now)
    persons = store.index_frame(conn, _KINDS_OF["person"], now=now)
    if persons.height:
        plain = persons.filter(pl.col("encoding") == "plain")
        out.person = PersonIndex.build(
            plain.select(
                pl.col("alert_id").alias("key"), *[pl.col(c).cast(pl.String) for c in PERSON_FIELDS]
            )
        )
        encoded = persons.filter(pl.col("encoding") == "clk")
        if encoded.height:
            blobs = encoded.get_column("clk").to_list()
            bits = np.frombuffer(b"".join(blobs), dtype=np.uint64).reshape(len(blobs), -1)
            blocks = encoded.get_column("clk_blocks").cast(pl.String)
            out.clk = ClkIndex.build(
                encoded.get_column("alert_id").to_numpy(),
                bits,
                # Blocks only when every encoding has them (else those without would be missed).
                blocks=blocks if blocks.null_count() == 0 else None,
            )
        out.sizes = {"person": plain.height, "clk": encoded.height}
    vehicles = store.index_frame(conn, _KINDS_OF["vehicle"], now=now)
    if vehicles.height:
        out.vehicle = VehicleIndex.build(
            vehicles.select(pl.col("alert_id").alias("key"), *_text(VEHICLE_FIELDS))
        )
    firearms = store.index_frame(conn, _KINDS_OF["firearm"], now=now)
    if firearms.height:
        out.firearm = FirearmIndex.build(
            firearms.select(pl.col("alert_id").alias("key"), *_text(FIREARM_FIELDS))
        )
    out.sizes.update({"vehicle": vehicles.height, "firearm": firearms.height})
    return out


_CACHE: dict[str, MatchIndexes] = {}
_LOCK = threading.Lock()


def indexes(conn: Connection, cache_key: str) -> MatchIndexes:
    """The indexes for the store behind ``conn`` (``cache_key`` names it, e.g. its URL),
    rebuilt when the alerts changed since they were built."""
    version = store.alert_version(conn)
    current = _CACHE.get(cache_key)
    if current is not None and current.version == version:
        return current
    with _LOCK:
        current = _CACHE.get(cache_key)
        if current is None or current.version != version:
            current = _build(conn, version)
            _CACHE[cache_key] = current
    return current


def forget(cache_key: str | None = None) -> None:
    """Drop cached indexes (all of them without a key): tests and reloads."""
    with _LOCK:
        if cache_key is None:
            _CACHE.clear()
        else:
            _CACHE.pop(cache_key, None)
