"""Fixtures of the client's unit tests: an Ed25519 key made per test, a local signing server with
the License API's answers, a clock the test moves, and a client pinned to that key."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_license_server import FakeServer, SigningKey, jwks, license_claims, running
from licenseserver_client import LicenseClient

LICENSE_KEY = "ABCD-EFGH-JKLM-NPQR"
DEVICE = "device-hash-1"


class Clock:
    """Real time plus a shift the test sets, as a user moving the system clock would."""

    def __init__(self) -> None:
        self.shift = 0.0

    def __call__(self) -> float:
        return time.time() + self.shift


def verify_answer(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return 200, {
        "valid": True,
        "message": "License is valid",
        "license": {"key": request["license_key"], "valid_until": None, "max_users": 1},
        "update_available": False,
        "latest_version": "1.0.0",
    }


def install_license_api(server: FakeServer) -> None:
    activation = {
        "id": 7,
        "license_key": LICENSE_KEY,
        "hardware_hash": DEVICE,
        "machine_name": "DESKTOP-1",
        "app_version": "1.0.0",
        "activated_at": "2026-11-28T10:00:00Z",
        "last_heartbeat": "2026-11-28T10:00:00Z",
        "is_active": True,
    }
    server.answer(
        "POST",
        "/api/license/activate",
        200,
        {"message": "License activated successfully", "activation": activation, "already_active": False},
    )
    server.route("POST", "/api/license/verify", verify_answer)
    server.answer(
        "GET",
        f"/api/license/info/{LICENSE_KEY}",
        200,
        {
            "license": {
                "id": 1,
                "key": LICENSE_KEY,
                "customer_name": "ACME Corp",
                "type": "perpetual",
                "valid_from": "2026-01-01",
                "valid_until": None,
                "max_activations": 3,
                "max_users": 1,
                "is_active": True,
            },
            "activations": [activation],
        },
    )
    server.answer(
        "POST",
        "/api/version/check",
        200,
        {
            "update_available": True,
            "update_required": False,
            "latest_version": "1.1.0",
            "download_url": "https://downloads.example.test/1.1.0",
            "release_notes": "Fixes",
        },
    )
    server.route(
        "POST",
        "/api/license/checkout",
        lambda request: (
            200,
            {
                "license_file": server.key.license_file(license_claims(request["hardware_hash"], time.time())),
                "expires_at": "2026-12-28T17:00:00Z",
            },
        ),
    )


@pytest.fixture
def key() -> SigningKey:
    return SigningKey()


@pytest.fixture
def server(key: SigningKey) -> Iterator[FakeServer]:
    with running(key) as fake:
        install_license_api(fake)
        yield fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_client(server: FakeServer, key: SigningKey, clock: Clock, tmp_path: Path) -> Callable[..., LicenseClient]:
    def make(**options: Any) -> LicenseClient:
        values: dict[str, Any] = {
            "public_keys": jwks(key),
            "cache_path": tmp_path / "cache.json",
            "clock": clock,
            "timeout": 5.0,
        }
        values.update(options)
        base_url = values.pop("base_url", server.base_url)
        return LicenseClient(base_url, "AF-2026-TESTKEY0TESTKEY0TESTKEY0TESTKEY0", **values)

    return make


@pytest.fixture
def client(make_client: Callable[..., LicenseClient]) -> LicenseClient:
    return make_client()
