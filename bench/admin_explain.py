"""EXPLAIN (ANALYZE, BUFFERS) of the statements chosen panel requests sent, for
`admin_lists.py --explain`: the panel ran with BENCH_SQL_LOG (bench/admin_probe.py), which logged
every statement with its parameters and the request it belonged to."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import psycopg

EXPLAIN_TIMEOUT_MS = 60_000


def explain_requests(database_url: str, sql_log: Path, requests: list[tuple[str, str]], out: Path) -> None:
    """A Markdown file with the plans of every SELECT each (label, path) request sent; when the
    path was requested several times, the parameters of its last (warm) request."""
    logged = [json.loads(line) for line in sql_log.read_text().splitlines()]
    report = []
    with psycopg.connect(database_url, options=f"-c statement_timeout={EXPLAIN_TIMEOUT_MS}") as conn:
        for label, path in requests:
            wanted = unquote_plus(path)
            sent = [(e["statement"], e["parameters"]) for e in logged if unquote_plus(e["request"]) == wanted]
            report.append(f"### {label}: GET {path}\n")
            report += [_explain(conn, statement, parameters) for statement, parameters in dict(sent).items()]
            conn.rollback()  # EXPLAIN ANALYZE of a SELECT changes nothing: just end the transaction
    out.write_text("\n".join(report))


def _explain(conn: psycopg.Connection[tuple[Any, ...]], statement: str, parameters: list[Any]) -> str:
    if not statement.lstrip().upper().startswith("SELECT"):
        # The session refresh (UPDATE): running it again would change data.
        return f"(not explained: {statement.split()[0]})\n"
    # asyncpg's $n placeholders in psycopg's spelling; a literal % would be a LIKE pattern's.
    text = re.sub(r"\$(\d+)", r"%(p\1)s", statement.replace("%", "%%"))
    values = {f"p{number}": value for number, value in enumerate(parameters, start=1)}
    rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {text}", values).fetchall()
    plan = "\n".join(str(row[0]) for row in rows)
    return f"```sql\n{statement}\n-- parameters: {parameters}\n```\n```\n{plan}\n```\n"
