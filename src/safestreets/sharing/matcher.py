"""The service's in-memory match indexes over the active alerts, kept fresh by version.

A hit/no-hit query must answer in milliseconds against a million alerts, so the service
keeps one index per subject (persons in plain text, persons as privacy-preserving encodings,
vehicles, firearms) in memory, built from the store. Every write to the alerts takes the next
``alert_state.version`` and stamps it on the rows it writes, in the same transaction; each
query reads that one number. When it moved, only the alerts written since the full (base)
build are read again: they are masked in the base indexes and indexed afresh in small delta
indexes, so creating or cancelling one alert costs milliseconds, not a rebuild of a million.
Past :data:`DELTA_MAX` changed alerts the base is rebuilt. Expiry needs nothing: every
candidate is checked against the store (status and validity) before it becomes a hit.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import polars as pl
from sqlalchemy import Connection, Engine

from safestreets import schema
from safestreets.sharing.alerts import FIREARM_FIELDS, PERSON_FIELDS, VEHICLE_FIELDS
from safestreets.store import alerts as store

__all__ = ["DELTA_MAX", "MatchIndexes", "forget", "indexes"]

#: Alerts changed since the base build above which the base is rebuilt instead.
DELTA_MAX: Final = 20_000

_KINDS_OF: dict[str, list[str]] = {}
for _kind, _subject in schema.ALERT_KINDS.items():
    _KINDS_OF.setdefault(_subject, []).append(_kind)


@dataclass
class _Set:
    """One index per subject over one set of alerts (None: no such alert)."""

    person: Any = None
    clk: Any = None
    vehicle: Any = None
    firearm: Any = None
    sizes: dict[str, int] = field(default_factory=dict)

    def each(self) -> list[Any]:
        return [i for i in (self.person, self.clk, self.vehicle, self.firearm) if i is not None]


def _text(fields: tuple[str, ...]) -> list[pl.Expr]:
    # A column that is empty in every stored alert comes back untyped (Null): make it text.
    return [pl.col(f).cast(pl.String) for f in fields]


def _build_set(alerts: pl.DataFrame) -> _Set:
    """One index per subject over these alerts (``store.INDEXED`` columns, any kinds)."""
    from safestreets.sharing.index import ClkIndex, FirearmIndex, PersonIndex, VehicleIndex

    def of(subject: str) -> pl.DataFrame:
        return alerts.filter(pl.col("kind").is_in(_KINDS_OF[subject])) if alerts.height else alerts

    out = _Set()
    persons = of("person")
    plain = persons.filter(pl.col("encoding") == "plain") if persons.height else persons
    encoded = persons.filter(pl.col("encoding") == "clk") if persons.height else persons
    if plain.height:
        out.person = PersonIndex.build(
            plain.select(pl.col("alert_id").alias("key"), *_text(PERSON_FIELDS))
        )
    if encoded.height:
        blobs = encoded.get_column("clk").to_list()
        bits = np.frombuffer(b"".join(blobs), dtype=np.uint64).reshape(len(blobs), -1)
        out.clk = ClkIndex.build(
            encoded.get_column("alert_id").to_numpy(),
            bits,
            blocks=encoded.get_column("clk_blocks").cast(pl.String),
        )
    vehicles, firearms = of("vehicle"), of("firearm")
    if vehicles.height:
        out.vehicle = VehicleIndex.build(
            vehicles.select(pl.col("alert_id").alias("key"), *_text(VEHICLE_FIELDS))
        )
    if firearms.height:
        out.firearm = FirearmIndex.build(
            firearms.select(pl.col("alert_id").alias("key"), *_text(FIREARM_FIELDS))
        )
    out.sizes = {
        "person": plain.height,
        "clk": encoded.height,
        "vehicle": vehicles.height,
        "firearm": firearms.height,
    }
    return out


@dataclass
class MatchIndexes:
    """The indexes of one store at one alert version: a base and the changes since."""

    #: The store's alert version these indexes answer for.
    version: int
    #: The version of the last full build; alerts written after it are in ``delta``.
    base_version: int
    built_at: datetime
    base: _Set
    delta: _Set = field(default_factory=_Set)
    #: Alerts written since the base build (masked in the base).
    changed: int = 0

    @property
    def sizes(self) -> dict[str, int]:
        """Alerts indexed per subject (base minus masked, plus delta)."""
        names = ("person", "clk", "vehicle", "firearm")
        out = {}
        for name in names:
            base = getattr(self.base, name)
            delta = getattr(self.delta, name)
            out[name] = (len(base) if base is not None else 0) + (
                len(delta) if delta is not None else 0
            )
        return out

    def _both(self, name: str) -> list[Any]:
        return [i for i in (getattr(self.base, name), getattr(self.delta, name)) if i is not None]

    def persons(self, record: Mapping[str, Any], *, threshold: float) -> list[Any]:
        """Person candidates (plain-text alerts) from the base and the delta."""
        return [c for i in self._both("person") for c in i.query(record, threshold=threshold)]

    def encodings(self, bits: Any, *, threshold: float, blocks: str | None) -> list[Any]:
        """Candidates among the alerts contributed as encodings."""
        return [
            c for i in self._both("clk") for c in i.query(bits, threshold=threshold, blocks=blocks)
        ]

    def objects(self, subject: str, record: Mapping[str, Any], *, threshold: float) -> list[Any]:
        """Vehicle or firearm candidates."""
        return [c for i in self._both(subject) for c in i.query(record, threshold=threshold)]


def _full(conn: Connection | Engine, version: int) -> MatchIndexes:
    now = datetime.now(UTC)
    # The version is read before the rows: rows written meanwhile carry a higher version and
    # are read again (masked in the base, indexed in the delta) on the next refresh.
    base = _build_set(store.index_frame(conn, now=now))
    return MatchIndexes(version=version, base_version=version, built_at=now, base=base)


def _refresh(conn: Connection | Engine, current: MatchIndexes, version: int) -> MatchIndexes:
    now = datetime.now(UTC)
    changed, live = store.changed_alerts(conn, current.base_version, now=now)
    if len(changed) > DELTA_MAX:
        return _full(conn, version)
    for index in current.base.each():
        index.remove(changed)  # a mask: repeated removals are harmless
    return MatchIndexes(
        version=version,
        base_version=current.base_version,
        built_at=current.built_at,
        base=current.base,
        delta=_build_set(live),
        changed=len(changed),
    )


_CACHE: dict[str, MatchIndexes] = {}
_LOCK = threading.Lock()


def indexes(conn: Connection, cache_key: str) -> MatchIndexes:
    """The indexes for the store behind ``conn`` (``cache_key`` names it, e.g. its URL),
    brought up to date when the alerts changed since they were last read."""
    version = store.alert_version(conn)
    current = _CACHE.get(cache_key)
    if current is not None and current.version == version:
        return current
    with _LOCK:
        current = _CACHE.get(cache_key)
        if current is None:
            current = _full(conn, version)
        elif current.version != version:
            current = _refresh(conn, current, version)
        _CACHE[cache_key] = current
    return current


def forget(cache_key: str | None = None) -> None:
    """Drop cached indexes (all of them without a key): tests and reloads."""
    with _LOCK:
        if cache_key is None:
            _CACHE.clear()
        else:
            _CACHE.pop(cache_key, None)
