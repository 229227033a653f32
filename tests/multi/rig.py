"""Several server processes on one database and one Redis, as production runs them: License API
instances and an admin panel, each its own uvicorn process, and the shortcuts the multi-instance
and Redis fault tests drive them with."""

from __future__ import annotations

import itertools
import os
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx

from tests.admin.conftest import STAFF_PASSWORD, STAFF_USERNAME, csrf_of
from tests.api.helpers import metric
from tests.conftest import SETTING_VARIABLES, free_port
from tests.support.database import TEST_API_RATE_LIMIT
from tests.support.world import TestWorld

API_FACTORY = "licenseserver.api.app:create_api_app"
ADMIN_FACTORY = "licenseserver.admin.app:create_admin_app"
VERSION_LATEST = "/api/version/latest"
FALLBACKS = "licenseserver_ratelimit_fallbacks_total"
# Instances cache the limits for 2 s (domain/settings/service.py): a change is in force after this.
RATE_LIMIT_REREAD_SECONDS = 2.2
HIGH_LIMIT = TEST_API_RATE_LIMIT  # the seeded limit, which only the rate-limit tests ever meet
# One TLS context for every client: building one per client costs more than the requests.
SHARED_TLS = ssl.create_default_context()
_addresses = itertools.count(1)


def fresh_address() -> str:
    """A client address (sent as X-Forwarded-For through a trusted proxy) no request used yet."""
    number = next(_addresses)
    return f"198.18.{number // 250 % 250}.{number % 250 + 1}"


def _clean_environment(settings: dict[str, str]) -> dict[str, str]:
    """This shell's environment without any setting of ours, plus `settings`."""
    kept = {k: v for k, v in os.environ.items() if k not in SETTING_VARIABLES and k != "PROMETHEUS_MULTIPROC_DIR"}
    return {**kept, **settings}


class ServerProcess:
    """One app as a uvicorn process on 127.0.0.1; its output goes to a file for diagnosis."""

    def __init__(self, factory: str, env: dict[str, str], log_dir: Path, name: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}-{self.port}.log"
        command = [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--log-level", "warning", "--loop", "uvloop", "--http", "httptools"]
        command += ["--no-proxy-headers"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, env=_clean_environment(env), stdout=log, stderr=subprocess.STDOUT)
        self._wait_until_up("/health" if factory == API_FACTORY else "/login")

    def _wait_until_up(self, path: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"server exited early: {self.log_path.read_text()[-2000:]}"
            try:
                if httpx.get(self.base_url + path, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.base_url}{path} did not answer within {timeout} s")

    def fallbacks(self) -> float:
        """This instance's count of rate-limit decisions taken in-process (Redis away)."""
        response = httpx.get(self.base_url + "/metrics", timeout=5)
        assert response.status_code == 200
        return metric(response.text, FALLBACKS, limiter="api")

    def stop(self) -> None:
        self.process.terminate()
        self.wait_stopped()

    def wait_stopped(self) -> None:
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def start_together(apps: dict[str, str], env: dict[str, str], log_dir: Path) -> Iterator[dict[str, ServerProcess]]:
    """Start every app (name: factory) at once, since each takes seconds; stop them all after."""
    with ThreadPoolExecutor(max_workers=len(apps)) as pool:
        futures = {name: pool.submit(ServerProcess, factory, env, log_dir, name) for name, factory in apps.items()}
    started: dict[str, ServerProcess] = {}
    try:
        for name, future in futures.items():
            started[name] = future.result()
        yield started
    finally:
        running = [future.result() for future in futures.values() if future.exception() is None]
        for server in running:  # all at once: each takes a moment to shut down
            server.process.terminate()
        for server in running:
            server.wait_stopped()


def instance_env(world: TestWorld, redis_url: str, prefix: str, **extra: str) -> dict[str, str]:
    """What every process of one installation shares: database, Redis and its key prefix."""
    return {
        "DATABASE_URL": world.database_url,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
        "SECRET_KEY": "multi-instance-test-secret",
        "TRUSTED_PROXIES": "127.0.0.1/32",  # so each test can be its own client by X-Forwarded-For
        "SESSION_SWEEP_SECONDS": "3600",
        "CLIENT_CONFIG_CACHE_SECONDS": "0",
        **extra,
    }


class Panel:
    """A staff member logged in to the admin panel over HTTP, as a browser would be."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10)
        form = self.http.get("/login")
        credentials = {"username": STAFF_USERNAME, "password": STAFF_PASSWORD, "csrf_token": csrf_of(form.text)}
        response = self.http.post("/login", data=credentials, follow_redirects=False)
        assert response.status_code == 303, response.text
        self.http.headers["X-CSRF-Token"] = csrf_of(self.http.get("/").text)

    def set_rate_limits(self, api_per_minute: int, login_per_minute: int = 5) -> None:
        data = {"api_per_minute": str(api_per_minute), "login_per_minute": str(login_per_minute)}
        response = self.http.post("/administration/rate-limits", data=data, follow_redirects=False)
        assert response.status_code == 303, response.text

    def regenerate_api_key(self) -> None:
        response = self.http.post("/administration/api-key", follow_redirects=False)
        assert response.status_code == 303, response.text

    @contextmanager
    def api_rate_limit(self, per_minute: int) -> Iterator[None]:
        """The License API limit set to `per_minute` in the panel (and in force), then back."""
        self.set_rate_limits(per_minute)
        time.sleep(RATE_LIMIT_REREAD_SECONDS)
        try:
            yield
        finally:
            self.set_rate_limits(HIGH_LIMIT)
            time.sleep(RATE_LIMIT_REREAD_SECONDS)

    def close(self) -> None:
        self.http.close()


def current_api_key(world: TestWorld) -> str:
    return str(world.scalar("SELECT api_key FROM system_api_key WHERE id = 1"))


def all_at_once(
    servers: list[ServerProcess],
    count: int,
    request: Callable[[httpx.Client, int], httpx.Response],
    headers: dict[str, str],
) -> list[httpx.Response]:
    """`request(client, i)` for i in 0..count-1, each in its own thread and client, released
    together by a barrier once every connection is open; spread round-robin over `servers`."""
    barrier = threading.Barrier(count)

    def work(index: int) -> httpx.Response:
        server = servers[index % len(servers)]
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=60, verify=SHARED_TLS) as client:
            assert client.get("/health").status_code == 200  # the connection is open before the start
            barrier.wait(timeout=60)
            return request(client, index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(work, range(count)))


def status_counts(responses: list[httpx.Response]) -> Counter[tuple[int, str | None]]:
    return Counter((r.status_code, None if r.status_code == 200 else r.json().get("code")) for r in responses)


def passes_per_server(responses: list[httpx.Response], servers: list[ServerProcess]) -> list[int]:
    """How many of `responses` (made round-robin by `all_at_once`) each server let through."""
    return [sum(1 for r in responses[index :: len(servers)] if r.status_code == 200) for index in range(len(servers))]


def clear_of_the_minute_edge(margin_seconds: float = 4.0) -> None:
    """In-process counting windows start on the wall-clock minute, and a burst that straddles one
    is weighted across both and may let one request more through: wait out the last seconds."""
    left = 60 - time.time() % 60
    if left < margin_seconds:
        time.sleep(left + 0.05)


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> float:
    """Seconds until `condition()` held; fails after `timeout`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"condition not met within {timeout} s"
        time.sleep(interval)
    return time.monotonic() - started
