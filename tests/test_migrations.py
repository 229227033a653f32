"""Models and migrations agree, on SQLite and PostgreSQL: the schema Alembic builds is the schema
the models describe, and the migrations go down to nothing and up again."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, inspect

from licenseserver.db.engine import make_engine
from licenseserver.db.migrate import alembic_config, include_for, upgrade_schema
from licenseserver.db.models import Base
from licenseserver.db.models.base import ONLY_ON
from tests.support import database

_database_numbers = itertools.count(1)
POSTGRESQL_ONLY_INDEXES = sorted(
    index.name for table in Base.metadata.tables.values() for index in table.indexes if index.info.get(ONLY_ON)
)
# On SQLite Alembic warns that it cannot compare expression indexes before `include_object` can
# leave out the models' PostgreSQL-only ones: expected for those, an error for any other.
pytestmark = pytest.mark.filterwarnings(
    f"ignore:autogenerate skipping metadata-specified expression-based index '({'|'.join(POSTGRESQL_ONLY_INDEXES)})'"
    ":UserWarning"
)


@pytest.fixture
def empty_url(empty_database_url: str) -> str:
    return empty_database_url


@pytest.fixture
def engine(empty_url: str) -> Iterator[Engine]:
    engine = make_engine(empty_url)
    yield engine
    engine.dispose()


def _unwrapped(text: str | None) -> str | None:
    """A server default as SQL text without the wrapping the dialects add: (x), ''::character varying."""
    if text is None:
        return None
    value = text.strip()
    while value.startswith("(") and value.endswith(")"):
        value = value[1:-1].strip()
    return re.sub(r"::[a-z ]+$", "", value)


def compare_server_default(
    _context: MigrationContext,
    _inspected_column: Column[Any],
    _metadata_column: Column[Any],
    inspected_default: str | None,
    metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool | None:
    """Equal once unwrapped means equal; anything else is left to Alembic's own comparison.

    Alembic's SQLite comparison reports the reflected `('')` as different from the model's
    `server_default=""` although both are the same empty-string default: it unquotes only
    non-empty strings. This comparator makes that case equal and changes nothing else.
    """
    inspected = _unwrapped(inspected_default)
    literal = getattr(metadata_default, "arg", None)
    if isinstance(literal, str) and inspected is not None and re.fullmatch(r"'(.*)'", inspected, re.DOTALL):
        if inspected[1:-1].replace("''", "'") == literal:
            return False
    elif inspected == _unwrapped(rendered_metadata_default):
        return False
    return None


def schema_differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        opts = {
            "compare_type": True,
            "compare_server_default": compare_server_default,
            # The models' PostgreSQL-only indexes (pg_trgm) are not expected on SQLite.
            "include_object": include_for(engine.dialect.name),
        }
        context = MigrationContext.configure(conn, opts=opts)
        return list(compare_metadata(context, Base.metadata))


def head_revision(url: str) -> str:
    heads = ScriptDirectory.from_config(alembic_config(url)).get_heads()
    assert len(heads) == 1, f"the migrations must have one head, not {heads}"
    return heads[0]


def run_alembic(engine: Engine, url: str, action: str, revision: str) -> None:
    with engine.begin() as conn:
        config = alembic_config(url)
        config.attributes["connection"] = conn
        getattr(command, action)(config, revision)


def model_tables() -> set[str]:
    return set(Base.metadata.tables)


def test_migrated_schema_is_the_models_schema(engine: Engine, empty_url: str) -> None:
    upgrade_schema(empty_url)
    assert set(inspect(engine).get_table_names()) == model_tables() | {"alembic_version"}
    differences = schema_differences(engine)
    assert differences == [], "models and migrations disagree:\n" + "\n".join(map(repr, differences))
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision(empty_url)
    # Also without our default comparator: Alembic's plain comparison (types included) agrees.
    with engine.connect() as conn:
        plain = MigrationContext.configure(conn, opts={"include_object": include_for(engine.dialect.name)})
        assert compare_metadata(plain, Base.metadata) == []


def test_the_comparison_would_see_a_difference(engine: Engine, empty_url: str) -> None:
    """The check above can fail: a column the migrations do not make is reported."""
    upgrade_schema(empty_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE customers ADD COLUMN stray_column INTEGER")
        conn.exec_driver_sql("CREATE INDEX ix_stray ON licenses (max_users)")
    wanted = ["remove_column", "remove_index"]
    if engine.dialect.name == "postgresql":  # SQLite cannot change a column's default in place
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE resources ALTER COLUMN status SET DEFAULT 'quarantine'")
            conn.exec_driver_sql("ALTER TABLE activations ALTER COLUMN machine_name SET DEFAULT 'unnamed'")
        wanted += ["modify_default", "modify_default"]
    kinds = sorted(d[0] if isinstance(d, tuple) else d[0][0] for d in schema_differences(engine))
    assert kinds == sorted(wanted)


def test_downgrade_to_base_and_upgrade_again(engine: Engine, empty_url: str) -> None:
    upgrade_schema(empty_url)
    upgrade_schema(empty_url)  # at head already: nothing to do, nothing fails
    run_alembic(engine, empty_url, "downgrade", "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() is None

    upgrade_schema(empty_url)
    assert set(inspect(engine).get_table_names()) == model_tables() | {"alembic_version"}
    assert schema_differences(engine) == []
    # The migration's seed is back exactly once: the default client with its first release.
    clients = database.rows(engine, "SELECT id, client_name FROM client_configs")
    assert [c["client_name"] for c in clients] == ["Account Forger"]
    assert database.scalar(engine, "SELECT COUNT(*) FROM client_releases WHERE client_id = :i", i=clients[0]["id"]) == 1


def test_each_revision_steps_down_and_up(engine: Engine, empty_url: str) -> None:
    """Every revision's downgrade undoes exactly its upgrade (one step at a time)."""
    script = ScriptDirectory.from_config(alembic_config(empty_url))
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    for index, revision in enumerate(revisions):
        run_alembic(engine, empty_url, "upgrade", revision)
        tables = set(inspect(engine).get_table_names())
        run_alembic(engine, empty_url, "downgrade", revisions[index - 1] if index else "base")
        run_alembic(engine, empty_url, "upgrade", revision)
        assert set(inspect(engine).get_table_names()) == tables, revision
    assert schema_differences(engine) == []


def foreign_keys_without_an_index(engine: Engine) -> list[str]:
    """Each foreign key (table.columns) whose columns do not lead an index of its table: deleting a
    referenced row then reads the whole referencing table to find what to cascade or set to NULL."""
    inspector = inspect(engine)
    missing = []
    for table in sorted(inspector.get_table_names()):
        leading: list[list[Any]] = [index["column_names"] for index in inspector.get_indexes(table)]
        leading += [unique["column_names"] for unique in inspector.get_unique_constraints(table)]
        leading.append(inspector.get_pk_constraint(table)["constrained_columns"])
        for key in inspector.get_foreign_keys(table):
            columns = key["constrained_columns"]
            if not any(names[: len(columns)] == columns for names in leading):
                missing.append(f"{table}.{','.join(columns)}")
    return missing


def test_every_foreign_key_leads_an_index(engine: Engine, empty_url: str) -> None:
    """sessions.activation_id lacked one until migration 0014: every deleted activation read the
    whole session history."""
    upgrade_schema(empty_url)
    assert foreign_keys_without_an_index(engine) == []
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_sessions_activation_id")
    assert foreign_keys_without_an_index(engine) == ["sessions.activation_id"]
