"""Structured logs of real server processes: one JSON line per request with its request id, the
id in an X-Request-ID header of both apps, and no secret anywhere in what the processes print,
through an activation, a log-in (and a failed one) and a regenerated API key."""

from __future__ import annotations

import json
import logging
import re
import socket
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx2 as httpx
import pytest

from licenseserver.db.engine import make_engine
from licenseserver.kit.clientaddr import parse_networks
from licenseserver.kit.logs import TextFormatter, redact, request_id_for
from tests.api.helpers import ACTIVATE, INFO, VERIFY
from tests.faults.processes import ServeProcess
from tests.support.world import TestWorld

ADMIN_USER = "chef"
ADMIN_PASSWORD = "Pa55word-not-in-any-log"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)"')
ACCESS_FIELDS = {"time", "level", "logger", "message", "request_id", "method", "route", "path", "status", "duration_ms"}


def test_redact_masks_api_keys_and_license_keys_only() -> None:
    line = "key AF-2026-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345 on /api/license/info/ABCD-EF12-IJKL-MNOP at 2026-11-27"
    assert redact(line) == "key AF-2026-**** on /api/license/info/ABCD-****-****-**** at 2026-11-27"
    untouched = "request 123e4567-e89b-12d3-a456-426614174000 took 12 ms, AF-2026-short"
    assert redact(untouched) == untouched


def test_incoming_request_id_is_kept_only_from_a_trusted_proxy_and_only_when_sane() -> None:
    trusted = parse_networks(["10.0.0.0/8"])

    def scope(peer: str, value: bytes) -> dict[str, object]:
        return {"client": (peer, 1234), "headers": [(b"x-request-id", value)]}

    assert request_id_for(scope("10.1.2.3", b"lb-42.abc"), trusted) == "lb-42.abc"
    assert request_id_for(scope("10.1.2.3", b"lb-42.abc"), ()) != "lb-42.abc"
    assert request_id_for(scope("192.0.2.1", b"lb-42.abc"), trusted) != "lb-42.abc"
    for insane in (b"has space", b"x" * 200, b"line\r\nbreak", b""):
        generated = request_id_for(scope("10.1.2.3", insane), trusted)
        assert re.fullmatch(r"[0-9a-f]{32}", generated), insane
    assert request_id_for(scope("10.1.2.3", b""), trusted) != request_id_for(scope("10.1.2.3", b""), trusted)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[ServeProcess, ServeProcess, str]]:
    """The License API (behind a 'proxy' on 127.0.0.1) and the panel on one new SQLite file."""
    url = f"sqlite:///{tmp_path / 'logs.db'}"
    common = {"DATABASE_URL": url, "LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"}
    api = ServeProcess(tmp_path, "api", TRUSTED_PROXIES="127.0.0.1", **common)
    admin: ServeProcess | None = None
    try:
        api.wait_healthy()
        admin = ServeProcess(tmp_path, "admin", ADMIN_USERNAME=ADMIN_USER, ADMIN_PASSWORD=ADMIN_PASSWORD, **common)
        admin.wait_healthy("/login")
        yield api, admin, url
    finally:
        for server in (api, admin):
            if server is not None:
                server.stop()


def _api_key(url: str) -> str:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return str(conn.execute("SELECT api_key FROM system_api_key WHERE id = 1").fetchone()[0])


def _csrf(html: str) -> str:
    match = CSRF_META.search(html)
    assert match
    return match.group(1)


@pytest.mark.slow
def test_server_logs_are_json_lines_with_request_ids_and_no_secrets(
    servers: tuple[ServeProcess, ServeProcess, str],
) -> None:
    api, admin, url = servers
    first_key = _api_key(url)
    engine = make_engine(url)
    license_key = TestWorld("sqlite", url, engine, api_key=first_key).license()
    engine.dispose()
    secrets: dict[str, str] = {"first API key": first_key, "admin password": ADMIN_PASSWORD, "license": license_key}
    request_ids: list[str] = []

    with httpx.Client(base_url=api.base_url, headers={"X-API-Key": first_key}, timeout=10) as client:
        body = {"license_key": license_key, "hardware_hash": "hw-logs", "machine_name": "PC"}
        for response in (
            client.post(ACTIVATE, json=body),
            client.post(VERIFY, json={"license_key": license_key, "hardware_hash": "hw-logs"}),
            client.get(INFO.format(key=license_key)),
        ):
            assert response.status_code == 200, response.text
            request_ids.append(response.headers["X-Request-ID"])
        proxied = client.get("/health", headers={"X-Request-ID": "edge-7f3a.1"})
        assert proxied.headers["X-Request-ID"] == "edge-7f3a.1"  # 127.0.0.1 is a trusted proxy here
        request_ids.append("edge-7f3a.1")

    with httpx.Client(base_url=admin.base_url, timeout=10) as panel:
        attempt = {"username": ADMIN_USER, "password": "wrong-" + ADMIN_PASSWORD}
        wrong = panel.post("/login", data={**attempt, "csrf_token": _csrf(panel.get("/login").text)})
        assert wrong.status_code in (400, 401, 403, 200)
        login_page = panel.get("/login")
        assert login_page.headers["X-Request-ID"] != "ignored"
        secrets["login CSRF token"] = _csrf(login_page.text)
        attempt = {"username": ADMIN_USER, "password": ADMIN_PASSWORD, "csrf_token": secrets["login CSRF token"]}
        logged_in = panel.post("/login", data=attempt)
        assert logged_in.status_code == 303, logged_in.text
        secrets.update({f"cookie {name}": value for name, value in panel.cookies.items()})
        page = panel.get("/administration", headers={"X-Request-ID": "ignored"})
        assert page.headers["X-Request-ID"] != "ignored", "an untrusted client chose its request id"
        secrets["session CSRF token"] = _csrf(page.text)
        regenerated = panel.post("/administration/api-key", data={"csrf_token": secrets["session CSRF token"]})
        assert regenerated.status_code == 303, regenerated.text
        request_ids.append(regenerated.headers["X-Request-ID"])
    secrets["new API key"] = _api_key(url)
    assert secrets["new API key"] != first_key

    api.stop()
    admin.stop()
    output = api.output() + admin.output()
    for name, secret in secrets.items():
        assert len(secret) >= 16 and secret not in output, f"{name} appears in the logs"
    assert f"{license_key[:4]}-****-****-****" in output, "the info path was not logged (masked)"
    assert "licenseserver api-key show" in output, "the new key's log line says how to read it"

    access = _access_lines(api.stderr_path) + _access_lines(admin.stderr_path)
    for request_id in request_ids:
        lines = [line for line in access if line["request_id"] == request_id]
        assert len(lines) == 1, f"{request_id}: {len(lines)} access lines"
        assert lines[0].keys() >= ACCESS_FIELDS and lines[0]["client"] == "127.0.0.1"
    info_line = next(line for line in access if line["route"] == "/api/license/info/{license_key}")
    assert info_line["status"] == 200 and info_line["method"] == "GET"


def _access_lines(stderr: Path) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in stderr.read_text().splitlines() if line.strip()]  # every line is JSON
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    return [line for line in lines if line["logger"] == "licenseserver.access"]


FORGED = "2026-01-01T00:00:00.000Z INFO licenseserver.access: GET / 200 forged"
TEXT_LINE_START = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z [A-Z]+ ")


def test_text_lines_escape_every_control_character_in_every_field() -> None:
    record = logging.LogRecord("licenseserver.access", logging.INFO, "", 0, "GET /a\nb 404", (), None)
    record.fields = {"path": "/a\r\nb\tc", "client": "\x1b[2J\x7f\x85\u2028", "status": 404}
    line = TextFormatter().format(record)
    assert line.splitlines() == [line]
    assert "GET /a\\nb 404" in line
    assert "path=/a\\r\\nb\\tc" in line
    assert "client=\\x1b[2J\\x7f\\x85\\u2028" in line


def test_a_traceback_keeps_its_lines_but_none_passes_for_a_log_line() -> None:
    try:
        raise ValueError("bad\n" + FORGED)
    except ValueError:
        record = logging.LogRecord("licenseserver", logging.ERROR, "", 0, "boom", (), sys.exc_info())
    lines = TextFormatter().format(record).splitlines()
    assert TEXT_LINE_START.match(lines[0]) and len(lines) > 2
    assert all(line.startswith("    ") for line in lines[1:])


def _raw_request(base_url: str, target: str, *headers: bytes) -> int:
    host, port = base_url.removeprefix("http://").split(":")
    head = b"GET " + target.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + b"".join(header + b"\r\n" for header in headers) + b"\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


@pytest.mark.slow
def test_text_logs_of_both_apps_keep_one_line_per_request_whatever_the_path(tmp_path: Path) -> None:
    """A `%0a` in a raw request path used to start a second, forged line in the text format."""
    forged_path = "/api/x%0a" + quote(FORGED) + "%0d%0a%1b%5b2J%C2%85" + quote(FORGED)
    hostile = (b"X-Forwarded-For: 203.0.113.9\x85", b"X-Request-ID: edge\x85")
    servers = [
        ServeProcess(
            tmp_path,
            service,
            DATABASE_URL=f"sqlite:///{tmp_path / service}.db",
            LOG_FORMAT="text",
            TRUSTED_PROXIES="127.0.0.1",
        )
        for service in ("api", "admin")
    ]
    try:
        for server, ready in zip(servers, ("/health", "/login"), strict=True):
            server.wait_healthy(ready)
            assert _raw_request(server.base_url, forged_path, *hostile) in (401, 404)
    finally:
        for server in servers:
            server.stop()
    for server in servers:
        text = server.stderr_path.read_text()
        lines = text.splitlines()
        assert lines and all(TEXT_LINE_START.match(line) for line in lines), text
        access = [line for line in lines if "forged" in line]
        assert len(access) == 1, text
        assert "\\n2026-01-01T" in access[0] and "\\r\\n\\x1b[2J\\x85" in access[0]
        assert "\x1b" not in text and "\x85" not in text
