"""/metrics reports every worker process, not just the one that answered the scrape."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from licenseserver.kit.metrics import TALLY_WRITE_SECONDS
from tests.conftest import free_port
from tests.support.world import TestWorld

REQUESTS = 40


def _served_count(text: str) -> float:
    pattern = (
        r'licenseserver_http_requests_total\{app="api",method="GET",route="/api/version/latest",status="200"\} (\S+)'
    )
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


def _wait_healthy(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, "server exited early"
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become healthy")


@pytest.mark.slow
def test_metrics_sum_over_workers(pg_world: TestWorld, tmp_path: Path) -> None:
    world = pg_world
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": world.database_url}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "licenseserver.cli", "serve", "api", "--port", str(port), "--workers", "2"]
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_healthy(base_url, process)
        headers = {"X-API-Key": world.api_key}
        # Fresh connections per request so both workers get a share of the requests.
        for _ in range(REQUESTS):
            assert httpx.get(f"{base_url}/api/version/latest", headers=headers).status_code == 200
        # Each worker writes its totals for the others' scrapes once a second.
        time.sleep(TALLY_WRITE_SECONDS + 0.5)
        scrapes = {_served_count(httpx.get(f"{base_url}/metrics").text) for _ in range(6)}
        assert scrapes == {float(REQUESTS)}
    finally:
        process.terminate()
        process.wait(timeout=30)
