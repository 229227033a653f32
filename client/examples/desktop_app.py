"""A licensed desktop program in miniature: copy it and replace `run_the_program` with your own.

    python desktop_app.py --server https://licenses.example.com --api-key AF-2026-... \\
        --keys jwks.json --license ABCD-EFGH-JKLM-NPQR [--cache state.json] [--run-seconds 5]

It activates this machine, verifies the license, holds a session with heartbeats while it
"runs", and ends the session. When the server cannot be reached it falls back on the last signed
"valid" within the grace period. LICENSE_CLIENT_CLOCK_SHIFT (seconds, or --clock-shift) moves its
clock, to show the clock guard refusing a clock set back.

Exit codes: 0 licensed, 1 bad set-up (keys, arguments), 2 license refused, 3 server unreachable and
no grace left, 4 an answer failed its signature check, 5 clock set back, 6 session lost.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from licenseserver_client import (
    ApiError,
    ClockError,
    KeySetError,
    LicenseClient,
    LicenseSession,
    ServerUnavailableError,
    SessionLostError,
    SignatureError,
    default_hardware_hash,
)

OK, SETUP, REFUSED, UNREACHABLE, FORGED, CLOCK, LOST = range(7)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="A licensed desktop program, in miniature.")
    parser.add_argument("--server", required=True, help="the License API, e.g. https://licenses.example.com")
    parser.add_argument("--api-key", required=True, help="the system API key (X-API-Key)")
    parser.add_argument("--keys", required=True, help="the pinned JWK Set file (jwks.json)")
    parser.add_argument("--license", required=True, help="the license key, XXXX-XXXX-XXXX-XXXX")
    parser.add_argument("--cache", help="the cache file (default: under the user's cache folder)")
    parser.add_argument("--hardware-hash", help="this device's id (default: a hash of the machine id)")
    parser.add_argument("--machine-name", default=platform.node() or "desktop", help="shown to staff")
    parser.add_argument("--version", default="1.0.0", help="this program's version")
    parser.add_argument("--run-seconds", type=float, default=5.0, help="how long the program 'runs'")
    parser.add_argument("--grace-hours", type=float, default=72.0, help="grace period while offline")
    default_shift = float(os.environ.get("LICENSE_CLIENT_CLOCK_SHIFT", "0"))
    parser.add_argument("--clock-shift", type=float, default=default_shift, help="seconds added to the clock")
    return parser.parse_args(argv)


def say(message: str) -> None:
    print(message, flush=True)


def shifted_clock(shift: float) -> Callable[[], float]:
    return lambda: time.time() + shift


def run_the_program(session: LicenseSession, seconds: float) -> None:
    """Your program's work; here it only checks once a second that its session still stands."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        session.check()
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    say(f"worked {seconds:g} s, {session.beats} heartbeat(s) sent")


def licensed_run(args: argparse.Namespace, client: LicenseClient, device: str) -> int:
    try:
        activated = client.activate(args.license, device, args.machine_name, args.version)
        state = "already active" if activated.already_active else "activated"
        say(f"activation: {state} as {activated.activation.machine_name!r}")
    except ServerUnavailableError as error:
        say(f"activation skipped: {error}")
    verdict = client.verify(args.license, device, args.version)
    signed = datetime.fromtimestamp(verdict.signed_at, UTC).isoformat(timespec="seconds")
    source = "from the cache (server unreachable)" if verdict.from_cache else "from the server"
    say(f"verify: valid={verdict.valid} {source}, signed {signed}: {verdict.message}")
    if not verdict.valid:
        return REFUSED
    if verdict.from_cache:
        say("running offline within the grace period; no session")
        return OK
    with client.session(args.license, device, args.machine_name, args.version, on_lost=report_lost) as session:
        info = session.info
        assert info is not None
        say(f"session: started, heartbeat every {info.heartbeat_interval} s")
        run_the_program(session, args.run_seconds)
    say("session: ended")
    return OK


def report_lost(error: SessionLostError) -> None:
    say(f"session: lost ({error.code}: {error.message})")


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    device = args.hardware_hash or default_hardware_hash()
    try:
        client = LicenseClient(
            args.server,
            args.api_key,
            public_keys=args.keys,
            cache_path=args.cache,
            grace=timedelta(hours=args.grace_hours),
            clock=shifted_clock(args.clock_shift),
        )
    except (KeySetError, ValueError) as error:
        say(f"set-up: {error}")
        return SETUP
    try:
        return licensed_run(args, client, device)
    except SessionLostError as error:
        say(f"stopping: the session is gone ({error.code})")
        return LOST
    except ApiError as error:
        say(f"refused: {error}")
        return REFUSED
    except ServerUnavailableError as error:
        say(f"unreachable: {error}")
        return UNREACHABLE
    except SignatureError as error:
        say(f"forged or altered answer refused: {error.reason.value}: {error.message}")
        return FORGED
    except ClockError as error:
        say(f"clock: {error.message}")
        return CLOCK


if __name__ == "__main__":
    sys.exit(main())
