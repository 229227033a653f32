"""How long /health waits while a burst of log-ins hits one admin panel process.

Forty log-ins (forty names from forty addresses, so the throttle lets every one reach its password
check) are released together by a barrier while one client asks /health every 5 ms; the run
prints the slowest and the median /health answer of each of three bursts. Password hashing on the
event loop shows as /health waiting for the hashes queued before it.

    createdb -h 127.0.0.1 -U postgres login_burst
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/login_burst licenseserver migrate
    python bench/login_burst.py postgresql://postgres@127.0.0.1:5432/login_burst
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time

import httpx2 as httpx

LOGINS = 40
BURSTS = 3
HEALTH_INTERVAL_SECONDS = 0.005


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_panel(database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "login-burst", "TRUSTED_PROXIES": "127.0.0.1/32"}
    command = [sys.executable, "-m", "uvicorn", "--factory", "licenseserver.admin.app:create_admin_app"]
    return subprocess.Popen([*command, "--port", str(port), "--log-level", "warning"], env=env)


def _wait_until_up(base_url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base_url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{base_url} did not come up within {timeout} s")


def _burst(base_url: str, number: int) -> list[float]:
    """Milliseconds of each /health answer while LOGINS log-ins run together."""
    barrier = threading.Barrier(LOGINS + 1)
    finished = threading.Event()
    waits: list[float] = []

    def log_in(index: int) -> None:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            client.get("/health")  # the connection is open before the start
            barrier.wait()
            client.post(
                "/login",
                data={"username": f"burst{number}-{index}", "password": "not-the-password", "csrf_token": "t"},
                headers={"Cookie": "ls_csrf=t", "X-Forwarded-For": f"10.{number}.0.{index + 1}"},
            )

    def ask_health() -> None:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            client.get("/health")
            barrier.wait()
            while not finished.is_set():
                started = time.perf_counter()
                client.get("/health")
                waits.append((time.perf_counter() - started) * 1000)
                time.sleep(HEALTH_INTERVAL_SECONDS)

    logins = [threading.Thread(target=log_in, args=(index,)) for index in range(LOGINS)]
    health = threading.Thread(target=ask_health)
    for thread in (health, *logins):
        thread.start()
    for thread in logins:
        thread.join()
    finished.set()
    health.join()
    return waits


def main(database_url: str) -> None:
    port = _free_port()
    panel = _start_panel(database_url, port)
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_up(base_url)
        for number in range(BURSTS):
            waits = _burst(base_url, number)
            print(f"burst {number + 1}: /health max {max(waits):.0f} ms, median {statistics.median(waits):.0f} ms")
    finally:
        panel.terminate()
        panel.wait(timeout=20)


if __name__ == "__main__":
    main(sys.argv[1])
