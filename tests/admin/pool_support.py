"""Shortcuts of the license page, device, session and resource pool tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2 as httpx

from licenseserver.db.unit_of_work import run_in_orm_transaction
from licenseserver.domain.resources.service import add_resources
from tests.admin.conftest import STAFF_PASSWORD, STAFF_USERNAME, csrf_of
from tests.conftest import free_port
from tests.support.world import TestWorld

ALLOCATE = "/api/resources/allocate"


def license_id(world: TestWorld, key: str) -> int:
    return int(world.scalar("SELECT id FROM licenses WHERE license_key = :k", k=key))


def new_license(world: TestWorld, **values: Any) -> tuple[str, int]:
    key = world.license(**values)
    return key, license_id(world, key)


def pool(world: TestWorld, resource_type: str, *identifiers: str) -> list[int]:
    """Resources added to the pool (as available), their ids in order."""
    values = list(identifiers)
    return run_in_orm_transaction(
        world.database_url, lambda session: add_resources(session, resource_type, values, "setup")
    )


def audit(world: TestWorld, action: str | None = None) -> list[dict[str, Any]]:
    """Audit entries (of one action), oldest first, with before/after decoded."""
    rows = world.rows(
        "SELECT actor, action, entity_type, entity_id, before, after FROM audit_log"
        " WHERE action NOT IN ('login', 'logout') ORDER BY id"
    )
    for row in rows:
        for side in ("before", "after"):
            row[side] = None if row[side] is None else json.loads(row[side])
    return [row for row in rows if action is None or row["action"] == action]


def history(world: TestWorld, resource_id: int) -> list[tuple[str, int | None, str]]:
    rows = world.rows(
        "SELECT action, license_id, actor FROM resource_history WHERE resource_id = :r ORDER BY id", r=resource_id
    )
    return [(r["action"], r["license_id"], r["actor"]) for r in rows]


def resource_state(world: TestWorld, resource_id: int) -> tuple[str, int | None]:
    row = world.rows("SELECT status, license_id FROM resources WHERE id = :r", r=resource_id)[0]
    return row["status"], row["license_id"]


class AdminServer:
    """The admin panel as a real uvicorn process on 127.0.0.1 (one worker, many connections)."""

    def __init__(self, world: TestWorld) -> None:
        self.base_url = f"http://127.0.0.1:{free_port()}"
        env = {**os.environ, "DATABASE_URL": world.database_url, "SECRET_KEY": "parallel-test-secret-key"}
        port = self.base_url.rsplit(":", 1)[1]
        command = [sys.executable, "-m", "uvicorn", "--factory", "licenseserver.admin.app:create_admin_app"]
        command += ["--host", "127.0.0.1", "--port", port, "--log-level", "warning"]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "admin server exited early"
            try:
                if httpx.get(f"{self.base_url}/login", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("admin server did not start")

    def logged_in_client(self) -> httpx.Client:
        """A client logged in through the /login form, its CSRF header set."""
        client = httpx.Client(base_url=self.base_url, timeout=30)
        form = client.get("/login")
        data = {"username": STAFF_USERNAME, "password": STAFF_PASSWORD, "csrf_token": csrf_of(form.text)}
        assert client.post("/login", data=data).status_code == 303
        client.headers["X-CSRF-Token"] = csrf_of(client.get("/").text)
        return client

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def race(clients: list[httpx.Client], bodies: list[dict[str, object]]) -> list[int]:
    """Send one allocation per client at the same moment; the status codes, in order."""
    barrier = threading.Barrier(len(clients))

    def send(client: httpx.Client, body: dict[str, object]) -> int:
        barrier.wait()
        return client.post(ALLOCATE, json=body).status_code

    with ThreadPoolExecutor(len(clients)) as executor:
        return list(executor.map(send, clients, bodies))
