"""Staff lowering max_activations while clients activate devices at the same moment, on real server
processes and PostgreSQL: the panel's edit and the API's activation take the same license row lock
and count active devices the same way, so whichever commits first, a license never ends up with
more active devices than its limit."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import pytest

from tests.admin.conftest import make_staff
from tests.admin.pool_support import AdminServer, new_license
from tests.conftest import LiveServer
from tests.support.world import TestWorld

ROUNDS = 3
DEVICES = 12  # activations sent at once, and the license's limit before staff lower it
NEW_LIMITS = (3, 4, 5, 6)  # one panel edit each, sent together with the activations
ALREADY_ACTIVE = 2
SPREAD = 0.01  # seconds between one activation's start and the next


def _activate(
    api: LiveServer, api_key: str, key: str, device: str, barrier: threading.Barrier, delay: float
) -> httpx.Response:
    with httpx.Client(base_url=api.base_url, headers={"X-API-Key": api_key}, timeout=60) as client:
        assert client.get("/health").status_code == 200  # connected before the start
        barrier.wait(timeout=60)
        # Spread over the time a panel edit takes, so that activations land before, between and
        # after the edits rather than all ahead of them (a panel request does more work first).
        time.sleep(delay)
        return client.post("/api/license/activate", json={"license_key": key, "hardware_hash": device})


def _lower(staff: httpx.Client, license_id: int, limit: int, barrier: threading.Barrier) -> httpx.Response:
    barrier.wait(timeout=60)
    return staff.post(f"/api/license/{license_id}/quick-edit", json={"max_activations": limit})


@pytest.mark.slow
def test_lowering_the_limit_while_devices_activate_never_leaves_more_devices_than_the_limit(
    pg_world: TestWorld,
) -> None:
    make_staff(pg_world)
    api = LiveServer(pg_world)
    panel = AdminServer(pg_world)
    staff: list[httpx.Client] = []
    try:
        staff.extend(panel.logged_in_client() for _ in NEW_LIMITS)
        for round_no in range(ROUNDS):
            key, license_id = new_license(pg_world, max_activations=DEVICES)
            for n in range(ALREADY_ACTIVE):
                with httpx.Client(base_url=api.base_url, headers={"X-API-Key": pg_world.api_key}) as client:
                    body = {"license_key": key, "hardware_hash": f"r{round_no}-old-{n}"}
                    assert client.post("/api/license/activate", json=body).status_code == 200
            barrier = threading.Barrier(DEVICES + len(NEW_LIMITS))
            with ThreadPoolExecutor(DEVICES + len(NEW_LIMITS)) as pool:
                activations = [
                    pool.submit(_activate, api, pg_world.api_key, key, f"r{round_no}-new-{n}", barrier, n * SPREAD)
                    for n in range(DEVICES)
                ]
                edits = [
                    pool.submit(_lower, client, license_id, limit, barrier)
                    for client, limit in zip(staff, NEW_LIMITS, strict=True)
                ]
                activated = [future.result() for future in activations]
                edited = [future.result() for future in edits]

            granted = [r for r in activated if r.status_code == 200]
            refused = [r for r in activated if r.status_code != 200]
            assert all(r.status_code == 409 and r.json()["code"] == "ACTIVATION_LIMIT_REACHED" for r in refused)
            assert all(r.status_code == 200 or r.json()["code"] == "CONFLICT" for r in edited), [r.text for r in edited]
            limit = pg_world.scalar("SELECT max_activations FROM licenses WHERE id = :l", l=license_id)
            active = pg_world.scalar(
                "SELECT COUNT(*) FROM activations WHERE license_id = :l AND is_active = TRUE", l=license_id
            )
            assert active == ALREADY_ACTIVE + len(granted), "a refused activation wrote nothing"
            assert active <= limit, f"round {round_no}: {active} active devices under a limit of {limit}"
            # Every edit that was accepted found few enough devices at its turn under the lock.
            if any(r.status_code == 200 for r in edited):
                assert limit in NEW_LIMITS
    finally:
        for client in staff:
            client.close()
        panel.stop()
        api.stop()
