"""A fresh PostgreSQL database for the benchmark: migrated like a real installation, then bulk-seeded
with production-like data in a few set-based statements (generate_series), and the key/device
pools the wrk scripts rotate over, written as tab-separated files.

License ids are split into disjoint pools so one scenario's writes never change what another
scenario reads: verify 60 %, activate 20 % (re-activations and new devices), heartbeat 10 %,
session start/end 10 %. A scenario that runs several times resets what its earlier runs left
(open sessions, used slots) through the functions at the end of this module.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from licenseserver.config import Settings
from licenseserver.domain.installation import prepare_installation
from licenseserver.domain.licensing.license_statements import VERIFY_WRITE_AFTER_SECONDS

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# All load comes from 127.0.0.1, so the per-address limit must never bite: the one deviation
# from production settings (the limiter itself still runs on every request).
BENCH_API_PER_MINUTE = 1_000_000_000
# Seeding and pool export are set-based; no statement should come near this.
STATEMENT_TIMEOUT_MS = 300_000

# The key of license id `i`: 16 hex digits of md5, upper-cased, in the XXXX-XXXX-XXXX-XXXX shape.
# md5 spreads keys over the unique index the way random production keys are.
KEY_SQL = (
    "(SELECT substr(h, 1, 4) || '-' || substr(h, 5, 4) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4)"
    " FROM (SELECT upper(md5('bench-license-' || {i})) AS h) AS k)"
)
DEVICE_SQL = "encode(sha256(('bench-device-' || {i} || '-' || {d})::bytea), 'hex')"
TODAY_SQL = "((now() AT TIME ZONE 'UTC')::date)"


@dataclass(frozen=True)
class Scale:
    customers: int = 1_000
    licenses: int = 100_000
    devices_per_license: int = 2


@dataclass(frozen=True)
class Pool:
    """License ids first..last (inclusive) belong to one scenario."""

    first: int
    last: int


def pools(scale: Scale) -> dict[str, Pool]:
    n = scale.licenses
    bounds = {"verify": 0.6, "activate": 0.8, "heartbeat": 0.9, "session": 1.0}
    result, first = {}, 1
    for name, upper in bounds.items():
        last = int(n * upper)
        result[name] = Pool(first, last)
        first = last + 1
    return result


def database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + "/" + name


def connect(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    """A libpq URL (postgresql://...), as the admin URL and the URLs built from it are."""
    return psycopg.connect(url, autocommit=True, options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}")


def create_database(admin_url: str, name: str) -> str:
    """Drop and re-create `name`; its URL."""
    if not name.startswith("licenseserver_bench"):
        raise ValueError("the benchmark only creates databases named licenseserver_bench*")
    with connect(admin_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    with connect(admin_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(url: str) -> str:
    """The same migration and first rows as `licenseserver migrate`; the system API key."""
    return str(prepare_installation(Settings(database_url=url)))


def seed(url: str, scale: Scale) -> None:
    with connect(url) as conn, conn.transaction():
        # Rows are consistent by construction, so skip the per-row foreign key triggers: they
        # would be most of the seeding time (superuser only; the test databases need it too).
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("UPDATE rate_limit_settings SET api_per_minute = %s WHERE id = 1", (BENCH_API_PER_MINUTE,))
        _seed_customers(conn, scale)
        _seed_licenses(conn, scale)
        _seed_activations(conn, scale)
        _seed_session_history(conn)
    with connect(url) as conn:
        # What autovacuum would have done on a long-lived installation: statistics and the
        # visibility map, so plans and index-only scans are the production ones.
        conn.execute("VACUUM ANALYZE")


def _seed_customers(conn: psycopg.Connection[tuple[Any, ...]], scale: Scale) -> None:
    conn.execute(
        "INSERT INTO customers (name, email, created_at)"
        " SELECT 'Bench Customer ' || i, 'customer-' || i || '@bench.example', now() - i * interval '1 hour'"
        " FROM generate_series(1, %s) AS i",
        (scale.customers,),
    )


def _seed_licenses(conn: psycopg.Connection[tuple[Any, ...]], scale: Scale) -> None:
    """A realistic mix: 60 % perpetual, 30 % subscription, 10 % trial; 5 % expired, 1 % inactive
    (those stay out of every pool, they only make the tables and indexes the right size)."""
    conn.execute(
        "INSERT INTO licenses (license_key, customer_id, license_type, valid_from, valid_until,"
        " max_activations, max_users, is_active, created_at)"
        f" SELECT {KEY_SQL.format(i='i')}, 1 + i %% %s,"
        " CASE WHEN i %% 10 < 6 THEN 'perpetual' WHEN i %% 10 < 9 THEN 'subscription' ELSE 'trial' END,"
        f" {TODAY_SQL} - (30 + i %% 900),"
        f" CASE WHEN i %% 20 = 7 THEN {TODAY_SQL} - (1 + i %% 300)"
        f"  WHEN i %% 10 < 6 THEN NULL ELSE {TODAY_SQL} + (14 + i %% 700) END,"
        " 5 + i %% 6, 1 + i %% 10, i %% 100 <> 13, now() - (30 + i %% 900) * interval '1 day'"
        " FROM generate_series(1, %s) AS i",
        (scale.customers, scale.licenses),
    )


def _seed_activations(conn: psycopg.Connection[tuple[Any, ...]], scale: Scale) -> None:
    conn.execute(
        "INSERT INTO activations (license_id, hardware_hash, machine_name, app_version, activated_at,"
        " last_heartbeat, is_active)"
        f" SELECT l.id, {DEVICE_SQL.format(i='l.id', d='d')},"
        " 'DESKTOP-' || upper(substr(md5(l.id || '-' || d), 1, 7)), '1.0.0',"
        " l.created_at + d * interval '1 hour', now() - (l.id %% 86400) * interval '1 second', TRUE"
        " FROM generate_series(1, %s) AS d CROSS JOIN licenses l",
        (scale.devices_per_license,),
    )


def _seed_session_history(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """One ended session per license: the history a running installation accumulates."""
    conn.execute(
        "INSERT INTO sessions (session_token, license_id, activation_id, machine_id, hardware_hash,"
        " app_version, started_at, last_heartbeat, ended_at, end_reason)"
        " SELECT gen_random_uuid()::text, a.license_id, a.id, a.machine_name, a.hardware_hash, '1.0.0',"
        " a.last_heartbeat - interval '2 hours', a.last_heartbeat - interval '1 hour',"
        " a.last_heartbeat - interval '1 hour', CASE WHEN a.id % 4 = 0 THEN 'timeout' ELSE 'normal' END"
        " FROM activations a WHERE a.hardware_hash = " + DEVICE_SQL.format(i="a.license_id", d="1")
    )


USABLE = f"l.is_active AND (l.valid_until IS NULL OR l.valid_until >= {TODAY_SQL})"


def export_pools(url: str, scale: Scale, out_dir: Path) -> dict[str, int]:
    """verify.tsv (key, device), activate.tsv (key, device 1, device 2, free slots) and
    session.tsv (key, device): usable licenses only, shuffled. Rows written per file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ranges = pools(scale)
    queries = {
        "verify": "SELECT l.license_key, a.hardware_hash FROM licenses l JOIN activations a ON a.license_id = l.id"
        f" WHERE l.id BETWEEN %s AND %s AND a.is_active AND {USABLE} ORDER BY random()",
        "activate": "SELECT l.license_key, min(a.hardware_hash), max(a.hardware_hash),"
        " l.max_activations - count(*) FROM licenses l JOIN activations a ON a.license_id = l.id"
        f" WHERE l.id BETWEEN %s AND %s AND a.is_active AND {USABLE} GROUP BY l.id ORDER BY random()",
        "session": "SELECT l.license_key, a.hardware_hash FROM licenses l JOIN activations a ON a.license_id = l.id"
        f" WHERE l.id BETWEEN %s AND %s AND a.is_active AND {USABLE}"
        f" AND a.hardware_hash = {DEVICE_SQL.format(i='l.id', d='1')} ORDER BY random()",
    }
    counts = {}
    with connect(url) as conn:
        for name, sql in queries.items():
            pool = ranges[name]
            counts[name] = _write_tsv(conn.execute(sql, (pool.first, pool.last)).fetchall(), out_dir / f"{name}.tsv")
    return counts


def open_heartbeat_sessions(url: str, scale: Scale, out_dir: Path) -> int:
    """One live session per usable heartbeat-pool license, started now; heartbeat.tsv (token, key).

    Called right before each heartbeat run: the client's session timeout (90 s) would end
    sessions opened at seeding time on a long run. The sessions an earlier run opened are ended
    first (one open session per license is the rule the database keeps)."""
    end_open_sessions(url, scale, "heartbeat")
    pool = pools(scale)["heartbeat"]
    with connect(url) as conn:
        rows = conn.execute(
            "INSERT INTO sessions (session_token, license_id, activation_id, machine_id, hardware_hash,"
            " app_version, started_at, last_heartbeat)"
            " SELECT gen_random_uuid()::text, l.id, a.id, a.machine_name, a.hardware_hash, '1.0.0', now(), now()"
            " FROM licenses l JOIN activations a ON a.license_id = l.id"
            f" WHERE l.id BETWEEN %s AND %s AND a.is_active AND {USABLE}"
            f" AND a.hardware_hash = {DEVICE_SQL.format(i='l.id', d='1')}"
            " RETURNING session_token, (SELECT license_key FROM licenses WHERE id = license_id)",
            (pool.first, pool.last),
        ).fetchall()
        # What autovacuum does once enough rows changed. Without it the planner still believes
        # there are no open sessions (as at seeding time) and heartbeats take the partial
        # open-session index, scanning every open session (see docs/performance.md).
        conn.execute("ANALYZE sessions")
    return _write_tsv(rows, out_dir / "heartbeat.tsv")


def end_open_sessions(url: str, scale: Scale, pool_name: str) -> int:
    """End every open session of one pool's licenses: what an earlier run of a session scenario
    left open (wrk stops with starts answered and their ends never sent). Sessions ended."""
    pool = pools(scale)[pool_name]
    with connect(url) as conn:
        done = conn.execute(
            "UPDATE sessions SET ended_at = now(), end_reason = 'normal'"
            " WHERE ended_at IS NULL AND license_id BETWEEN %s AND %s",
            (pool.first, pool.last),
        )
        return done.rowcount


# The device names bench/lua/activate.lua gives the new devices it activates.
ADDED_DEVICE_PATTERN = "bench-new-%"


def export_free_slots(url: str, scale: Scale, out_dir: Path) -> int:
    """activate-new.tsv (key, seeded device 1, free slots now): the licenses of the activate pool
    that can take a new device. The devices earlier runs added are removed first, so that every
    run meets the seeded pool (a fast run would otherwise leave the next one few free slots) and
    the index pages they filled are vacuumed. Rows written."""
    pool = pools(scale)["activate"]
    with connect(url) as conn:
        conn.execute(
            "DELETE FROM activations WHERE license_id BETWEEN %s AND %s AND hardware_hash LIKE %s",
            (pool.first, pool.last, ADDED_DEVICE_PATTERN),
        )
        conn.execute("VACUUM activations")
        rows = conn.execute(
            f"SELECT l.license_key, {DEVICE_SQL.format(i='l.id', d='1')}, l.max_activations - count(*)"
            " FROM licenses l JOIN activations a ON a.license_id = l.id"
            f" WHERE l.id BETWEEN %s AND %s AND a.is_active AND {USABLE}"
            " GROUP BY l.id HAVING l.max_activations - count(*) > 0 ORDER BY random()",
            (pool.first, pool.last),
        ).fetchall()
    return _write_tsv(rows, out_dir / "activate-new.tsv")


# A verify writes only when the device's last heartbeat is older than 60 s (CONTRACT.md section 5),
# so a verify run's mix of reads and writes is set by how recently its devices were seen. Set
# before every run of a verify scenario, so its closed-loop capacity and its open loop at half
# that capacity meet the same mix (docs/performance.md, "Verify's tail and the durable writes").
SEEN_JUST_NOW = "now()"
SEEN_YESTERDAY = "now() - interval '1 day'"
# Room between a device's stamp and the end of the run that must find it fresh (wrk's start, the
# run's own seconds past its nominal length).
STAMP_MARGIN_SECONDS = 10


def set_verify_devices_seen(url: str, scale: Scale, stale: bool, run_seconds: int) -> int:
    """Every device of the verify pool seen within the minute for the next `run_seconds` (each
    verify of the run reads only) or a day ago (each first verify writes, as a program's first
    start of the day does). Only the devices not already so are stamped: each stamp of every
    device writes ~100 MB of WAL (a new row version and its entries in six indexes), and back to
    back they made PostgreSQL checkpoint during later scenarios' runs. Then a VACUUM, as
    autovacuum would soon run, so the stamp's dead rows do not burden the run. Devices stamped."""
    pool = pools(scale)["verify"]
    # A device a verify would not write stays fresh this long more (none when the run is long).
    fresh_seconds = VERIFY_WRITE_AFTER_SECONDS - run_seconds - STAMP_MARGIN_SECONDS
    if stale:  # earlier stale stamps are a day old; only what a run refreshed since needs one
        when, needs = SEEN_YESTERDAY, "last_heartbeat > now() - interval '1 hour'"
    elif fresh_seconds > 0:
        when, needs = SEEN_JUST_NOW, f"last_heartbeat < now() - interval '{fresh_seconds} seconds'"
    else:
        when, needs = SEEN_JUST_NOW, "TRUE"
    with connect(url) as conn:
        stamped = conn.execute(
            f"UPDATE activations SET last_heartbeat = {when} WHERE license_id BETWEEN %s AND %s AND {needs}",
            (pool.first, pool.last),
        ).rowcount
        if stamped:
            conn.execute("VACUUM activations")
    return stamped


def settle(url: str) -> None:
    """A checkpoint right after a preparation that stamped devices: its WAL then counts towards no
    later checkpoint, so none begins in the middle of a later scenario's run because of it, where
    each page the run touches would first write a full-page image. Only the timed checkpoint every
    `checkpoint_timeout` remains, as on any installation."""
    with connect(url) as conn:
        conn.execute("CHECKPOINT")


def database_now(url: str) -> Any:
    with connect(url) as conn:
        row = conn.execute("SELECT now()").fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class WalMark:
    """The cluster's write-ahead log so far: bytes, full-page images, checkpoints begun."""

    bytes: int
    full_pages: int
    checkpoints: int


def wal_mark(url: str) -> WalMark:
    """Read before and after a run: a checkpoint during a writing scenario makes every page it
    touches first write a full-page image, so a run that met one is not comparable with one that
    did not (docs/performance.md, "What one run does", item 7)."""
    with connect(url) as conn:
        row = conn.execute(
            "SELECT w.wal_bytes::bigint, w.wal_fpi, b.checkpoints_timed + b.checkpoints_req"
            " FROM pg_stat_wal w, pg_stat_bgwriter b"
        ).fetchone()
    return WalMark(*(int(v) for v in row)) if row else WalMark(0, 0, 0)


def verify_devices_written_since(url: str, scale: Scale, since: Any) -> int:
    """Devices of the verify pool whose row a verify wrote since `since` (each at most once a
    minute: a run's writes, counted from the database rather than guessed)."""
    pool = pools(scale)["verify"]
    with connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM activations WHERE license_id BETWEEN %s AND %s AND last_heartbeat >= %s",
            (pool.first, pool.last, since),
        ).fetchone()
    return int(row[0]) if row else 0


def _write_tsv(rows: list[tuple[Any, ...]], path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("\t".join(str(v) for v in row) + "\n" for row in rows))
    return len(rows)


def main() -> None:
    """Seed a database by hand (the runner does all of this itself)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--name", default="licenseserver_bench")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results") / "data")
    args = parser.parse_args()
    url = create_database(args.admin_url, args.name)
    api_key = migrate(url)
    seed(url, Scale())
    counts = export_pools(url, Scale(), args.out)
    print(f"database {url}\nAPI key {api_key}\npools {counts} in {args.out}")


if __name__ == "__main__":
    main()
