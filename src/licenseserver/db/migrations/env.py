"""Alembic environment: runs with the engine our code hands it (see licenseserver.db.migrate)."""

from __future__ import annotations

from alembic import context

from licenseserver.db.engine import make_engine
from licenseserver.db.migrate import include_for
from licenseserver.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only alter tables by copying them
        compare_type=True,
        # Autogenerate on SQLite must not add the PostgreSQL-only indexes (pg_trgm) to a revision.
        include_object=include_for(connection.dialect.name),  # type: ignore[attr-defined]
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
