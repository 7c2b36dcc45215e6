"""The alert exchange's access rules and audit entries, through the services, on both backends.

A small region: GT-PNC (Guatemala) owns alerts of every handling code; SV-PNC (El Salvador)
asks; SICA is a regional body without a country. Each test states one rule of the flow
(hit/no-hit, what a hit reveals, expiry, who may query, file, decide and read) and what it
leaves in the hash-chained audit log.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, select

from safestreets.access.accounts import add_agency, add_user, principal_for
from safestreets.access.audit import verify
from safestreets.access.policy import Principal
from safestreets.errors import AccessDenied, InputError, NotFound
from safestreets.sharing import matcher, service
from safestreets.store import tables
from safestreets.store.alerts import expire_alerts

OPERATOR = Principal.local_operator("test")
SECRET = "test-secret-key"
# The indexes are built on the real clock: the test's clock must be close to it.
T0 = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)

USERS = {
    "gt_admin": ("GT-PNC", ["admin"]),
    "gt_liaison": ("GT-PNC", ["liaison"]),
    "gt_analyst": ("GT-PNC", ["analyst"]),
    "sv_liaison": ("SV-PNC", ["liaison"]),
    "sv_colleague": ("SV-PNC", ["liaison"]),
    "sv_admin": ("SV-PNC", ["admin"]),
    "sv_analyst": ("SV-PNC", ["analyst"]),
    "sv_viewer": ("SV-PNC", ["viewer"]),
    "sica_officer": ("SICA", ["regional"]),
}

COMMON = {
    "valid_from": (T0 - DAY).isoformat(),
    "valid_until": (T0 + 365 * DAY).isoformat(),
    "contact": "PNC Guatemala, INTERPOL desk +502 0000-0000",
    "reason": "test alert",
}
VEHICLES = {
    "V-REG": ("REGIONAL", "P111AAA"),
    "V-RES": ("RESTRICTED", "P222BBB"),
    "V-NAT": ("NATIONAL", "P333CCC"),
    "V-PUB": ("PUBLIC", "P444DDD"),
    "V-SOON": ("REGIONAL", "P555EEE"),  # valid 10 days only
    "V-CAN": ("REGIONAL", "P666FFF"),  # cancelled by its owner
    "V-OLD": ("REGIONAL", "P777GGG"),  # already expired when loaded
}
PERSONS = {
    "P-REG": ("REGIONAL", "wanted_person", "Juan Carlos", "Hernández", "Morales", "1987-04-12"),
    "P-RES": ("RESTRICTED", "wanted_person", "Rosa Elena", "Pérez", "de León", "1990-11-30"),
    "P-NAT": ("NATIONAL", "missing_person", "Kevin Alexander", "Chávez", "Gómez", "2012-02-05"),
}


@dataclass
class World:
    engine: Engine
    cache_key: str
    refs: dict[str, str]
    users: dict[str, Principal]

    def query(self, who: str, subject: str, record: dict[str, Any], **kw: Any) -> Any:
        with self.engine.begin() as conn:
            return service.query_hits(
                conn,
                self.users[who],
                subject=subject,
                record=record,
                cache_key=self.cache_key,
                secret=SECRET,
                now=kw.pop("now", T0),
                **kw,
            )

    def plate(self, who: str, plate: str, **kw: Any) -> Any:
        return self.query(who, "vehicle", {"plate": plate, "plate_country": "GT"}, **kw)

    def audit(self, action: str) -> list[dict[str, Any]]:
        a = tables.audit_log
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(a.c.actor, a.c.agency, a.c.target, a.c.detail)
                .where(a.c.action == action)
                .order_by(a.c.seq)
            ).all()
        return [
            {
                "actor": r.actor,
                "agency": r.agency,
                "target": r.target,
                "detail": json.loads(r.detail) if r.detail else None,
            }
            for r in rows
        ]


def _alert_frame() -> pl.DataFrame:
    rows: list[dict[str, str | None]] = []
    for ext, (code, plate) in VEHICLES.items():
        row = {**COMMON, "kind": "stolen_vehicle", "external_id": ext, "handling_code": code}
        row.update(plate=plate, plate_country="GT", make="Toyota", model="Hilux", colour="blanco")
        if ext == "V-SOON":
            row["valid_until"] = (T0 + 10 * DAY).isoformat()
        if ext == "V-OLD":
            row["valid_from"] = (T0 - 30 * DAY).isoformat()
            row["valid_until"] = (T0 - DAY).isoformat()
        rows.append(row)
    rows.append(
        {
            **COMMON,
            "kind": "stolen_firearm",
            "external_id": "F-REG",
            "handling_code": "REGIONAL",
            "serial": "GLK4471B",
            "make": "Glock",
            "model": "17",
            "calibre": "9mm",
        }
    )
    for ext, (code, kind, given, s1, s2, dob) in PERSONS.items():
        row = {**COMMON, "kind": kind, "external_id": ext, "handling_code": code}
        row.update(given_names=given, surname_1=s1, surname_2=s2, date_of_birth=dob, sex="M")
        if kind == "wanted_person":
            row.update(warrant_ref=f"OC-{ext}", iccs_code="0101")
        rows.append(row)
    columns = sorted({k for r in rows for k in r})
    return pl.DataFrame({c: [r.get(c) for r in rows] for c in columns})


@pytest.fixture
def world(store: Engine) -> Iterator[World]:
    with store.begin() as conn:
        add_agency(conn, OPERATOR, agency_id="GT-PNC", name="PNC Guatemala", country="GT")
        add_agency(conn, OPERATOR, agency_id="SV-PNC", name="PNC El Salvador", country="SV")
        add_agency(conn, OPERATOR, agency_id="SICA", name="SICA", country=None)
        for name, (agency, roles) in USERS.items():
            add_user(conn, OPERATOR, username=name, agency_id=agency, roles=roles)
        users = {name: principal_for(conn, name) for name in USERS}
    with store.begin() as conn:
        result = service.load_alerts(
            conn, users["gt_analyst"], _alert_frame(), owner_agency="GT-PNC", now=T0
        )
    assert result.counts.inserted == len(VEHICLES) + 1 + len(PERSONS), result.problems
    with store.connect() as conn:
        refs = dict(
            conn.execute(select(tables.alert.c.external_id, tables.alert.c.reference)).all()
        )
    with store.begin() as conn:
        service.cancel_alert(conn, users["gt_analyst"], refs["V-CAN"], now=T0)
    key = f"test-{uuid.uuid4().hex}"  # PostgreSQL test schemas share one URL
    yield World(store, key, refs, users)
    matcher.forget(key)


# --- what a hit reveals ---------------------------------------------------------------------


def test_regional_alert_hit_gives_a_member_liaison_the_details(world: World) -> None:
    answer = world.plate("sv_liaison", "P111AAA")
    assert answer.result == "hit"
    (hit,) = answer.hits
    assert hit.reference == world.refs["V-REG"]
    assert (hit.kind, hit.owner_agency, hit.handling_code) == (
        "stolen_vehicle",
        "GT-PNC",
        "REGIONAL",
    )
    assert hit.contact == COMMON["contact"]
    assert hit.instructions.startswith("Hold the vehicle")  # the kind's default instructions
    assert hit.details is not None and hit.details["plate"] == "P111AAA"
    assert hit.details["make"] == "Toyota"

    # A person: a REGIONAL wanted person, asked with the accents and the second name dropped.
    answer = world.query(
        "sv_liaison",
        "person",
        {"given_names": "Juan", "surname_1": "Hernandez", "surname_2": "Morales",
         "date_of_birth": "1987-04-12"},
    )  # fmt: skip
    assert answer.result == "hit"
    (hit,) = answer.hits
    assert hit.reference == world.refs["P-REG"] and hit.kind == "wanted_person"
    assert hit.details is not None
    assert hit.details["given_names"] == "Juan Carlos"
    assert hit.details["surname_1"] == "Hernández"
    assert hit.details["date_of_birth"] == "1987-04-12"


def test_restricted_and_national_hits_carry_no_personal_data(world: World) -> None:
    for ext in ("V-RES", "V-NAT"):
        code, plate = VEHICLES[ext]
        answer = world.plate("sv_liaison", plate)
        (hit,) = answer.hits
        assert (hit.reference, hit.handling_code) == (world.refs[ext], code)
        assert hit.kind == "stolen_vehicle" and hit.contact == COMMON["contact"]
        assert hit.instructions
        assert hit.details is None and hit.as_dict()["follow_up"] is True
        assert plate not in json.dumps(answer.as_dict())
        # The owner's own liaison sees its own alert in full.
        (own,) = world.plate("gt_liaison", plate).hits
        assert own.details is not None and own.details["plate"] == plate


def test_restricted_and_national_person_hits_carry_no_personal_data(world: World) -> None:
    for ext in ("P-RES", "P-NAT"):
        _, _, given, s1, s2, dob = PERSONS[ext]
        record = {"given_names": given, "surname_1": s1, "surname_2": s2, "date_of_birth": dob}
        answer = world.query("sv_liaison", "person", record)
        (hit,) = answer.hits
        assert hit.reference == world.refs[ext]
        assert hit.details is None
        text = json.dumps(answer.as_dict(), ensure_ascii=False)
        assert s1 not in text and dob not in text
    (nat,) = world.query(
        "sv_liaison",
        "person",
        {"given_names": "Kevin Alexander", "surname_1": "Chávez", "date_of_birth": "2012-02-05"},
    ).hits
    assert nat.kind == "missing_person" and nat.is_child is True  # flagged from the birth date


def test_a_regional_body_sees_regional_details_but_not_national_ones(world: World) -> None:
    (reg,) = world.plate("sica_officer", "P111AAA").hits
    assert reg.details is not None
    (nat,) = world.plate("sica_officer", "P333CCC").hits
    assert nat.details is None
    # PUBLIC opens details on a hit only to the owner's country (no other GT agency here).
    for who in ("sica_officer", "sv_liaison"):
        (pub,) = world.plate(who, "P444DDD").hits
        assert pub.handling_code == "PUBLIC" and pub.details is None
    (own,) = world.plate("gt_liaison", "P444DDD").hits
    assert own.details is not None


def test_no_hit_and_what_the_store_keeps_of_a_query(world: World) -> None:
    answer = world.plate("sv_liaison", "P999ZZZ", purpose="control en El Amatillo")
    assert answer.result == "no_hit" and answer.hits == ()
    with world.engine.connect() as conn:
        q = conn.execute(
            select(tables.hit_query).where(tables.hit_query.c.query_id == answer.query_id)
        ).one()
    assert (q.actor, q.agency, q.subject, q.hits) == ("sv_liaison", "SV-PNC", "vehicle", 0)
    assert q.purpose == "control en El Amatillo"
    assert q.digest and "P999ZZZ" not in q.digest  # a keyed digest, not the plate
    (entry,) = world.audit("hits:query")
    assert entry["detail"]["result"] == "no_hit" and "P999ZZZ" not in json.dumps(entry)


# --- validity -------------------------------------------------------------------------------


def test_expired_and_cancelled_alerts_never_hit(world: World) -> None:
    # Valid for ten days: a hit now, none a month later, without running expire.
    assert world.plate("sv_liaison", "P555EEE").result == "hit"
    assert world.plate("sv_liaison", "P555EEE", now=T0 + 30 * DAY).result == "no_hit"
    # Loaded after its end of validity, and cancelled by its owner: never.
    assert world.plate("sv_liaison", "P777GGG").result == "no_hit"
    assert world.plate("gt_liaison", "P666FFF").result == "no_hit"
    # expire marks what ran out (one entry per owner), and the answer stays the same.
    with world.engine.begin() as conn:
        assert expire_alerts(conn, OPERATOR, now=T0 + 30 * DAY) == 2  # V-SOON and V-OLD
    with world.engine.connect() as conn:
        status = dict(conn.execute(select(tables.alert.c.external_id, tables.alert.c.status)).all())
    assert (status["V-SOON"], status["V-OLD"], status["V-CAN"]) == (
        "expired",
        "expired",
        "cancelled",
    )
    assert status["V-REG"] == "active"
    assert world.plate("sv_liaison", "P555EEE").result == "no_hit"
    (entry,) = world.audit("alert:expire")
    assert (entry["agency"], entry["detail"]) == ("GT-PNC", {"expired": 2})


# --- who may query --------------------------------------------------------------------------


def test_roles_without_cross_border_queries_are_refused(world: World) -> None:
    for who in ("sv_viewer", "sv_analyst", "sv_admin", "gt_analyst", "gt_admin"):
        with pytest.raises(AccessDenied, match="may not run cross-border queries"):
            world.plate(who, "P111AAA")
    from safestreets.access.accounts import set_disabled

    with world.engine.begin() as conn:
        set_disabled(conn, OPERATOR, "sv_liaison", disabled=True)
        world.users["sv_liaison"] = principal_for(conn, "sv_liaison")
    with pytest.raises(AccessDenied):
        world.plate("sv_liaison", "P111AAA")
    with world.engine.connect() as conn:
        assert conn.execute(select(tables.hit_query.c.query_id)).first() is None
    assert world.audit("hits:query") == []


# --- follow-up requests ---------------------------------------------------------------------


def _file(world: World, who: str, query_id: int, ref: str, reason: str = "need it") -> int:
    with world.engine.begin() as conn:
        return service.file_request(
            conn, world.users[who], query_id=query_id, reference=ref, reason=reason, now=T0
        )


def _decide(world: World, who: str, request_id: int, approve: bool, reason: str = "ok") -> str:
    with world.engine.begin() as conn:
        return service.decide_request(
            conn, world.users[who], request_id, approve=approve, reason=reason, now=T0
        )


def _released(world: World, who: str, request_id: int) -> dict[str, Any]:
    with world.engine.begin() as conn:
        return service.released_details(conn, world.users[who], request_id, now=T0)


def test_follow_up_request_approved_releases_details_to_the_requester_only(
    world: World,
) -> None:
    ref = world.refs["V-RES"]
    answer = world.plate("sv_liaison", "P222BBB", purpose="control fronterizo")
    qid = answer.query_id
    # Only the officer who ran the query may file; with a reason; for an alert it hit.
    with pytest.raises(AccessDenied, match="not sv_colleague's"):
        _file(world, "sv_colleague", qid, ref)
    with pytest.raises(InputError, match="needs a reason"):
        _file(world, "sv_liaison", qid, ref, reason="  ")
    with pytest.raises(NotFound, match="did not hit"):
        _file(world, "sv_liaison", qid, world.refs["V-NAT"])
    with pytest.raises(AccessDenied):
        _file(world, "sv_viewer", qid, ref)
    request_id = _file(world, "sv_liaison", qid, ref, reason="vehículo detenido en frontera")
    with pytest.raises(InputError, match="already pending"):
        _file(world, "sv_liaison", qid, ref)

    # Nothing is released before a decision.
    with pytest.raises(NotFound):
        _released(world, "sv_liaison", request_id)
    # Only the owner agency's admins and liaison officers decide; with a reason; once.
    for who in ("sv_admin", "sv_liaison", "gt_analyst", "sica_officer"):
        with pytest.raises(AccessDenied, match="may not decide"):
            _decide(world, who, request_id, True)
    with pytest.raises(InputError, match="needs a reason"):
        _decide(world, "gt_admin", request_id, True, reason="")
    assert _decide(world, "gt_admin", request_id, True, reason="confirmado") == "approved"
    with pytest.raises(InputError, match="not pending"):
        _decide(world, "gt_liaison", request_id, False, reason="changed my mind")

    released = _released(world, "sv_liaison", request_id)
    assert released["reference"] == ref and released["owner_agency"] == "GT-PNC"
    assert released["details"]["plate"] == "P222BBB"
    assert released["details"]["model"] == "Hilux"
    # A colleague of the same agency, and the owner itself, get nothing through the request.
    for who in ("sv_colleague", "sv_admin", "gt_admin"):
        with pytest.raises(NotFound):
            _released(world, who, request_id)

    with world.engine.begin() as conn:
        mine = service.list_requests(conn, world.users["sv_liaison"])
        owner = service.list_requests(conn, world.users["gt_admin"])
        other = service.list_requests(conn, world.users["sv_admin"])
    assert mine["sent"].get_column("request_id").to_list() == [request_id]
    assert mine["received"].height == 0  # a liaison of SV decides SV's requests only
    assert owner["received"].row(0, named=True)["status"] == "approved"
    assert owner["received"].row(0, named=True)["decision_reason"] == "confirmado"
    assert other["received"].height == 0 and other["sent"].height == 0
    assert "requester_user_id" not in mine["sent"].columns


def test_denied_request_releases_nothing(world: World) -> None:
    ref = world.refs["P-RES"]
    _, _, given, s1, s2, dob = PERSONS["P-RES"]
    answer = world.query(
        "sv_liaison",
        "person",
        {"given_names": given, "surname_1": s1, "surname_2": s2, "date_of_birth": dob},
    )
    request_id = _file(world, "sv_liaison", answer.query_id, ref)
    assert _decide(world, "gt_liaison", request_id, False, reason="investigación en curso") == (
        "denied"
    )
    with pytest.raises(NotFound):
        _released(world, "sv_liaison", request_id)
    with world.engine.begin() as conn:
        (row,) = service.list_requests(conn, world.users["sv_liaison"])["sent"].iter_rows(
            named=True
        )
    assert (row["status"], row["decision_reason"]) == ("denied", "investigación en curso")


def test_the_owner_sees_who_searched_for_its_alerts(world: World) -> None:
    world.plate("sv_liaison", "P111AAA", purpose="retén")
    world.plate("sv_liaison", "P999ZZZ")  # no hit: nothing for GT to see
    world.plate("sica_officer", "P333CCC")
    with world.engine.begin() as conn:
        seen = service.searches(conn, world.users["gt_admin"], now=T0)
    rows = sorted(seen.select("actor", "agency", "reference", "purpose").rows())
    assert rows == [
        ("sica_officer", "SICA", world.refs["V-NAT"], None),
        ("sv_liaison", "SV-PNC", world.refs["V-REG"], "retén"),
    ]
    for who in ("sv_admin", "sv_liaison"):  # SV's own alerts: nobody searched for them
        with world.engine.begin() as conn:
            assert service.searches(conn, world.users[who], now=T0).height == 0
    for who in ("gt_analyst", "sv_viewer"):
        with world.engine.begin() as conn, pytest.raises(AccessDenied):
            service.searches(conn, world.users[who], now=T0)
    with world.engine.begin() as conn, pytest.raises(AccessDenied):
        service.searches(conn, OPERATOR, now=T0)  # no agency: nothing of its own


# --- the audit trail of the whole flow ------------------------------------------------------


def test_every_step_leaves_its_audit_entry_and_the_chain_verifies(world: World) -> None:
    (load,) = world.audit("alert:load")
    assert (load["actor"], load["agency"]) == ("gt_analyst", "GT-PNC")
    assert load["detail"]["inserted"] == len(VEHICLES) + 1 + len(PERSONS)
    (cancel,) = world.audit("alert:update")
    assert (cancel["target"], cancel["detail"]) == (world.refs["V-CAN"], {"fields": ["status"]})

    ref = world.refs["V-RES"]
    answer = world.plate("sv_liaison", "P222BBB", purpose="control")
    qid = str(answer.query_id)
    (query,) = world.audit("hits:query")
    assert (query["actor"], query["agency"], query["target"]) == ("sv_liaison", "SV-PNC", qid)
    assert query["detail"]["references"] == [ref] and query["detail"]["result"] == "hit"
    (hit,) = world.audit("hits:hit")
    assert (hit["agency"], hit["target"]) == ("GT-PNC", qid)  # in the owner's trail
    assert hit["detail"]["by_agency"] == "SV-PNC" and hit["detail"]["references"] == [ref]

    approved = _file(world, "sv_liaison", answer.query_id, ref)
    (filed,) = world.audit("request:file")
    (received,) = world.audit("request:received")
    assert (filed["agency"], filed["target"]) == ("SV-PNC", str(approved))
    assert (received["agency"], received["target"]) == ("GT-PNC", str(approved))
    _decide(world, "gt_admin", approved, True, reason="sí")
    (approve,) = world.audit("request:approve")
    assert (approve["actor"], approve["agency"]) == ("gt_admin", "GT-PNC")
    assert approve["detail"] == {"reference": ref, "status": "approved", "reason": "sí"}
    _released(world, "sv_liaison", approved)
    (read,) = world.audit("read:released")
    assert (read["actor"], read["target"], read["detail"]) == (
        "sv_liaison",
        str(approved),
        {"reference": ref},
    )

    other = world.plate("sv_liaison", "P333CCC")
    denied = _file(world, "sv_liaison", other.query_id, world.refs["V-NAT"])
    _decide(world, "gt_liaison", denied, False, reason="no")
    (deny,) = world.audit("request:deny")
    assert (deny["actor"], deny["target"]) == ("gt_liaison", str(denied))
    decided = world.audit("request:decided")  # the requester's agency is told both times
    assert [(d["agency"], d["target"], d["detail"]["status"]) for d in decided] == [
        ("SV-PNC", str(approved), "approved"),
        ("SV-PNC", str(denied), "denied"),
    ]

    with world.engine.begin() as conn:
        service.searches(conn, world.users["gt_admin"], now=T0)
        expire_alerts(conn, OPERATOR, now=T0)
    (searched,) = world.audit("read:searches")
    assert (searched["actor"], searched["target"]) == ("gt_admin", "GT-PNC")
    (expired,) = world.audit("alert:expire")
    assert expired["detail"] == {"expired": 1}  # V-OLD
    # No personal data of a RESTRICTED subject went into another agency's trail.
    a = tables.audit_log
    with world.engine.connect() as conn:
        sv_trail = conn.execute(select(a.c.detail).where(a.c.agency == "SV-PNC")).all()
    assert "P222BBB" not in json.dumps([r.detail for r in sv_trail])
    result = verify(world.engine)
    assert result.ok, result.describe()


# --- privacy-preserving person alerts -------------------------------------------------------


def test_encoded_person_alerts_hit_without_revealing_anything(world: World, tmp_path: Path) -> None:
    from safestreets.sharing.clk import encode, to_base64
    from safestreets.sharing.names import normalise_persons

    key = b"a key shared by the member countries"
    key_file = tmp_path / "shared.key"
    key_file.write_bytes(key)
    person = {
        "record_id": "E-1",
        "given_names": "Marvin Josué",
        "surname_1": "Aguilar",
        "surname_2": "Reyes",
        "date_of_birth": "1979-08-21",
        "sex": "M",
    }
    clk = to_base64(encode(normalise_persons(pl.DataFrame([person])), key)[0])
    frame = pl.DataFrame(
        [
            {
                **COMMON,
                "kind": "wanted_person",
                "external_id": "E-1",
                "handling_code": "REGIONAL",
                "warrant_ref": "OC-E1",
                "iccs_code": "0101",
                "clk": clk,
            }
        ]
    )
    with world.engine.begin() as conn:
        service.load_alerts(conn, world.users["gt_analyst"], frame, owner_agency="GT-PNC", now=T0)
    with world.engine.connect() as conn:
        ref = conn.execute(
            select(tables.alert.c.reference).where(tables.alert.c.external_id == "E-1")
        ).scalar_one()
    query = {k: v for k, v in person.items() if k != "record_id"}
    query["given_names"] = "Marvin"  # a second given name dropped
    # Without the shared key the plain query cannot reach the encodings.
    assert world.query("sv_liaison", "person", query).result == "no_hit"
    answer = world.query("sv_liaison", "person", query, clk_key_file=key_file)
    (hit,) = answer.hits
    assert hit.reference == ref and hit.kind == "wanted_person"
    assert hit.contact == COMMON["contact"]
    assert hit.details is None  # REGIONAL, but an encoding reveals nothing but the reference
