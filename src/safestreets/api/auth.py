"""Who is asking: the principal of a request, from an API token or the web session cookie.

One place for the API and the web pages alike:

- ``Authorization: Bearer <token>``: an API token of :mod:`safestreets.access.accounts`. A
  request that sends one and fails (unknown, revoked, expired, disabled user) gets 401; it
  never falls back to the cookie or to the public.
- The session cookie :data:`SESSION_COOKIE`: set by :func:`login_session` after a password
  login, signed with the settings' ``secret_key`` (itsdangerous), HttpOnly, SameSite=Lax,
  Secure over HTTPS, valid for :data:`SESSION_MAX_AGE` seconds. The account is read again
  on every request, so a disabled account or a revoked role takes effect at once; a cookie
  that is forged, expired or names a disabled account is ignored (the request is public).
- Neither: the anonymous ``public`` principal.

The cookie also carries a per-session CSRF token (:func:`session_csrf`). Unsafe API
requests (POST, PATCH, PUT, DELETE) authenticated by the cookie must echo it in the
:data:`CSRF_HEADER` header; token-authenticated requests need not (a browser never adds a
bearer token on its own). Web forms can put the same token in a hidden field.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, Final

from fastapi import Depends, Request, Response, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine, select

from safestreets.access.accounts import authenticate_token, hash_token, principal_for
from safestreets.access.policy import Principal, may
from safestreets.config import get_settings
from safestreets.errors import AccessDenied, AuthenticationFailed, InputError, NotFound
from safestreets.store import tables
from safestreets.store.audit_log import append_for

__all__ = [
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "SESSION_MAX_AGE",
    "bearer_secret",
    "current_principal",
    "login_session",
    "logout_session",
    "principal_of",
    "require",
    "require_user",
    "session_csrf",
    "token_id_of",
]

#: Name of the session cookie.
SESSION_COOKIE: Final = "safestreets_session"
#: Lifetime of a session, in seconds (a working day and some).
SESSION_MAX_AGE: Final = 12 * 3600
#: Header that carries the session's CSRF token on unsafe cookie-authenticated API requests.
CSRF_HEADER: Final = "X-CSRF-Token"
_SALT: Final = "safestreets.session.v1"
_UNSAFE: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: Security schemes, so the OpenAPI document says how to authenticate (never auto-erroring:
#: a request without either is the public).
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token from POST /api/v1/auth/token: `Authorization: Bearer sst_...`",
)
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="session",
    description="The web session cookie (set by the login page). Unsafe requests must also "
    f"send the session's CSRF token in {CSRF_HEADER}.",
)


def _secret(request: Request | None) -> str:
    if request is not None:
        settings = getattr(request.app.state, "settings", None)
        if settings is not None:
            return str(settings.secret_key)
    return get_settings().secret_key


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALT)


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _session_data(request: Request) -> dict[str, Any] | None:
    """The verified content of the session cookie, or None (absent, forged or expired)."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(_secret(request)).loads(raw, max_age=SESSION_MAX_AGE)
    except BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict) or not isinstance(data.get("n"), str):
        return None
    return data


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationFailed(
            "the Authorization header is not a bearer token",
            hint="send `Authorization: Bearer <token>` (POST /api/v1/auth/token gives one)",
        )
    return value.strip()


def _from_session(request: Request, data: dict[str, Any]) -> Principal | None:
    try:
        with _engine(request).connect() as conn:
            principal = principal_for(conn, data["n"])
    except (NotFound, InputError):  # the account is gone (or the name no longer valid)
        return None
    # The same name re-created for someone else after a deletion is not this session.
    if principal.disabled or principal.user_id != data.get("u"):
        return None
    return principal


def principal_of(request: Request) -> Principal:
    """The principal of ``request`` (resolved once per request, then cached on it).

    Raises:
        AuthenticationFailed: A bearer token was sent and does not identify an active user.
    """
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    via: str | None = None
    principal = Principal.public()
    secret = _bearer(request)
    if secret is not None:
        with _engine(request).begin() as conn:  # records the token's last use
            principal = authenticate_token(conn, secret)
        via = "token"
    else:
        data = _session_data(request)
        found = _from_session(request, data) if data is not None else None
        if found is not None:
            principal, via = found, "session"
            request.state.csrf = data.get("c") if data else None
    request.state.principal = principal
    request.state.auth_via = via
    return principal


def _check_csrf(request: Request) -> None:
    if request.method not in _UNSAFE or getattr(request.state, "auth_via", None) != "session":
        return
    expected = getattr(request.state, "csrf", None)
    sent = request.headers.get(CSRF_HEADER)
    if not expected or not sent or not secrets.compare_digest(str(expected), sent):
        raise AccessDenied(
            "missing or wrong CSRF token",
            hint=f"send the session's CSRF token in the {CSRF_HEADER} header, "
            "or authenticate with an API token instead of the cookie",
        )


def current_principal(
    request: Request,
    _token: HTTPAuthorizationCredentials | None = Security(bearer_scheme),
    _session: str | None = Security(cookie_scheme),
) -> Principal:
    """FastAPI dependency: the principal of the request (the public when anonymous).

    Unsafe requests authenticated by the session cookie must carry the CSRF token
    (:data:`CSRF_HEADER`); the security parameters only document the schemes.
    """
    principal = principal_of(request)
    _check_csrf(request)
    return principal


def require_user(principal: Principal = Depends(current_principal)) -> Principal:
    """FastAPI dependency: a signed-in user (401 for the public)."""
    if principal.user_id is None and not principal.operator:
        raise AuthenticationFailed(
            "this needs a signed-in user",
            hint="send `Authorization: Bearer <token>` (POST /api/v1/auth/token) "
            "or sign in on the web page",
        )
    return principal


def require(action: str, *, what: str | None = None) -> Callable[..., Principal]:
    """FastAPI dependency factory: a signed-in user whose roles allow ``action``.

    The public gets 401; a user without the role 403 (both in the error envelope).
    """

    def dependency(principal: Principal = Depends(require_user)) -> Principal:
        if not may(principal, action):
            raise AccessDenied(
                f"{principal.name} may not {what or action}",
                hint=_ROLE_HINTS.get(action, "ask an admin of your agency for the role"),
            )
        return principal

    dependency.__name__ = f"require_{action.replace(':', '_')}"
    return dependency


_ROLE_HINTS: Final[dict[str, str]] = {
    "read:records": "record-level data needs the analyst, liaison, viewer or regional role",
    "read:audit": "an agency's audit trail is open to its admins",
    "manage:users": "only an agency's admins manage its users",
}


def session_csrf(request: Request) -> str | None:
    """The CSRF token of the request's session (for a hidden form field), or None."""
    principal_of(request)
    token = getattr(request.state, "csrf", None)
    return str(token) if token else None


def login_session(response: Response, user: Principal, *, request: Request | None = None) -> str:
    """Start a web session for ``user`` (after :func:`safestreets.access.accounts.login`).

    Sets the signed session cookie on ``response`` and returns the session's CSRF token.
    Pass ``request`` so the cookie is signed with the app's own settings and marked Secure
    over HTTPS; without it the ``SAFESTREETS_*`` settings are used. The login itself is
    audited by ``login``.
    """
    if user.user_id is None:
        raise AuthenticationFailed("only a user account can hold a session")
    csrf = secrets.token_urlsafe(24)
    value = _serializer(_secret(request)).dumps({"u": user.user_id, "n": user.name, "c": csrf})
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=SESSION_MAX_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request is not None and request.url.scheme == "https",
    )
    return csrf


def logout_session(response: Response, *, request: Request | None = None) -> None:
    """End the web session: clear the cookie; with ``request``, audit the logout."""
    if request is not None:
        principal = principal_of(request)
        if getattr(request.state, "auth_via", None) == "session":
            with _engine(request).begin() as conn:
                append_for(conn, principal, "logout", detail={"via": "session"})
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def token_id_of(engine: Engine, secret: str) -> int | None:
    """The id of the API token whose secret is ``secret`` (to revoke it on logout)."""
    t = tables.api_token
    with engine.connect() as conn:
        found = conn.execute(
            select(t.c.token_id).where(t.c.token_hash == hash_token(secret))
        ).scalar()
    return None if found is None else int(found)


def bearer_secret(request: Request) -> str | None:
    """The bearer token secret the request authenticated with, if any."""
    if getattr(request.state, "auth_via", None) != "token":
        return None
    return _bearer(request)
