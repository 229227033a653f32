"""Instructions per verify, counted by callgrind: the API app driven in-process (no HTTP server,
no load generator), so the count moves only with the code, never with the machine's load. This
is how docs/performance.md says what each change to the hot path bought while other work shared
the machine.

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/verify.cg \\
        .venv/bin/python bench/verify_instructions.py [--batch 8] [--signed]

Without valgrind it runs the same requests and prints the wall time only (a check that the
harness works). With it, the script switches counting on after the warm-up and off after the
measured requests (`callgrind_control`), then reads the dump's total. The database is a fresh
`licenseserver_bench_instr_<pid>` with a small seed, dropped at the end; the devices were seen
just now, so every verify reads only (the common case, CONTRACT.md section 5).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop

import seed
from licenseserver.api.app import create_api_app
from licenseserver.config import Settings
from licenseserver.domain.licensing.license_statements import VERIFY_WRITE_AFTER_SECONDS
from licenseserver.kit.logs import configure_logging
from traffic import read_rows

VERIFY_PATH = "/api/license/verify"
SIGNED = b'sig1=("@status" "content-digest");alg="ed25519"'


def under_callgrind() -> bool:
    return "vgpreload" in os.environ.get("LD_PRELOAD", "")


def callgrind(*arguments: str) -> None:
    subprocess.run(["callgrind_control", *arguments, str(os.getpid())], check=True, capture_output=True)


def scope_for(body: bytes, api_key: str, signed: bool) -> dict[str, Any]:
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"content-type", b"application/json"),
        (b"x-api-key", api_key.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if signed:
        headers.append((b"accept-signature", SIGNED))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": VERIFY_PATH,
        "raw_path": VERIFY_PATH.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def one_verify(app: Any, body: bytes, api_key: str, signed: bool) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope_for(body, api_key, signed), receive, send)
    answer = sent[-1].get("body", b"")
    if sent[0]["status"] != 200 or b'"valid":true' not in answer:
        raise RuntimeError(f"unexpected answer {sent[0]['status']}: {answer[:200]!r}")


async def drive(
    app: Any, bodies: list[bytes], options: argparse.Namespace, fresh: Callable[[], object]
) -> tuple[float, float]:
    """Warm up, then the measured verifies in batches of `--batch` at once; their wall time."""
    api_key = options.api_key
    async with app.router.lifespan_context(app):
        for index in range(options.warmup):
            await one_verify(app, bodies[index % len(bodies)], api_key, options.signed)
        fresh()  # under callgrind the warm-up can take longer than the minute a stamp stays fresh
        if under_callgrind():
            callgrind("--zero")
            callgrind("--instr=on")
        started, cpu_started = time.perf_counter(), time.process_time()
        for first in range(0, options.requests, options.batch):
            group = [bodies[(first + i) % len(bodies)] for i in range(min(options.batch, options.requests - first))]
            await asyncio.gather(*(one_verify(app, body, api_key, options.signed) for body in group))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        if under_callgrind():
            callgrind("--instr=off")
            callgrind("--dump=measured")
        return elapsed, cpu


def measured_instructions(out_file: Path) -> int:
    """The total of the dump written after the measured requests (its name ends in `.N`)."""
    dumps = sorted(out_file.parent.glob(out_file.name + ".*"), key=lambda p: p.stat().st_mtime)
    if not dumps:
        raise RuntimeError(f"no callgrind dump beside {out_file}")
    match = re.search(r"^totals:\s+(\d+)", dumps[-1].read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no totals line in {dumps[-1]}")
    return int(match.group(1))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="measured verifies (default 300)")
    parser.add_argument("--warmup", type=int, default=200, help="verifies before counting (default 200)")
    parser.add_argument("--batch", type=int, default=1, help="verifies sent at once (batched together)")
    parser.add_argument("--signed", action="store_true", help="ask for a signed answer (Accept-Signature)")
    parser.add_argument("--licenses", type=int, default=2_000)
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_PG_ADMIN_URL", seed.DEFAULT_ADMIN_URL))
    parser.add_argument("--callgrind-out", type=Path, help="the --callgrind-out-file given to valgrind")
    return parser.parse_args()


def main() -> int:
    options = parse_args()
    name = f"licenseserver_bench_instr_{os.getpid()}"
    url = seed.create_database(options.admin_url, name)
    try:
        options.api_key = seed.migrate(url)
        scale = seed.Scale(customers=max(1, options.licenses // 100), licenses=options.licenses)
        seed.seed(url, scale)
        data = Path(f"/tmp/{name}")
        seed.export_pools(url, scale, data)
        bodies = [
            b'{"license_key":"%s","hardware_hash":"%s","app_version":"1.0.0"}' % (key.encode(), device.encode())
            for key, device in read_rows(data / "verify.tsv")
        ]
        with open(os.devnull, "w") as sink:
            configure_logging("json", "INFO", stream=sink)
            app = create_api_app(Settings(database_url=url))
            fresh = lambda: seed.set_verify_devices_seen(url, scale, False, VERIFY_WRITE_AFTER_SECONDS)  # noqa: E731
            # The server stack's loop (uvicorn runs on uvloop), so the loop's share is the production one.
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                elapsed, cpu = runner.run(drive(app, bodies, options, fresh))
    finally:
        seed.drop_database(options.admin_url, name)
    kind = "signed verifies" if options.signed else "verifies"
    per = 1e6 / options.requests
    print(
        f"{options.requests} {kind} in batches of {options.batch}: {elapsed * per:,.0f} µs wall and"
        f" {cpu * per:,.0f} µs CPU (this process, every thread) per verify"
    )
    if under_callgrind() and options.callgrind_out:
        total = measured_instructions(options.callgrind_out)
        print(f"instructions: {total:,} in all, {total / options.requests:,.0f} per verify")
    return 0


if __name__ == "__main__":
    sys.exit(main())
