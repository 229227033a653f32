"""Fixtures of the License API's tests that read the statements the API sends to PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from starlette.testclient import TestClient

from licenseserver.db.sql import Query
from licenseserver.domain.webhooks.outbox import SUBSCRIPTIONS
from tests.conftest import make_client
from tests.support.world import TestWorld

TRANSACTION_WORDS = {"BEGIN", "COMMIT", "ROLLBACK"}


def postgres_sql(query: Query) -> str:
    """A statement as the driver sends it to PostgreSQL, for comparing with what was sent."""
    return query.render("postgresql")


@dataclass
class Sent:
    sql: str
    durable: bool  # sent on a connection that commits with synchronous_commit on


@dataclass
class StatementLog:
    sent: list[Sent] = field(default_factory=list)

    def clear(self) -> None:
        self.sent.clear()

    def among(self, watched: set[str]) -> list[str]:
        """The statements sent that are in `watched`, in order, with BEGIN / COMMIT / ROLLBACK
        (as that word) between them; the caches' reads and the deliverer's polls are left out."""
        return [named(s.sql) for s in self.sent if s.sql in watched or named(s.sql) != s.sql]

    def durable(self, sql: str) -> list[bool]:
        return [s.durable for s in self.sent if s.sql == sql]

    def count(self, sql: str) -> int:
        return sum(1 for s in self.sent if s.sql == sql)


def named(sql: str) -> str:
    word = sql.strip().rstrip(";").split(" ", 1)[0].upper()
    return word if word in TRANSACTION_WORDS else sql


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[StatementLog]:
    """Every statement the connections opened from now on send (db/sql/postgres.py connects
    through asyncpg.connect, for both of its pools)."""
    log = StatementLog()
    real_connect = asyncpg.connect

    async def connect(*args: Any, **kwargs: Any) -> asyncpg.Connection:
        conn = await real_connect(*args, **kwargs)
        durable = (kwargs.get("server_settings") or {}).get("synchronous_commit", "on") == "on"
        conn.add_query_logger(lambda record: log.sent.append(Sent(record.query, durable)))
        return conn

    monkeypatch.setattr(asyncpg, "connect", connect)
    SUBSCRIPTIONS.invalidate()  # no reading carried over from another test's database
    yield log
    SUBSCRIPTIONS.invalidate()


@pytest.fixture
def pg_api(pg_world: TestWorld, statements: StatementLog) -> Iterator[TestClient]:
    """The License API in-process on PostgreSQL, its statements logged."""
    with make_client(pg_world, webhook_poll_seconds=60) as client:
        yield client
