"""The access rules as pure functions: the rule table, role gates, and Scope == may_see."""

from __future__ import annotations

import itertools

import pytest

from safestreets.access.policy import (
    NATIONAL,
    PUBLIC,
    REGIONAL,
    RESTRICTED,
    ROLES,
    Principal,
    RecordFacts,
    aggregate_scope,
    may,
    may_for_agency,
    may_see,
    record_scope,
)


def user(agency: str, country: str | None, *roles: str, disabled: bool = False) -> Principal:
    return Principal(
        user_id=1,
        name="u",
        agency=agency,
        country=country,
        roles=frozenset(roles or ("analyst",)),
        disabled=disabled,
    )


def rec(owner: str | None, country: str | None, code: str, *grants: tuple[str, str]) -> RecordFacts:
    return RecordFacts(owner, country, code, frozenset(grants))


GT = user("GT-PNC", "GT")
GT_OTHER = user("GT-MP", "GT")
SV = user("SV-PNC", "SV")
SICA = user("SICA", None, "regional")
SICA_PLAIN = user("SICA", None, "analyst")


@pytest.mark.parametrize(
    ("who", "record", "sees"),
    [
        # NATIONAL: the owner's country only.
        (GT, rec("GT-PNC", "GT", NATIONAL), True),
        (GT_OTHER, rec("GT-PNC", "GT", NATIONAL), True),
        (SV, rec("GT-PNC", "GT", NATIONAL), False),
        (SICA, rec("GT-PNC", "GT", NATIONAL), False),
        # PUBLIC at record level is like NATIONAL (only aggregates leave the country).
        (GT_OTHER, rec("GT-PNC", "GT", PUBLIC), True),
        (SV, rec("GT-PNC", "GT", PUBLIC), False),
        # REGIONAL: every member agency's users, and the regional role.
        (SV, rec("GT-PNC", "GT", REGIONAL), True),
        (SICA, rec("GT-PNC", "GT", REGIONAL), True),
        (SICA_PLAIN, rec("GT-PNC", "GT", REGIONAL), False),
        # RESTRICTED: the grant list (agency or country), or the owner.
        (GT, rec("GT-PNC", "GT", RESTRICTED), True),
        (GT_OTHER, rec("GT-PNC", "GT", RESTRICTED), False),
        (SV, rec("GT-PNC", "GT", RESTRICTED, ("country", "SV")), True),
        (SV, rec("GT-PNC", "GT", RESTRICTED, ("agency", "SV-PNC")), True),
        (SV, rec("GT-PNC", "GT", RESTRICTED, ("agency", "SV-MP")), False),
        (SICA, rec("GT-PNC", "GT", RESTRICTED, ("agency", "SICA")), True),
        # Grants never widen other codes.
        (SV, rec("GT-PNC", "GT", NATIONAL, ("country", "SV")), False),
        # The owner always sees its records, whatever the code.
        (SICA_PLAIN, rec("SICA", None, NATIONAL), True),
        (GT, rec("GT-PNC", "SV", "SOMETHING-ELSE"), True),
        (GT_OTHER, rec("GT-PNC", "GT", "SOMETHING-ELSE"), False),
        # Unregistered owner: the record's own country stands in.
        (GT, rec("MX-FGJ", "GT", NATIONAL), True),
        # Nobody sees anything when disabled, public, or without a reading role.
        (user("GT-PNC", "GT", disabled=True), rec("GT-PNC", "GT", NATIONAL), False),
        (Principal.public(), rec("GT-PNC", "GT", PUBLIC), False),
        (user("GT-PNC", "GT", "admin"), rec("GT-PNC", "GT", NATIONAL), False),
        # The local operator sees everything.
        (Principal.local_operator("root"), rec("GT-PNC", "GT", RESTRICTED), True),
    ],
)
def test_rule_table(who: Principal, record: RecordFacts, sees: bool) -> None:
    assert may_see(who, record) is sees
    assert record_scope(who).admits(record) is sees


def test_scope_agrees_with_may_see_everywhere() -> None:
    """Every principal shape against every record shape on a small world: no disagreement."""
    agencies = {"A": "GT", "B": "GT", "C": "SV", "R": None}
    owners = [*agencies, "UNREG", None]
    countries = ["GT", "SV", "HN"]
    codes = [NATIONAL, REGIONAL, RESTRICTED, PUBLIC, "OTHER"]
    grant_options = [("country", "GT"), ("country", "SV"), ("agency", "A"), ("agency", "R")]
    role_sets = [frozenset(c) for n in range(3) for c in itertools.combinations(ROLES, n)]
    principals = [Principal.public(), Principal.local_operator("x")]
    for (agency, country), roles, disabled in itertools.product(
        agencies.items(), role_sets, (False, True)
    ):
        principals.append(Principal(7, "u", agency, country, roles, disabled))
    records = []
    for owner, rc, code in itertools.product(owners, countries, codes):
        owner_country = agencies.get(owner, rc) if owner in agencies else rc
        for n in range(3):
            for grants in itertools.combinations(grant_options, n):
                records.append(RecordFacts(owner, owner_country, code, frozenset(grants)))
    for p in principals:
        scope = record_scope(p)
        for r in records:
            assert scope.admits(r) == may_see(p, r), (p, r)
        # Sums: record rules without grants; the public only PUBLIC.
        agg = aggregate_scope(p)
        for r in records:
            if p.is_public:
                expected = r.handling_code == PUBLIC
            else:
                expected = may_see(p, RecordFacts(r.owner_agency, r.owner_country, r.handling_code))
            assert agg.admits(r) == expected, (p, r)


def test_role_gates() -> None:
    admin = user("GT-PNC", "GT", "admin")
    viewer = user("GT-PNC", "GT", "viewer")
    assert may(admin, "manage:users") and may(admin, "read:audit")
    assert not may(admin, "read:records")
    assert may(viewer, "read:records") and not may(viewer, "manage:users")
    assert not may(viewer, "export") and may(user("GT-PNC", "GT", "analyst"), "export")
    assert may(user("GT-PNC", "GT", "liaison"), "query:cross_border")
    assert not may(user("GT-PNC", "GT", "admin", disabled=True), "manage:users")
    assert may(Principal.public(), "query:aggregates")
    assert not may(Principal.public(), "read:records")
    assert may(Principal.local_operator("root"), "manage:users")


def test_acting_for_an_agency_needs_the_role_and_the_agency() -> None:
    liaison = user("GT-PNC", "GT", "liaison")
    assert may_for_agency(liaison, "decide:requests", "GT-PNC")
    assert not may_for_agency(liaison, "decide:requests", "SV-PNC")  # another agency's
    assert not may_for_agency(liaison, "manage:users", "GT-PNC")  # not an admin
    assert not may_for_agency(user("GT-PNC", "GT", "liaison", disabled=True), "manage:alerts",
                              "GT-PNC")  # fmt: skip
    assert not may_for_agency(Principal.public(), "manage:alerts", None)
    assert may_for_agency(Principal.local_operator("root"), "manage:alerts", "SV-PNC")
    assert may(user("GT-PNC", "GT", "analyst"), "manage:alerts")
    assert not may(user("GT-PNC", "GT", "analyst"), "decide:requests")
    assert may(user("GT-PNC", "GT", "admin"), "decide:requests")


def test_empty_scopes() -> None:
    assert record_scope(Principal.public()).is_empty
    assert record_scope(user("GT-PNC", "GT", disabled=True)).is_empty
    assert not record_scope(GT).is_empty
    assert aggregate_scope(user("GT-PNC", "GT", disabled=True)).is_empty
