"""A realistic License API database to fuzz: licenses in every state, devices, a live session."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.api.helpers import ACTIVATE, SESSION_START, days
from tests.conftest import make_client
from tests.support.world import TestWorld

# Versions around the seeded client's minimum (1.0.0), compared as versions (1.10.0 > 1.9.0).
GOOD_VERSIONS = ("1.0.0", "1.2.0", "1.9.0", "1.10.0", "2.0.0rc1", "2.0")
OLD_VERSIONS = ("0.9", "0.1.0")


@dataclass
class Seeded:
    """Values that exist in the seeded database, for generated requests to hit now and then."""

    license_keys: list[str] = field(default_factory=list)
    hardware_hashes: list[str] = field(default_factory=list)
    session_tokens: list[str] = field(default_factory=list)
    versions: tuple[str, ...] = GOOD_VERSIONS + OLD_VERSIONS


def seed_database(world: TestWorld) -> Seeded:
    seeded = Seeded()
    usable = [
        world.license(max_activations=3, max_users=2),
        world.license(license_type="subscription", valid_until=days(30), max_activations=1),
        world.license(license_type="trial", valid_from=days(-3), valid_until=days(0), max_activations=5),
        world.license(max_activations=2),
    ]
    refused = [
        world.license(is_active=False),
        world.license(license_type="subscription", valid_from=days(-60), valid_until=days(-1)),
        world.license(license_type="subscription", valid_from=days(5)),
    ]
    seeded.license_keys = usable + refused
    seeded.hardware_hashes = ["hw-desk-01", "hw-laptop-02", "a3f1" * 16]
    with make_client(world) as client:
        for key, hardware_hash in zip(usable[:3], seeded.hardware_hashes, strict=True):
            body = {"license_key": key, "hardware_hash": hardware_hash, "machine_name": "Büro", "app_version": "1.0.0"}
            assert client.post(ACTIVATE, json=body).status_code == 200
        # The second license is now at its limit; the first holds a live session.
        started = client.post(
            SESSION_START,
            json={"license_key": usable[0], "hardware_hash": seeded.hardware_hashes[0], "version": "1.0.0"},
        )
        assert started.status_code == 200, started.text
        seeded.session_tokens.append(started.json()["session_token"])
    return seeded
