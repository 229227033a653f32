from __future__ import annotations

from starlette.testclient import TestClient

from tests.support.world import TestWorld


def test_activate_then_verify(world: TestWorld, api: TestClient) -> None:
    key = world.license(max_activations=2)
    body = {"license_key": key, "hardware_hash": "hw-1", "machine_name": "PC", "app_version": "1.0.0"}
    assert api.post("/api/license/activate", json=body).status_code == 200
    verified = api.post("/api/license/verify", json={"license_key": key, "hardware_hash": "hw-1"}).json()
    assert verified["valid"] is True
    assert world.scalar("SELECT COUNT(*) FROM activations") == 1
