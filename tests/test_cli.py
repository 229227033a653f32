"""The operator CLI (contract §2), run as real subprocesses the way runbooks run it, on a temporary
SQLite file and on a fresh, empty PostgreSQL database."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import Engine

from licenseserver.db.engine import make_engine
from tests.conftest import SETTING_VARIABLES, free_port
from tests.support import database
from tests.support.world import TestWorld

API_KEY_LINE = re.compile(r"^AF-\d{4}-[A-Z0-9]{32}$")
TOKEN = re.compile(r"^v2lm_[a-z2-9]{8}_[A-Za-z0-9_-]{43}$")
LICENSE_KEY = re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$")
_database_numbers = itertools.count(1)


def cli_command() -> list[str]:
    """The installed console script beside this interpreter; `python -m` only as a fallback."""
    script = Path(sys.executable).with_name("licenseserver")
    return [str(script)] if script.exists() else [sys.executable, "-m", "licenseserver.cli"]


def clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTING_VARIABLES}
    env.update(PYTHONUNBUFFERED="1", NO_COLOR="1", COLUMNS="200", **settings)
    return env


@dataclass
class Cli:
    """`licenseserver ...` in a clean working folder against one database."""

    database_url: str
    cwd: Path
    engine: Engine

    def run(self, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
        env = clean_env(DATABASE_URL=self.database_url, **settings)
        return subprocess.run(
            [*cli_command(), *args], cwd=self.cwd, env=env, capture_output=True, text=True, timeout=120, check=False
        )

    def ok(self, *args: str, **settings: str) -> str:
        result = self.run(*args, **settings)
        assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stderr
        return result.stdout

    def run_all(self, *commands: list[str]) -> list[subprocess.CompletedProcess[str]]:
        """Independent commands at once (each is a process that spends a second importing)."""
        with ThreadPoolExecutor(max_workers=len(commands)) as pool:
            return list(pool.map(lambda args: self.run(*args), commands))

    def ok_all(self, *commands: list[str]) -> list[str]:
        outputs = []
        for args, result in zip(commands, self.run_all(*commands), strict=True):
            assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
            outputs.append(result.stdout)
        return outputs

    def refused_all(self, *commands: list[str]) -> list[str]:
        """Commands that must fail: non-zero exit, one readable line on stderr, nothing on stdout."""
        messages = []
        for args, result in zip(commands, self.run_all(*commands), strict=True):
            assert result.returncode != 0, f"{args} succeeded: {result.stdout}"
            assert result.stdout == "", args
            assert_one_line(result.stderr)
            messages.append(result.stderr.strip())
        return messages

    def scalar(self, sql: str, **params: Any) -> Any:
        return database.scalar(self.engine, sql, **params)

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        return database.rows(self.engine, sql, **params)

    def counts(self) -> dict[str, int]:
        return {table: len(rows) for table, rows in database.snapshot(self.engine).items()}


def assert_one_line(stderr: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"wanted exactly one line on stderr, got:\n{stderr}"
    assert "Traceback" not in stderr and 'File "' not in stderr
    assert "╭" not in stderr, "a rich traceback box is no readable line"


@pytest.fixture
def empty_database(empty_database_url: str) -> str:
    return empty_database_url


@pytest.fixture
def cli(empty_database: str, tmp_path: Path) -> Iterator[Cli]:
    work = tmp_path / "work"
    work.mkdir()
    engine = make_engine(empty_database)
    yield Cli(empty_database, work, engine)
    engine.dispose()


def today_utc() -> date:
    return datetime.now(UTC).date()


def test_operator_workflow(cli: Cli) -> None:
    """migrate (twice), api-key show/regenerate, customer, license and resource commands, and the
    refusals that need the database. Commands that do not depend on each other run at once: each
    is a process that spends a second or two importing before it does anything."""
    sqlite = cli.database_url.startswith("sqlite")
    first = cli.ok("migrate", RATE_LIMIT_API_PER_MINUTE="250", RATE_LIMIT_LOGIN_PER_MINUTE="7")
    assert first.strip()
    tables = cli.counts()
    assert cli.scalar("SELECT version_num FROM alembic_version")
    assert cli.scalar("SELECT COUNT(*) FROM client_configs WHERE client_name = 'Account Forger'") == 1
    key_after_first = cli.scalar("SELECT api_key FROM system_api_key WHERE id = 1")
    assert API_KEY_LINE.match(key_after_first)

    # migrate again (idempotent: nothing new, nothing lost, a new database's limits kept), the key,
    # and a customer.
    _again, shown, customer_out = cli.ok_all(
        ["migrate"], ["api-key", "show"], ["customer", "create", "--name", "ACME Corp", "--email", "admin@acme.example"]
    )
    assert cli.counts() == {**tables, "customers": 1}
    assert cli.scalar("SELECT api_key FROM system_api_key WHERE id = 1") == key_after_first
    assert cli.rows("SELECT api_per_minute, login_per_minute FROM rate_limit_settings") == [
        {"api_per_minute": 250, "login_per_minute": 7}
    ]
    assert shown.count("\n") == 1 and API_KEY_LINE.match(shown.rstrip("\n")), repr(shown)
    assert shown.strip() == key_after_first
    customer = json.loads(customer_out)
    assert isinstance(customer["id"], int)
    assert cli.rows("SELECT name, email FROM customers WHERE id = :i", i=customer["id"]) == [
        {"name": "ACME Corp", "email": "admin@acme.example"}
    ]

    owner = str(customer["id"])
    full = [
        "license", "create", "--customer-id", owner, "--type", "subscription", "--valid-from", "2025-01-01",
        "--valid-until", "2030-12-31", "--max-activations", "5", "--max-users", "10",
    ]  # fmt: skip
    regenerated, created_full, added_out, *default_out = cli.ok_all(
        ["api-key", "regenerate"],
        full,
        ["resource", "add", "--type", "ipv4", "1.2.3.4", "5.6.7.8"],
        *([["license", "create", "--customer-id", owner]] if sqlite else []),
    )

    assert regenerated.count("\n") == 1 and API_KEY_LINE.match(regenerated.rstrip("\n")), repr(regenerated)
    new_key = regenerated.strip()
    assert new_key != key_after_first
    assert cli.rows("SELECT id, api_key FROM system_api_key") == [{"id": 1, "api_key": new_key}]
    assert new_key[3:7] == str(datetime.now(UTC).year)

    created = json.loads(created_full)
    assert isinstance(created["id"], int) and LICENSE_KEY.match(created["key"])
    row = cli.rows(
        "SELECT license_key, customer_id, license_type, valid_from, valid_until, max_activations, max_users,"
        " is_active FROM licenses WHERE id = :i",
        i=created["id"],
    )[0]
    assert row["license_key"] == created["key"]
    assert (row["customer_id"], row["license_type"]) == (customer["id"], "subscription")
    assert str(row["valid_from"])[:10] == "2025-01-01" and str(row["valid_until"])[:10] == "2030-12-31"
    assert (row["max_activations"], row["max_users"], bool(row["is_active"])) == (5, 10, True)

    for out in default_out:  # the defaults: perpetual, from today (UTC), no end, one device, one user
        default = json.loads(out)
        assert LICENSE_KEY.match(default["key"]) and default["key"] != created["key"]
        assert (default["type"], default["valid_from"], default["valid_until"]) == (
            "perpetual",
            today_utc().isoformat(),
            None,
        )
        assert (default["max_activations"], default["max_users"]) == (1, 1)

    added = json.loads(added_out)
    assert set(added) == {"ids"} and len(added["ids"]) == 2 and all(isinstance(i, int) for i in added["ids"])
    stored = cli.rows("SELECT id, resource_type, identifier, status FROM resources ORDER BY id")
    assert stored == [
        {"id": added["ids"][0], "resource_type": "ipv4", "identifier": "1.2.3.4", "status": "available"},
        {"id": added["ids"][1], "resource_type": "ipv4", "identifier": "5.6.7.8", "status": "available"},
    ]
    assert cli.scalar("SELECT COUNT(*) FROM resource_history") == 2

    # Refusals: an unknown customer, an identifier already in the pool beside a new one (both need
    # the database); bad arguments, refused before anything is written, on one backend. Each: a
    # non-zero exit, one line on stderr, nothing written.
    invalid_arguments = invalid_arguments_for(owner) if sqlite else []
    before = cli.counts()
    unknown, duplicate, *invalid = cli.refused_all(
        ["license", "create", "--customer-id", "999999", "--type", "trial"],
        ["resource", "add", "--type", "ipv4", "10.0.0.1", "1.2.3.4"],
        *[args for args, _expected in invalid_arguments],
    )
    assert "999999" in unknown
    assert "1.2.3.4" in duplicate
    for message, (args, expected) in zip(invalid, invalid_arguments, strict=True):
        assert expected in message, (args, message)
    assert cli.counts() == before, "all or nothing: a refused command wrote something"
    assert cli.scalar("SELECT COUNT(*) FROM resources WHERE identifier IN ('9.9.9.9', '10.0.0.1')") == 0


def invalid_arguments_for(owner: str) -> list[tuple[list[str], str]]:
    """Commands with a bad argument, and a word their one-line refusal must contain."""
    return [
        (["customer", "create", "--name", "X", "--email", "not-an-email"], "email"),
        (["license", "create", "--customer-id", owner, "--valid-from", "2026-01-02", "--valid-until", "2026-01-01"],
         "valid_until"),
        (["resource", "add", "--type", "ipv4", "9.9.9.9", "999.1.1.1"], "999.1.1.1"),
        (["resource", "add", "--type", "ipv4", "10.0.0.2", "10.0.0.2"], "twice"),
    ]  # fmt: skip


BAD_SETTINGS = (("DATABASE_URL", "nonsense"), ("RATE_LIMIT_API_PER_MINUTE", "abc"), ("DISPLAY_TIMEZONE", "Mars/Base"))


def test_bad_setting_stops_with_one_line(tmp_path: Path) -> None:
    """`migrate` and `serve api` alike: exit code 2, one line naming the setting, no trace."""
    good = {"DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}"}

    def run(command: tuple[str, ...], variable: str, value: str) -> tuple[str, subprocess.CompletedProcess[str]]:
        args = [*cli_command(), *command] + (["--port", str(free_port())] if command[0] == "serve" else [])
        env = clean_env(**{**good, variable: value})
        result = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
        return f"{' '.join(command)} with {variable}={value}", result

    jobs = [(("migrate",), *setting) for setting in BAD_SETTINGS]
    jobs += [(("serve", "api"), *setting) for setting in BAD_SETTINGS if setting[0] == "DISPLAY_TIMEZONE"]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(lambda job: run(*job), jobs))
    for (label, result), (_command, variable, _value) in zip(results, jobs, strict=True):
        assert result.returncode == 2, (label, result.returncode, result.stdout, result.stderr)
        assert_one_line(result.stderr)
        assert variable in result.stderr, (label, result.stderr)
        assert result.stdout == "", label
    assert not list(tmp_path.glob("*.db")), "a refused start must not create a database"


def test_env_file_supplies_database_url(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / ".env").write_text("DATABASE_URL=sqlite:///from-env-file.db\n", encoding="utf-8")
    result = subprocess.run(
        [*cli_command(), "api-key", "show"], cwd=work, env=clean_env(), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert (work / "from-env-file.db").exists()
    assert not (work / "licenseserver.db").exists(), "the default database was used instead of .env"
    engine = make_engine(f"sqlite:///{work / 'from-env-file.db'}")
    try:
        assert result.stdout.strip() == database.scalar(engine, "SELECT api_key FROM system_api_key WHERE id = 1")
    finally:
        engine.dispose()


class OutputReader:
    """Collects a process's output lines in a thread, so the test never blocks on the pipe."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines)


def test_token_commands(cli: Cli) -> None:
    """token create prints the token once (JSON with id and token), token list never shows it,
    token revoke stops it; the License API process accepts what the CLI made (one secret)."""
    from starlette.testclient import TestClient

    from licenseserver.api.app import create_api_app
    from licenseserver.config import Settings

    cli.ok("migrate")  # once, before the commands that run at once
    shop_out, report_out = cli.ok_all(
        ["token", "create", "Webshop", "--scope", "write"],
        ["token", "create", "Monatsbericht", "--scope", "read", "--expires-days", "30"],
    )
    shop, report = json.loads(shop_out), json.loads(report_out)
    assert shop_out.count("\n") == 1
    assert isinstance(shop["id"], int) and TOKEN.match(shop["token"]) and shop["token"].startswith(shop["prefix"] + "_")
    assert (shop["name"], shop["scope"], shop["expires_at"]) == ("Webshop", "write", None)
    assert (report["scope"], report["expires_at"][:10]) == ("read", str(today_utc() + timedelta(days=30)))
    stored = cli.rows("SELECT prefix, token_hash FROM api_tokens WHERE id = :i", i=shop["id"])[0]
    assert stored["prefix"] == shop["prefix"] and len(stored["token_hash"]) == 64
    assert shop["token"] not in str(cli.rows("SELECT * FROM api_tokens"))  # only its keyed hash is kept

    listed = [json.loads(line) for line in cli.ok("token", "list").splitlines()]
    assert [(t["id"], t["name"], t["scope"], t["revoked_at"]) for t in listed] == sorted(
        [(shop["id"], "Webshop", "write", None), (report["id"], "Monatsbericht", "read", None)]
    )
    assert {"id", "name", "prefix", "scope", "created_at", "last_used_at", "expires_at", "revoked_at"} <= set(listed[0])
    assert not {"token", "token_hash"} & set(listed[0])

    with TestClient(create_api_app(Settings(database_url=cli.database_url)), raise_server_exceptions=False) as api:
        bearer = {"Authorization": f"Bearer {shop['token']}"}
        assert api.get("/api/v1/customers", headers=bearer).status_code == 200
        assert "Token" in cli.ok("token", "revoke", str(shop["id"]))
        assert api.get("/api/v1/customers", headers=bearer).json()["code"] == "INVALID_TOKEN"
    assert "already" in cli.ok("token", "revoke", str(shop["id"]))
    [revoked] = [t for t in map(json.loads, cli.ok("token", "list").splitlines()) if t["id"] == shop["id"]]
    assert revoked["revoked_at"] and revoked["last_used_at"]
    assert cli.rows("SELECT actor, action FROM audit_log WHERE entity_type = 'api_token' ORDER BY id") == [
        {"actor": "cli", "action": "create"},
        {"actor": "cli", "action": "create"},
        {"actor": "cli", "action": "revoke"},
    ]
    refusals = cli.refused_all(
        ["token", "revoke", "999"],
        ["token", "create", "X", "--scope", "admin"],
        ["token", "create", "X", "--scope", "read", "--expires-days", "0"],
        ["token", "create", "", "--scope", "read"],
    )
    assert "999" in refusals[0] and "expires_days" in refusals[2] and "name" in refusals[3]
    assert cli.scalar("SELECT COUNT(*) FROM api_tokens") == 2


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"])
def test_serve_api_on_a_fresh_database(cli: Cli) -> None:
    assert cli.scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'") == 0
    port = free_port()
    process = subprocess.Popen(
        [*cli_command(), "serve", "api", "--port", str(port)],
        cwd=cli.cwd,
        env=clean_env(DATABASE_URL=cli.database_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output = OutputReader(process.stdout)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(base_url=base_url, timeout=5) as client:
            while True:
                assert process.poll() is None, f"serve exited early:\n{output.text()}"
                assert time.monotonic() < deadline, f"never healthy:\n{output.text()}"
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)

            # The key is made on this first start, but never written into captured output (a log).
            api_key = cli.scalar("SELECT api_key FROM system_api_key WHERE id = 1")
            assert API_KEY_LINE.match(api_key)
            assert api_key not in output.text() and "licenseserver api-key show" in output.text(), output.text()
            assert cli.scalar("SELECT version_num FROM alembic_version")

            key = TestWorld("postgresql", cli.database_url, cli.engine).license(max_activations=1)
            body = {"license_key": key, "hardware_hash": "hw-serve", "machine_name": "PC", "app_version": "1.0.0"}
            assert client.post("/api/license/activate", json=body).status_code == 401
            activated = client.post("/api/license/activate", json=body, headers={"X-API-Key": api_key})
            assert activated.status_code == 200, activated.text
            assert activated.json()["activation"]["hardware_hash"] == "hw-serve"
            assert cli.scalar("SELECT COUNT(*) FROM activations WHERE hardware_hash = 'hw-serve'") == 1

        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=30)
        assert time.monotonic() - stopped_at < 30
        assert returncode == 0, output.text()
        assert "Traceback" not in output.text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        output.thread.join(timeout=5)
        process.stdout.close()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_instances_starting_together_on_a_new_database_all_start(cli: Cli) -> None:
    """Every `serve` migrates and seeds first, so instances started at once on an empty database
    (compose --scale, a Kubernetes rollout) must not trip over each other."""
    first_admin = {"ADMIN_USERNAME": "chef", "ADMIN_PASSWORD": "Ein-langes-Passwort-1"}
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: cli.run("migrate", **first_admin), range(4)))
    for result in results:
        assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert cli.scalar("SELECT count(*) FROM admin_users") == 1
    assert cli.scalar("SELECT count(*) FROM system_api_key") == 1


def test_the_banner_names_the_cli_as_the_operator_can_type_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from licenseserver.serving.services import operator_command

    script = tmp_path / ".venv" / "bin" / "licenseserver"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [".venv/bin/licenseserver", "serve", "all"])  # as scripts/start runs it
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert operator_command() == ".venv/bin/licenseserver"
    monkeypatch.setenv("PATH", str(script.parent))  # an activated venv, or a container's PATH
    assert operator_command() == "licenseserver"
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setattr(sys, "argv", [str(script), "serve", "api"])  # started by its path from elsewhere
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert operator_command() == str(script.resolve())
    monkeypatch.setattr(sys, "argv", ["/somewhere/licenseserver/__main__.py", "serve", "api"])
    assert operator_command() == "licenseserver"
