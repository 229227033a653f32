"""A Hypothesis state machine of the licensing rules (CONTRACT.md §4, §5) against the real
License API app, on SQLite and PostgreSQL, compared step by step with tests/state/model.py.

The steps: activations (a new device, the same device again, a device over the limit), verify,
license info, staff deactivating a device (domain/licensing/staff_devices.py, as the panel does it),
session start / heartbeat / end, time passing (seconds, and whole days across expiry dates and
session timeouts) and the API key regenerated as the panel regenerates it (the old key refused,
the new one accepted). After every step the database itself is checked: no license over its
max_activations, no device with two active activations of one license, at most one open session
per license.

Time passing. The rules read two clocks: today's UTC date for a license's validity and the
database clock for session liveness. Neither can be wound forward from a test, so the machine
moves the stored dates and moments back instead (tests/state/rig.py, `move_into_past`): every
rule compares a stored value with "now" or "today", so moving all of them back by an amount is
the same, for the rules, as that amount passing. Real time passes too; the model steps around the
few seconds of it (model.py, `clear_step`).

Short form in the normal suite; the full form by one command:

    STATE_MACHINE_EXAMPLES=500 .venv/bin/python -m pytest tests/state -q
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx2 as httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from starlette.testclient import TestClient

from licenseserver.kit.errors import AppError
from licenseserver.kit.timefmt import utc_today
from tests.api.helpers import (
    ACTIVATE,
    INFO,
    INVALID_API_KEY_BODY,
    SESSION_END,
    SESSION_HEARTBEAT,
    SESSION_START,
    VERIFY,
)
from tests.conftest import make_client
from tests.state import rig
from tests.state.model import REAL_TIME_MARGIN, Expected, LicenseModel, LicensingModel, SessionModel
from tests.support.database import TEST_API_KEY
from tests.support.world import TestWorld

EXAMPLES = int(os.environ.get("STATE_MACHINE_EXAMPLES", "15"))
STEPS = int(os.environ.get("STATE_MACHINE_STEPS", "40"))
DEVICES = ("hw-a", "hw-b", "hw-c", "hw-d")
UNKNOWN_KEY = "ZZZZ-9999-ZZZZ-9999"  # well-formed, never made: generated keys are random
API_KEY_FORMAT = re.compile(r"^AF-\d{4}-[A-Z0-9]{32}$")

LICENSE_SPECS = st.fixed_dictionaries(
    {
        # Mostly usable licenses, so the rules beyond the validity checks are reached often.
        "is_active": st.sampled_from([True, True, True, True, True, False]),
        "from_offset": st.sampled_from([-30, -30, 0, 0, 1]),
        "until_offset": st.sampled_from([None, None, 0, 1, 2, 45]),
        "max_activations": st.integers(1, 3),
    }
)
# Outcomes met over a run, printed at its end (-s): the evidence that the rules' corners were reached.
SEEN: Counter[str] = Counter()
PICK = st.integers(0, 1_000)  # an index, taken modulo what there is to pick from


class LicensingMachine(RuleBasedStateMachine):
    world: TestWorld
    api: TestClient
    staff: rig.Staff

    def __init__(self) -> None:
        super().__init__()
        rig.reset(self.world)
        self.api.headers["X-API-Key"] = TEST_API_KEY
        self.model = LicensingModel(TEST_API_KEY)

    # ---- helpers -----------------------------------------------------------------------------

    def _key(self, pick: int) -> str:
        """One of the licenses, or (one pick in len + 1) a key that names none."""
        choices = [lic.key for lic in self.model.licenses] + [UNKNOWN_KEY]
        return choices[pick % len(choices)]

    def _pair(self, pick: int, device: str) -> tuple[str, str]:
        """(license key, device): two times in three an activated pair when there is one, so the
        rules past "is this device activated?" are reached often; otherwise any pair."""
        active = [(lic.key, hw) for lic in self.model.licenses for hw in lic.active]
        if active and pick % 3:
            return active[pick % len(active)]
        return self._key(pick), device

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        response = self.api.post(path, json=body)
        assert response.status_code < 500, response.text
        assert response.status_code != 401, "the current API key was refused"
        return response

    @staticmethod
    def _check(response: httpx.Response, expected: Expected) -> dict[str, Any]:
        body: dict[str, Any] = response.json()
        path = response.request.url.path.rsplit("/", 1)[0] if "/info/" in response.request.url.path else None
        SEEN[f"{path or response.request.url.path} {expected.status} {expected.code or ''}".strip()] += 1
        assert response.status_code == expected.status, (expected, response.status_code, body)
        if expected.code is not None:
            assert body["code"] == expected.code, (expected, body)
            assert body["status"] == expected.status
        return body

    @staticmethod
    def _today_unchanged(before: date) -> bool:
        """False when UTC midnight fell during the request: then its answer is not judged."""
        return utc_today() == before

    # ---- set-up ------------------------------------------------------------------------------

    @initialize(specs=st.lists(LICENSE_SPECS, min_size=1, max_size=3))
    def create_licenses(self, specs: list[dict[str, Any]]) -> None:
        today = utc_today()
        values = []
        for spec in specs:
            valid_from = today + timedelta(days=spec["from_offset"])
            until = spec["until_offset"]
            valid_until = None if until is None else max(valid_from, today + timedelta(days=until))
            values.append(
                {
                    "valid_from": valid_from,
                    "valid_until": valid_until,
                    "max_activations": spec["max_activations"],
                    "is_active": spec["is_active"],
                }
            )
        for (license_id, key), value in zip(self.staff.create_licenses(values), values, strict=True):
            self.model.licenses.append(LicenseModel(key, license_id, **value))

    # ---- activations -------------------------------------------------------------------------

    @rule(pick=PICK, device=st.sampled_from(DEVICES))
    def activate(self, pick: int, device: str) -> None:
        key = self._key(pick)
        today = utc_today()
        expected = self.model.expect_activate(key, device, today)
        body = {"license_key": key, "hardware_hash": device, "machine_name": f"PC-{device}", "app_version": "1.0.0"}
        response = self._post(ACTIVATE, body)
        if not self._today_unchanged(today):
            return
        answer = self._check(response, expected)
        if expected.status != 200:
            return
        activation = answer["activation"]
        lic = self.model.license(key)
        assert lic is not None
        assert activation["hardware_hash"] == device and activation["is_active"] is True
        if device in lic.active:
            assert answer["already_active"] is True
            SEEN["activate again: same activation"] += 1
            assert activation["id"] == lic.active[device], "a repeated activation must return the same one"
        else:
            assert answer["already_active"] is False
            known = set(lic.active.values()) | {i for ids in lic.retired.values() for i in ids}
            assert activation["id"] not in known
        self.model.activated(key, device, activation["id"])

    @rule(pick=PICK, device=st.sampled_from(DEVICES))
    def verify(self, pick: int, device: str) -> None:
        key, device = self._pair(pick, device)
        today = utc_today()
        refusal = self.model.expect_verify(key, device, today)
        response = self._post(VERIFY, {"license_key": key, "hardware_hash": device, "app_version": "1.0.0"})
        assert response.status_code == 200, response.text
        if not self._today_unchanged(today):
            return
        body = response.json()
        SEEN[f"verify valid={refusal is None} {refusal or ''}".strip()] += 1
        if refusal is None:
            assert body["valid"] is True, body
            assert body["license"]["key"] == key
        else:
            assert body["valid"] is False, body
            assert body["code"] == refusal, (refusal, body)

    @rule(pick=PICK)
    def info(self, pick: int) -> None:
        key = self._key(pick)
        response = self.api.get(INFO.format(key=key))
        lic = self.model.license(key)
        if lic is None:
            self._check(response, Expected(404, "LICENSE_NOT_FOUND"))
            return
        body = self._check(response, Expected(200))
        active = {a["hardware_hash"]: a["id"] for a in body["activations"] if a["is_active"]}
        inactive = sorted(a["id"] for a in body["activations"] if not a["is_active"])
        assert active == lic.active
        assert inactive == sorted(i for ids in lic.retired.values() for i in ids)
        assert body["license"]["max_activations"] == lic.max_activations
        assert body["license"]["is_active"] == lic.is_active
        assert body["license"]["valid_from"] == lic.valid_from.isoformat()

    @rule(pick=PICK, device=st.sampled_from(DEVICES))
    def staff_deactivates_device(self, pick: int, device: str) -> None:
        key, device = self._pair(pick, device)
        lic = self.model.license(key)
        if lic is None:
            license_id, device_id, expected = 999_999, 1, Expected(404, "LICENSE_NOT_FOUND")
        else:
            license_id = lic.license_id
            device_id, expected = self.model.deactivation_target(key, device)
        try:
            self.staff.deactivate_device(license_id, device_id)
        except AppError as refusal:
            assert (refusal.status, str(refusal.code)) == (expected.status, expected.code)
            SEEN[f"staff deactivation {expected.status} {expected.code}"] += 1
            return
        SEEN["staff deactivation 200"] += 1
        assert expected.status == 200, expected
        self.model.deactivated(key, device)

    # ---- sessions ----------------------------------------------------------------------------

    @rule(pick=PICK, device=st.sampled_from(DEVICES))
    def start_session(self, pick: int, device: str) -> None:
        key, device = self._pair(pick, device)
        today = utc_today()
        expected = self.model.expect_start(key, device, today)
        body = {"license_key": key, "machine_id": f"PC-{device}", "hardware_hash": device, "version": "1.0.0"}
        response = self._post(SESSION_START, body)
        if not self._today_unchanged(today):
            return
        answer = self._check(response, expected)
        if expected.code == "SESSION_CONFLICT":
            assert answer["error"].startswith("Es ist nur eine Sitzung erlaubt")
        if expected.status == 200:
            assert all(s.token != answer["session_token"] for s in self.model.sessions)
            self.model.started(key, device, answer["session_token"])

    def _session(self, pick: int) -> SessionModel:
        return self.model.sessions[pick % len(self.model.sessions)]

    @precondition(lambda self: self.model.sessions)
    @rule(pick=PICK, own_key=st.booleans())
    def heartbeat(self, pick: int, own_key: bool) -> None:
        session = self._session(pick)
        key = session.license_key if own_key else UNKNOWN_KEY
        expected = self.model.expect_heartbeat(session, key)
        response = self._post(SESSION_HEARTBEAT, {"session_token": session.token, "license_key": key})
        self._check(response, expected)
        if expected.status == 200:
            session.silence = 0

    @rule(pick=PICK, known=st.sampled_from([True, True, True, False]))
    def end_session(self, pick: int, known: bool) -> None:
        if not known or not self.model.sessions:
            response = self._post(SESSION_END, {"session_token": "00000000-0000-4000-8000-000000000000"})
            self._check(response, Expected(404, "SESSION_NOT_FOUND"))
            return
        session = self._session(pick)
        session.end_now("normal")
        answer = self._check(self._post(SESSION_END, {"session_token": session.token}), Expected(200))
        assert answer["end_reason"] == session.over_reason(), (session, answer)
        SEEN[f"session end reason {answer['end_reason']}"] += 1
        duration = answer["duration_seconds"]
        if session.reported_duration is None:
            least = session.least_duration()
            assert least <= duration <= least + REAL_TIME_MARGIN, (session, answer)
            session.reported_duration = duration
        assert duration == session.reported_duration, "an ended session's record must not change"

    # ---- time --------------------------------------------------------------------------------
    # Hypothesis tries rules with fewer arguments first and so more often: `info`, which only
    # looks, is the one rule with a single argument; every other rule takes two.

    @rule(
        seconds=st.sampled_from([1, 15, 30, 45, 60, 85, 95, 120, 3_600]),
        days=st.sampled_from([0] * 6 + [1, 2, 30, 400]),
    )
    def time_passes(self, seconds: int, days: int) -> None:
        """Seconds within the day, or whole days (dates move too): across expiry and timeouts."""
        if days:
            rig.move_into_past(self.world, days * 86_400, days=days)
            self.model.pass_days(days)
            return
        seconds = self.model.clear_step(seconds)
        rig.move_into_past(self.world, seconds)
        self.model.pass_seconds(seconds)

    # ---- the API key -------------------------------------------------------------------------

    @rule(regenerate=st.booleans(), pick=PICK)
    def api_key(self, regenerate: bool, pick: int) -> None:
        """Regenerate the key as the panel does (every later step proves the new one accepted);
        then an old key, if there is one, must be refused."""
        if regenerate:
            new_key = self.staff.regenerate_api_key()
            assert API_KEY_FORMAT.match(new_key) and new_key != self.model.api_key
            self.model.old_keys.append(self.model.api_key)
            self.model.api_key = new_key
            self.api.headers["X-API-Key"] = new_key
            SEEN["api key regenerated"] += 1
        if not self.model.old_keys:
            return
        old_key = self.model.old_keys[pick % len(self.model.old_keys)]
        body = {"license_key": self._key(pick), "hardware_hash": "hw-a"}
        response = self.api.post(VERIFY, json=body, headers={"X-API-Key": old_key})
        assert response.status_code == 401
        assert response.json() == INVALID_API_KEY_BODY
        SEEN["old api key refused"] += 1

    # ---- what the database must never hold ---------------------------------------------------

    @invariant()
    def database_never_breaks_the_limits(self) -> None:
        over_limit = self.world.scalar(
            "SELECT COUNT(*) FROM licenses l WHERE max_activations <"
            " (SELECT COUNT(*) FROM activations a WHERE a.license_id = l.id AND a.is_active = TRUE)"
        )
        twice = self.world.scalar(
            "SELECT COUNT(*) FROM (SELECT license_id, hardware_hash FROM activations WHERE is_active = TRUE"
            " GROUP BY license_id, hardware_hash HAVING COUNT(*) > 1) AS d"
        )
        open_twice = self.world.scalar(
            "SELECT COUNT(*) FROM (SELECT license_id FROM sessions WHERE ended_at IS NULL"
            " GROUP BY license_id HAVING COUNT(*) > 1) AS s"
        )
        assert (over_limit, twice, open_twice) == (0, 0, 0)


@pytest.fixture
def machine_rig(world: TestWorld) -> Iterator[tuple[TestWorld, TestClient, rig.Staff]]:
    # The key is read afresh on every request (no cache), so "refused at once" holds in-process;
    # the one-second spread to other instances is tests/api/test_api_key.py's subject.
    with make_client(world, api_key_cache_seconds=0) as api:
        assert api.portal is not None  # set while the client is entered
        staff = rig.Staff(api.portal, world.database_url)
        try:
            yield world, api, staff
        finally:
            staff.close()


# Hypothesis shrinks a failure by running the machine again many times: room for that too.
@pytest.mark.timeout(300 + EXAMPLES * 6)
def test_licensing_rules_match_the_model(machine_rig: tuple[TestWorld, TestClient, rig.Staff]) -> None:
    world, api, staff = machine_rig
    machine = type("BoundLicensingMachine", (LicensingMachine,), {"world": world, "api": api, "staff": staff})
    SEEN.clear()
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
    print(f"\n[{world.backend}] {EXAMPLES} examples of up to {STEPS} steps; outcomes met:")
    for outcome, count in sorted(SEEN.items()):
        print(f"  {count:7d}  {outcome}")
