"""The admin pages of an agency: its audit trail, and its user accounts.

Thin over :mod:`safestreets.access`: which entries an admin sees is decided (and the reading
audited) by :func:`~safestreets.store.access_reads.audit_trail`; who may change which account,
and the audit entry of every change, by :mod:`safestreets.access.accounts`. Every form posts
with the session's CSRF token.
"""

from __future__ import annotations

import json
import secrets
import string
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from safestreets.access import accounts
from safestreets.access.audit import verify
from safestreets.access.policy import ROLES, Principal
from safestreets.errors import SafeStreetsError
from safestreets.store.access_reads import audit_trail
from safestreets.store.engine import check_ready
from safestreets.web.base import abilities, forbidden, login_redirect, page, page_lang
from safestreets.web.i18n import Translator
from safestreets.web.session import CSRF_FIELD, check_csrf, signed_in

router = APIRouter(include_in_schema=False)

Token = Annotated[str | None, Form(alias=CSRF_FIELD)]
#: Roles an agency admin may give (``regional`` is the operator's to grant).
AGENCY_ROLES = tuple(r for r in ROLES if r != "regional")
AUDIT_LIMITS = (50, 100, 500)
#: Length of a generated password (letters and digits: about 119 bits).
PASSWORD_LENGTH = 20


def new_password(length: int = PASSWORD_LENGTH) -> str:
    """A random password of letters and digits (shown once, stored only as its hash)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _admin(request: Request, what: str) -> Principal | Response:
    user = signed_in(request)
    if user is None:
        return login_redirect(request)
    if not abilities(user).users:
        t = Translator(page_lang(request))
        raise forbidden(t, t(what))
    return user


# --- audit trail -----------------------------------------------------------------------------


def _detail(text: str | None) -> str:
    if not text:
        return ""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, separators=(", ", ": "))
    except ValueError:
        return text


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request) -> Response:
    """The agency's audit trail, newest first; optionally the whole chain verified."""
    user = signed_in(request)
    if user is None:
        return login_redirect(request)
    t = Translator(page_lang(request))
    if not abilities(user).audit:
        raise forbidden(t, t("nav_audit"))
    engine = request.app.state.engine
    check_ready(engine)
    q = request.query_params
    action = (q.get("action") or "").strip()[:64]
    try:
        limit = int(q.get("limit") or 100)
    except ValueError:
        limit = 100
    limit = limit if limit in AUDIT_LIMITS else 100
    frame = audit_trail(user, conn=engine, actions=[action] if action else [], limit=limit)
    rows: list[dict[str, Any]] = [
        {**row, "detail": _detail(row["detail"])} for row in frame.iter_rows(named=True)
    ]
    checked = verify(engine) if q.get("verify") == "1" else None
    return page(
        request,
        "audit.html",
        rows=rows,
        action=action,
        limit=limit,
        limits=AUDIT_LIMITS,
        checked=checked,
    )


# --- users -----------------------------------------------------------------------------------


def _users_page(
    request: Request,
    user: Principal,
    *,
    status: int = 200,
    message: str | None = None,
    error: tuple[str, str | None] | None = None,
    shown_password: tuple[str, str] | None = None,
) -> Response:
    engine = request.app.state.engine
    with engine.connect() as conn:
        users = accounts.list_users(conn, user)
    return page(
        request,
        "users.html",
        status=status,
        users=users,
        roles=AGENCY_ROLES,
        message=message,
        error=error,
        shown_password=shown_password,
    )


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request) -> Response:
    """The agency's accounts, and the form to add one."""
    user = _admin(request, "nav_users")
    if isinstance(user, Response):
        return user
    check_ready(request.app.state.engine)
    return _users_page(request, user)


def _change(request: Request, user: Principal, done: str, change: Any) -> Response:
    """Run an account change in one transaction; the page says what happened."""
    engine = request.app.state.engine
    try:
        with engine.begin() as conn:
            shown = change(conn)
    except SafeStreetsError as exc:
        return _users_page(request, user, status=exc.http_status, error=(exc.message, exc.hint))
    return _users_page(request, user, message=done, shown_password=shown)


@router.post("/users", response_class=HTMLResponse)
def create_user(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    roles: Annotated[list[str] | None, Form()] = None,
    csrf_token: Token = None,
) -> Response:
    """Add an account to the admin's agency with a generated password, shown once."""
    check_csrf(request, csrf_token)
    user = _admin(request, "nav_users")
    if isinstance(user, Response):
        return user
    t = Translator(page_lang(request))
    password = new_password()

    def change(conn: Any) -> tuple[str, str]:
        made = accounts.add_user(
            conn,
            user,
            username=username,
            agency_id=user.agency or "",
            roles=roles or [],
            password=password,
        )
        return made.username, password

    return _change(request, user, t("user_created", name=username.strip().lower()), change)


@router.post("/users/{username}/roles", response_class=HTMLResponse)
def set_roles(
    request: Request,
    username: str,
    roles: Annotated[list[str] | None, Form()] = None,
    csrf_token: Token = None,
) -> Response:
    """Make the account's roles exactly the ticked ones (of those an agency admin gives)."""
    check_csrf(request, csrf_token)
    user = _admin(request, "nav_users")
    if isinstance(user, Response):
        return user
    t = Translator(page_lang(request))
    wanted = set(roles or [])

    def change(conn: Any) -> None:
        current = set(accounts.get_user(conn, username).roles)
        grant = sorted(wanted - current)
        revoke = sorted((current - wanted) & set(AGENCY_ROLES))
        accounts.set_roles(conn, user, username, grant=grant, revoke=revoke)

    return _change(request, user, t("user_roles_saved", name=username), change)


@router.post("/users/{username}/disable", response_class=HTMLResponse)
def set_disabled(
    request: Request,
    username: str,
    disabled: Annotated[str, Form()] = "1",
    csrf_token: Token = None,
) -> Response:
    """Disable an account (it can no longer sign in or read anything), or enable it again."""
    check_csrf(request, csrf_token)
    user = _admin(request, "nav_users")
    if isinstance(user, Response):
        return user
    t = Translator(page_lang(request))
    off = disabled == "1"
    if off and username == user.name:
        return _users_page(request, user, status=400, error=(t("user_not_self"), None))

    def change(conn: Any) -> None:
        accounts.set_disabled(conn, user, username, disabled=off)

    done = t("user_disabled" if off else "user_enabled", name=username)
    return _change(request, user, done, change)


@router.post("/users/{username}/password", response_class=HTMLResponse)
def reset_password(request: Request, username: str, csrf_token: Token = None) -> Response:
    """Give the account a new generated password, shown once to the admin."""
    check_csrf(request, csrf_token)
    user = _admin(request, "nav_users")
    if isinstance(user, Response):
        return user
    t = Translator(page_lang(request))
    password = new_password()

    def change(conn: Any) -> tuple[str, str]:
        accounts.set_password(conn, user, username, password)
        return username, password

    return _change(request, user, t("user_password_reset", name=username), change)
