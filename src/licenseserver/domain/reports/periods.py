"""Days and weeks the charts count by: the UTC day of a stored time, computed in the database so
that grouping happens there (at most one row per day comes back), and the calendar weeks the
days are gathered into."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class UtcDay(FunctionElement[date]):
    """The UTC calendar day of a timestamp column, whatever the connection's time zone."""

    type = Date()
    inherit_cache = True
    name = "utc_day"


@compiles(UtcDay)
def _utc_day_default(element: UtcDay, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps times as UTC text: date() reads its day.
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(UtcDay, "postgresql")
def _utc_day_postgresql(element: UtcDay, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC' AS DATE)"


def utc_day(column: ColumnElement[datetime] | QueryableAttribute[datetime]) -> ColumnElement[date]:
    return UtcDay(column)


def as_date(value: date | str) -> date:
    """A day as the database hands it back: a date (PostgreSQL) or its ISO text (SQLite)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True, slots=True)
class Period:
    """A day, or the calendar week starting on Monday `start`, and what was counted in it."""

    start: date
    count: int

    @property
    def iso_week(self) -> int:
        return self.start.isocalendar().week


def daily(rows: Iterable[tuple[Any, Any]], first: date, last: date) -> list[Period]:
    """(day, count) rows as one period per day from `first` to `last`, missing days as 0."""
    counts = {as_date(day): int(count) for day, count in rows}
    return [
        Period(first + timedelta(days=i), counts.get(first + timedelta(days=i), 0))
        for i in range((last - first).days + 1)
    ]


def weekly(rows: Iterable[tuple[Any, Any]], first: date, last: date) -> list[Period]:
    """(day, count) rows summed per calendar week, every week from `first`'s to `last`'s."""
    weeks = {
        monday_of(first) + timedelta(weeks=i): 0 for i in range((monday_of(last) - monday_of(first)).days // 7 + 1)
    }
    for day, count in rows:
        weeks[monday_of(as_date(day))] += int(count)
    return [Period(start, count) for start, count in weeks.items()]
