"""Portable SQL statements and the two interfaces every dialect implements.

Queries are written once with `$1`-style parameters and two tokens the dialects spell
differently: `{now}` (the database clock) and `{ago $n}` (the database clock minus `$n` seconds;
a column, `{ago asked.timeout_seconds}`, works too).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

Row = Mapping[str, Any]

# The database clock as each dialect spells it: `now`, and `ago` with `{param}` for the seconds.
# db.clock renders these very strings for SQLAlchemy statements, so both stacks read one clock.
# SQLite stores times as text '%Y-%m-%d %H:%M:%S.%f' (what SQLAlchemy writes), hence strftime.
CLOCK_SQL: Mapping[str, Mapping[str, str]] = {
    "postgresql": {"now": "now()", "ago": "(now() - make_interval(secs => {param}::float8))"},
    "sqlite": {
        "now": "strftime('%Y-%m-%d %H:%M:%f000', 'now')",
        "ago": "strftime('%Y-%m-%d %H:%M:%f000', 'now', '-' || {param} || ' seconds')",
    },
}


class Query:
    """One portable SQL statement, rendered once per dialect."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def render(self, dialect: str) -> str:
        return _render(self.text, dialect)


@cache
def _render(text: str, dialect: str) -> str:
    tokens = CLOCK_SQL[dialect]
    sql = text.replace("{now}", tokens["now"])
    sql = re.sub(r"\{ago ([$\w.]+)\}", lambda m: tokens["ago"].format(param=m.group(1)), sql)
    if dialect == "sqlite":
        sql = re.sub(r"\$(\d+)", r"?\1", sql)
        # SQLite has no row locks: its write transactions (BEGIN IMMEDIATE) are already exclusive.
        sql = sql.replace(" FOR UPDATE", "")
    return sql


class Connection(ABC):
    dialect: str

    @abstractmethod
    async def fetchrow(self, query: Query, *args: Any) -> Row | None: ...

    @abstractmethod
    async def fetch(self, query: Query, *args: Any) -> Sequence[Row]: ...

    @abstractmethod
    async def execute(self, query: Query, *args: Any) -> None: ...

    @abstractmethod
    async def execute_many(self, query: Query, rows: Sequence[tuple[Any, ...]]) -> None:
        """`execute` once per row of arguments, in one call to the driver."""

    async def fetchval(self, query: Query, *args: Any) -> Any:
        row = await self.fetchrow(query, *args)
        return None if row is None else next(iter(row.values()))


class Database(ABC):
    """A pool of connections, in one of two forms. `autocommit()`: each statement commits on its
    own (verify's refresh and the heartbeat are one UPDATE each, so they need no transaction of
    their own). `transaction()`: every statement inside commits together, or none does."""

    dialect: str

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def autocommit(self) -> Any: ...

    @abstractmethod
    def transaction(self) -> Any: ...

    def autocommit_unflushed(self) -> Any:
        """`autocommit()` for statements that only write freshness stamps (verify's refresh of a
        device's last_heartbeat and app_version, a session's heartbeat): their commit need not wait
        for the write-ahead log to reach the disk. A crash may lose the stamps of its last fraction
        of a second, which the client's next call writes again (CONTRACT.md section 5 lets
        last_heartbeat lag by 60 s); never an acknowledged activation, session start or end, or any
        staff write, which stay on `autocommit()` and `transaction()`. PostgreSQL runs them with
        synchronous_commit off; SQLite in WAL mode with synchronous=NORMAL already commits
        without a sync, so there it is `autocommit()`."""
        return self.autocommit()
