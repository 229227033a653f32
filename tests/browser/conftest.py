"""Browser tests: the real admin panel and License API as server processes on one database,
driven by Debian's Chromium through Playwright (no browser download).

Every test that takes `page` runs twice: on a desktop screen (1440 × 900) and on a phone
(390 × 844), where the header's menu folds behind its "Menü" button; `open_from_menu` and
`open_menu_if_collapsed` go through it the way a person does. A test that is about one screen size
says so by parametrising `viewport` itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, Cookie, Page, ViewportSize, expect, sync_playwright
from sqlalchemy import Engine

from tests.admin.conftest import STAFF_PASSWORD, STAFF_USERNAME, make_staff
from tests.conftest import free_port
from tests.support import database
from tests.support.world import TestWorld

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP: ViewportSize = {"width": 1440, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}


@dataclass
class Servers:
    api_url: str
    admin_url: str


def _start(app_factory: str, port: int, world: TestWorld) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": world.database_url,
        "SECRET_KEY": "browser-test-secret",
        "CLIENT_CONFIG_CACHE_SECONDS": "0",
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        app_factory,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-proxy-headers",
    ]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, f"server for {url} exited early"
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


@contextmanager
def running_servers(world: TestWorld) -> Iterator[Servers]:
    """License API and admin panel processes on `world`'s database, stopped afterwards."""
    api_port, admin_port = free_port(), free_port()
    processes = [
        _start("licenseserver.api.app:create_api_app", api_port, world),
        _start("licenseserver.admin.app:create_admin_app", admin_port, world),
    ]
    try:
        _wait(f"http://127.0.0.1:{api_port}/health", processes[0])
        _wait(f"http://127.0.0.1:{admin_port}/login", processes[1])
        yield Servers(f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{admin_port}")
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)


@pytest.fixture(scope="module")
def shared_world(pg_database_url: str, pg_engine: Engine) -> TestWorld:
    """One fresh, seeded PostgreSQL database (with the staff user) for a whole test module: the
    module's tests share it, so each test makes its own rows and looks only at those."""
    database.reset_pg(pg_engine)
    world = TestWorld("postgresql", pg_database_url, pg_engine)
    make_staff(world)
    return world


@pytest.fixture(scope="module")
def shared_servers(shared_world: TestWorld) -> Iterator[Servers]:
    """Both apps on `shared_world`, started once per module: starting them takes seconds on a
    small machine, a flow in the browser a second or two."""
    with running_servers(shared_world) as started:
        yield started


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # Package scope: Playwright's sync API keeps an event loop running in this thread until it
    # stops, and the tests after this folder call asyncio.run().
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def viewport(request: pytest.FixtureRequest) -> ViewportSize:
    """The screen size of `page`: each test taking it runs at both."""
    size: ViewportSize = request.param
    return size


@pytest.fixture
def screen(viewport: ViewportSize) -> str:
    """The screen's name, "desktop" or "phone": the two runs of a flow share their module's
    database, so what they make is named after the screen where the names must differ."""
    if viewport == DESKTOP:
        return "desktop"
    if viewport == PHONE:
        return "phone"
    return f"{viewport['width']}x{viewport['height']}"


@pytest.fixture
def page(browser: Browser, viewport: ViewportSize) -> Iterator[Page]:
    context = browser.new_context(viewport=viewport, locale="de-DE")
    tab = context.new_page()
    yield tab
    context.close()


def log_in(page: Page, servers: Servers, username: str = STAFF_USERNAME, password: str = STAFF_PASSWORD) -> None:
    """Through the log-in form, onto the dashboard."""
    page.goto(f"{servers.admin_url}/login")
    page.get_by_label("Benutzername").fill(username)
    page.get_by_label("Passwort").fill(password)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url(f"{servers.admin_url}/")


@pytest.fixture(scope="module")
def staff_session(browser: Browser, shared_servers: Servers) -> list[Cookie]:
    """The staff user's session cookie on `shared_servers`, logged in once per module through the
    form: a log-in (a password hash and a dashboard) costs about a second per test, and the flows
    that are not about logging in only need to be logged in. Nothing in those flows logs this
    session out or changes the staff user."""
    context = browser.new_context(locale="de-DE")
    try:
        log_in(context.new_page(), shared_servers)
        return context.cookies()
    finally:
        context.close()


@pytest.fixture
def logged_in(page: Page, shared_servers: Servers, staff_session: list[Cookie]) -> None:
    """`page` in the module's staff session, on the dashboard, where `log_in` would have left it."""
    page.context.add_cookies(staff_session)
    page.goto(f"{shared_servers.admin_url}/")


def open_menu_if_collapsed(page: Page) -> None:
    """Open the header's menu where it is folded behind its "Menü" button (a phone), so that its
    links, the search box and "Abmelden" can be reached; on a wide screen they always are."""
    page.wait_for_load_state()  # app.js has run: the button shows where the menu folds
    button = page.get_by_role("button", name="Menü")
    if button.is_visible() and button.get_attribute("aria-expanded") != "true":
        button.click()
        expect(button).to_have_attribute("aria-expanded", "true")


def open_from_menu(page: Page, name: str) -> None:
    """Follow a link of the header's main navigation, opening the menu first on a phone."""
    open_menu_if_collapsed(page)
    page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name=name, exact=True).click()


def screenshot(page: Page, name: str) -> None:
    """docs/screenshots/<name>.png, taken on the desktop screen only: the phone run of the same flow
    leaves the file alone (test_layout.py takes the phone's own screenshots)."""
    if page.viewport_size != DESKTOP:
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)
