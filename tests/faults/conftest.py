"""Fault tests: real server processes, a private PostgreSQL cluster they may restart."""

from tests.support.private_postgres import private_postgres

__all__ = ["private_postgres"]
