"""The alert exchange through the API: alerts, hit/no-hit, follow-up requests, on each backend.

The world of tests/api/conftest.py (GT-PNC, GT-MP, SV-PNC, SICA) plus two accounts made
here: ``sv-liaison`` (queries from El Salvador) and ``sv-colleague`` (same agency, liaison,
who must not see what was released to ``sv-liaison``).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.api.conftest import OPERATOR, World, audit_entries

from safestreets.access.accounts import add_user, create_token
from safestreets.access.audit import verify
from safestreets.sharing import matcher
from safestreets.sharing.ids import make_valid_id

NOW = datetime.now(UTC)
DPI = make_valid_id("GT", random.Random(7))


def _iso(d: datetime) -> str:
    return d.isoformat()


def person_alert(external_id: str, code: str, **person: Any) -> dict[str, Any]:
    return {
        "kind": "wanted_person",
        "external_id": external_id,
        "handling_code": code,
        "valid_until": _iso(NOW + timedelta(days=90)),
        "contact": "PNC Guatemala, INTERPOL desk, +502 2329 0000",
        "reason": "orden de captura por homicidio",
        "iccs_code": "0101",
        "warrant_ref": "JUZ-1-2026-0042",
        "person": {
            "given_names": "José Luis",
            "surname_1": "Hernández",
            "surname_2": "López",
            "date_of_birth": "1985-03-07",
            "sex": "M",
            "national_id": DPI,
            "id_country": "GT",
            "nationality": "GT",
            **person,
        },
    }


@pytest.fixture
def exchange(world: World) -> World:
    """The world plus the two SV liaison accounts and GT-PNC's alerts."""
    matcher.forget()
    with world.engine.begin() as conn:
        for name in ("sv-liaison", "sv-colleague"):
            add_user(conn, OPERATOR, username=name, agency_id="SV-PNC", roles=("liaison",))
            world.tokens[name] = create_token(conn, OPERATOR, name).secret
    gt = world.auth("gt-liaison")
    alerts = [
        person_alert("WP-1", "RESTRICTED"),
        {
            "kind": "stolen_vehicle",
            "external_id": "SV-1",
            "handling_code": "REGIONAL",
            "valid_until": _iso(NOW + timedelta(days=30)),
            "contact": "PNC Guatemala, DIPANDA",
            "reason": "denuncia de robo 2026-11-02",
            "vehicle": {"plate": "P-123ABC", "plate_country": "GT", "make": "Toyota"},
        },
        {
            "kind": "stolen_firearm",
            "external_id": "SF-1",
            "handling_code": "NATIONAL",
            "valid_until": _iso(NOW + timedelta(days=30)),
            "contact": "DIGECAM",
            "reason": "hurto de arma registrada",
            "firearm": {"serial": "AB12345", "make": "Glock", "model": "17", "calibre": "9mm"},
        },
    ]
    world.refs = {}  # type: ignore[attr-defined]
    for body in alerts:
        r = world.client.post("/api/v1/alerts", json=body, headers=gt)
        assert r.status_code == 201, r.text
        world.refs[body["external_id"]] = r.json()["reference"]  # type: ignore[attr-defined]
    return world


def query(world: World, user: str, body: dict[str, Any]) -> Any:
    return world.client.post("/api/v1/hits/query", json=body, headers=world.auth(user))


PEPE = {
    "given_names": "Pepe Luis",
    "surname_1": "Hernandez",
    "surname_2": "Lopez",
    "date_of_birth": "1985-03-07",
}


def test_restricted_person_hit_reveals_no_personal_data(exchange: World) -> None:
    r = query(exchange, "sv-liaison", {"subject": "person", "person": PEPE, "purpose": "frontera"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["result"] == "hit"
    (hit,) = body["hits"]
    assert hit["reference"] == exchange.refs["WP-1"]  # type: ignore[attr-defined]
    assert hit["kind"] == "wanted_person"
    assert hit["owner_agency"] == "GT-PNC"
    assert hit["contact"].startswith("PNC Guatemala")
    assert hit["instructions"]
    assert hit["details"] is None and hit["follow_up"] is True
    assert "Hern" not in r.text and DPI not in r.text


def test_no_hit_for_someone_else(exchange: World) -> None:
    r = query(
        exchange,
        "sv-liaison",
        {"subject": "person", "person": {"given_names": "Ana", "surname_1": "Mejía",
                                          "date_of_birth": "1999-12-01"}},
    )  # fmt: skip
    assert r.status_code == 200 and r.json() == {
        "result": "no_hit",
        "query_id": r.json()["query_id"],
        "subject": "person",
        "hits": [],
    }


def test_regional_vehicle_hit_shows_details_and_national_firearm_does_not(
    exchange: World,
) -> None:
    v = query(
        exchange, "sv-liaison", {"subject": "vehicle", "vehicle": {"plate": "p 123 abc",
                                                                    "plate_country": "GT"}}
    ).json()  # fmt: skip
    assert v["result"] == "hit"
    assert v["hits"][0]["details"]["plate"] == "P-123ABC"
    f = query(
        exchange,
        "sv-liaison",
        {"subject": "firearm", "firearm": {"serial": "A812345", "calibre": "9 mm"}},
    ).json()
    assert f["result"] == "hit", f
    assert f["hits"][0]["reference"] == exchange.refs["SF-1"]  # type: ignore[attr-defined]
    assert f["hits"][0]["details"] is None


def test_only_liaison_and_regional_may_query(exchange: World) -> None:
    body = {"subject": "person", "person": PEPE}
    for user in ("gt-viewer", "sv-analyst", "gt-admin"):
        assert query(exchange, user, body).status_code == 403, user
    assert exchange.client.post("/api/v1/hits/query", json=body).status_code == 401
    assert query(exchange, "sica-regional", body).json()["result"] == "hit"


def test_bad_queries_are_clear(exchange: World) -> None:
    r = query(exchange, "sv-liaison", {"subject": "person", "person": {"nombre": "x"}})
    assert r.status_code == 422
    r = query(exchange, "sv-liaison", {"subject": "person", "vehicle": {"plate": "X"}})
    assert r.status_code == 400 and "only the person fields" in r.json()["error"]["message"]
    r = query(exchange, "sv-liaison", {"subject": "person", "person": {}})
    assert r.status_code == 400


def test_expired_and_cancelled_alerts_never_hit(exchange: World) -> None:
    gt = exchange.auth("gt-liaison")
    old = person_alert("WP-OLD", "REGIONAL", given_names="Marta", surname_1="Quiñónez",
                       surname_2="Ruiz", date_of_birth="1970-01-02", national_id=None)  # fmt: skip
    old["valid_from"] = _iso(NOW - timedelta(days=60))
    old["valid_until"] = _iso(NOW - timedelta(days=1))
    r = exchange.client.post("/api/v1/alerts", json=old, headers=gt)
    assert r.status_code == 201
    assert [w["reason"] for w in r.json()["warnings"]] == ["already_expired"]
    marta = {"given_names": "Marta", "surname_1": "Quiñónez", "surname_2": "Ruiz",
             "date_of_birth": "1970-01-02"}  # fmt: skip
    assert (
        query(exchange, "sv-liaison", {"subject": "person", "person": marta}).json()["result"]
        == "no_hit"
    )
    ref = exchange.refs["SV-1"]  # type: ignore[attr-defined]
    r = exchange.client.patch(f"/api/v1/alerts/{ref}", json={"status": "cancelled"}, headers=gt)
    assert r.status_code == 200, r.text
    v = query(exchange, "sv-liaison", {"subject": "vehicle", "vehicle": {"plate": "P-123ABC"}})
    assert v.json()["result"] == "no_hit"


def test_alerts_are_managed_by_their_owner_only(exchange: World) -> None:
    ref = exchange.refs["WP-1"]  # type: ignore[attr-defined]
    body = {"contact": "otra"}
    assert (
        exchange.client.patch(
            f"/api/v1/alerts/{ref}", json=body, headers=exchange.auth("sv-liaison")
        ).status_code
        == 403
    )
    assert (
        exchange.client.patch(
            f"/api/v1/alerts/{ref}", json=body, headers=exchange.auth("gt-viewer")
        ).status_code
        == 403
    )
    bad = person_alert("WP-2", "RESTRICTED")
    bad["iccs_code"] = "99"
    r = exchange.client.post("/api/v1/alerts", json=bad, headers=exchange.auth("gt-liaison"))
    assert r.status_code == 400 and "iccs_code" in r.json()["error"]["message"]
    again = exchange.client.post(
        "/api/v1/alerts",
        json=person_alert("WP-1", "RESTRICTED"),
        headers=exchange.auth("gt-liaison"),
    )
    assert again.status_code == 400 and "already has" in again.json()["error"]["message"]


def test_alert_reads_follow_the_visibility_rule(exchange: World) -> None:
    # RESTRICTED (no grant) and NATIONAL alerts of GT-PNC are not SV's to read; REGIONAL is.
    seen = exchange.get("/api/v1/alerts", "sv-analyst").json()["items"]
    assert [a["external_id"] for a in seen] == ["SV-1"]
    own = exchange.get("/api/v1/alerts", "gt-viewer").json()["items"]
    assert {a["external_id"] for a in own} == {"WP-1", "SV-1", "SF-1"}
    ref = exchange.refs["WP-1"]  # type: ignore[attr-defined]
    assert exchange.get(f"/api/v1/alerts/{ref}", "sv-analyst").status_code == 404
    assert exchange.get(f"/api/v1/alerts/{ref}", "gt-viewer").json()["surname_1"] == "Hernández"


def test_follow_up_flow_and_its_audit_trail(exchange: World) -> None:
    answer = query(exchange, "sv-liaison", {"subject": "person", "person": PEPE}).json()
    ref, qid = answer["hits"][0]["reference"], answer["query_id"]
    post = exchange.client.post
    # Only the officer who ran the query may file the request, with a reason.
    r = post(f"/api/v1/hits/{qid}/requests", json={"reference": ref, "reason": "x"},
             headers=exchange.auth("sv-colleague"))  # fmt: skip
    assert r.status_code == 403
    r = post(f"/api/v1/hits/{qid}/requests", json={"reference": "GT-WP-00000000", "reason": "x"},
             headers=exchange.auth("sv-liaison"))  # fmt: skip
    assert r.status_code == 404
    r = post(
        f"/api/v1/hits/{qid}/requests",
        json={"reference": ref, "reason": "persona retenida en El Amatillo"},
        headers=exchange.auth("sv-liaison"),
    )
    assert r.status_code == 201, r.text
    rid = r.json()["request_id"]
    received = exchange.get("/api/v1/requests", "gt-admin").json()["received"]
    assert [x["request_id"] for x in received] == [rid]
    assert exchange.get("/api/v1/requests", "sv-liaison").json()["sent"][0]["status"] == "pending"
    # Nothing is released before the decision.
    assert exchange.get(f"/api/v1/requests/{rid}/details", "sv-liaison").status_code == 404
    decide = f"/api/v1/requests/{rid}/decision"
    approve = {"decision": "approve", "reason": "identidad confirmada"}
    for user in ("gt-analyst", "sv-admin", "sv-liaison"):
        assert post(decide, json=approve, headers=exchange.auth(user)).status_code == 403, user
    r = post(decide, json=approve, headers=exchange.auth("gt-admin"))
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert post(decide, json=approve, headers=exchange.auth("gt-admin")).status_code == 400
    details = exchange.get(f"/api/v1/requests/{rid}/details", "sv-liaison")
    assert details.status_code == 200
    d = details.json()
    assert d["details"]["surname_1"] == "Hernández" and d["details"]["national_id"] == DPI
    assert d["warrant_ref"] == "JUZ-1-2026-0042"
    # Released to the requester only: a colleague of the same agency gets 404.
    assert exchange.get(f"/api/v1/requests/{rid}/details", "sv-colleague").status_code == 404
    # The owner sees who searched for its alerts.
    searches = exchange.get("/api/v1/searches", "gt-admin").json()["items"]
    assert {(s["actor"], s["agency"], s["reference"]) for s in searches} == {
        ("sv-liaison", "SV-PNC", ref)
    }
    assert exchange.get("/api/v1/searches", "gt-viewer").status_code == 403
    # Every step is in the chain, in the right trails.
    (q,) = [e for e in audit_entries(exchange.engine, "hits:query") if e["target"] == str(qid)]
    assert q["agency"] == "SV-PNC" and q["detail"]["result"] == "hit"
    (h,) = [e for e in audit_entries(exchange.engine, "hits:hit") if e["target"] == str(qid)]
    assert h["agency"] == "GT-PNC" and h["detail"]["by_agency"] == "SV-PNC"
    for action, agency in (
        ("request:file", "SV-PNC"),
        ("request:received", "GT-PNC"),
        ("request:approve", "GT-PNC"),
        ("request:decided", "SV-PNC"),
        ("read:released", "SV-PNC"),
        ("read:searches", "GT-PNC"),
    ):
        entries = audit_entries(exchange.engine, action)
        assert [e["agency"] for e in entries] == [agency], action
    assert verify(exchange.engine).ok


def test_denied_request_releases_nothing(exchange: World) -> None:
    answer = query(exchange, "sv-liaison", {"subject": "person", "person": PEPE}).json()
    ref, qid = answer["hits"][0]["reference"], answer["query_id"]
    rid = exchange.client.post(
        f"/api/v1/hits/{qid}/requests",
        json={"reference": ref, "reason": "control rutinario"},
        headers=exchange.auth("sv-liaison"),
    ).json()["request_id"]
    r = exchange.client.post(
        f"/api/v1/requests/{rid}/decision",
        json={"decision": "deny", "reason": "motivo insuficiente"},
        headers=exchange.auth("gt-liaison"),
    )
    assert r.json()["status"] == "denied"
    assert exchange.get(f"/api/v1/requests/{rid}/details", "sv-liaison").status_code == 404
    sent = exchange.get("/api/v1/requests", "sv-liaison").json()["sent"]
    assert sent[0]["decision_reason"] == "motivo insuficiente"


def _encoded(person: dict[str, Any], key: bytes) -> tuple[str, str | None]:
    import polars as pl

    from safestreets.sharing.clk import block_key_strings, block_keys, encode, to_base64
    from safestreets.sharing.names import normalise_persons

    one = normalise_persons(
        pl.DataFrame({"record_id": ["x"], **{k: [v] for k, v in person.items()}})
    )
    return to_base64(encode(one, key)[0]), block_key_strings(block_keys(one, key))[0]


def test_privacy_preserving_alerts_hit_by_encoding_and_reveal_nothing(
    world: World, tmp_path: Any
) -> None:
    """A person contributed only as a keyed encoding: an encoded query hits it; with the
    shared key configured, a plain query hits it too; neither answer holds personal data."""
    from fastapi.testclient import TestClient

    from safestreets.api.app import create_app
    from safestreets.config import Settings

    matcher.forget()
    key = b"member-countries-shared-key-2026"
    key_file = tmp_path / "clk.key"
    key_file.write_bytes(key)
    with world.engine.begin() as conn:
        add_user(conn, OPERATOR, username="sv-liaison", agency_id="SV-PNC", roles=("liaison",))
        world.tokens["sv-liaison"] = create_token(conn, OPERATOR, "sv-liaison").secret
    person = {"given_names": "Rosa María", "surname_1": "Alvarado", "surname_2": "Cruz",
              "date_of_birth": "1990-06-15", "sex": "F"}  # fmt: skip
    clk, blocks = _encoded(person, key)
    body = {
        "kind": "missing_person",
        "external_id": "MP-CLK-1",
        "handling_code": "REGIONAL",
        "valid_until": _iso(NOW + timedelta(days=30)),
        "contact": "PNC Guatemala, personas desaparecidas",
        "reason": "denuncia de desaparición",
        "clk": clk,
        "clk_blocks": blocks,
    }
    r = world.client.post("/api/v1/alerts", json=body, headers=world.auth("gt-liaison"))
    assert r.status_code == 201, r.text
    ref = r.json()["reference"]

    typo = {**person, "surname_1": "Albarado"}
    q_clk, q_blocks = _encoded(typo, key)
    r = query(world, "sv-liaison", {"subject": "person", "clk": q_clk, "clk_blocks": q_blocks})
    hit = r.json()
    assert hit["result"] == "hit", hit
    assert hit["hits"][0]["reference"] == ref and hit["hits"][0]["details"] is None
    # Another key gives unrelated bits: no hit.
    other, _ = _encoded(person, b"some-other-key-of-32-bytes-long!")
    assert (
        query(world, "sv-liaison", {"subject": "person", "clk": other}).json()["result"] == "no_hit"
    )
    # Plain queries reach encoded alerts only when the server holds the shared key.
    assert (
        query(world, "sv-liaison", {"subject": "person", "person": typo}).json()["result"]
        == "no_hit"
    )
    keyed = TestClient(create_app(Settings(data_dir=tmp_path, clk_key_file=key_file), world.engine))
    r = keyed.post(
        "/api/v1/hits/query",
        json={"subject": "person", "person": typo},
        headers=world.auth("sv-liaison"),
    )
    assert r.json()["result"] == "hit" and r.json()["hits"][0]["details"] is None
    (q,) = [e for e in audit_entries(world.engine, "hits:query") if e["detail"]["mode"] == "clk"][
        :1
    ]
    assert q["detail"]["references"] == [ref]


def test_reloading_without_validity_dates_changes_nothing(world: World) -> None:
    """Validity filled in from the clock (no valid_from in the file, valid_days in the
    profile) is kept on a re-run another day: the same rows count as unchanged."""
    import polars as pl

    from safestreets.sharing.service import load_alerts

    frame = pl.DataFrame(
        {
            "kind": ["stolen_firearm"],
            "external_id": ["F-9"],
            "serial": ["XK20931"],
            "handling_code": ["REGIONAL"],
            "contact": ["DIGECAM"],
            "reason": ["hurto"],
        }
    )
    day1, day2 = NOW, NOW + timedelta(days=3)
    with world.engine.begin() as conn:
        first = load_alerts(conn, OPERATOR, frame, owner_agency="GT-PNC", valid_days=90, now=day1)
    with world.engine.begin() as conn:
        again = load_alerts(conn, OPERATOR, frame, owner_agency="GT-PNC", valid_days=90, now=day2)
        changed = load_alerts(
            conn,
            OPERATOR,
            frame.with_columns(contact=pl.lit("DIGECAM, oficina 2")),
            owner_agency="GT-PNC",
            valid_days=90,
            now=day2,
        )
    assert first.counts.as_dict() == {"inserted": 1, "updated": 0, "unchanged": 0}
    assert again.counts.as_dict() == {"inserted": 0, "updated": 0, "unchanged": 1}
    assert changed.counts.as_dict() == {"inserted": 0, "updated": 1, "unchanged": 0}
    row = world.get("/api/v1/alerts?kind=stolen_firearm", "gt-viewer").json()["items"][0]
    assert row["contact"] == "DIGECAM, oficina 2"
    assert row["valid_until"].startswith((day1 + timedelta(days=90)).date().isoformat())


def test_a_starting_server_builds_the_match_indexes(exchange: World, tmp_path: Any) -> None:
    import time

    from fastapi.testclient import TestClient

    from safestreets.api.app import create_app
    from safestreets.config import Settings

    matcher.forget()
    key = str(exchange.engine.url)
    with TestClient(create_app(Settings(data_dir=tmp_path), exchange.engine)):
        deadline = time.monotonic() + 30
        while key not in matcher._CACHE and time.monotonic() < deadline:
            time.sleep(0.05)
        warmed = matcher._CACHE.get(key)
    assert warmed is not None
    assert warmed.sizes == {"person": 1, "clk": 0, "vehicle": 1, "firearm": 1}
