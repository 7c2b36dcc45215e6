"""Who may see what: the access rules as pure functions (no database, no I/O).

This is the one part of :mod:`safestreets.access` that the store imports. The store turns a
:class:`Scope` into SQL (:mod:`safestreets.store.visibility`), so every read path filters
records in the database itself; :func:`may_see` states the same rules record by record, as
the docs' rule table reads, and serves as the oracle of the property tests.

The rules (docs/security.md has them as a table): a user of agency ``A`` in country ``C``
with a reading role sees a record owned by agency ``O`` (whose country is ``CO``) with
handling code ``H`` when ``A == O``, or

- ``H`` is ``NATIONAL`` or ``PUBLIC`` and ``C == CO``;
- ``H`` is ``REGIONAL`` and ``A`` is a member agency (it has a country) or the user has the
  ``regional`` role;
- ``H`` is ``RESTRICTED`` and the record's grant list names ``A`` or ``C``.

The anonymous ``public`` principal, a disabled user and a user without a reading role see no
record at all. ``CO`` is the country of the owner agency as registered; for a record whose
owner is not a registered agency it is the record's own ``country``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Final

#: Handling codes (the same values as :data:`safestreets.schema.HANDLING_CODES`).
NATIONAL: Final = "NATIONAL"
REGIONAL: Final = "REGIONAL"
RESTRICTED: Final = "RESTRICTED"
PUBLIC: Final = "PUBLIC"

#: Roles a user account may hold. ``public`` is not among them: it is the anonymous principal.
ROLES: Final = ("admin", "analyst", "liaison", "viewer", "regional")
PUBLIC_ROLE: Final = "public"
#: Roles that read record-level data; ``admin`` alone manages accounts but reads no records.
READ_ROLES: Final = frozenset({"analyst", "liaison", "viewer", "regional"})

#: What each role may do (the operator may do everything). Records are further limited by
#: :func:`may_see`; an action only says whether the principal may ask at all.
ACTIONS: Final[dict[str, frozenset[str]]] = {
    "read:records": READ_ROLES,
    "query:aggregates": READ_ROLES | {"admin", PUBLIC_ROLE},
    "export": frozenset({"analyst", "liaison", "regional"}),
    "query:cross_border": frozenset({"liaison", "regional"}),
    # Create, change and cancel the alerts of one's own agency.
    "manage:alerts": frozenset({"analyst", "liaison"}),
    # Approve or deny follow-up requests addressed to one's own agency, and see who searched
    # for its alerts.
    "decide:requests": frozenset({"admin", "liaison"}),
    "manage:users": frozenset({"admin"}),
    "manage:grants": frozenset({"admin"}),
    "read:audit": frozenset({"admin"}),
}

#: Who a RESTRICTED record's grant list may name.
GRANTEE_KINDS: Final = ("country", "agency")


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user, the anonymous public, or the local operator.

    ``country`` is the country of the user's agency; it is None for a regional body (such as
    the SICA secretariat) and for the public. The local operator (shell access to the
    database, e.g. the CLI) sees everything, as before accounts existed; its actions are
    still audited when it acts through an audited function.
    """

    user_id: int | None
    name: str
    agency: str | None
    country: str | None
    roles: frozenset[str] = field(default_factory=frozenset)
    disabled: bool = False
    operator: bool = False

    @classmethod
    def public(cls) -> Principal:
        """The anonymous principal: disclosure-controlled aggregates of PUBLIC data only."""
        return cls(
            user_id=None,
            name=PUBLIC_ROLE,
            agency=None,
            country=None,
            roles=frozenset({PUBLIC_ROLE}),
        )

    @classmethod
    def local_operator(cls, name: str) -> Principal:
        """Whoever runs the CLI on the database host (full access, audited as ``operator:``)."""
        return cls(user_id=None, name=f"operator:{name}", agency=None, country=None, operator=True)

    @property
    def is_public(self) -> bool:
        """True for the anonymous principal."""
        return PUBLIC_ROLE in self.roles and self.user_id is None and not self.operator

    @property
    def is_regional(self) -> bool:
        """True for SICA-level staff: REGIONAL data of every country."""
        return "regional" in self.roles

    @property
    def is_member(self) -> bool:
        """True for users of a national agency of a member country."""
        return self.user_id is not None and self.agency is not None and self.country is not None

    @property
    def reads_records(self) -> bool:
        """True when the principal may read record-level data at all."""
        if self.operator:
            return True
        if self.disabled or self.is_public or self.user_id is None:
            return False
        return bool(self.roles & READ_ROLES)


@dataclass(frozen=True)
class RecordFacts:
    """What the rules look at in a record (the oracle's view of one row)."""

    owner_agency: str | None
    #: Country of the owner agency (the record's country when the owner is not registered).
    owner_country: str | None
    handling_code: str
    #: (``country`` | ``agency``, id) pairs named by the record's grant list.
    grants: frozenset[tuple[str, str]] = frozenset()


def may(principal: Principal, action: str) -> bool:
    """Whether the principal's roles allow ``action`` (one of :data:`ACTIONS`)."""
    if principal.operator:
        return True
    if principal.disabled:
        return False
    return bool(principal.roles & ACTIONS[action])


def may_for_agency(principal: Principal, action: str, agency: str | None) -> bool:
    """Whether the principal may do ``action`` on behalf of ``agency``: the operator always;
    a user when their roles allow it and ``agency`` is their own (admins manage their own
    agency's accounts, liaison officers its alerts and requests, never another's)."""
    if principal.operator:
        return True
    return may(principal, action) and agency is not None and principal.agency == agency


def may_see(principal: Principal, record: RecordFacts) -> bool:
    """Whether ``principal`` may read ``record`` at record level (the rule table, row by row).

    Written independently of :class:`Scope` on purpose: the property tests hold the SQL the
    store runs against this function.
    """
    if principal.operator:
        return True
    if not principal.reads_records:
        return False
    if principal.agency is not None and record.owner_agency == principal.agency:
        return True
    code = record.handling_code
    if code in (NATIONAL, PUBLIC):
        return principal.country is not None and record.owner_country == principal.country
    if code == REGIONAL:
        return principal.is_member or principal.is_regional
    if code == RESTRICTED:
        if principal.agency is not None and ("agency", principal.agency) in record.grants:
            return True
        return principal.country is not None and ("country", principal.country) in record.grants
    return False  # an unknown code is nobody's but the owner's


@dataclass(frozen=True)
class Scope:
    """The records a principal may see, as grounds any one of which admits a record.

    A scope is what the store translates into SQL: one OR-ed condition per ground. An empty
    scope (:attr:`is_empty`) admits nothing.
    """

    #: The local operator: every record.
    everything: bool = False
    #: Records owned by this agency, whatever their code.
    own_agency: str | None = None
    #: Records whose owner's country is this one...
    country: str | None = None
    #: ...and whose code is one of these.
    country_codes: frozenset[str] = frozenset()
    #: Codes seen whoever owns the record.
    open_codes: frozenset[str] = frozenset()
    #: Codes seen when the record's grant list names one of :attr:`grantees`.
    grant_codes: frozenset[str] = frozenset()
    grantees: frozenset[tuple[str, str]] = frozenset()

    @property
    def is_empty(self) -> bool:
        """True when no record is admitted."""
        return not (
            self.everything
            or self.own_agency
            or (self.country and self.country_codes)
            or self.open_codes
            or (self.grant_codes and self.grantees)
        )

    def admits(self, record: RecordFacts) -> bool:
        """Whether this scope admits ``record`` (the Python reading of the SQL clause)."""
        code = record.handling_code
        return (
            self.everything
            or (self.own_agency is not None and record.owner_agency == self.own_agency)
            or (
                self.country is not None
                and code in self.country_codes
                and record.owner_country == self.country
            )
            or code in self.open_codes
            or (code in self.grant_codes and bool(self.grantees & record.grants))
        )


NOTHING: Final = Scope()


def record_scope(principal: Principal) -> Scope:
    """The records ``principal`` may read at record level (same answer as :func:`may_see`)."""
    if principal.operator:
        return Scope(everything=True)
    if not principal.reads_records:
        return NOTHING
    grantees = {("agency", principal.agency)} if principal.agency else set()
    if principal.country:
        grantees.add(("country", principal.country))
    return Scope(
        own_agency=principal.agency,
        country=principal.country,
        country_codes=frozenset({NATIONAL, PUBLIC}) if principal.country else frozenset(),
        open_codes=(
            frozenset({REGIONAL}) if principal.is_member or principal.is_regional else frozenset()
        ),
        grant_codes=frozenset({RESTRICTED}),
        grantees=frozenset(grantees),
    )


def aggregate_scope(principal: Principal) -> Scope:
    """The records whose sums ``principal`` may read (rollups and indicators).

    A user gets sums of what they may read at record level, except RESTRICTED records granted
    to them: grants name single records, and the rollups sum many records of one owner, so
    only the owner agency counts its RESTRICTED records (never more than the records allow).
    The public principal gets sums of PUBLIC records only; disclosure control of what it is
    shown is the caller's duty (:mod:`safestreets.stats.publish`).
    """
    if principal.is_public and not principal.disabled:
        return Scope(open_codes=frozenset({PUBLIC}))
    return replace(record_scope(principal), grant_codes=frozenset(), grantees=frozenset())
