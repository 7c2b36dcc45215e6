"""The demo's SYNTHETIC alerts: valid, deterministic, every kind and agency represented."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from safestreets import schema
from safestreets.demo.alerts import DEMO_AGENCIES, demo_alerts
from safestreets.sharing.alerts import validate_alerts

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def test_every_demo_alert_validates_and_every_kind_is_there() -> None:
    frames = demo_alerts(persons=300, vehicles=60, firearms=60, seed=3, now=NOW)
    assert sorted(frames) == sorted(a[0] for a in DEMO_AGENCIES)
    kinds: set[str] = set()
    for frame in frames.values():
        ready, problems = validate_alerts(frame, now=NOW)
        assert [p for p in problems if p.severity == "error"] == []
        assert ready.height == frame.height
        assert frame.get_column("reason").str.contains("SINTÉTICA").all()
        kinds |= set(frame.get_column("kind").to_list())
    assert kinds == set(schema.ALERT_KINDS)
    assert sum(f.height for f in frames.values()) == 420


def test_demo_alerts_are_deterministic() -> None:
    a = demo_alerts(persons=50, vehicles=5, firearms=5, seed=1, now=NOW)
    b = demo_alerts(persons=50, vehicles=5, firearms=5, seed=1, now=NOW)
    for agency in a:
        assert a[agency].equals(b[agency])
    c = demo_alerts(persons=50, vehicles=5, firearms=5, seed=2, now=NOW)
    assert not pl.concat(list(a.values()), how="diagonal").equals(
        pl.concat(list(c.values()), how="diagonal")
    )
