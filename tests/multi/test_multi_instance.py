"""Two License API instances and one admin panel, each its own process, on one PostgreSQL database
and one Redis: what a client sees must not depend on which instance answers it.

The database is this module's own; Redis is the shared server at 127.0.0.1:6379 under a key
prefix of this module's own. Every scenario uses its own licenses and its own client address.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2 as httpx
import pytest

from licenseserver.db.engine import make_engine
from tests.admin.conftest import make_staff
from tests.multi.rig import (
    ADMIN_FACTORY,
    API_FACTORY,
    HIGH_LIMIT,
    RATE_LIMIT_REREAD_SECONDS,
    VERSION_LATEST,
    Panel,
    ServerProcess,
    all_at_once,
    current_api_key,
    fresh_address,
    instance_env,
    start_together,
    status_counts,
)
from tests.support import database
from tests.support.redis_server import SHARED_REDIS_URL, require_shared_redis, unique_prefix
from tests.support.world import TestWorld

pytestmark = pytest.mark.slow

ACTIVATE = "/api/license/activate"
SESSION_START = "/api/license/session/start"
KEY_PROMISE_SECONDS = 1.0  # a replaced API key is refused everywhere within this
LIMIT_PROMISE_SECONDS = 5.0  # a changed rate limit is in force everywhere within this


@dataclass
class Installation:
    world: TestWorld
    apis: list[ServerProcess]
    admin: ServerProcess
    panel: Panel

    def api_headers(self, **extra: str) -> dict[str, str]:
        return {"X-API-Key": current_api_key(self.world), **extra}


@pytest.fixture(scope="module")
def multi_world() -> Iterator[TestWorld]:
    """A fresh, seeded PostgreSQL database of this module, with one staff member."""
    name = f"licenseserver_test_multi_{os.getpid()}"
    url = database.create_pg_database(name)
    engine = make_engine(url)
    try:
        database.reset_pg(engine)  # the migrations' own rows give way to the test seed
        world = TestWorld("postgresql", url, engine)
        make_staff(world)
        yield world
    finally:
        engine.dispose()
        database.drop_pg_database(name)


@pytest.fixture(scope="module")
def installation(multi_world: TestWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    require_shared_redis()
    env = instance_env(multi_world, SHARED_REDIS_URL, unique_prefix("multi"))
    logs = tmp_path_factory.mktemp("multi-instance-logs")
    apps = {"api-1": API_FACTORY, "api-2": API_FACTORY, "admin": ADMIN_FACTORY}
    with start_together(apps, env, logs) as started:
        panel = Panel(started["admin"].base_url)
        yield Installation(multi_world, [started["api-1"], started["api-2"]], started["admin"], panel)
        panel.close()


def test_parallel_activations_on_both_instances_grant_exactly_the_limit(installation: Installation) -> None:
    world = installation.world
    key = world.license(max_activations=5)

    def activate(client: httpx.Client, index: int) -> httpx.Response:
        return client.post(ACTIVATE, json={"license_key": key, "hardware_hash": f"device-{index:03d}"})

    responses = all_at_once(installation.apis, 120, activate, installation.api_headers())

    assert status_counts(responses) == {(200, None): 5, (409, "ACTIVATION_LIMIT_REACHED"): 115}
    granted = sorted(r.json()["activation"]["hardware_hash"] for r in responses if r.status_code == 200)
    rows = world.rows(
        "SELECT a.hardware_hash FROM activations a JOIN licenses l ON l.id = a.license_id"
        " WHERE l.license_key = :k AND a.is_active ORDER BY a.hardware_hash",
        k=key,
    )
    assert [r["hardware_hash"] for r in rows] == granted


def test_parallel_session_starts_on_both_instances_start_exactly_one(installation: Installation) -> None:
    world = installation.world
    key = world.license(max_activations=1)
    with httpx.Client(base_url=installation.apis[0].base_url, headers=installation.api_headers()) as client:
        assert client.post(ACTIVATE, json={"license_key": key, "hardware_hash": "hw-session"}).status_code == 200

    def start(client: httpx.Client, index: int) -> httpx.Response:
        body = {"license_key": key, "hardware_hash": "hw-session", "machine_id": f"PC-{index}", "version": "1.0.0"}
        return client.post(SESSION_START, json=body)

    responses = all_at_once(installation.apis, 40, start, installation.api_headers())

    assert status_counts(responses) == {(200, None): 1, (409, "SESSION_CONFLICT"): 39}
    open_sessions = world.rows(
        "SELECT s.session_token FROM sessions s JOIN licenses l ON l.id = s.license_id"
        " WHERE l.license_key = :k AND s.ended_at IS NULL",
        k=key,
    )
    winner = next(r.json()["session_token"] for r in responses if r.status_code == 200)
    assert open_sessions == [{"session_token": winner}]


def test_a_limit_of_30_a_minute_lets_exactly_30_through_across_both_instances(installation: Installation) -> None:
    # 60 requests of one client at once, 30 to each instance: counted per instance, all would pass.
    fallbacks_before = [server.fallbacks() for server in installation.apis]
    with installation.panel.api_rate_limit(30):
        headers = installation.api_headers(**{"X-Forwarded-For": fresh_address()})
        responses = all_at_once(installation.apis, 60, lambda client, _i: client.get(VERSION_LATEST), headers)

    assert status_counts(responses) == {(200, None): 30, (429, "RATE_LIMITED"): 30}
    assert [server.fallbacks() for server in installation.apis] == fallbacks_before, "Redis answered every time"
    assert all(1 <= int(r.headers["Retry-After"]) <= 60 for r in responses if r.status_code == 429)


def test_a_key_regenerated_in_the_panel_is_refused_by_both_instances_within_a_second(
    installation: Installation,
) -> None:
    old_key = current_api_key(installation.world)
    clients = [httpx.Client(base_url=s.base_url, headers={"X-API-Key": old_key}) for s in installation.apis]
    try:
        assert [c.get(VERSION_LATEST).status_code for c in clients] == [200, 200]  # both have the key cached
        installation.panel.regenerate_api_key()
        regenerated = time.monotonic()
        samples: list[tuple[int, float, int]] = []  # instance, seconds after the panel answered, status
        while time.monotonic() - regenerated < KEY_PROMISE_SECONDS + 0.5:
            for index, client in enumerate(clients):
                sent = time.monotonic() - regenerated
                samples.append((index, sent, client.get(VERSION_LATEST).status_code))
    finally:
        for client in clients:
            client.close()

    new_key = current_api_key(installation.world)
    assert new_key != old_key
    for index in (0, 1):
        late = [status for i, sent, status in samples if i == index and sent >= KEY_PROMISE_SECONDS]
        assert late and set(late) == {401}, f"instance {index} still took the old key: {late}"
    for server in installation.apis:
        response = httpx.get(server.base_url + VERSION_LATEST, headers={"X-API-Key": new_key})
        assert response.status_code == 200


def _limit_seen(server: ServerProcess, headers: dict[str, str], per_minute: int) -> bool:
    """Whether `server` holds one fresh client to `per_minute` requests."""
    probe = {**headers, "X-Forwarded-For": fresh_address()}
    with httpx.Client(base_url=server.base_url, headers=probe) as client:
        statuses = [client.get(VERSION_LATEST).status_code for _ in range(per_minute + 1)]
    if statuses[-1] != 429:
        return False
    assert statuses[:-1] == [200] * per_minute, statuses
    return True


def test_a_rate_limit_changed_in_the_panel_is_in_force_on_both_instances_within_five_seconds(
    installation: Installation,
) -> None:
    headers = installation.api_headers()
    assert not any(_limit_seen(server, headers, 3) for server in installation.apis)
    seen_after: dict[int, float] = {}
    installation.panel.set_rate_limits(3)
    changed = time.monotonic()
    try:
        while len(seen_after) < 2 and time.monotonic() - changed < LIMIT_PROMISE_SECONDS + 3:
            for index, server in enumerate(installation.apis):
                if index not in seen_after and _limit_seen(server, headers, 3):
                    seen_after[index] = time.monotonic() - changed
            time.sleep(0.1)
    finally:
        installation.panel.set_rate_limits(HIGH_LIMIT)
        time.sleep(RATE_LIMIT_REREAD_SECONDS)

    assert sorted(seen_after) == [0, 1], f"in force only on {sorted(seen_after)}"
    assert max(seen_after.values()) <= LIMIT_PROMISE_SECONDS, seen_after
