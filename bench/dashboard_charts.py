"""How long the dashboard's chart queries take on a large installation (PostgreSQL).

Seeds customers, licenses and devices as bench/admin_lists.py does (bench/admin_seed.py), plus
two ended sessions per license started over the last year, then times each query of
domain/reports (trends, breakdowns) and the device list's first page: the median of a few runs,
in one ORM session each, as the panel runs them. Prints one line per query; drops the database.

    PYTHONPATH=src:bench .venv/bin/python bench/dashboard_charts.py --licenses 100000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import admin_seed
import seed
from licenseserver.db.engine import make_async_engine
from licenseserver.db.unit_of_work import make_sessionmaker
from licenseserver.domain.licensing.staff_devices import active_devices
from licenseserver.domain.reports import breakdowns, service, trends
from licenseserver.kit.paging import PageRequest

DATABASE = "licenseserver_bench_dashboard_charts"
SESSIONS_PER_LICENSE = 2


def seed_sessions(url: str) -> int:
    with admin_seed.connect(url) as conn:
        conn.execute(
            "INSERT INTO sessions (session_token, license_id, hardware_hash, started_at, last_heartbeat,"
            " ended_at, end_reason)"
            " SELECT md5('s' || l.id || '-' || n), l.id, 'hw',"
            "  now() - ((l.id * 7 + n * 13) %% 525600) * interval '1 minute',"
            "  now() - ((l.id * 7 + n * 13) %% 525600) * interval '1 minute',"
            "  now() - ((l.id * 7 + n * 13) %% 525600) * interval '1 minute' + interval '30 minutes', 'normal'"
            " FROM licenses AS l CROSS JOIN generate_series(1, %(n)s) AS n",
            {"n": SESSIONS_PER_LICENSE},
        )
        conn.execute("VACUUM ANALYZE sessions")
        return int(conn.execute("SELECT count(*) FROM sessions").fetchone()[0])  # type: ignore[index]


QUERIES: dict[str, Callable[[AsyncSession], Awaitable[Any]]] = {
    "licenses_by_state": breakdowns.licenses_by_state,
    "expiring_per_week": trends.expiring_per_week,
    "activations_per_week": trends.activations_per_week,
    "sessions_per_day": trends.sessions_per_day,
    "leads_by_type_and_status": breakdowns.leads_by_type_and_status,
    "dashboard_counts (before)": service.dashboard_counts,
    "device list, page 1": lambda s: active_devices(s, PageRequest(1, 50)),
}


async def measure(url: str, runs: int) -> None:
    engine = make_async_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        for name, query in QUERIES.items():
            times = []
            for _ in range(runs):
                async with sessions() as session:
                    start = time.perf_counter()
                    await query(session)
                    times.append((time.perf_counter() - start) * 1000)
            print(f"{name:28} median {statistics.median(times):8.1f} ms   min {min(times):8.1f} ms")
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--licenses", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--admin-url", default=seed.DEFAULT_ADMIN_URL)
    options = parser.parse_args()
    url, counts = admin_seed.prepare(options.admin_url, DATABASE, admin_seed.Scale(options.licenses))
    try:
        print(f"{counts.licenses} licenses, {counts.activations} devices, {seed_sessions(url)} sessions")
        asyncio.run(measure(url, options.runs))
    finally:
        seed.drop_database(options.admin_url, DATABASE)


if __name__ == "__main__":
    main()
