"""The service's match indexes follow the store without rebuilding: changes since the base
build are masked there and indexed in a delta, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Engine

from safestreets.access.accounts import add_agency
from safestreets.access.policy import Principal
from safestreets.sharing import matcher, service
from safestreets.store import alerts as alert_store

OPERATOR = Principal.local_operator("tests")
NOW = datetime.now(UTC)


def _firearms(serials: list[str], *, prefix: str = "F") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "kind": ["stolen_firearm"] * len(serials),
            "external_id": [f"{prefix}-{s}" for s in serials],
            "serial": serials,
            "handling_code": ["REGIONAL"] * len(serials),
            "valid_until": [(NOW + timedelta(days=30)).isoformat()] * len(serials),
            "contact": ["DIGECAM"] * len(serials),
            "reason": ["hurto"] * len(serials),
        }
    )


def _load(engine: Engine, frame: pl.DataFrame) -> None:
    with engine.begin() as conn:
        service.load_alerts(conn, OPERATOR, frame, owner_agency="GT-PNC")


def _found(engine: Engine, key: str, serial: str) -> list[Any]:
    with engine.begin() as conn:
        idx = matcher.indexes(conn, key)
        return [c.key for c in idx.objects("firearm", {"serial": serial}, threshold=0.8)]


def _ids(engine: Engine, external: str) -> int:
    with engine.connect() as conn:
        frame = alert_store.alerts_for(
            OPERATOR, conn=conn, where=alert_store.AlertFilter(limit=None)
        )
    return int(frame.filter(pl.col("external_id") == external)["alert_id"][0])


def test_changes_are_indexed_without_a_rebuild(store: Engine) -> None:
    engine, key = store, f"matcher-test-{id(store)}"
    matcher.forget(key)
    with engine.begin() as conn:
        add_agency(conn, OPERATOR, agency_id="GT-PNC", name="PNC", country="GT")
    _load(engine, _firearms(["AB12345", "ZX99871", "QW55510"]))
    assert _found(engine, key, "AB12345") == [_ids(engine, "F-AB12345")]
    with engine.connect() as conn:
        first = matcher.indexes(conn, key)
    assert first.sizes["firearm"] == 3 and first.changed == 0

    # A new alert: found at once, from the delta; the base is the same object.
    _load(engine, _firearms(["MK70001"], prefix="N"))
    assert _found(engine, key, "MK70001") == [_ids(engine, "N-MK70001")]
    with engine.connect() as conn:
        second = matcher.indexes(conn, key)
    assert second.base is first.base and second.changed == 1
    assert second.sizes["firearm"] == 4

    # A cancelled alert is masked in the base (and never a hit).
    ref = alert_store.alerts_for(
        OPERATOR, conn=engine, where=alert_store.AlertFilter(limit=None)
    ).filter(pl.col("external_id") == "F-ZX99871")["reference"][0]
    with engine.begin() as conn:
        service.cancel_alert(conn, OPERATOR, ref)
    assert _found(engine, key, "ZX99871") == []
    with engine.connect() as conn:
        third = matcher.indexes(conn, key)
    assert third.base is first.base and third.changed == 2 and third.sizes["firearm"] == 3

    # A changed alert (new serial) answers to the new serial only.
    changed = _firearms(["QW55519"]).with_columns(external_id=pl.lit("F-QW55510"))
    _load(engine, changed)
    assert _found(engine, key, "QW55519") == [_ids(engine, "F-QW55510")]
    assert _found(engine, key, "QW55510") in ([], [_ids(engine, "F-QW55510")])  # one edit off
    with engine.connect() as conn:
        assert matcher.indexes(conn, key).sizes["firearm"] == 3


def test_many_changes_rebuild_the_base(store: Engine, monkeypatch: Any) -> None:
    engine, key = store, f"matcher-test-big-{id(store)}"
    matcher.forget(key)
    with engine.begin() as conn:
        add_agency(conn, OPERATOR, agency_id="GT-PNC", name="PNC", country="GT")
    _load(engine, _firearms(["AB12345"]))
    with engine.connect() as conn:
        first = matcher.indexes(conn, key)
    monkeypatch.setattr(matcher, "DELTA_MAX", 2)
    _load(engine, _firearms(["KA10001", "PL47293", "RT88120"], prefix="B"))
    with engine.connect() as conn:
        after = matcher.indexes(conn, key)
    assert after.base is not first.base and after.changed == 0
    assert after.sizes["firearm"] == 4
    assert _found(engine, key, "PL47293") == [_ids(engine, "B-PL47293")]
