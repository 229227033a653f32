"""The open-loop generator's requests: for each scenario the same requests its wrk script sends
(bench/lua/), from the same pool file, judged the same way. One Traffic object serves every
connection of a run, so pools are not sliced: a request is built when it is sent."""

from __future__ import annotations

import json
import re
from collections import deque
from pathlib import Path

from scenarios import Scenario

UNEXPECTED = "unexpected"
SESSION_TOKEN = re.compile(rb'"session_token":"([^"]+)"')


def read_rows(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines() if line]


def http_request(method: str, path: str, host: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Traffic:
    """The baseline's: one static GET."""

    def __init__(self, scenario: Scenario, host: str, api_key: str, rows: list[list[str]], tag: str) -> None:
        self.scenario = scenario
        self.host = host
        self.api_key = api_key
        self.rows = rows
        self.tag = tag
        self.sent = 0

    def next_request(self) -> bytes:
        return http_request("GET", self.scenario.path, self.host, {})

    def judge(self, status: int, headers: dict[str, str], body: bytes) -> str:
        return "ok" if 200 <= status < 300 else UNEXPECTED

    def post(self, path: str, payload: dict[str, str], extra: dict[str, str] | None = None) -> bytes:
        headers = {"Content-Type": "application/json", "X-API-Key": self.api_key, **(extra or {})}
        return http_request("POST", path, self.host, headers, json.dumps(payload, separators=(",", ":")).encode())

    def next_row(self) -> list[str]:
        row = self.rows[self.sent % len(self.rows)]
        self.sent += 1
        return row


class Verify(Traffic):
    signed = False

    def next_request(self) -> bytes:
        key, device = self.next_row()[:2]
        extra = {}
        if self.signed:
            extra["Accept-Signature"] = (
                'sig1=("@status" "content-digest" "@method";req "@path";req);'
                f'nonce="o{self.tag}-{self.sent}";alg="ed25519"'
            )
        return self.post(
            self.scenario.path, {"license_key": key, "hardware_hash": device, "app_version": "1.0.0"}, extra
        )

    def judge(self, status: int, headers: dict[str, str], body: bytes) -> str:
        if not 200 <= status < 300 or b'"valid":true' not in body:
            return UNEXPECTED
        if self.signed and "signature" not in headers:
            return UNEXPECTED
        return "valid"


class SignedVerify(Verify):
    signed = True


def _activation(key: str, device: str) -> dict[str, str]:
    return {"license_key": key, "hardware_hash": device, "machine_name": "BENCH-PC", "app_version": "1.0.0"}


class Reactivate(Traffic):
    def next_request(self) -> bytes:
        passes = self.sent // len(self.rows)
        row = self.next_row()
        return self.post(self.scenario.path, _activation(row[0], row[1 + passes % 2]))

    def judge(self, status: int, headers: dict[str, str], body: bytes) -> str:
        ok = 200 <= status < 300 and b'"already_active":true' in body
        return "refreshed" if ok else UNEXPECTED


class NewDevice(Traffic):
    """Rows: key, seeded device 1, free slots (activate-new.tsv, counted just before the run)."""

    def __init__(self, scenario: Scenario, host: str, api_key: str, rows: list[list[str]], tag: str) -> None:
        super().__init__(scenario, host, api_key, rows, tag)
        self.slots = deque((row[0], row[1], int(row[2])) for row in rows)
        self.added: dict[str, int] = {}

    def next_request(self) -> bytes:
        while self.slots:
            key, device, free = self.slots[0]
            self.slots.rotate(-1)
            added = self.added.get(key, 0)
            if added < free:
                self.added[key] = added + 1
                return self.post(self.scenario.path, _activation(key, f"bench-new-{self.tag}-o-{key}-{added + 1}"))
            self.slots.pop()  # the one just rotated to the end: it is full
        key, device = self.next_row()[:2]  # every slot used: re-activations, as the wrk script does
        return self.post(self.scenario.path, _activation(key, device))

    def judge(self, status: int, headers: dict[str, str], body: bytes) -> str:
        if not 200 <= status < 300:
            return UNEXPECTED
        if b'"already_active":false' in body:
            return "created"
        return "refreshed" if b'"already_active":true' in body else UNEXPECTED


class Heartbeat(Traffic):
    def next_request(self) -> bytes:
        token, key = self.next_row()[:2]
        return self.post(self.scenario.path, {"session_token": token, "license_key": key})

    def judge(self, status: int, headers: dict[str, str], body: bytes) -> str:
        return "beaten" if 200 <= status < 300 and b'"success":true' in body else UNEXPECTED


class Session(Traffic):
    """Starts the next license's session, or ends one whose token an earlier start answered."""

    def __init__(self, scenario: Scenario, host: str, api_key: str, rows: list[list[str]], tag: str) -> None:
        super().__init__(scenario, host, api_key, rows, tag)
        self.tokens: deque[str] = deque()

    def next_request(self) -> bytes:
        if self.tokens:
            return self.post("/api/license/session/end", {"session_token": self.tokens.popleft()})
        key, device = self.next_row()[:2]
        start = {"license_key": key, "machine_id": "BENCH-PC", "hardware_hash": device, "version": "1.0.0"}
        return self.post("/api/license/session/start", start)

    def judge(self, status: int, headers: dict[str, str], body: bytes) -> str:
        if not 200 <= status < 300:
            return UNEXPECTED
        if b'"end_reason":"normal"' in body:
            return "ended"
        if b'"message":"Session started"' in body:
            token = SESSION_TOKEN.search(body)
            if token:
                self.tokens.append(token.group(1).decode())
                return "started"
        return UNEXPECTED


KINDS: dict[str, type[Traffic]] = {
    "baseline": Traffic,
    "verify": Verify,
    "verify-stale": Verify,
    "signed-verify": SignedVerify,
    "reactivate": Reactivate,
    "activate": NewDevice,
    "heartbeat": Heartbeat,
    "session": Session,
    "sqlite-verify": Verify,
    "sqlite-verify-stale": Verify,
}


def traffic_for(scenario: Scenario, host: str, api_key: str, data_dir: Path, tag: str) -> Traffic:
    rows = read_rows(data_dir / scenario.data) if scenario.data else []
    return KINDS[scenario.key](scenario, host, api_key, rows, tag)
