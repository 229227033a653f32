"""Sessions: started, kept alive at the server's interval, ended on exit, lost when the server says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import DEVICE, LICENSE_KEY
from fake_license_server import FakeServer, SigningKey, jwks
from licenseserver_client import LicenseClient, SessionLostError

TOKEN = "550e8400-e29b-41d4-a716-446655440000"
NOT_FOUND = {"error": "Session not found", "code": "SESSION_NOT_FOUND", "status": 404}


@pytest.fixture
def sessions(server: FakeServer) -> dict[str, Any]:
    state: dict[str, Any] = {"beats": 0, "live": True, "ended": threading.Event()}

    def heartbeat(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not state["live"] or request != {"session_token": TOKEN, "license_key": LICENSE_KEY}:
            return 404, NOT_FOUND
        state["beats"] += 1
        return 200, {"success": True, "last_heartbeat": "2026-11-28T10:00:01Z", "heartbeat_interval": 1}

    def end(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        state["ended"].set()
        return 200, {
            "success": True,
            "session_token": request["session_token"],
            "duration_seconds": 3,
            "end_reason": "normal",
            "ended_at": "2026-11-28T10:00:03Z",
        }

    server.answer(
        "POST",
        "/api/license/session/start",
        200,
        {
            "success": True,
            "message": "Session started",
            "session_token": TOKEN,
            "heartbeat_interval": 1,
            "session_timeout": 3,
            "started_at": "2026-11-28T10:00:00Z",
            "update_available": False,
            "latest_version": "1.0.0",
            "download_url": None,
            "release_notes": None,
        },
    )
    server.route("POST", "/api/license/session/heartbeat", heartbeat)
    server.route("POST", "/api/license/session/end", end)
    return state


def wait_for(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_heartbeats_at_the_servers_interval_and_ends_on_exit(
    client: LicenseClient, server: FakeServer, sessions: dict[str, Any]
) -> None:
    started = time.monotonic()
    with client.session(LICENSE_KEY, DEVICE, "DESKTOP-1", "1.0.0") as session:
        assert session.token == TOKEN
        wait_for(lambda: sessions["beats"] >= 2)
        session.check()
    assert time.monotonic() - started >= 2.0  # one beat a second, not a busy loop
    assert sessions["ended"].is_set()
    paths = [path for _, path, _ in server.requests]
    assert paths[0] == "/api/license/session/start" and paths[-1] == "/api/license/session/end"
    assert server.requests[0][2] == {
        "license_key": LICENSE_KEY,
        "machine_id": "DESKTOP-1",
        "hardware_hash": DEVICE,
        "version": "1.0.0",
    }


def test_a_session_ended_by_the_server_is_reported(client: LicenseClient, sessions: dict[str, Any]) -> None:
    lost: list[SessionLostError] = []
    with client.session(LICENSE_KEY, DEVICE, "DESKTOP-1", "1.0.0", on_lost=lost.append) as session:
        wait_for(lambda: sessions["beats"] >= 1)
        sessions["live"] = False  # staff ended it in the panel, or it timed out
        wait_for(lambda: bool(lost))
        with pytest.raises(SessionLostError) as gone:
            session.check()
    assert gone.value.code == "SESSION_NOT_FOUND" and gone.value.status == 404
    assert lost[0] is gone.value
    assert not sessions["ended"].is_set()  # nothing to end: the server already forgot it


def test_a_refused_start_is_reported(client: LicenseClient, server: FakeServer, sessions: dict[str, Any]) -> None:
    conflict = {"error": "Es ist nur eine Sitzung erlaubt ...", "code": "SESSION_CONFLICT", "status": 409}
    server.answer("POST", "/api/license/session/start", 409, conflict)
    lost: list[SessionLostError] = []
    session = client.session(LICENSE_KEY, DEVICE, "DESKTOP-1", "1.0.0", on_lost=lost.append)
    with pytest.raises(SessionLostError) as refused, session:
        pass
    assert refused.value.code == "SESSION_CONFLICT" and refused.value.status == 409
    assert lost == [refused.value]
    with pytest.raises(SessionLostError):
        session.check()


def test_an_outage_is_not_a_lost_session(client: LicenseClient, server: FakeServer, sessions: dict[str, Any]) -> None:
    calls = {"n": 0}

    def flaky(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        calls["n"] += 1
        if calls["n"] == 1:
            return 503, {"error": "down", "code": "SERVICE_UNAVAILABLE", "status": 503}
        return 200, {"success": True, "last_heartbeat": "x", "heartbeat_interval": 1}

    server.route("POST", "/api/license/session/heartbeat", flaky)
    with client.session(LICENSE_KEY, DEVICE, "DESKTOP-1", "1.0.0") as session:
        wait_for(lambda: session.beats >= 1)
        session.check()
    assert calls["n"] >= 2 and sessions["ended"].is_set()


def test_the_session_ends_at_interpreter_exit(
    key: SigningKey, server: FakeServer, sessions: dict[str, Any], tmp_path: Path
) -> None:
    program = f"""
import json, sys
from licenseserver_client import LicenseClient
client = LicenseClient({server.base_url!r}, "AF-2026-X", public_keys=json.loads(sys.argv[1]),
                       cache_path={str(tmp_path / "cache.json")!r})
session = client.session({LICENSE_KEY!r}, {DEVICE!r}, "DESKTOP-1", "1.0.0")
session.start()
print(session.token)
"""  # the program never ends its session: atexit must
    source = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": source}
    done = subprocess.run(
        [sys.executable, "-c", program, json.dumps(jwks(key))], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == TOKEN
    assert sessions["ended"].is_set()
