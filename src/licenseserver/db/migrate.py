"""Schema creation and upgrade through Alembic, plus the rows a new installation needs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.schema import SchemaItem

from licenseserver.db.engine import make_engine
from licenseserver.db.models.base import ONLY_ON

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
IncludeObject = Callable[[SchemaItem, str | None, str, bool, SchemaItem | None], bool]
# PostgreSQL advisory lock key for "the schema is being upgraded" (any fixed 64-bit number).
MIGRATION_LOCK_KEY = 0x4C53_4D49_4752  # "LSMIGR"


def include_for(dialect_name: str) -> IncludeObject:
    """Alembic's `include_object` for comparing models and database on `dialect_name`: leaves out
    what the models declare for another dialect only (`info={ONLY_ON: "postgresql"}`, next to
    `ddl_if`, which Alembic's comparison does not know about)."""

    def include(item: SchemaItem, _name: str | None, _type: str, _reflected: bool, other: SchemaItem | None) -> bool:
        # Alembic passes the model's item on one side of the comparison, the database's on the other.
        marks = {getattr(side, "info", {}).get(ONLY_ON) for side in (item, other) if side is not None}
        return marks <= {None, dialect_name}

    return include


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def one_migration_at_a_time(connection: Connection) -> None:
    """Every `serve` migrates first, so instances started together on a new database (compose
    --scale, a Kubernetes rollout) would create the same tables at once and all but one fail.
    On PostgreSQL they queue on a lock held until the migration commits; the next ones then find
    the schema at head and do nothing. SQLite serialises writers by itself."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def upgrade_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            one_migration_at_a_time(connection)
            config = alembic_config(database_url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
