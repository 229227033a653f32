"""The backup and restore runbook of docs/deployment.md, run word for word against the real
PostgreSQL server: a database filled through the CLI and the API is dumped, restored into a
second database, compared row by row and sequence by sequence, and then served: the license
activated before the backup still verifies through an API running on the copy."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx2 as httpx
import psycopg
import pytest
from starlette.testclient import TestClient

from licenseserver.api.app import create_api_app
from licenseserver.config import Settings
from licenseserver.db.engine import make_engine
from tests.conftest import LiveServer
from tests.deploy.files import DEPLOYMENT_DOC
from tests.support import database
from tests.support.world import TestWorld

HARDWARE = "hw-backup-1"
# Like `docker compose exec -T postgres`: the tool's standard input and output are pipes, never
# the dump file itself, so pg_dump cannot seek in what it writes nor pg_restore in what it reads.
PIPED_TOOL = """#!/usr/bin/env bash
set -o pipefail
cat | "$@" | cat
"""


def runbook(name: str) -> str:
    """The shell block that follows `<!-- runbook:NAME -->` in the deployment guide."""
    text = DEPLOYMENT_DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- runbook:{name} -->\n```sh\n(.*?)```", text, re.DOTALL)
    assert match, f"docs/deployment.md has no runbook:{name} block"
    return match.group(1)


def run_block(block: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block], env={**os.environ, **env}, capture_output=True, timeout=120
    )
    assert result.returncode == 0, result.stderr.decode()


def cli(database_url: str, *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "licenseserver.cli", *args],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()


def contents(url: str) -> dict[str, Any]:
    """Every row of every table and the position of every sequence."""
    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1"
            )
        ]
        rows = {table: sorted(map(repr, conn.execute(f'SELECT * FROM "{table}"'))) for table in tables}
        sequences = {
            name: conn.execute(f'SELECT last_value, is_called FROM "{name}"').fetchone()
            for (name,) in conn.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
        }
        extensions = sorted(row[0] for row in conn.execute("SELECT extname FROM pg_extension"))
    return {"rows": rows, "sequences": sequences, "extensions": extensions}


@pytest.fixture
def two_databases() -> Iterator[tuple[str, str]]:
    names = [f"licenseserver_test_backup_{os.getpid()}_{suffix}" for suffix in ("live", "restored")]
    database.create_empty_pg_database(names[0])
    database.drop_pg_database(names[1])
    try:
        yield names[0], names[1]
    finally:
        for name in names:
            database.drop_pg_database(name)


def fill(url: str) -> dict[str, str]:
    """Customers, licenses and an activation: the schema by the operator's `migrate`, the rest
    through the domain services and the License API, as the panel and a client would make them."""
    cli(url, "migrate")
    world = TestWorld("postgresql", url, make_engine(url))
    try:
        owner = world.customer("Backup GmbH", "it@backup.example")
        world.customer("Zweite AG", "ops@zweite.example")
        key = world.license(customer_id=owner, max_activations=2)
        world.license(customer_id=owner, license_type="trial", valid_until=date(2099, 12, 31))
        api_key = str(world.scalar("SELECT api_key FROM system_api_key WHERE id = 1"))
    finally:
        world.engine.dispose()
    settings = Settings(_env_file=None, database_url=url, session_sweep_seconds=3600)
    with TestClient(create_api_app(settings)) as client:
        client.headers["X-API-Key"] = api_key
        body = {"license_key": key, "hardware_hash": HARDWARE, "machine_name": "BACKUP-PC"}
        assert client.post("/api/license/activate", json=body).status_code == 200
    return {"key": key, "api_key": api_key}


def test_the_runbook_restores_a_database_the_api_serves_unchanged(
    two_databases: tuple[str, str], tmp_path: Path
) -> None:
    live_name, restored_name = two_databases
    live_url, restored_url = database.pg_url(live_name), database.pg_url(restored_name)
    made = fill(live_url)
    before = contents(live_url)
    assert before["rows"]["activations"] and len(before["rows"]["licenses"]) == 2

    admin = psycopg.conninfo.conninfo_to_dict(database.PG_ADMIN_URL)
    tool = tmp_path / "piped-tool"
    tool.write_text(PIPED_TOOL, encoding="utf-8")
    tool.chmod(0o755)
    env = {
        "PG": f"{tool} env PGHOST={admin.get('host', '127.0.0.1')} PGPORT={admin.get('port', '5432')}",
        "DB_USER": str(admin.get("user", "postgres")),
        "DB_NAME": live_name,
        "RESTORE_DB": restored_name,
        "BACKUP": str(tmp_path / "licenseserver.dump"),
    }
    run_block(runbook("backup"), env)
    assert (tmp_path / "licenseserver.dump").read_bytes().startswith(b"PGDMP"), "the custom format"
    run_block(runbook("restore"), env)

    assert contents(restored_url) == before
    verify_through_a_served_copy(restored_url, made)


def verify_through_a_served_copy(url: str, made: dict[str, str]) -> None:
    engine = make_engine(url)
    server = LiveServer(TestWorld("postgresql", url, engine, api_key=made["api_key"]))
    try:
        headers = {"X-API-Key": made["api_key"]}
        body = {"license_key": made["key"], "hardware_hash": HARDWARE}
        answer = httpx.post(f"{server.base_url}/api/license/verify", json=body, headers=headers, timeout=10)
        assert answer.status_code == 200
        assert answer.json()["valid"] is True, answer.json()
        stranger = httpx.post(
            f"{server.base_url}/api/license/verify",
            json={**body, "hardware_hash": "hw-never-activated"},
            headers=headers,
            timeout=10,
        )
        assert stranger.json()["valid"] is False
    finally:
        server.stop()
        engine.dispose()
