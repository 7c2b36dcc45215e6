"""Property tests: no read path returns a record the principal may not see, and none hides one
it may see, on SQLite and PostgreSQL.

Hypothesis draws a small world (agencies in a few of the seven countries and regional bodies,
users with random roles, some disabled, incidents with random owners, handling codes and grant
lists) and every read path is held against the pure oracle
:func:`safestreets.access.policy.may_see`, which is written from the rule table independently
of the SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert, select, update

from safestreets.access.accounts import add_agency, add_user, principal_for
from safestreets.access.audit import verify
from safestreets.access.policy import (
    NATIONAL,
    PUBLIC,
    REGIONAL,
    RESTRICTED,
    ROLES,
    Principal,
    RecordFacts,
    may,
    may_see,
)
from safestreets.errors import AccessDenied
from safestreets.query import AggregateQuery
from safestreets.store import tables
from safestreets.store.access_reads import IncidentFilter, audit_trail, incidents_for
from safestreets.store.aggregates import read_aggregates, rebuild_rollups
from safestreets.store.audit_log import GENESIS
from safestreets.store.events import read_incident_points

COUNTRIES = ("BZ", "GT", "SV", "HN", "NI", "CR", "PA")
CODES = (NATIONAL, REGIONAL, RESTRICTED, PUBLIC)
OPERATOR = Principal.local_operator("tester")


@dataclass(frozen=True)
class Incident:
    incident_id: int
    owner: str | None
    country: str
    code: str
    grants: frozenset[tuple[str, str]]


@dataclass(frozen=True)
class World:
    agencies: dict[str, str | None]
    users: list[tuple[str, frozenset[str], bool]]
    incidents: list[Incident]

    def facts(self, i: Incident) -> RecordFacts:
        owner_country = self.agencies.get(i.owner, i.country)
        return RecordFacts(i.owner, owner_country, i.code, i.grants)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    # A few countries per world, so that owners, users and grants meet often.
    countries = draw(st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=3, unique=True))
    agency_country = st.one_of(st.sampled_from(countries), st.none())
    n_agencies = draw(st.integers(1, 4))
    agencies = {f"AG{i}": draw(agency_country) for i in range(n_agencies)}
    users = draw(
        st.lists(
            st.tuples(
                st.sampled_from(sorted(agencies)),
                st.frozensets(st.sampled_from(ROLES), max_size=3),
                st.booleans() | st.just(False),
            ),
            min_size=1,
            max_size=4,
        )
    )
    owners = st.sampled_from([*agencies, "UNREGISTERED", None])
    grantees = st.sampled_from(
        [("country", c) for c in countries]
        + [("country", "PA")]
        + [("agency", a) for a in agencies]
        + [("agency", "UNREGISTERED")]
    )
    specs = draw(
        st.lists(
            st.tuples(
                owners,
                st.sampled_from(countries),
                st.sampled_from((*CODES, RESTRICTED, "OTHER")),
                st.frozensets(grantees, max_size=3),
            ),
            max_size=14,
        )
    )
    incidents = [Incident(i + 1, *spec) for i, spec in enumerate(specs)]
    return World(agencies, users, incidents)


def _reset(engine: Engine) -> None:
    with engine.begin() as conn:
        for t in (
            tables.record_grant,
            tables.user_role,
            tables.api_token,
            tables.app_user,
            tables.agency,
            tables.incident,
            tables.audit_log,
            *tables.rollups.values(),
        ):
            conn.execute(delete(t))
        conn.execute(update(tables.audit_head).values(seq=0, hash=GENESIS))


def _load(engine: Engine, world: World) -> list[Principal]:
    at = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
    with engine.begin() as conn:
        for agency_id, country in world.agencies.items():
            add_agency(conn, OPERATOR, agency_id=agency_id, name=agency_id, country=country)
        for inc in world.incidents:
            conn.execute(
                insert(tables.incident).values(
                    incident_id=inc.incident_id,
                    source="TEST",
                    source_record_id=str(inc.incident_id),
                    country=inc.country,
                    owner_agency=inc.owner,
                    handling_code=inc.code,
                    batch_id=1,
                    occurred_at=at,
                    occurred_precision="minute",
                    source_timezone="America/Guatemala",
                    iccs_code="0401",
                    # The longitude names the incident in the point reads (which carry no id).
                    lon=-90.0 + inc.incident_id / 1000,
                    lat=14.6,
                )
            )
            for kind, grantee in inc.grants:
                conn.execute(
                    insert(tables.record_grant).values(
                        record_kind="incident",
                        record_id=inc.incident_id,
                        grantee_kind=kind,
                        grantee=grantee,
                        granted_at=at,
                    )
                )
        rebuild_rollups(conn)
        principals = []
        for n, (agency_id, roles, disabled) in enumerate(world.users):
            # The regional role is the operator's to grant; here the operator adds everyone.
            add_user(conn, OPERATOR, username=f"user{n}", agency_id=agency_id, roles=sorted(roles))
            if disabled:
                conn.execute(
                    update(tables.app_user)
                    .where(tables.app_user.c.username == f"user{n}")
                    .values(disabled=True)
                )
            principals.append(principal_for(conn, f"user{n}"))
    return [*principals, Principal.public(), OPERATOR]


def _may_sum(world: World, p: Principal, inc: Incident) -> bool:
    """The aggregate rule, from the record rule: no grants; the public sums PUBLIC only."""
    if p.is_public:
        return inc.code == PUBLIC
    f = world.facts(inc)
    return may_see(p, RecordFacts(f.owner_agency, f.owner_country, f.handling_code))


def _lon_ids(frame: pl.DataFrame) -> set[int]:
    return {round((lon + 90.0) * 1000) for lon in frame["lon"].to_list()}


PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(world=worlds())
def test_every_read_path_returns_exactly_what_the_rules_allow(store: Engine, world: World) -> None:
    _reset(store)
    principals = _load(store, world)
    for p in principals:
        expected = {i.incident_id for i in world.incidents if may_see(p, world.facts(i))}
        got = incidents_for(p, conn=store)
        assert set(got["incident_id"].to_list()) == expected, (p, world)
        # A filter narrows within what is visible, never beyond it.
        gt_only = incidents_for(p, where=IncidentFilter(countries=("GT",)), conn=store)
        gt_expected = {i.incident_id for i in world.incidents if i.country == "GT"} & expected
        assert set(gt_only["incident_id"].to_list()) == gt_expected
        points = read_incident_points(store, principal=p)
        assert _lon_ids(points) == expected, (p, world)
        summable = [i for i in world.incidents if _may_sum(world, p, i)]
        rolled = read_aggregates(store, AggregateQuery(dims=("country",)), principal=p)
        assert rolled.read_from != "raw"
        by_country = dict(zip(rolled.frame["country"], rolled.frame["incidents"], strict=True))
        for c in {i.country for i in world.incidents}:
            assert by_country.get(c, 0) == sum(1 for i in summable if i.country == c), (p, c)
        raw = read_aggregates(store, AggregateQuery(dims=("admin2", "weapon")), principal=p)
        assert raw.read_from == "raw"
        assert int(raw.frame["incidents"].sum()) == len(summable), p
    # Every read above was audited, and the chain holds.
    result = verify(store)
    assert result.ok, result.describe()
    with store.connect() as conn:
        actions = [r.action for r in conn.execute(select(tables.audit_log.c.action))]
    assert actions.count("read:incidents") == 2 * len(principals)
    assert actions.count("read:incident_points") == len(principals)
    assert actions.count("query:aggregates") == 2 * len(principals)


@settings(PROPERTY, max_examples=25)
@given(world=worlds())
def test_audit_trail_is_the_admins_agency_exactly(store: Engine, world: World) -> None:
    _reset(store)
    principals = _load(store, world)
    for p in principals:
        incidents_for(p, conn=store)
    with store.connect() as conn:
        log = conn.execute(select(tables.audit_log.c.seq, tables.audit_log.c.agency)).all()
    for p in principals:
        if p.operator:
            continue
        if not may(p, "read:audit"):
            try:
                audit_trail(p, conn=store)
            except AccessDenied:
                continue
            raise AssertionError(f"{p} read an audit trail")
        trail = audit_trail(p, conn=store, limit=None)
        expected = {seq for seq, agency in log if agency == p.agency}
        # Entries appended after the snapshot (earlier trail reads) belong to admins too.
        got = set(trail["seq"].to_list())
        assert {s for s in got if s <= len(log)} == expected, p
        assert set(trail["agency"].to_list()) <= {p.agency}
    assert verify(store).ok
