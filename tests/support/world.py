"""`TestWorld`: one test's database plus shortcuts to put rows in it and read them back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Engine, text

from licenseserver.config import Settings
from licenseserver.db.unit_of_work import run_in_orm_transaction
from licenseserver.domain.customers.service import CustomerCreate, create_customer
from licenseserver.domain.licensing.staff_edits import LicenseCreate, create_license
from tests.support import database
from tests.support.database import TEST_API_KEY


@dataclass
class TestWorld:
    __test__ = False  # not a test class, despite the name

    backend: str
    database_url: str
    engine: Engine
    api_key: str = TEST_API_KEY
    _customer_id: int | None = field(default=None, repr=False)

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": self.database_url,
            "session_sweep_seconds": 3600,
            "client_config_cache_seconds": 0,
        }
        values.update(overrides)
        return Settings(**values)

    def customer(self, name: str = "ACME Corp", email: str = "admin@acme.example") -> int:
        data = CustomerCreate(name=name, email=email)
        return run_in_orm_transaction(self.database_url, lambda session: create_customer(session, data)).id

    def license(self, **values: Any) -> str:
        """Create a license (for a shared default customer unless customer_id is given); its key."""
        if "customer_id" not in values:
            if self._customer_id is None:
                self._customer_id = self.customer()
            values["customer_id"] = self._customer_id
        data = LicenseCreate(**values)
        return run_in_orm_transaction(self.database_url, lambda session: create_license(session, data)).license_key

    def execute(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(sql), params)

    def scalar(self, sql: str, **params: Any) -> Any:
        return database.scalar(self.engine, sql, **params)

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        return database.rows(self.engine, sql, **params)

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        return database.snapshot(self.engine)

    def age_session(self, token: str, seconds: int) -> None:
        """Move a session's last heartbeat into the past, as if the client went silent."""
        row = self.rows("SELECT last_heartbeat FROM sessions WHERE session_token = :t", t=token)[0]
        self.execute(
            "UPDATE sessions SET last_heartbeat = :when, started_at = :when WHERE session_token = :t",
            t=token,
            when=_shift(row["last_heartbeat"], seconds),
        )


def _shift(value: Any, seconds: int) -> Any:
    from datetime import UTC, datetime, timedelta

    if isinstance(value, str):  # SQLite through SQLAlchemy text() returns the stored string
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value - timedelta(seconds=seconds)


def day(text_value: str) -> date:
    return date.fromisoformat(text_value)
