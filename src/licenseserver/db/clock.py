"""The database's clock in SQLAlchemy statements.

`database_now()` and `database_ago(seconds)` render exactly the SQL of the SQL layer's `{now}`
and `{ago $n}` tokens (both read db.sql.query.CLOCK_SQL), so the panel and the License API judge
times such as "is this session live" by one clock: the database's, never the application's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from licenseserver.db.models.base import UtcDateTime
from licenseserver.db.sql.query import CLOCK_SQL


def _clock(compiler: SQLCompiler) -> dict[str, str]:
    # A statement printed without a database (str(statement)) reads in PostgreSQL's spelling.
    return dict(CLOCK_SQL.get(compiler.dialect.name, CLOCK_SQL["postgresql"]))


class DatabaseNow(FunctionElement[datetime]):
    type = UtcDateTime
    inherit_cache = True
    name = "database_now"


class DatabaseAgo(FunctionElement[datetime]):
    type = UtcDateTime
    inherit_cache = True
    name = "database_ago"


@compiles(DatabaseNow)
def _compile_now(element: DatabaseNow, compiler: SQLCompiler, **kw: Any) -> str:
    return _clock(compiler)["now"]


@compiles(DatabaseAgo)
def _compile_ago(element: DatabaseAgo, compiler: SQLCompiler, **kw: Any) -> str:
    (seconds,) = element.clauses.clauses
    # self_group() parenthesises a compound argument; a parameter or subquery stays as it is.
    return _clock(compiler)["ago"].format(param=compiler.process(seconds.self_group(), **kw))


def database_now() -> ColumnElement[datetime]:
    return DatabaseNow()


def database_ago(seconds: ColumnElement[int] | int) -> ColumnElement[datetime]:
    """The database clock minus `seconds` (a number or an expression such as a scalar subquery)."""
    return DatabaseAgo(literal(seconds) if isinstance(seconds, int) else seconds)
