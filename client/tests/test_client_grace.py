"""While the server cannot be reached, the last signed valid verify answer counts for the grace
period; the clock guard refuses a local clock set back before a time the server signed."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import DEVICE, LICENSE_KEY, Clock
from fake_license_server import FakeServer
from licenseserver_client import ClockError, LicenseClient, ServerUnavailableError

HOUR = 3600.0


def test_unreachable_server_within_grace_answers_from_the_cache(
    client: LicenseClient, server: FakeServer, clock: Clock
) -> None:
    online = client.verify(LICENSE_KEY, DEVICE)
    server.stop()
    clock.shift = 71 * HOUR
    cached = client.verify(LICENSE_KEY, DEVICE)
    assert cached.valid and cached.from_cache and cached.signed_at == online.signed_at
    clock.shift = 73 * HOUR
    with pytest.raises(ServerUnavailableError) as over:
        client.verify(LICENSE_KEY, DEVICE)
    assert over.value.code == "GRACE_PERIOD_OVER"


def test_the_grace_period_survives_a_restart_and_is_configurable(
    make_client: Callable[..., LicenseClient], server: FakeServer, clock: Clock
) -> None:
    make_client().verify(LICENSE_KEY, DEVICE)
    server.stop()
    clock.shift = 2 * HOUR
    assert make_client(grace=timedelta(hours=3)).verify(LICENSE_KEY, DEVICE).from_cache
    with pytest.raises(ServerUnavailableError, match="grace period of 1 h"):
        make_client(grace=timedelta(hours=1)).verify(LICENSE_KEY, DEVICE)


def test_a_5xx_counts_as_unreachable(client: LicenseClient, server: FakeServer) -> None:
    client.verify(LICENSE_KEY, DEVICE)
    server.answer("POST", "/api/license/verify", 503, {"error": "db", "code": "SERVICE_UNAVAILABLE", "status": 503})
    assert client.verify(LICENSE_KEY, DEVICE).from_cache
    server.tamper = "unsigned"  # a proxy in front answers its 502 unsigned
    server.answer("POST", "/api/license/verify", 502, {"error": "bad gateway", "code": "X", "status": 502})
    assert client.verify(LICENSE_KEY, DEVICE).from_cache


def test_a_timeout_counts_as_unreachable(make_client: Callable[..., LicenseClient], server: FakeServer) -> None:
    client = make_client(timeout=0.5)
    client.verify(LICENSE_KEY, DEVICE)
    answer = server.routes[("POST", "/api/license/verify")]

    def slow(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        time.sleep(1.5)
        return answer(request)

    server.route("POST", "/api/license/verify", slow)
    started = time.monotonic()
    assert client.verify(LICENSE_KEY, DEVICE).from_cache
    assert time.monotonic() - started < 1.4


def test_no_cached_answer_means_no_grace(client: LicenseClient, server: FakeServer) -> None:
    server.stop()
    with pytest.raises(ServerUnavailableError) as unreachable:
        client.verify(LICENSE_KEY, DEVICE)
    assert unreachable.value.code == "SERVER_UNREACHABLE"


def test_a_refusal_clears_the_cached_answer(client: LicenseClient, server: FakeServer) -> None:
    client.verify(LICENSE_KEY, DEVICE)
    server.answer("POST", "/api/license/verify", 200, {"valid": False, "message": "off", "code": "LICENSE_INACTIVE"})
    assert not client.verify(LICENSE_KEY, DEVICE).valid
    server.stop()
    with pytest.raises(ServerUnavailableError):
        client.verify(LICENSE_KEY, DEVICE)


def test_the_cache_holds_per_license_and_device(client: LicenseClient, server: FakeServer) -> None:
    client.verify(LICENSE_KEY, DEVICE)
    server.stop()
    with pytest.raises(ServerUnavailableError):
        client.verify(LICENSE_KEY, "another-device")
    with pytest.raises(ServerUnavailableError):
        client.verify("WXYZ-WXYZ-WXYZ-WXYZ", DEVICE)


@pytest.mark.parametrize("edit", ["body", "created", "garbage", "swap_key", "rewrite_request"])
def test_an_edited_cache_file_does_not_help(
    make_client: Callable[..., LicenseClient], server: FakeServer, clock: Clock, tmp_path: Path, edit: str
) -> None:
    path = tmp_path / "cache.json"
    make_client().verify(LICENSE_KEY, DEVICE)
    server.stop()
    data = json.loads(path.read_text())
    entry = next(iter(data["verify"].values()))
    if edit == "body":  # stretch the license in the cached body
        entry["body"] = entry["body"][:-4] + "AAAA"
    elif edit == "created":  # pretend the answer is younger than it is
        entry["headers"]["signature-input"] = entry["headers"]["signature-input"].replace("created=", "created=9")
    elif edit == "swap_key":  # a valid answer for one device, filed under another
        data["verify"] = {LicenseClientKey("other"): entry}
    elif edit == "rewrite_request":  # ... with the recorded question rewritten to match
        asked = json.loads(base64.b64decode(entry["request_body"]))
        entry["request_body"] = base64.b64encode(json.dumps({**asked, "hardware_hash": "other"}).encode()).decode()
        data["verify"] = {LicenseClientKey("other"): entry}
    else:
        path.write_text("{not json")
    if edit != "garbage":
        path.write_text(json.dumps(data))
    with pytest.raises(ServerUnavailableError):
        make_client().verify(LICENSE_KEY, "other" if edit in ("swap_key", "rewrite_request") else DEVICE)


def LicenseClientKey(device: str) -> str:  # noqa: N802 - reads like the cache's own key
    from licenseserver_client.cache import LocalState

    return LocalState.verify_key(LICENSE_KEY, device)


def test_clock_set_back_is_refused(client: LicenseClient, server: FakeServer, clock: Clock) -> None:
    client.verify(LICENSE_KEY, DEVICE)
    clock.shift = -6 * 60  # online: refused before anything is sent
    with pytest.raises(ClockError):
        client.verify(LICENSE_KEY, DEVICE)
    assert len(server.requests) == 1
    server.stop()
    clock.shift = -4 * 60  # within the tolerance: an unsynchronised clock keeps its grace
    assert client.verify(LICENSE_KEY, DEVICE).from_cache
    clock.shift = -2 * 86400  # offline, back before the cached answer: no grace either
    with pytest.raises(ClockError):
        client.verify(LICENSE_KEY, DEVICE)


def test_the_clock_guard_outlives_the_process(make_client: Callable[..., LicenseClient], clock: Clock) -> None:
    make_client().info(LICENSE_KEY)
    clock.shift = -86400
    with pytest.raises(ClockError):
        make_client().check_version("1.0.0")


def test_a_forged_newest_time_is_ignored(
    make_client: Callable[..., LicenseClient], clock: Clock, tmp_path: Path
) -> None:
    make_client().info(LICENSE_KEY)
    path = tmp_path / "cache.json"
    data = json.loads(path.read_text())
    # Moving the newest time far ahead would lock the user out; an unsigned edit must not count.
    data["newest"]["answer"]["headers"]["signature-input"] = data["newest"]["answer"]["headers"][
        "signature-input"
    ].replace("created=", "created=1")
    path.write_text(json.dumps(data))
    assert make_client().info(LICENSE_KEY).license.key == LICENSE_KEY
