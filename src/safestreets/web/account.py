"""Signing in and out, and the user's own settings (language, password)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from safestreets.access import accounts
from safestreets.api.auth import login_session, logout_session
from safestreets.errors import AuthenticationFailed, InputError, TooManyAttempts
from safestreets.store.engine import check_ready
from safestreets.web.base import login_redirect, page, page_lang, safe_next, see_other
from safestreets.web.i18n import LANGS, Translator
from safestreets.web.session import CSRF_FIELD, check_csrf, set_lang_cookie, signed_in

router = APIRouter(include_in_schema=False)

Token = Annotated[str | None, Form(alias=CSRF_FIELD)]


def _client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    """The login form (signed-in users go straight on)."""
    if signed_in(request):
        return see_other(safe_next(next))
    return page(request, "login.html", next=safe_next(next), username="", error=None)


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str | None, Form()] = None,
    csrf_token: Token = None,
) -> Response:
    """Check the password (throttled and audited by :func:`accounts.login`), start a session."""
    check_csrf(request, csrf_token)
    engine = request.app.state.engine
    check_ready(engine)
    t = Translator(page_lang(request))
    try:
        principal = accounts.login(engine, username, password, address=_client_address(request))
    except TooManyAttempts:
        return page(
            request, "login.html", status=429, next=safe_next(next), username=username,
            error=t("login_throttled"),
        )  # fmt: skip
    except AuthenticationFailed:
        return page(
            request, "login.html", status=401, next=safe_next(next), username=username,
            error=t("login_failed"),
        )  # fmt: skip
    response = see_other(safe_next(next))
    login_session(response, principal, request=request)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: Token = None) -> Response:
    """End the session (audited) and go back to the login page."""
    check_csrf(request, csrf_token)
    response = see_other("/login")
    logout_session(response, request=request)
    return response


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request) -> Response:
    """The user's own settings: language and password."""
    user = signed_in(request)
    if user is None:
        return login_redirect(request)
    return page(request, "account.html", message=None, error=None)


@router.post("/account/language")
def set_language(
    request: Request, lang: Annotated[str, Form()], csrf_token: Token = None
) -> Response:
    """Save the language setting (it wins over the browser's Accept-Language)."""
    check_csrf(request, csrf_token)
    response = see_other("/account")
    if lang in LANGS:
        set_lang_cookie(request, response, lang)
    return response


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    current: Annotated[str, Form(max_length=1024)] = "",
    new: Annotated[str, Form(max_length=1024)] = "",
    repeat: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Token = None,
) -> Response:
    """Change one's own password: the current one is checked first (as a login, throttled)."""
    check_csrf(request, csrf_token)
    user = signed_in(request)
    if user is None:
        return login_redirect(request)
    t = Translator(page_lang(request))
    engine = request.app.state.engine
    if new != repeat:
        return page(request, "account.html", status=400, message=None, error=t("password_mismatch"))
    try:
        accounts.login(engine, user.name, current, address=_client_address(request))
    except (AuthenticationFailed, TooManyAttempts):
        return page(
            request, "account.html", status=400, message=None, error=t("password_wrong_current")
        )
    try:
        with engine.begin() as conn:
            accounts.set_password(conn, user, user.name, new)
    except InputError:
        short = t("password_short", n=accounts.MIN_PASSWORD)
        return page(request, "account.html", status=400, message=None, error=short)
    return page(request, "account.html", message=t("password_changed"), error=None)
