"""What each scenario sends, to which server, from which pool, and what it resets before each of
its runs (closed or open loop) so that a second run meets the state the first one did."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import seed
import seed_sqlite

# How recently a verify scenario's devices were last seen before each of its runs (its mix).
SEEN_NOW = "seen within the minute: every verify reads only"
SEEN_YESTERDAY = "seen a day ago: every first verify writes"


@dataclass(frozen=True)
class Scenario:
    key: str  # its --scenario name
    label: str  # its name in the table
    server: str  # "baseline", "api" (PostgreSQL) or "api-sqlite"
    script: str  # bench/lua/<script>
    path: str
    data: str | None = None  # pool file of the run's data directory
    note: str = ""
    devices_seen: str = ""  # verify scenarios: SEEN_NOW or SEEN_YESTERDAY, set before each run


BASELINE = Scenario("baseline", "baseline", "baseline", "baseline.lua", "/", note="GET /, Starlette JSONResponse")
SCENARIOS = (
    Scenario(
        "verify", "verify", "api", "verify.lua", "/api/license/verify", "verify.tsv", "key/device pairs", SEEN_NOW
    ),
    # The same verifies when each is the device's first of the day: each writes its refresh.
    Scenario(
        "verify-stale",
        "verify, first of the day",
        "api",
        "verify.lua",
        "/api/license/verify",
        "verify.tsv",
        "key/device pairs",
        SEEN_YESTERDAY,
    ),
    # The same verifies with Accept-Signature: the cost of a signed answer (docs/signatures.md).
    Scenario(
        "signed-verify",
        "signed verify",
        "api",
        "signed_verify.lua",
        "/api/license/verify",
        "verify.tsv",
        "key/device pairs, Accept-Signature on each",
        SEEN_NOW,
    ),
    Scenario(
        "reactivate",
        "re-activation (known device)",
        "api",
        "reactivate.lua",
        "/api/license/activate",
        "activate.tsv",
        "licenses, seeded devices",
    ),
    Scenario(
        "activate",
        "activation (new device)",
        "api",
        "activate.lua",
        "/api/license/activate",
        "activate-new.tsv",
        "licenses with a free slot",
    ),
    Scenario(
        "heartbeat",
        "heartbeat",
        "api",
        "heartbeat.lua",
        "/api/license/session/heartbeat",
        "heartbeat.tsv",
        "live sessions",
    ),
    Scenario(
        "session",
        "session start/end",
        "api",
        "session.lua",
        "/api/license/session/start",
        "session.tsv",
        "licenses; a cycle is two requests",
    ),
    Scenario(
        "sqlite-verify",
        "verify (SQLite)",
        "api-sqlite",
        "verify.lua",
        "/api/license/verify",
        "verify.tsv",
        "key/device pairs, SQLite file",
        SEEN_NOW,
    ),
    Scenario(
        "sqlite-verify-stale",
        "verify (SQLite), first of the day",
        "api-sqlite",
        "verify.lua",
        "/api/license/verify",
        "verify.tsv",
        "key/device pairs, SQLite file",
        SEEN_YESTERDAY,
    ),
)
BY_KEY = {s.key: s for s in SCENARIOS}


@dataclass(frozen=True)
class Setting:
    """What the preparation needs: the PostgreSQL database, its scale, the pools' directory."""

    database_url: str
    scale: seed.Scale
    data_dir: Path
    sqlite_path: Path | None = None  # the "verify (SQLite)" scenarios' file
    run_seconds: int = 10  # the longest run (closed or open loop) a preparation prepares for


def prepare(scenario: Scenario, setting: Setting) -> int | None:
    """Reset what an earlier run of this scenario left; rows of its pool now, when it changed."""
    if scenario.key == "heartbeat":
        # Sessions opened now, not at seeding time: the client's 90 s timeout must not run out first.
        return seed.open_heartbeat_sessions(setting.database_url, setting.scale, setting.data_dir)
    if scenario.key == "session":
        # wrk stops with some starts answered and their ends never sent: a second run would meet
        # those sessions as conflicts (one open session per license).
        seed.end_open_sessions(setting.database_url, setting.scale, "session")
    if scenario.key == "activate":
        return seed.export_free_slots(setting.database_url, setting.scale, setting.data_dir)
    if scenario.devices_seen:
        stale = scenario.devices_seen == SEEN_YESTERDAY
        if scenario.server == "api-sqlite" and setting.sqlite_path is not None:
            seed_sqlite.set_verify_devices_seen(setting.sqlite_path, setting.scale, stale)
        elif seed.set_verify_devices_seen(setting.database_url, setting.scale, stale, setting.run_seconds):
            seed.settle(setting.database_url)
    return None


def database_clock(scenario: Scenario, setting: Setting) -> object:
    """The clock of the scenario's database now (verify scenarios only), for `rows_written`."""
    if not scenario.devices_seen:
        return None
    if scenario.server == "api-sqlite" and setting.sqlite_path is not None:
        return seed_sqlite.sqlite_now(setting.sqlite_path)
    return seed.database_now(setting.database_url)


def rows_written(scenario: Scenario, setting: Setting, since: object) -> int | None:
    """Devices a verify run refreshed since `since` (a device is written at most once a minute)."""
    if since is None:
        return None
    if scenario.server == "api-sqlite" and setting.sqlite_path is not None:
        return seed_sqlite.verify_devices_written_since(setting.sqlite_path, setting.scale, str(since))
    return seed.verify_devices_written_since(setting.database_url, setting.scale, since)


def script_args(scenario: Scenario, data_dir: Path, api_key: str, threads: int, tag: str) -> list[str]:
    """The wrk script's arguments after `--` (none for the baseline)."""
    if scenario.data is None:
        return []
    arguments = [str(data_dir / scenario.data), api_key, str(threads)]
    if scenario.key == "activate":
        arguments.append(tag)  # device names never repeat from one run to the next
    return arguments
