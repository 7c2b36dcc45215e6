"""``/api/v1/auth``, ``/me``, ``/agencies`` and ``/users``: sign-in, tokens and account admin.

Thin: every rule (who may change which account, throttling, hashing) and every audit entry
is in :mod:`safestreets.access.accounts`; these routes parse, call and present.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from safestreets.access import accounts
from safestreets.access.policy import ACTIONS, Principal, may
from safestreets.api.auth import (
    bearer_secret,
    current_principal,
    logout_session,
    require,
    require_user,
    token_id_of,
)
from safestreets.api.common import OPTIONAL_AUTH, errors, next_link, ready_engine
from safestreets.errors import NotFound, SafeStreetsError
from safestreets.store.audit_log import append_for

router = APIRouter(tags=["accounts"])

#: The roles of :data:`safestreets.access.policy.ROLES` (a test holds the two together).
Role = Literal["admin", "analyst", "liaison", "viewer", "regional"]

#: User names as :mod:`safestreets.access.accounts` accepts them (before lowercasing).
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$"

#: Default and longest lifetime of a token made by POST /auth/token.
TOKEN_DAYS = 30
MAX_TOKEN_DAYS = 365


class Me(BaseModel):
    """Who the request is from, and what its roles allow."""

    authenticated: bool = Field(description="false for the anonymous public")
    username: str = Field(description='the account name, or "public"')
    user_id: int | None
    agency: str | None
    country: str | None = Field(description="country of the agency (null: regional body)")
    roles: list[str]
    via: Literal["token", "session"] | None = Field(description="how the request signed in")
    may: dict[str, bool] = Field(description="each action of the access rules: allowed or not")


def me_of(principal: Principal, via: str | None) -> Me:
    """The :class:`Me` of a principal."""
    return Me(
        authenticated=principal.user_id is not None,
        username=principal.name,
        user_id=principal.user_id,
        agency=principal.agency,
        country=principal.country,
        roles=sorted(principal.roles),
        via=via if via in ("token", "session") else None,  # type: ignore[arg-type]
        may={action: may(principal, action) for action in ACTIONS},
    )


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)
    label: str | None = Field(None, max_length=100, description="what the token is for")
    expires_in_days: int = Field(TOKEN_DAYS, ge=1, le=MAX_TOKEN_DAYS)


class TokenCreated(BaseModel):
    """A new API token. ``token`` is shown only here: the server keeps its hash."""

    token: str
    token_id: int
    prefix: str = Field(description="the token's first characters, to recognise it later")
    expires_at: datetime
    user: Me


class LoggedOut(BaseModel):
    logged_out: bool
    revoked_token_id: int | None = Field(description="the token revoked by this logout")


class Agency(BaseModel):
    agency_id: str
    name: str
    country: str | None = Field(description="ISO 3166-1 alpha-2; null for a regional body")


class AgencyList(BaseModel):
    items: list[Agency]


class NewAgency(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency_id: str = Field(min_length=1, max_length=64, description="e.g. GT-PNC")
    name: str = Field(min_length=1, max_length=200)
    country: str | None = Field(None, description="one of the seven; null for a regional body")


class User(BaseModel):
    user_id: int
    username: str
    agency_id: str
    country: str | None
    roles: list[str]
    disabled: bool
    has_password: bool = Field(description="false for accounts that only use API tokens")


class UserPage(BaseModel):
    items: list[User]
    page: int
    page_size: int
    total: int
    next: str | None = Field(description="link to the next page; null on the last")


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(
        pattern=USERNAME_PATTERN, description="letters, digits, '.', '_', '@', '-' (lowercased)"
    )
    agency_id: str | None = Field(None, description="default: the admin's own agency")
    roles: list[Role] = Field(default_factory=list)
    password: str | None = Field(
        None,
        min_length=accounts.MIN_PASSWORD,
        max_length=1024,
        description="none: the account uses API tokens",
    )


class UserChange(BaseModel):
    """Changes to an account; each one is audited as a permission change."""

    model_config = ConfigDict(extra="forbid")

    grant: list[Role] = Field(default_factory=list, description="roles to add")
    revoke: list[Role] = Field(default_factory=list, description="roles to remove")
    disabled: bool | None = Field(None, description="true disables, false enables again")
    password: str | None = Field(None, min_length=accounts.MIN_PASSWORD, max_length=1024)


def _user(u: accounts.User) -> User:
    return User(
        user_id=u.user_id,
        username=u.username,
        agency_id=u.agency_id,
        country=u.country,
        roles=list(u.roles),
        disabled=u.disabled,
        has_password=u.has_password,
    )


# --- sign-in ---------------------------------------------------------------------------------


@router.post(
    "/auth/token",
    operation_id="create_token",
    summary="Sign in with user name and password; get an API token",
    response_model=TokenCreated,
    status_code=201,
    responses=errors(401, 429),
)
def create_token(body: TokenRequest, request: Request) -> TokenCreated:
    """Check the password (throttled per user name and per address; every attempt audited)
    and create an API token for the account. Send it as ``Authorization: Bearer <token>``."""
    engine = ready_engine(request)
    address = request.client.host if request.client else None
    principal = accounts.login(engine, body.username, body.password, address=address)
    expires = datetime.now(UTC) + timedelta(days=body.expires_in_days)
    with engine.begin() as conn:
        new = accounts.create_token(
            conn, principal, principal.name, label=body.label, expires_at=expires
        )
    return TokenCreated(
        token=new.secret,
        token_id=new.token_id,
        prefix=new.prefix,
        expires_at=expires,
        user=me_of(principal, "token"),
    )


@router.post(
    "/auth/logout",
    operation_id="logout",
    summary="Sign out: revoke the token used, or end the web session",
    response_model=LoggedOut,
    responses=errors(401, 403),
)
def logout(
    request: Request, response: Response, principal: Principal = Depends(require_user)
) -> LoggedOut:
    """With a bearer token, revoke that token for good; with the session cookie, end the
    session. Both are audited."""
    engine = ready_engine(request)
    secret = bearer_secret(request)
    if secret is not None:
        token_id = token_id_of(engine, secret)
        if token_id is None:  # revoked in between: nothing left to do
            return LoggedOut(logged_out=True, revoked_token_id=None)
        with engine.begin() as conn:
            accounts.revoke_token(conn, principal, token_id)
            append_for(conn, principal, "logout", detail={"via": "token", "token_id": token_id})
        return LoggedOut(logged_out=True, revoked_token_id=token_id)
    logout_session(response, request=request)
    return LoggedOut(logged_out=True, revoked_token_id=None)


@router.get(
    "/me",
    operation_id="me",
    openapi_extra=OPTIONAL_AUTH,
    summary="Who is asking: account, agency, roles and what they allow",
    response_model=Me,
    responses=errors(401),
)
def get_me(request: Request, principal: Principal = Depends(current_principal)) -> Me:
    """The anonymous public gets ``authenticated: false`` (not an error)."""
    return me_of(principal, getattr(request.state, "auth_via", None))


# --- agencies --------------------------------------------------------------------------------


@router.get(
    "/agencies",
    operation_id="list_agencies",
    summary="The registered agencies",
    response_model=AgencyList,
    responses=errors(401),
)
def list_agencies(request: Request, _: Principal = Depends(require_user)) -> AgencyList:
    with ready_engine(request).connect() as conn:
        found = accounts.list_agencies(conn)
    return AgencyList(items=[Agency(**a.__dict__) for a in found])


@router.post(
    "/agencies",
    operation_id="create_agency",
    summary="Register an agency (the operator only, under the current access rules)",
    response_model=Agency,
    status_code=201,
    responses=errors(400, 401, 403),
)
def create_agency(
    body: NewAgency, request: Request, principal: Principal = Depends(require_user)
) -> Agency:
    """Registering agencies is the regional operator's decision: today every API principal
    gets 403 with the hint to use ``safestreets agencies add`` on the database host."""
    with ready_engine(request).begin() as conn:
        made = accounts.add_agency(
            conn, principal, agency_id=body.agency_id, name=body.name, country=body.country
        )
    return Agency(**made.__dict__)


# --- users -----------------------------------------------------------------------------------

_ManageUsers = Depends(require("manage:users", what="manage users"))


def _find_user(conn: Connection, principal: Principal, username: str) -> accounts.User:
    # list_users applies the rule (an admin sees their own agency's accounts); a user of
    # another agency is "not found" rather than confirmed to exist.
    name = username.strip().lower()
    for u in accounts.list_users(conn, principal):
        if u.username == name:
            return u
    raise NotFound(f"no user {username!r} in your agency", hint="GET /api/v1/users lists them")


@router.get(
    "/users",
    operation_id="list_users",
    summary="Accounts of the admin's agency",
    response_model=UserPage,
    responses=errors(400, 401, 403),
)
def list_users(
    request: Request,
    principal: Principal = _ManageUsers,
    page: int = Query(1, ge=1, le=100_000),
    page_size: int = Query(50, ge=1, le=200),
) -> UserPage:
    with ready_engine(request).connect() as conn:
        found = accounts.list_users(conn, principal)
    start = (page - 1) * page_size
    items = found[start : start + page_size]
    more = start + page_size < len(found)
    return UserPage(
        items=[_user(u) for u in items],
        page=page,
        page_size=page_size,
        total=len(found),
        next=next_link(request, page=page + 1, page_size=page_size) if more else None,
    )


class Conflict(SafeStreetsError):
    """The resource to create exists already."""

    code = "conflict"
    http_status = 409


def _check_new(conn: Connection, principal: Principal, username: str) -> None:
    # Asked only of admins (the dependency), and only within their own agency's view, so the
    # answer reveals no account of another agency beyond what add_user's refusal would.
    name = username.strip().lower()
    if any(u.username == name for u in accounts.list_users(conn, principal)):
        raise Conflict(f"user {name} already exists", hint="PATCH /api/v1/users/{username}")


@router.post(
    "/users",
    operation_id="create_user",
    summary="Create an account in the admin's agency",
    response_model=User,
    status_code=201,
    responses=errors(400, 401, 403, 404, 409),
)
def create_user(body: NewUser, request: Request, principal: Principal = _ManageUsers) -> User:
    """Audited as ``user:add`` in the agency's trail. The ``regional`` role is granted by the
    operator only."""
    with ready_engine(request).begin() as conn:
        _check_new(conn, principal, body.username)
        made = accounts.add_user(
            conn,
            principal,
            username=body.username,
            agency_id=body.agency_id or principal.agency or "",
            roles=body.roles,
            password=body.password,
        )
    return _user(made)


@router.get(
    "/users/{username}",
    operation_id="get_user",
    summary="One account of the admin's agency",
    response_model=User,
    responses=errors(400, 401, 403, 404),
)
def get_user(
    request: Request,
    username: str = Path(min_length=1, max_length=64),
    principal: Principal = _ManageUsers,
) -> User:
    with ready_engine(request).connect() as conn:
        return _user(_find_user(conn, principal, username))


@router.patch(
    "/users/{username}",
    operation_id="update_user",
    summary="Grant or revoke roles, disable or enable, set the password",
    response_model=User,
    responses=errors(400, 401, 403, 404),
)
def update_user(
    body: UserChange,
    request: Request,
    username: str = Path(min_length=1, max_length=64),
    principal: Principal = _ManageUsers,
) -> User:
    """All changes apply together or not at all; each is audited (``user:roles``,
    ``user:disable``/``user:enable``, ``user:password``) in the account's agency's trail."""
    with ready_engine(request).begin() as conn:
        user = _find_user(conn, principal, username)
        if body.grant or body.revoke:
            user = accounts.set_roles(
                conn, principal, user.username, grant=body.grant, revoke=body.revoke
            )
        if body.disabled is not None and body.disabled != user.disabled:
            user = accounts.set_disabled(conn, principal, user.username, disabled=body.disabled)
        if body.password is not None:
            accounts.set_password(conn, principal, user.username, body.password)
            user = accounts.get_user(conn, user.username)
    return _user(user)
