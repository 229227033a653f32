"""The log-in and the account page under attack: parallel guesses, odd usernames and codes, what a
failure gives away, and where the password hashing runs.

The parallel tests drive the panel in one event loop (lifespan included), so thirty requests truly
overlap inside the app: each one awaits the database while the others run.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pyotp
import pytest
from argon2 import PasswordHasher

from licenseserver.admin.app import create_admin_app
from licenseserver.db.unit_of_work import run_in_orm_transaction
from licenseserver.domain.staff import service as staff_service
from licenseserver.domain.staff.service import create_admin, enable_totp
from licenseserver.kit import passwords
from tests.admin.conftest import STAFF_PASSWORD, STAFF_USERNAME, csrf_of, make_staff
from tests.support.world import TestWorld

# Bursts are counted exactly: keep each inside one minute of the counter (tests/support/minute_edge.py).
pytestmark = pytest.mark.usefixtures("inside_one_minute")

SECRET_KEY = "test-secret-key-for-the-login-tests"
CSRF = "a-double-submit-token"
LIMIT = 5  # the seeded log-in limit per minute
PARALLEL = 30
WRONG = "wrong-password-0"
FAILED_MESSAGE = "Anmeldung fehlgeschlagen: Benutzername, Passwort oder Code falsch."
CSRF_FIELD = re.compile(r'name="csrf_token" value="[^"]*"')


class InProcessPanel:
    """The admin panel app in one event loop of its own, called through httpx's ASGI transport;
    its peer is 127.0.0.1, a trusted proxy, so X-Forwarded-For names each request's address."""

    def __init__(self, world: TestWorld) -> None:
        self.loop = asyncio.new_event_loop()
        self.app = create_admin_app(world.settings(secret_key=SECRET_KEY, trusted_proxies=["127.0.0.1/32"]))
        self.lifespan = self.app.router.lifespan_context(self.app)
        self.loop.run_until_complete(self.lifespan.__aenter__())
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False, client=("127.0.0.1", 50000))
        self.client = httpx.AsyncClient(transport=transport, base_url="http://panel.test")

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    async def login(self, username: str, password: str, address: str = "198.51.100.1", **extra: str) -> httpx.Response:
        return await self.client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": CSRF, **extra},
            headers={"X-Forwarded-For": address, "Cookie": f"ls_csrf={CSRF}"},
            follow_redirects=False,
        )

    def all_at_once(self, requests: list[Any]) -> list[httpx.Response]:
        async def together() -> list[httpx.Response]:
            return list(await asyncio.gather(*requests))

        return list(self.run(together()))

    def close(self) -> None:
        self.run(self.client.aclose())
        self.run(self.lifespan.__aexit__(None, None, None))
        self.run(self.loop.shutdown_asyncgens())
        self.loop.close()


@pytest.fixture
def in_process_panel(world: TestWorld) -> Iterator[InProcessPanel]:
    panel = InProcessPanel(world)
    yield panel
    panel.close()


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


def audited(world: TestWorld, action: str) -> list[dict[str, Any]]:
    return world.rows("SELECT actor, address, entity_id FROM audit_log WHERE action = :a ORDER BY id", a=action)


# --- the throttle holds under parallel requests -----------------------------------------------


def test_parallel_guesses_at_one_username_reach_the_password_check_at_most_the_limit(
    world: TestWorld, in_process_panel: InProcessPanel
) -> None:
    make_staff(world)
    addresses = [f"203.0.113.{n + 1}" for n in range(PARALLEL)]  # a different address each
    passwords_tried = [WRONG] * (PARALLEL - 1) + [STAFF_PASSWORD]
    responses = in_process_panel.all_at_once(
        [in_process_panel.login(STAFF_USERNAME, p, a) for p, a in zip(passwords_tried, addresses, strict=True)]
    )
    counted = statuses(responses)
    assert counted[401] + counted[303] <= LIMIT, counted
    assert counted[429] >= PARALLEL - LIMIT, counted
    assert len(audited(world, "login_failed")) == counted[401]
    assert all("retry-after" in r.headers for r in responses if r.status_code == 429)


def test_parallel_guesses_from_one_address_reach_the_password_check_at_most_the_limit(
    world: TestWorld, in_process_panel: InProcessPanel
) -> None:
    make_staff(world)
    usernames = [f"guess-{n}" for n in range(PARALLEL - 1)] + [STAFF_USERNAME]
    responses = in_process_panel.all_at_once([in_process_panel.login(u, WRONG, "203.0.113.200") for u in usernames])
    counted = statuses(responses)
    assert counted[401] <= LIMIT and counted[429] >= PARALLEL - LIMIT, counted
    assert len(audited(world, "login_failed")) == counted[401]


def test_a_successful_login_gives_its_attempt_back(world: TestWorld, in_process_panel: InProcessPanel) -> None:
    make_staff(world)
    panel = in_process_panel
    answers = [panel.run(panel.login(STAFF_USERNAME, WRONG)).status_code for _ in range(LIMIT - 1)]
    answers.append(panel.run(panel.login(STAFF_USERNAME, STAFF_PASSWORD)).status_code)
    answers += [panel.run(panel.login(STAFF_USERNAME, WRONG)).status_code for _ in range(2)]
    assert answers == [401] * (LIMIT - 1) + [303, 401, 429]


def test_parallel_password_checks_on_the_account_page_are_throttled(
    world: TestWorld, in_process_panel: InProcessPanel
) -> None:
    make_staff(world)
    panel = in_process_panel
    logged_in = panel.run(panel.login(STAFF_USERNAME, STAFF_PASSWORD, address="198.51.100.77"))
    assert logged_in.status_code == 303
    session = logged_in.cookies["ls_admin"]
    token = csrf_of(panel.run(panel.client.get("/", headers={"Cookie": f"ls_admin={session}"})).text)
    guess = {"current_password": WRONG, "new_password": "a-new-password-1", "new_password_repeat": "a-new-password-1"}
    headers = {"X-CSRF-Token": token, "X-Forwarded-For": "198.51.100.78", "Cookie": f"ls_admin={session}"}
    responses = panel.all_at_once(
        [panel.client.post("/account/password", data=guess, headers=headers) for _ in range(PARALLEL)]
    )
    counted = statuses(responses)
    assert counted[400] <= LIMIT and counted[429] >= PARALLEL - LIMIT, counted


# --- odd usernames and codes: refusals, never a 500 --------------------------------------------


def test_a_long_unknown_username_is_refused_and_audited(world: TestWorld, in_process_panel: InProcessPanel) -> None:
    for length in (65, 100):
        name = "x" * length
        response = in_process_panel.run(in_process_panel.login(name, WRONG))
        assert response.status_code == 401, response.text
        assert FAILED_MESSAGE in response.text
    rows = audited(world, "login_failed")
    assert [r["actor"] for r in rows] == ["x" * 65, "x" * 100]  # the whole name, in the 100-character column
    assert [len(r["entity_id"]) for r in rows] == [64, 64]


def test_a_nul_in_the_username_is_refused_and_audited(world: TestWorld, in_process_panel: InProcessPanel) -> None:
    make_staff(world)
    response = in_process_panel.run(in_process_panel.login(f"{STAFF_USERNAME}\x00", STAFF_PASSWORD))
    assert response.status_code == 400, response.text
    assert world.scalar("SELECT COUNT(*) FROM admin_sessions") == 0
    assert [r["actor"] for r in audited(world, "login_failed")] == [f"{STAFF_USERNAME}\\x00"]


def totp_staff(world: TestWorld) -> str:
    """The staff member with a second factor; returns its secret."""
    make_staff(world)
    secret = pyotp.random_base32()

    async def switch_on(session: Any) -> None:
        admin = await staff_service.find_admin(session, STAFF_USERNAME)
        assert admin is not None
        assert await enable_totp(session, SECRET_KEY, admin, secret, pyotp.TOTP(secret).now())

    run_in_orm_transaction(world.database_url, switch_on)
    world.execute("UPDATE admin_users SET totp_last_step = NULL")  # the current code may be used again
    return secret


def test_codes_in_other_digits_are_refused_at_login(world: TestWorld, in_process_panel: InProcessPanel) -> None:
    totp_staff(world)
    for code in ("١٢٣٤٥٦", "１２３４５６", "123456\n"):
        response = in_process_panel.run(in_process_panel.login(STAFF_USERNAME, STAFF_PASSWORD, totp=code))
        assert response.status_code == 401, (code, response.text)
    assert world.scalar("SELECT COUNT(*) FROM admin_sessions") == 0


def test_codes_in_other_digits_are_refused_on_the_account_page(
    world: TestWorld, in_process_panel: InProcessPanel
) -> None:
    make_staff(world)
    panel = in_process_panel
    session = panel.run(panel.login(STAFF_USERNAME, STAFF_PASSWORD)).cookies["ls_admin"]
    page = panel.run(panel.client.get("/account/totp", headers={"Cookie": f"ls_admin={session}"}))
    enrolment = re.search(r'name="enrolment" value="([^"]+)"', page.text)
    assert enrolment
    headers = {"X-CSRF-Token": csrf_of(page.text), "Cookie": f"ls_admin={session}"}
    before = world.snapshot()
    for code in ("١٢٣٤٥٦", "１２３４５６"):
        data = {"enrolment": enrolment.group(1), "code": code}
        response = panel.run(panel.client.post("/account/totp", data=data, headers=headers))
        assert response.status_code == 400, (code, response.text)
    assert world.snapshot()["admin_users"] == before["admin_users"]


# --- a failure gives nothing away -----------------------------------------------------------


def failure_cases(secret: str) -> dict[str, dict[str, str]]:
    right_code = pyotp.TOTP(secret).now()
    return {
        "unknown user": {"username": "nobody-here", "password": STAFF_PASSWORD},
        "wrong password": {"username": STAFF_USERNAME, "password": WRONG},
        "wrong password, right code": {"username": STAFF_USERNAME, "password": WRONG, "totp": right_code},
        "right password, no code": {"username": STAFF_USERNAME, "password": STAFF_PASSWORD},
        "right password, wrong code": {
            "username": STAFF_USERNAME,
            "password": STAFF_PASSWORD,
            "totp": "000000" if right_code != "000000" else "111111",
        },
    }


def comparable(response: httpx.Response, username: str) -> tuple[int, str]:
    """The answer with what legitimately differs (the echoed username, the form token) taken out."""
    body = CSRF_FIELD.sub("", response.text).replace(f'value="{username}"', 'value=""')
    return response.status_code, body


def test_every_login_failure_gets_the_same_answer(world: TestWorld, in_process_panel: InProcessPanel) -> None:
    secret = totp_staff(world)
    panel = in_process_panel
    answers = {}
    for number, (case, data) in enumerate(failure_cases(secret).items()):
        username, password = data["username"], data["password"]
        extra = {"totp": data["totp"]} if "totp" in data else {}
        response = panel.run(panel.login(username, password, address=f"198.51.100.{number + 10}", **extra))
        answers[case] = comparable(response, username)
        assert FAILED_MESSAGE in response.text, case
    assert len(set(answers.values())) == 1, {case: answer[0] for case, answer in answers.items()}


class CountingHasher(PasswordHasher):
    """The real argon2id hasher, noting which thread ran each hash and verification."""

    def __init__(self) -> None:
        super().__init__(time_cost=2, memory_cost=19 * 1024, parallelism=1)
        self.threads: list[tuple[str, int]] = []

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.threads.append(("hash", threading.get_ident()))
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.threads.append(("verify", threading.get_ident()))
        return super().verify(hash, password)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher()
    monkeypatch.setattr(passwords, "HASHER", counting)
    return counting


def test_every_login_failure_costs_one_verification_and_one_code_check(
    world: TestWorld, in_process_panel: InProcessPanel, hasher: CountingHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = totp_staff(world)
    code_checks: list[str] = []
    real_check = staff_service.matching_totp_step

    def counting_check(totp_secret: str, code: str) -> int | None:
        code_checks.append(code)
        return real_check(totp_secret, code)

    monkeypatch.setattr(staff_service, "matching_totp_step", counting_check)
    panel = in_process_panel
    for number, (case, data) in enumerate(failure_cases(secret).items()):
        hasher.threads.clear()
        code_checks.clear()
        extra = {"totp": data["totp"]} if "totp" in data else {}
        response = panel.run(panel.login(data["username"], data["password"], f"198.51.100.{number + 30}", **extra))
        assert response.status_code == 401, case
        assert [kind for kind, _ in hasher.threads] == ["verify"], case
        assert len(code_checks) == 1, case


def test_password_hashing_runs_off_the_event_loop(
    world: TestWorld, in_process_panel: InProcessPanel, hasher: CountingHasher
) -> None:
    panel = in_process_panel
    loop_thread = panel.run(_loop_thread())  # also the thread that runs create_admin's own loop below
    run_in_orm_transaction(world.database_url, lambda session: create_admin(session, STAFF_USERNAME, STAFF_PASSWORD))
    session = panel.run(panel.login(STAFF_USERNAME, STAFF_PASSWORD)).cookies["ls_admin"]
    token = csrf_of(panel.run(panel.client.get("/", headers={"Cookie": f"ls_admin={session}"})).text)
    change = {
        "current_password": STAFF_PASSWORD,
        "new_password": "a-new-password-1",
        "new_password_repeat": "a-new-password-1",
    }
    headers = {"X-CSRF-Token": token, "Cookie": f"ls_admin={session}"}
    response = panel.run(panel.client.post("/account/password", data=change, headers=headers, follow_redirects=False))
    assert response.status_code == 303
    kinds = [kind for kind, _ in hasher.threads]
    assert kinds == ["hash", "verify", "verify", "hash"]  # create, log-in, current password, new password
    assert loop_thread not in {thread for _, thread in hasher.threads}


async def _loop_thread() -> int:
    return threading.get_ident()


# --- HEAD ------------------------------------------------------------------------------------


def test_head_login_answers_like_get_without_a_body(world: TestWorld, in_process_panel: InProcessPanel) -> None:
    panel = in_process_panel
    head = panel.run(panel.client.head("/login"))
    get = panel.run(panel.client.get("/login"))
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
