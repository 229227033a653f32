"""Every license and session predicate of licensing/rules.py and session_rules.py says the same in
each of its forms (Python, SQLAlchemy, SQL-layer text), on both databases, at every edge."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import ColumnElement, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.clock import database_ago, database_now
from licenseserver.db.models import ClientSession, License
from licenseserver.db.sql import Connection, Query
from licenseserver.db.unit_of_work import run_in_orm_transaction, sql_connection
from licenseserver.domain.clients.service import current_session_timeout
from licenseserver.domain.licensing import license_statements as license_repo
from licenseserver.domain.licensing import rules, session_rules
from licenseserver.domain.licensing import session_statements as session_repo
from licenseserver.domain.licensing.activation_limit import room_for_one_more_sql
from licenseserver.domain.licensing.rules import LicenseTerms
from licenseserver.kit.timefmt import utc_today
from tests.support.world import TestWorld

TIMEOUT = 60  # configured for the seeded client, so the default (90) cannot pass for it


@dataclass(frozen=True)
class Forms:
    """The keys (licenses) or ids (sessions) each form of one predicate selects."""

    python: set[Any]
    orm: set[Any]
    sql: set[Any] | None = None

    def assert_agree(self, name: str) -> None:
        assert self.python == self.orm, f"{name}: Python {sorted(self.python)} != SQLAlchemy {sorted(self.orm)}"
        if self.sql is not None:
            assert self.python == self.sql, f"{name}: Python {sorted(self.python)} != SQL {sorted(self.sql)}"


# ---- licenses --------------------------------------------------------------------------------


def _license_edges(today: date) -> list[tuple[bool, date, date | None]]:
    starts = [today - timedelta(days=1), today, today + timedelta(days=1)]
    ends: list[date | None] = [None, *(today + timedelta(days=d) for d in (-1, 0, 30, 31))]
    return list(itertools.product([True, False], starts, ends))


async def _orm_keys(session: AsyncSession, condition: ColumnElement[bool]) -> set[str]:
    return set(await session.scalars(select(License.license_key).where(condition)))


async def _sql_keys(conn: Connection, fragment: str, today: date) -> set[str]:
    return {
        row["license_key"]
        for row in await conn.fetch(Query(f"SELECT license_key FROM licenses WHERE {fragment}"), today)
    }


async def _edge_licenses(session: AsyncSession, customer_id: int, today: date) -> dict[str, LicenseTerms]:
    """A license for each edge, max_activations 1; each key's terms as the SQL layer reads them."""
    for number, (active, start, end) in enumerate(_license_edges(today)):
        session.add(
            License(
                license_key=f"EDGE-{number:04d}",
                customer_id=customer_id,
                license_type="subscription",
                valid_from=start,
                valid_until=end,
                max_activations=1,
                is_active=active,
            )
        )
    await session.flush()
    conn = await sql_connection(session)
    return {
        row["license_key"]: rules.Terms.of_row(row)
        for row in await conn.fetch(Query(f"SELECT {license_repo.LICENSE_COLUMNS} FROM licenses"))
    }


async def _license_forms(session: AsyncSession, customer_id: int, today: date) -> dict[str, Forms]:
    terms = await _edge_licenses(session, customer_id, today)
    conn = await sql_connection(session)

    def python(predicate: Callable[[LicenseTerms], bool]) -> set[str]:
        return {key for key, lic in terms.items() if predicate(lic)}

    return {
        "usable": Forms(
            python(lambda lic: rules.is_usable(lic, today)),
            await _orm_keys(session, rules.usable_condition(today)),
            await _sql_keys(conn, rules.usable_sql("$1"), today),
        ),
        "inactive": Forms(python(rules.is_inactive), await _orm_keys(session, rules.inactive_condition())),
        "expired": Forms(
            python(lambda lic: rules.is_expired(lic, today)), await _orm_keys(session, rules.expired_condition(today))
        ),
        "not yet valid": Forms(
            python(lambda lic: rules.is_not_yet_valid(lic, today)),
            await _orm_keys(session, rules.not_yet_valid_condition(today)),
        ),
        "expiring soon": Forms(
            python(lambda lic: rules.is_expiring_soon(lic, today)),
            await _orm_keys(session, rules.expiring_soon_condition(today)),
        ),
        **{
            f"shown as {state}": Forms(
                python(lambda lic, s=state: rules.license_state(lic, today) == s),  # type: ignore[misc]
                await _orm_keys(session, rules.state_condition(state, today)),
            )
            for state in ("active", "inactive", "expired", "expiring", "not_yet_valid")
        },
        **{
            f"state column {state}": Forms(
                python(lambda lic, s=state: rules.license_state(lic, today) == s),  # type: ignore[misc]
                await _orm_keys(session, rules.state_column(today) == state),
            )
            for state in ("active", "inactive", "expired", "expiring", "not_yet_valid")
        },
    }


def test_license_predicates_agree_in_every_form(world: TestWorld) -> None:
    customer_id = world.customer()
    today = utc_today()
    forms = run_in_orm_transaction(world.database_url, lambda s: _license_forms(s, customer_id, today))
    for name in ("usable", "inactive", "expired", "not yet valid", "expiring soon"):
        forms[name].assert_agree(name)
    for state in ("active", "inactive", "expired", "expiring", "not_yet_valid"):
        forms[f"state column {state}"].assert_agree(f"state column {state}")
    # A filter may list more than the licenses shown in its state (an ended inactive license is
    # listed as expired too), never fewer; "active" lists the usable ones, "expiring" among them.
    for state in ("active", "inactive", "expired", "expiring", "not_yet_valid"):
        shown = forms[f"shown as {state}"]
        assert shown.python <= shown.orm, state
    # The edges themselves: both ends of the range count, the 30th day is soon, the 31st is not.
    edges = {(a, f, u): f"EDGE-{n:04d}" for n, (a, f, u) in enumerate(_license_edges(today))}
    usable, soon = forms["usable"].python, forms["expiring soon"].python
    assert edges[(True, today, today)] in usable
    assert edges[(True, today + timedelta(days=1), None)] not in usable
    assert edges[(True, today, today - timedelta(days=1))] not in usable
    assert edges[(False, today, None)] not in usable
    assert edges[(True, today, today + timedelta(days=30))] in soon
    assert edges[(True, today, today + timedelta(days=31))] not in soon
    assert len(usable) == 8 and len(soon) == 4  # from yesterday or today; until open, today, +30, +31 / today, +30


def test_verify_statements_are_built_from_the_usable_rule() -> None:
    assert rules.usable_sql("$4") in license_repo.VERIFY_AND_REFRESH_MANY.text
    assert rules.usable_sql("$3") in license_repo.VERIFY_MATCH.text


# ---- the one-call activation (PostgreSQL's function activate_new_device, migration 0012) -------


def test_the_activation_function_holds_the_usable_and_limit_rules_as_they_render(pg_world: TestWorld) -> None:
    """The migration wrote both predicates into the function: a change to either rule fails here
    until a migration replaces the function with the new text."""
    source = pg_world.scalar("SELECT prosrc FROM pg_proc WHERE proname = 'activate_new_device'")
    assert rules.usable_sql("p_today") in source
    assert room_for_one_more_sql("v_license_id", "v_limit") in source


def test_the_session_start_function_holds_the_license_and_session_rules_as_they_render(pg_world: TestWorld) -> None:
    """Migration 0013 wrote the usable, timed-out and live predicates into start_license_session."""
    source = pg_world.scalar("SELECT prosrc FROM pg_proc WHERE proname = 'start_license_session'")
    assert rules.usable_sql("p_today") in source
    for predicate in (session_rules.timed_out_sql, session_rules.live_sql):
        assert Query(predicate("p_timeout_seconds")).render("postgresql") in source


async def _activated_by_the_function(
    session: AsyncSession, customer_id: int, today: date
) -> tuple[set[str], list[dict[str, bool]]]:
    terms = await _edge_licenses(session, customer_id, today)
    conn = await sql_connection(session)

    async def activated(device: str) -> dict[str, bool]:
        """Each key the statement activated the device on, with its `already_active`."""
        rows = {key: await license_repo.refresh_or_activate_new(conn, key, device, "", None, today) for key in terms}
        return {key: bool(row["already_active"]) for key, row in rows.items() if row is not None}

    usable = {key for key, lic in terms.items() if rules.is_usable(lic, today)}
    return usable, [await activated(device) for device in ("hw-first", "hw-second", "hw-first")]


def test_the_activation_function_activates_exactly_the_usable_licenses_up_to_the_limit(pg_world: TestWorld) -> None:
    customer_id = pg_world.customer()
    today = utc_today()
    usable, (first, second, again) = run_in_orm_transaction(
        pg_world.database_url, lambda s: _activated_by_the_function(s, customer_id, today)
    )
    assert first == dict.fromkeys(usable, False) and len(usable) == 8
    assert second == {}  # max_activations 1: no room for a second device on any of them
    assert again == dict.fromkeys(usable, True)  # the known device refreshed, not added again


# ---- sessions --------------------------------------------------------------------------------

# (heartbeat seconds before database-now, ended?) for each session
SESSION_EDGES = [(TIMEOUT - 2, False), (TIMEOUT + 2, False), (0, True), (TIMEOUT + 2, True)]
# Heard from exactly `timeout` seconds ago: still live. Only PostgreSQL can hold that instant (its
# now() stands still within a transaction; SQLite's moves on between statements).
EXACT_EDGE = (TIMEOUT, False)
INSERT_SESSION = Query(
    "INSERT INTO sessions (session_token, license_id, hardware_hash, started_at, last_heartbeat, ended_at)"
    " VALUES ($1, $2, 'hw', {ago $3}, {ago $3}, CASE WHEN $4 THEN {now} END) RETURNING id"
)


async def _ids(session: AsyncSession, condition: ColumnElement[bool]) -> set[int]:
    return set(await session.scalars(select(ClientSession.id).where(condition)))


async def _sql_ids(conn: Connection, fragment: str, timeout_seconds: int) -> set[int]:
    return {row["id"] for row in await conn.fetch(Query(f"SELECT id FROM sessions WHERE {fragment}"), timeout_seconds)}


async def _session_forms(
    session: AsyncSession, customer_id: int, edges: list[tuple[int, bool]]
) -> tuple[dict[str, Forms], dict[int, int]]:
    conn = await sql_connection(session)
    await conn.execute(Query("UPDATE client_configs SET session_timeout = $1"), TIMEOUT)
    timeout = await current_session_timeout(conn)
    ids: dict[int, int] = {}
    for number, (age, ended) in enumerate(edges):
        lic = License(license_key=f"SESS-{number:04d}", customer_id=customer_id, valid_from=date(2020, 1, 1))
        session.add(lic)
        await session.flush()
        ids[number] = await conn.fetchval(INSERT_SESSION, f"token-{number}", lic.id, age, ended)
    raw_now = await session.scalar(select(database_now()))
    # SQLite hands back an expression's time as its text; the columns' types convert theirs.
    now = datetime.fromisoformat(raw_now) if isinstance(raw_now, str) else raw_now
    assert isinstance(now, datetime)
    rows = await conn.fetch(Query("SELECT id, ended_at, last_heartbeat FROM sessions"))

    def python(predicate: Callable[[Any, datetime, int], bool]) -> set[int]:
        return {row["id"] for row in rows if predicate(_Times(row["ended_at"], row["last_heartbeat"]), now, timeout)}

    flags = await session.execute(select(ClientSession.id, session_rules.live_condition().label("live")))
    forms = {
        "live": Forms(
            python(session_rules.is_live),
            await _ids(session, session_rules.live_condition()),
            await _sql_ids(conn, session_rules.live_sql("$1"), timeout),
        ),
        "live flag": Forms(python(session_rules.is_live), {row.id for row in flags if row.live}),
        "live, timeout given": Forms(
            python(session_rules.is_live), await _ids(session, session_rules.live_condition(timeout))
        ),
        "timed out": Forms(
            python(session_rules.is_timed_out),
            await _ids(session, session_rules.timed_out_condition()),
            await _sql_ids(conn, session_rules.timed_out_sql("$1"), timeout),
        ),
        "silent": Forms(
            python(session_rules.is_silent),
            await _ids(session, ClientSession.last_heartbeat < database_ago(timeout)),
            await _sql_ids(conn, session_rules.silent_sql("$1"), timeout),
        ),
    }
    return forms, ids


@dataclass(frozen=True)
class _Times:
    ended_at: datetime | None
    last_heartbeat: datetime


def test_session_predicates_agree_in_every_form(world: TestWorld) -> None:
    customer_id = world.customer()
    exact = world.backend == "postgresql"
    edges = [*SESSION_EDGES, EXACT_EDGE] if exact else SESSION_EDGES
    forms, ids = run_in_orm_transaction(world.database_url, lambda s: _session_forms(s, customer_id, edges))
    for name, form in forms.items():
        form.assert_agree(name)
    assert forms["live"].python == ({ids[0], ids[4]} if exact else {ids[0]})  # heard from in time, and open
    assert forms["timed out"].python == {ids[1]}  # 2 s past it, and open; ended ones never time out
    assert forms["silent"].python == {ids[1], ids[3]}


def test_session_statements_are_built_from_the_session_rules() -> None:
    assert session_rules.live_sql("$1") in session_repo.COUNT_LIVE.text
    assert session_rules.live_sql("$3", "sessions") in session_repo.HEARTBEAT.text
    assert session_rules.timed_out_sql("$1") in session_repo.SWEEP_TIMED_OUT.text
    assert session_rules.timed_out_sql("$2") in session_repo.END_TIMED_OUT_OF_LICENSE.text
    assert session_rules.silent_sql("$2") in session_repo.END_SESSION.text


# ---- one clock -------------------------------------------------------------------------------


def _dialects() -> Iterable[tuple[str, Dialect]]:
    return [("postgresql", postgresql.dialect()), ("sqlite", sqlite.dialect())]  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(("name", "dialect"), _dialects())
def test_the_orm_clock_is_the_sql_layers(name: str, dialect: Dialect) -> None:
    def sql_layer(token: str) -> str:
        rendered = Query(f"SELECT {token}").render(name).removeprefix("SELECT ")
        return rendered.replace("?1", "$1")  # SQLite's numbered parameter, as the ORM form gets it below

    assert str(database_now().compile(dialect=dialect)) == sql_layer("{now}")
    assert str(database_ago(literal_column("$1")).compile(dialect=dialect)) == sql_layer("{ago $1}")
