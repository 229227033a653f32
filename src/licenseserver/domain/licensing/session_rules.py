"""When a client session is live: not ended, and heard from within the client's session timeout,
judged by the database's clock (db.clock; the SQL layer's `{ago $n}`), never the application's.

An open session whose last heartbeat is older than that has timed out: it ends as a timeout at
its last heartbeat, whoever ends it. The forms side by side, as in licensing/rules.py: Python,
the SQLAlchemy condition of the panel and the dashboard, and the SQL text of
domain/licensing/session_statements.py's statements (`timeout_param` is the parameter holding the seconds).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, and_

from licenseserver.db.clock import database_ago
from licenseserver.db.models import ClientSession
from licenseserver.domain.clients.service import session_timeout_expression
from licenseserver.kit.timefmt import as_utc


class SessionTimes(Protocol):
    @property
    def ended_at(self) -> datetime | None: ...
    @property
    def last_heartbeat(self) -> datetime: ...


def _prefix(table: str) -> str:
    return f"{table}." if table else ""


# ---- heard from too long ago (whether or not the session has ended) -------------------------


def is_silent(session: SessionTimes, database_now: datetime, timeout_seconds: int) -> bool:
    return as_utc(session.last_heartbeat) < as_utc(database_now) - timedelta(seconds=timeout_seconds)


def silent_sql(timeout_param: str, table: str = "") -> str:
    return f"{_prefix(table)}last_heartbeat < {{ago {timeout_param}}}"


# ---- live: open and heard from within the timeout -------------------------------------------


def is_live(session: SessionTimes, database_now: datetime, timeout_seconds: int) -> bool:
    return session.ended_at is None and not is_silent(session, database_now, timeout_seconds)


def live_condition(timeout_seconds: ColumnElement[int] | int | None = None) -> ColumnElement[bool]:
    """Without `timeout_seconds`: the current client's timeout, read inside the same statement."""
    timeout = session_timeout_expression() if timeout_seconds is None else timeout_seconds
    return and_(ClientSession.ended_at.is_(None), ClientSession.last_heartbeat >= database_ago(timeout))


def live_sql(timeout_param: str, table: str = "") -> str:
    prefix = _prefix(table)
    return f"{prefix}ended_at IS NULL AND {prefix}last_heartbeat >= {{ago {timeout_param}}}"


# ---- timed out: open but silent ------------------------------------------------------------


def is_timed_out(session: SessionTimes, database_now: datetime, timeout_seconds: int) -> bool:
    return session.ended_at is None and is_silent(session, database_now, timeout_seconds)


def timed_out_condition(timeout_seconds: ColumnElement[int] | int | None = None) -> ColumnElement[bool]:
    timeout = session_timeout_expression() if timeout_seconds is None else timeout_seconds
    return and_(ClientSession.ended_at.is_(None), ClientSession.last_heartbeat < database_ago(timeout))


def timed_out_sql(timeout_param: str, table: str = "") -> str:
    return f"{_prefix(table)}ended_at IS NULL AND {silent_sql(timeout_param, table)}"
