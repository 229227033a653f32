"""Panel writes on the two data stacks, in one command:

    .venv/bin/python bench/panel_writes.py [--admin-url postgresql://...] [--rounds 30] [--ops 20]
                                           [--quick] [--keep-db]

It creates a fresh PostgreSQL database beside --admin-url (migrated like `licenseserver migrate`,
then seeded by bench/seed.py at a small scale) and times two typical staff writes, each in one
transaction together with its audit entry, done three ways:

    orm   an ORM AsyncSession unit of work and the domain functions the panel calls today
          (customers.create_customer / licensing.admin.update_license, audit.record)
    seam  the same statements on the SQL layer, run inside an ORM session's transaction through
          db.unit_of_work.sql_connection: the panel keeps its session per request, rule tables
          are written by SQL-layer code
    sql   the same statements in a transaction of the SQL layer alone (Database.transaction)

Rounds interleave the ways (in a rotating order), so a change in the machine's load meets all of
them alike. For scale it then times whole panel requests that do these writes (the real app in
this process, through httpx's ASGI transport, logged in like a browser): POST /customers/new and
POST /api/license/{id}/quick-edit. It prints medians, p90, ratios and the load average; the
figures and the decision they support are in docs/architecture.md ("Two data stacks").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import httpx2 as httpx

import seed
from licenseserver.admin.app import create_admin_app
from licenseserver.config import Settings
from licenseserver.db.engine import make_async_engine
from licenseserver.db.sql import Connection, Query, open_database
from licenseserver.db.unit_of_work import make_sessionmaker, run_in_orm_transaction, sql_connection
from licenseserver.db.urls import PoolLimits
from licenseserver.domain.audit.service import Actor, record, redact
from licenseserver.domain.customers.service import CustomerCreate, create_customer, customer_snapshot
from licenseserver.domain.licensing.staff_edits import license_snapshot, update_license
from licenseserver.domain.staff.service import create_admin
from licenseserver.kit.timefmt import utc_now

DATABASE = "licenseserver_bench_writes"
STAFF = "bench-writer"
ACTOR = Actor(STAFF, "127.0.0.1")
WAYS = ("orm", "seam", "sql")
CSRF_INPUT = 'name="csrf_token" value="'
CSRF_META = '<meta name="csrf-token" content="'

INSERT_CUSTOMER = Query("INSERT INTO customers (name, email, created_at) VALUES ($1, $2, {now}) RETURNING id")
INSERT_AUDIT = Query(
    "INSERT INTO audit_log (created_at, actor, address, action, entity_type, entity_id, before, after)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
)
LOCK_LICENSE_BY_ID = Query(
    "SELECT license_key, customer_id, license_type, valid_from, valid_until, max_activations, max_users,"
    " is_active, offline_ttl_days FROM licenses WHERE id = $1 FOR UPDATE"
)
UPDATE_LICENSE_FIELDS = Query("UPDATE licenses SET valid_until = $2, max_users = $3 WHERE id = $1")


def audit_json(state: dict[str, Any] | None) -> str | None:
    """The audit log's JSON, as domain.audit.service writes it."""
    return None if state is None else json.dumps(redact(state), default=str, sort_keys=True, ensure_ascii=False)


async def audit_on(conn: Connection, action: str, entity: str, entity_id: int, before: Any, after: Any) -> None:
    args = (ACTOR.username, ACTOR.address, action, entity, str(entity_id), audit_json(before), audit_json(after))
    await conn.execute(INSERT_AUDIT, utc_now(), *args)


async def create_customer_on(conn: Connection, data: CustomerCreate) -> None:
    customer_id = await conn.fetchval(INSERT_CUSTOMER, data.name, str(data.email))
    await audit_on(conn, "create", "customer", customer_id, None, {"name": data.name, "email": str(data.email)})


async def edit_license_on(conn: Connection, license_id: int, changes: dict[str, Any]) -> None:
    """update_license's steps on the SQL layer: lock, compare, write what changed, audit it."""
    row = await conn.fetchrow(LOCK_LICENSE_BY_ID, license_id)
    assert row is not None
    current = license_snapshot(SimpleNamespace(**dict(row)))
    if changes["valid_until"] < current["valid_from"]:
        raise ValueError("valid_until before valid_from")
    changed = {name: value for name, value in changes.items() if current[name] != value}
    if changed:
        merged = {**current, **changed}
        await conn.execute(UPDATE_LICENSE_FIELDS, license_id, merged["valid_until"], merged["max_users"])
        await audit_on(conn, "update", "license", license_id, {k: current[k] for k in changed}, changed)


class Writes:
    """The two writes, three ways each; operation `n` touches its own customer name / license."""

    def __init__(self, settings: Settings, licenses: list[int]) -> None:
        self.engine = make_async_engine(settings.database_url, PoolLimits.from_settings(settings))
        self.sessions = make_sessionmaker(self.engine)
        self.db = open_database(settings.database_url, PoolLimits.from_settings(settings))
        self.licenses = licenses

    def customer(self, n: int) -> CustomerCreate:
        return CustomerCreate(name=f"Written Customer {n}", email=f"written-{n}@bench.example")

    def license_change(self, n: int) -> tuple[int, dict[str, Any]]:
        # Always a new end date (n grows), so every edit writes and audits.
        return self.licenses[n % len(self.licenses)], {
            "valid_until": date.today() + timedelta(days=400 + n),
            "max_users": 1 + n % 7,
        }

    async def customer_orm(self, n: int) -> None:
        async with self.sessions.begin() as session:
            customer = await create_customer(session, self.customer(n))
            await record(session, ACTOR, "create", "customer", customer.id, after=customer_snapshot(customer))

    async def customer_seam(self, n: int) -> None:
        async with self.sessions.begin() as session:
            await create_customer_on(await sql_connection(session), self.customer(n))

    async def customer_sql(self, n: int) -> None:
        async with self.db.transaction() as conn:
            await create_customer_on(conn, self.customer(n))

    async def license_orm(self, n: int) -> None:
        license_id, changes = self.license_change(n)
        async with self.sessions.begin() as session:
            await update_license(session, license_id, changes, ACTOR)

    async def license_seam(self, n: int) -> None:
        license_id, changes = self.license_change(n)
        async with self.sessions.begin() as session:
            await edit_license_on(await sql_connection(session), license_id, changes)

    async def license_sql(self, n: int) -> None:
        license_id, changes = self.license_change(n)
        async with self.db.transaction() as conn:
            await edit_license_on(conn, license_id, changes)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


async def timed(work: Callable[[int], Awaitable[Any]], n: int) -> float:
    started = time.perf_counter()
    await work(n)
    return (time.perf_counter() - started) * 1000


async def interleaved(
    works: dict[str, Callable[[int], Awaitable[Any]]], rounds: int, ops: int
) -> dict[str, list[float]]:
    """`ops` operations of each way per round, the ways in a rotating order; first round: warm-up."""
    times: dict[str, list[float]] = {name: [] for name in works}
    names = list(works)
    counter = 0
    for round_index in range(rounds + 1):
        order = names[round_index % len(names) :] + names[: round_index % len(names)]
        for name in order:
            for _ in range(ops):
                counter += 1
                elapsed = await timed(works[name], counter)
                if round_index:
                    times[name].append(elapsed)
    return times


class Panel:
    """The admin panel app in this process, logged in as the bench's staff member."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_admin_app(settings)
        transport = httpx.ASGITransport(app=self.app, client=("127.0.0.1", 50000))
        self.client = httpx.AsyncClient(transport=transport, base_url="http://panel.bench")
        self.csrf = ""

    async def start(self, stack: AsyncExitStack, password: str) -> None:
        await stack.enter_async_context(self.app.router.lifespan_context(self.app))
        await stack.enter_async_context(self.client)
        form = await self.client.get("/login")
        data = {"username": STAFF, "password": password, "csrf_token": between(form.text, CSRF_INPUT)}
        answer = await self.client.post("/login", data=data, follow_redirects=False)
        if answer.status_code != 303:
            raise RuntimeError(f"log-in failed: {answer.status_code}")
        self.csrf = between((await self.client.get("/customers/new")).text, CSRF_META)

    async def create_customer(self, n: int) -> None:
        data = {"name": f"Panel Customer {n}", "email": f"panel-{n}@bench.example", "csrf_token": self.csrf}
        expect(await self.client.post("/customers/new", data=data, follow_redirects=False), 303)

    def quick_edit(self, licenses: list[int]) -> Callable[[int], Awaitable[None]]:
        async def edit(n: int) -> None:
            body = {"valid_until": (date.today() + timedelta(days=2000 + n)).isoformat(), "max_users": 1 + n % 7}
            path = f"/api/license/{licenses[n % len(licenses)]}/quick-edit"
            expect(await self.client.post(path, json=body, headers={"X-CSRF-Token": self.csrf}), 200)

        return edit


def between(text: str, marker: str) -> str:
    start = text.index(marker) + len(marker)
    return text[start : text.index('"', start)]


def expect(answer: httpx.Response, status: int) -> None:
    if answer.status_code != status:
        raise RuntimeError(f"{answer.request.url.path}: {answer.status_code} {answer.text[:200]}")


def report(title: str, times: dict[str, list[float]], base: str) -> dict[str, float]:
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"\n{title}")
    print(f"  {'way':<36}{'n':>5}{'median ms':>11}{'p90 ms':>9}{'x sql':>8}")
    for name, values in times.items():
        ratio = medians[name] / medians[base]
        print(f"  {name:<36}{len(values):>5}{medians[name]:>11.3f}{percentile(values, 90):>9.3f}{ratio:>8.2f}")
    return medians


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


async def measure(settings: Settings, password: str, licenses: list[int], rounds: int, ops: int) -> None:
    writes = Writes(settings, licenses)
    await writes.db.open()
    panel = Panel(settings)
    try:
        async with AsyncExitStack() as stack:
            await panel.start(stack, password)
            print(f"before: {load()}")
            customer = {f"create customer + audit, {w}": getattr(writes, f"customer_{w}") for w in WAYS}
            customer_request = {"POST /customers/new (panel, orm)": panel.create_customer}
            timings = await interleaved({**customer, **customer_request}, rounds, ops)
            title = "Create a customer with its audit entry (one transaction)"
            medians = report(title, timings, "create customer + audit, sql")
            edit = {f"edit license + audit, {w}": getattr(writes, f"license_{w}") for w in WAYS}
            edit_request = {"POST quick-edit (panel, orm)": panel.quick_edit(licenses)}
            timings = await interleaved({**edit, **edit_request}, rounds, ops)
            title = "Edit a license's fields with its audit entry (row lock, one transaction)"
            medians |= report(title, timings, "edit license + audit, sql")
            print(f"after: {load()}")
            summarise(medians)
    finally:
        await writes.db.close()
        await writes.engine.dispose()


def summarise(medians: dict[str, float]) -> None:
    print("\nWhat the stack saves per panel request (median ms, share of the whole request):")
    pairs = (
        ("create customer + audit", "POST /customers/new (panel, orm)"),
        ("edit license + audit", "POST quick-edit (panel, orm)"),
    )
    for write, request in pairs:
        whole = medians[request]
        for way in ("seam", "sql"):
            saved = medians[f"{write}, orm"] - medians[f"{write}, {way}"]
            print(f"  {write}: orm -> {way} saves {saved:.3f} ms of a {whole:.3f} ms request ({saved / whole:.0%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--admin-url", default=seed.DEFAULT_ADMIN_URL, help="PostgreSQL server to create the database on"
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--ops", type=int, default=20, help="operations of each way per round")
    parser.add_argument("--quick", action="store_true", help="5 rounds of 10, on 2,000 licenses")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    rounds, ops = (5, 10) if args.quick else (args.rounds, args.ops)
    scale = seed.Scale(customers=200, licenses=2_000 if args.quick else 20_000, devices_per_license=1)
    url = seed.create_database(args.admin_url, DATABASE)
    try:
        seed.migrate(url)
        seed.seed(url, scale)
        password = secrets.token_urlsafe(16)
        run_in_orm_transaction(url, lambda session: create_admin(session, STAFF, password))
        settings = Settings(database_url=url, secret_key=secrets.token_urlsafe(32))
        # 500 subscription licenses of the seed (its ids ending in 6, 7 or 8), edited in turn.
        licenses = [i for i in range(1, scale.licenses + 1) if 6 <= i % 10 <= 8][:500]
        print(
            f"panel writes on PostgreSQL ({url}), {rounds} rounds x {ops} operations per way, {scale.licenses} licenses"
        )
        asyncio.run(measure(settings, password, licenses, rounds, ops))
    finally:
        if not args.keep_db:
            seed.drop_database(args.admin_url, DATABASE)


if __name__ == "__main__":
    main()
