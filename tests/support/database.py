"""Test databases: a migrated SQLite template copied per test, and one PostgreSQL database per
test worker that is emptied and re-seeded before each test."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, text

from licenseserver.db.engine import make_engine
from licenseserver.db.migrate import upgrade_schema

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_API_KEY = "AF-2026-TESTKEY0TESTKEY0TESTKEY0TESTKEY0"
TEST_API_RATE_LIMIT = 100_000  # high enough that only the rate-limit tests ever meet it
DATA_TABLES = (
    "idempotent_answers",
    "api_tokens",
    "admin_sessions",
    "admin_users",
    "audit_log",
    "app_secrets",
    "signing_keys",
    "sessions",
    "activations",
    "resource_history",
    "resources",
    "licenses",
    "lead_note_versions",
    "lead_notes",
    "lead_contact_details",
    "lead_contacts",
    "lead_institutions",
    "customers",
    "client_releases",
    "client_configs",
    "system_api_key",
    "rate_limit_settings",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_events",
    "webhook_endpoints",
)


def pg_url(database: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database


def create_empty_pg_database(name: str) -> str:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_url(name)


def create_pg_database(name: str) -> str:
    url = create_empty_pg_database(name)
    upgrade_schema(url)
    return url


def drop_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(engine: Engine) -> None:
    """The rows every test starts with: the default client, its first release, the key, limits."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO client_configs (id, client_name, heartbeat_interval, session_timeout, minimum_version)"
                " VALUES (1, 'Account Forger', 30, 90, '1.0.0')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO client_releases (client_id, version, release_date, download_url, release_notes)"
                " VALUES (1, '1.0.0', :d, 'https://downloads.example.test/1.0.0', 'Initial release')"
            ),
            {"d": date(2025, 6, 1)},
        )
        conn.execute(text("INSERT INTO system_api_key (id, api_key) VALUES (1, :k)"), {"k": TEST_API_KEY})
        conn.execute(
            text("INSERT INTO rate_limit_settings (id, api_per_minute, login_per_minute) VALUES (1, :a, 5)"),
            {"a": TEST_API_RATE_LIMIT},
        )
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT setval('client_configs_id_seq', 1)"))


def reset_pg(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(DATA_TABLES)} RESTART IDENTITY CASCADE"))
    seed(engine)


def make_sqlite_template(path: Path) -> None:
    url = f"sqlite:///{path}"
    upgrade_schema(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        for table in DATA_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    seed(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


def copy_sqlite(template: Path, target: Path) -> str:
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(sql), params)]


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to prove a refused request changed nothing."""
    with engine.connect() as conn:
        return {
            table: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1"))] for table in DATA_TABLES
        }
