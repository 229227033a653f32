"""SIGKILL under activation load: `licenseserver serve api` is killed without warning again and
again, and started again on the same port each time, while clients keep activating devices.

- PostgreSQL, one process: every activation answered 200 is in the database afterwards, active,
  on its license and device; no license holds more active activations than max_activations; no
  device holds two active activations of one license.
- SQLite, `--workers 2` (gunicorn's master and both workers killed together): the same, and no
  5xx at all (no "database is locked"), and `PRAGMA integrity_check` answers ok after every kill.

Connection failures while the server is down are expected; they are counted apart from answers.
An activation whose connection broke is unknown to the client, so it is not counted as
acknowledged (whether it committed or not, both are correct).

Short form in the normal suite; the full numbers by one command:

    FAULT_KILLS=5 FAULT_SECONDS=120 .venv/bin/python -m pytest tests/faults/test_sigkill.py -s

(-s prints the figures of each run.)
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import text

from licenseserver.db.urls import sqlite_path
from licenseserver.kit.keys import new_license_key
from tests.api.helpers import ACTIVATE
from tests.faults.processes import ServeProcess
from tests.support.world import TestWorld

KILLS = int(os.environ.get("FAULT_KILLS", "2"))
SECONDS = float(os.environ.get("FAULT_SECONDS", "20"))
LOAD_THREADS = 4
# Enough licenses that new activations (inserts) keep coming until the end, not only repeats.
LICENSES = max(100, int(20 * SECONDS))
MAX_ACTIVATIONS = 3
DEVICES_PER_LICENSE = 6  # twice the limit: new devices, devices seen again, and refusals


@dataclass
class Tally:
    acknowledged: list[tuple[int, str, str]] = field(default_factory=list)  # (activation id, key, device)
    statuses: Counter[int] = field(default_factory=Counter)
    connection_failures: int = 0
    server_errors: list[str] = field(default_factory=list)
    restarts: list[float] = field(default_factory=list)  # seconds from a kill to healthy again
    lock: threading.Lock = field(default_factory=threading.Lock)

    def figures(self) -> str:
        return (
            f"acknowledged={len(self.acknowledged)} (activations: {len({a[0] for a in self.acknowledged})})"
            f" refusals(409)={self.statuses[409]}"
            f" statuses={dict(sorted(self.statuses.items()))} connection_failures={self.connection_failures}"
            f" 5xx={len(self.server_errors)} kill_to_healthy_s={[round(s, 1) for s in self.restarts]}"
        )


def _make_licenses(world: TestWorld) -> list[str]:
    keys = [new_license_key() for _ in range(LICENSES)]
    customer_id = world.customer()
    with world.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO licenses (license_key, customer_id, license_type, valid_from, max_activations,"
                " max_users, is_active) VALUES (:k, :c, 'perpetual', :f, :m, 1, TRUE)"
            ),
            [{"k": key, "c": customer_id, "f": date(2020, 1, 1), "m": MAX_ACTIVATIONS} for key in keys],
        )
    return keys


def _activate_until(stop: threading.Event, base_url: str, api_key: str, keys: list[str], tally: Tally) -> None:
    rng = random.Random()
    with httpx.Client(base_url=base_url, headers={"X-API-Key": api_key}, timeout=10) as client:
        while not stop.is_set():
            key = rng.choice(keys)
            device = f"hw-{rng.randrange(DEVICES_PER_LICENSE)}"
            body = {"license_key": key, "hardware_hash": device, "machine_name": "PC", "app_version": "1.0.0"}
            try:
                response = client.post(ACTIVATE, json=body)
            except httpx.TransportError:
                with tally.lock:
                    tally.connection_failures += 1
                time.sleep(0.05)  # the server is down: do not spin
                continue
            with tally.lock:
                tally.statuses[response.status_code] += 1
                if response.status_code == 200:
                    tally.acknowledged.append((response.json()["activation"]["id"], key, device))
                elif response.status_code >= 500:
                    tally.server_errors.append(response.text[:300])


def _process_tree(pid: int) -> list[int]:
    """`pid` and every process below it (gunicorn's workers), from /proc."""
    found = [pid]
    for member in found:
        for task in Path(f"/proc/{member}/task").glob("*"):
            children = (task / "children").read_text().split() if (task / "children").exists() else []
            found.extend(int(child) for child in children)
    return found


def _kill_hard(server: ServeProcess) -> None:
    pids = _process_tree(server.pid)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.kill(pid, signal.SIGKILL)
    server.process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() and _state(pid) != "Z" for pid in pids[1:]):
        assert time.monotonic() < deadline, "killed workers still running"
        time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return "Z"


def _integrity(database_url: str) -> str:
    with sqlite3.connect(sqlite_path(database_url)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def _run(world: TestWorld, tmp_path: Path, workers: int) -> tuple[Tally, list[str]]:
    """SECONDS of load with KILLS hard kills evenly spread; the integrity checks (SQLite)."""
    keys = _make_licenses(world)
    server = ServeProcess(tmp_path, "api", workers=workers, DATABASE_URL=world.database_url)
    server.wait_healthy()
    tally, checks, stop = Tally(), list[str](), threading.Event()
    threads = [
        threading.Thread(target=_activate_until, args=(stop, server.base_url, world.api_key, keys, tally))
        for _ in range(LOAD_THREADS)
    ]
    for thread in threads:
        thread.start()
    # Each life of the server gets an equal share of the load time, however long its start took
    # (half a minute on a busy machine): SECONDS is time under load, restarts come on top.
    life = SECONDS / (KILLS + 1)
    try:
        for _ in range(KILLS):
            time.sleep(life)
            killed = time.monotonic()
            _kill_hard(server)
            if world.backend == "sqlite":
                checks.append(_integrity(world.database_url))
            server = ServeProcess(tmp_path, "api", workers=workers, port=server.port, DATABASE_URL=world.database_url)
            server.wait_healthy()
            tally.restarts.append(time.monotonic() - killed)
        time.sleep(life)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        server.stop()
    print(f"\n[{world.backend}, {workers} worker(s)] kills={KILLS} load_seconds={SECONDS:.0f} {tally.figures()}")
    return tally, checks


def _assert_nothing_lost(world: TestWorld, tally: Tally) -> None:
    stored = {
        row["id"]: row
        for row in world.rows(
            "SELECT a.id, l.license_key, a.hardware_hash, a.is_active FROM activations a"
            " JOIN licenses l ON l.id = a.license_id"
        )
    }
    lost = [ack for ack in tally.acknowledged if ack[0] not in stored]
    changed = [
        ack
        for ack in tally.acknowledged
        if ack[0] in stored and (stored[ack[0]]["license_key"], stored[ack[0]]["hardware_hash"]) != ack[1:]
    ]
    inactive = [ack for ack in tally.acknowledged if ack[0] in stored and not stored[ack[0]]["is_active"]]
    print(f"found={len(tally.acknowledged) - len(lost)} of {len(tally.acknowledged)} acknowledged")
    assert not lost, f"{len(lost)} acknowledged activations lost, e.g. {lost[:5]}"
    assert not changed and not inactive, (changed[:5], inactive[:5])
    over = world.scalar(
        "SELECT COUNT(*) FROM licenses l WHERE max_activations <"
        " (SELECT COUNT(*) FROM activations a WHERE a.license_id = l.id AND a.is_active = TRUE)"
    )
    twice = world.scalar(
        "SELECT COUNT(*) FROM (SELECT license_id, hardware_hash FROM activations WHERE is_active = TRUE"
        " GROUP BY license_id, hardware_hash HAVING COUNT(*) > 1) AS d"
    )
    assert (over, twice) == (0, 0), f"{over} licenses over their limit, {twice} devices active twice"


def _assert_served(tally: Tally) -> None:
    assert tally.acknowledged, "no activation was ever acknowledged: the test exercised nothing"
    assert tally.statuses[409], "no activation met the limit: the limit was never under pressure"
    assert tally.connection_failures, "no request met a killed server: the kills missed the load"
    assert not tally.server_errors, f"{len(tally.server_errors)} answers 5xx, e.g. {tally.server_errors[:3]}"
    assert set(tally.statuses) <= {200, 409}, tally.statuses


@pytest.mark.slow
@pytest.mark.timeout(SECONDS + 90 * (KILLS + 2))
def test_sigkill_under_activations_postgres(pg_world: TestWorld, tmp_path: Path) -> None:
    tally, _ = _run(pg_world, tmp_path, workers=1)
    _assert_served(tally)
    _assert_nothing_lost(pg_world, tally)


@pytest.mark.slow
@pytest.mark.timeout(SECONDS + 90 * (KILLS + 2))
@pytest.mark.parametrize("backend", ["sqlite"])
def test_sigkill_under_activations_sqlite_two_workers(world: TestWorld, tmp_path: Path) -> None:
    tally, checks = _run(world, tmp_path, workers=2)
    assert checks == ["ok"] * KILLS, checks
    _assert_served(tally)
    _assert_nothing_lost(world, tally)
