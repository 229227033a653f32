"""Per-address rate limits on the License API (CONTRACT.md §3, §5 "rate limits")."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from tests.api.helpers import (
    VERSION_LATEST,
    activate,
    assert_error,
    client_at,
    metric,
    scrape,
    served_api,
)
from tests.conftest import make_client
from tests.support.world import TestWorld

RATE_LIMIT_CACHE_SECONDS = 2.0
TRUSTED = "127.0.0.1/32"
EDGE_SECONDS = 4.0


def _set_limit(world: TestWorld, per_minute: int) -> None:
    world.execute("UPDATE rate_limit_settings SET api_per_minute = :n WHERE id = 1", n=per_minute)


def _assert_limited(response: httpx.Response) -> None:
    assert_error(response, 429, "RATE_LIMITED")
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit(), retry_after
    assert 1 <= int(retry_after) <= 60


def _clear_of_the_minute_edge() -> None:
    """Counting windows start on the wall-clock minute; a burst that straddles one is weighted
    across both windows and may let one request more through. Wait out the last seconds."""
    left = 60 - time.time() % 60
    if left < EDGE_SECONDS:
        time.sleep(left + 0.05)


def _statuses(client: TestClient | httpx.Client, count: int, **headers: str) -> list[int]:
    return [client.get(VERSION_LATEST, headers=headers).status_code for _ in range(count)]


def test_exactly_the_limit_passes_then_429_with_retry_after(world: TestWorld) -> None:
    _set_limit(world, 5)
    with make_client(world) as client:
        before = scrape(client)
        _clear_of_the_minute_edge()

        assert _statuses(client, 5) == [200] * 5
        _assert_limited(client.get(VERSION_LATEST))
        _assert_limited(client.post("/api/license/verify", json={}))

        after = scrape(client)
    sample = "licenseserver_rate_limited_total"
    assert metric(after, sample, scope="api") - metric(before, sample, scope="api") == 2


def test_public_endpoints_are_not_limited(world: TestWorld) -> None:
    _set_limit(world, 2)
    with make_client(world) as client:
        _clear_of_the_minute_edge()
        for _ in range(4):
            for path in ("/", "/health", "/metrics"):
                assert client.get(path).status_code == 200
        assert _statuses(client, 3) == [200, 200, 429]
        for path in ("/", "/health", "/metrics"):
            assert client.get(path).status_code == 200


def test_refused_requests_are_counted_before_the_key_and_write_nothing(world: TestWorld) -> None:
    key = world.license(max_activations=5)
    _set_limit(world, 2)
    with make_client(world) as client:
        _clear_of_the_minute_edge()
        assert client.get(VERSION_LATEST, headers={"X-API-Key": "guess-1"}).status_code == 401
        assert client.get(VERSION_LATEST, headers={"X-API-Key": "guess-2"}).status_code == 401
        before = world.snapshot()

        _assert_limited(activate(client, key, "hw-1"))

    assert world.snapshot() == before


def test_a_changed_limit_takes_effect_without_restart(pg_world: TestWorld) -> None:
    with make_client(pg_world) as client:
        assert _statuses(client, 3) == [200] * 3  # the seeded, very high limit is read and cached

        _set_limit(pg_world, 3)
        time.sleep(RATE_LIMIT_CACHE_SECONDS + 0.1)
        _clear_of_the_minute_edge()
        statuses = _statuses(client, 6)

    assert statuses[-3:] == [429] * 3
    assert 2 <= statuses.count(200) <= 3  # at most the new limit gets through


def test_forwarded_for_from_a_trusted_proxy_gives_each_client_its_own_limit(world: TestWorld) -> None:
    _set_limit(world, 2)
    with client_at(world, "127.0.0.1", trusted_proxies=[TRUSTED]) as proxy:
        _clear_of_the_minute_edge()
        assert _statuses(proxy, 3, **{"X-Forwarded-For": "198.51.100.1"}) == [200, 200, 429]
        assert _statuses(proxy, 2, **{"X-Forwarded-For": "198.51.100.2"}) == [200, 200]
        # The client is the nearest hop no trusted proxy vouches for: prepending hops does not help.
        spoofed = "203.0.113.77, 198.51.100.1"
        _assert_limited(proxy.get(VERSION_LATEST, headers={"X-Forwarded-For": spoofed}))
        # The proxy's own requests (no header) are counted for the proxy's address.
        assert _statuses(proxy, 2) == [200, 200]


def test_forwarded_for_from_an_untrusted_peer_is_ignored(world: TestWorld) -> None:
    _set_limit(world, 2)
    with client_at(world, "203.0.113.9", trusted_proxies=[TRUSTED]) as stranger:
        _clear_of_the_minute_edge()
        statuses = [
            stranger.get(VERSION_LATEST, headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
            for n in range(1, 4)
        ]
    assert statuses == [200, 200, 429]


def test_without_trusted_proxies_forwarded_for_is_ignored(world: TestWorld) -> None:
    _set_limit(world, 2)
    with client_at(world, "127.0.0.1") as client:
        _clear_of_the_minute_edge()
        statuses = [
            client.get(VERSION_LATEST, headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code for n in range(1, 4)
        ]
    assert statuses == [200, 200, 429]


@pytest.mark.slow
def test_live_server_believes_forwarded_for_only_from_trusted_proxies(
    world: TestWorld, live_server: Callable[..., Any]
) -> None:
    _set_limit(world, 3)
    server = live_server(TRUSTED_PROXIES=TRUSTED)
    first, second = {"X-Forwarded-For": "198.51.100.10"}, {"X-Forwarded-For": "198.51.100.11"}

    with httpx.Client(base_url=server.base_url, headers={"X-API-Key": world.api_key}, timeout=5) as http:
        _clear_of_the_minute_edge()
        assert _statuses(http, 3, **first) == [200] * 3
        _assert_limited(http.get(VERSION_LATEST, headers=first))
        assert _statuses(http, 3, **second) == [200] * 3
        _assert_limited(http.get(VERSION_LATEST, headers=second))
        assert http.get("/health").status_code == 200


@pytest.mark.slow
def test_served_api_without_trusted_proxies_ignores_forwarded_for(pg_world: TestWorld) -> None:
    """Started by `licenseserver serve api`: the web server must not believe X-Forwarded-For on
    its own either (uvicorn does by default for 127.0.0.1)."""
    _set_limit(pg_world, 3)
    with (
        served_api(pg_world) as base_url,
        httpx.Client(base_url=base_url, headers={"X-API-Key": pg_world.api_key}, timeout=5) as http,
    ):
        _clear_of_the_minute_edge()
        statuses = [
            http.get(VERSION_LATEST, headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code for n in range(1, 5)
        ]
    assert statuses == [200, 200, 200, 429]
