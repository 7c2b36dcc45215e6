"""Browser tests: the real app under uvicorn on loopback, driven by Debian's Chromium.

Playwright for Python drives the system Chromium (``executable_path``); it never downloads
a browser of its own (the machines have no network beyond the package registries).
``.ci/run`` installs Debian's ``chromium`` and sets ``SAFESTREETS_REQUIRE_BROWSER=1``, so in CI
a missing browser or Playwright fails the run; elsewhere the tests are skipped with the reason.

The server is started once per test process (each xdist worker has its own) on a free port,
against a temporary SQLite store holding a small SYNTHETIC El Salvador region and a demo
agency with an admin account. Every test gets a fresh browser context (no shared cookies)
that refuses any request leaving the app's origin: the pages must work offline. Screenshots
go to ``test-artifacts/browser/`` (one per step that matters, and one of every failure).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import PROJECT_ROOT, sqlite_store

try:
    from playwright.sync_api import expect
except ImportError:  # the playwright_api fixture says so (a skip, or a failure in CI)
    expect = None

REQUIRE_ENV = "SAFESTREETS_REQUIRE_BROWSER"
CHROMIUM_ENV = "SAFESTREETS_CHROMIUM"
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "browser"

#: Flags checked with Playwright and Debian's Chromium on these machines: no sandbox (root),
#: and none of the background traffic (updates, sync, field trials) a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

#: The demo accounts (the password meets the 12-character minimum).
AGENCY = "SV-PNC"
ADMIN = "admin.sv"
ANALYST = "analista.sv"
PASSWORD = "browser-test-Pa55word"

#: How long a selector, an assertion or a navigation may take (a page of this app renders in
#: well under a second; the margin is for a loaded machine, not a timing claim).
TIMEOUT_MS = 30_000


def find_chromium() -> str | None:
    """The system Chromium: ``$SAFESTREETS_CHROMIUM``, else ``chromium`` on the PATH."""
    for candidate in (os.environ.get(CHROMIUM_ENV), "chromium", "chromium-browser"):
        if candidate:
            path = shutil.which(candidate)
            if path:
                return path
    return None


def _unavailable(reason: str) -> None:
    """Skip, or fail when the browser tests are required (CI)."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: the browser tests are required)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        _unavailable(
            "no Chromium found: install Debian's `chromium` (apt-get install chromium) "
            f"or set {CHROMIUM_ENV} to its executable"
        )
    assert path is not None
    return path


@pytest.fixture(scope="session")
def playwright_api() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install -e '.[dev]')")
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_api: Any, chromium_path: str) -> Iterator[Any]:
    """Headless Debian Chromium (Playwright gives it a fresh temporary profile)."""
    b = playwright_api.chromium.launch(
        executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
    )
    try:
        yield b
    finally:
        b.close()


# --- the app under test --------------------------------------------------------------------


@dataclass
class LiveApp:
    """The running server: its URL, its engine (for checks behind the pages) and its folder."""

    url: str
    engine: Any
    folder: Path


def _free_socket() -> socket.socket:
    # proto IPPROTO_TCP, so that asyncio turns Nagle's algorithm off on accepted connections
    # (with proto 0 it does not, and two-part responses wait ~40 ms for a delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def build_demo_store(folder: Path, *, incidents: int = 20_000) -> Any:
    """A migrated SQLite store with a small SYNTHETIC El Salvador region and demo accounts.

    The accounts go through :mod:`safestreets.access.accounts` as the local operator (as
    ``safestreets agencies add`` / ``users add`` would): agency SV-PNC, an admin (also
    analyst, so the data pages show records) and a plain analyst.
    """
    from safestreets.access.accounts import add_agency, add_user
    from safestreets.access.policy import Principal
    from safestreets.demo import generate_region
    from safestreets.ingest.load import load_canonical

    engine = sqlite_store(folder / "browser.sqlite")
    chunks = (
        (c.incidents, c.victims)
        for c in generate_region(seed=7, incidents=incidents, years=2, countries=["SV"])
    )
    load_canonical(chunks, engine, source="SYNTHETIC-DEMO", label="browser", synthetic=True)
    operator = Principal.local_operator("browser-tests")
    with engine.begin() as conn:
        add_agency(
            conn, operator, agency_id=AGENCY, name="Policía Nacional Civil (demo)", country="SV"
        )
        add_user(
            conn,
            operator,
            username=ADMIN,
            agency_id=AGENCY,
            roles=["admin", "analyst"],
            password=PASSWORD,
        )
        add_user(
            conn, operator, username=ANALYST, agency_id=AGENCY, roles=["analyst"], password=PASSWORD
        )
    return engine


@pytest.fixture(scope="session")
def live_app() -> Iterator[LiveApp]:
    """The real app (``create_app``) under uvicorn in a background thread on a free port."""
    import uvicorn

    from safestreets.api.app import create_app
    from safestreets.config import Settings

    with tempfile.TemporaryDirectory(prefix="safestreets-browser-") as tmp:
        folder = Path(tmp)
        engine = build_demo_store(folder)
        settings = Settings(
            data_dir=folder,
            database_url=str(engine.url),
            secret_key="browser-tests-" + "x" * 32,
            demo=True,
        )
        app = create_app(settings, engine)
        sock = _free_socket()
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        try:
            yield LiveApp(url=f"http://127.0.0.1:{port}", engine=engine, folder=folder)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()
            engine.dispose()


# --- pages -----------------------------------------------------------------------------------


@dataclass
class Watch:
    """What went wrong behind a page: script errors, requests that tried to leave the app's
    origin (all refused), and sub-resources (scripts, styles, images, fetches) that failed."""

    errors: list[str] = field(default_factory=list)
    offsite: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def shot(page: Any, name: str) -> Path:
    """A full-page screenshot ``test-artifacts/browser/<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _context(browser: Any, live_app: LiveApp, locale: str, watch: Watch) -> Any:
    ctx = browser.new_context(
        base_url=live_app.url,
        locale=locale,
        accept_downloads=True,
        viewport={"width": 1280, "height": 900},
    )
    ctx.set_default_timeout(TIMEOUT_MS)
    origin = live_app.url

    def guard(route: Any) -> None:
        url = route.request.url
        if url.startswith(origin) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            watch.offsite.append(url)
            route.abort()

    def check(response: Any) -> None:
        # A page may answer 401/403/404 on purpose; what it loads must not fail.
        if response.request.resource_type != "document" and response.status >= 400:
            watch.broken.append(f"{response.status} {response.url}")

    ctx.route("**/*", guard)
    ctx.on("weberror", lambda e: watch.errors.append(str(e.error)))
    ctx.on("response", check)
    return ctx


def _page_fixture(
    request: pytest.FixtureRequest, browser: Any, live_app: LiveApp, locale: str
) -> Iterator[Any]:
    failed_shot = ARTIFACTS / f"FAILED-{request.node.name}.png"
    failed_shot.unlink(missing_ok=True)  # from an earlier run
    watch = Watch()
    ctx = _context(browser, live_app, locale, watch)
    page = ctx.new_page()
    page.on("pageerror", lambda exc: watch.errors.append(str(exc)))
    try:
        yield page
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.passed:
            # Offline and whole: no script error, nothing fetched from elsewhere, no asset
            # or API call of the page failing.
            assert watch.errors == [], f"JavaScript errors on the page: {watch.errors}"
            assert watch.offsite == [], f"the page reached outside the app: {watch.offsite}"
            assert watch.broken == [], f"requests of the page failed: {watch.broken}"
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            # The page may be gone; the failure itself is what matters.
            with contextlib.suppress(Exception):
                shot(page, failed_shot.stem)
        ctx.close()


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Any, live_app: LiveApp) -> Iterator[Any]:
    """A fresh page (own cookies) of a browser whose language is Spanish (es-SV)."""
    yield from _page_fixture(request, browser, live_app, "es-SV")
