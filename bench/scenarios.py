"""What each scenario sends, to which server, from which pool, and what it resets before each of
its runs (closed or open loop) so that a second run meets the state the first one did."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import seed


@dataclass(frozen=True)
class Scenario:
    key: str  # its --scenario name
    label: str  # its name in the table
    server: str  # "baseline", "api" (PostgreSQL) or "api-sqlite"
    script: str  # bench/lua/<script>
    path: str
    data: str | None = None  # pool file of the run's data directory
    note: str = ""


BASELINE = Scenario("baseline", "baseline", "baseline", "baseline.lua", "/", note="GET /, Starlette JSONResponse")
SCENARIOS = (
    Scenario("verify", "verify", "api", "verify.lua", "/api/license/verify", "verify.tsv", "key/device pairs"),
    # The same verifies with Accept-Signature: the cost of a signed answer (docs/signatures.md).
    Scenario(
        "signed-verify",
        "signed verify",
        "api",
        "signed_verify.lua",
        "/api/license/verify",
        "verify.tsv",
        "key/device pairs, Accept-Signature on each",
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
    ),
)
BY_KEY = {s.key: s for s in SCENARIOS}


@dataclass(frozen=True)
class Setting:
    """What the preparation needs: the PostgreSQL database, its scale, the pools' directory."""

    database_url: str
    scale: seed.Scale
    data_dir: Path


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
    return None


def script_args(scenario: Scenario, data_dir: Path, api_key: str, threads: int, tag: str) -> list[str]:
    """The wrk script's arguments after `--` (none for the baseline)."""
    if scenario.data is None:
        return []
    arguments = [str(data_dir / scenario.data), api_key, str(threads)]
    if scenario.key == "activate":
        arguments.append(tag)  # device names never repeat from one run to the next
    return arguments
