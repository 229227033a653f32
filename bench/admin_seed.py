"""Data for the admin list benchmark: customers, licenses and devices at the scale of a large
installation, bulk-seeded with a few `INSERT … SELECT generate_series` statements.

Everything is derived from the row number (md5, hashtext), so two runs seed the same data and
the benchmark can pick real keys and names to search for. Shapes the lists care about:

- customers: "<surname> <trade> <legal form>" from 48 × 40 × 6 word lists, so a surname matches
  about 2 % of the customers, "surname trade" a few dozen, and the e-mails are all different;
- licenses: random-looking keys over A-Z0-9 (the md5 bytes mapped to the key alphabet), spread
  over the customers with one customer in a hundred owning many; 50 % perpetual, 40 %
  subscription, 10 % trial; created over five years (ids rise with creation, like a real
  installation); some inactive, expired, expiring or not yet valid;
- activations: 0, 1 or 2 devices per license (one per license on average), a tenth deactivated;
- leads and resources for the global search: bench/admin_seed_records.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

import seed
from admin_seed_records import RecordSamples, record_samples, seed_records

SURNAMES = (  # noqa: SIM905 (a word list reads better as text)
    "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch Bauer"
    " Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange Schmitt"
    " Werner Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler Herrmann König Walter Mayer Huber"
    " Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung"
).split()
TRADES = (  # noqa: SIM905 (a word list reads better as text)
    "Bau Consulting Logistik Software Elektrotechnik Maschinenbau Immobilien Medien Handel Druck Optik"
    " Reisen Versicherungen Steuerberatung Architektur Gartenbau Metallbau Dental Pharma Energie Solar"
    " Holzbau Automation Sicherheit Catering Textil Verlag Labor Vermessung Kanzlei Werbung Spedition"
    " Messtechnik Umwelttechnik Haustechnik Fahrzeugbau Feinmechanik Akustik Datentechnik Personal"
).split()
LEGAL_FORMS = ("GmbH", "AG", "KG", "GmbH & Co. KG", "e.K.", "UG")
MAIL_DOMAINS = ("example.de", "example.com", "example.org", "firma.example", "mail.example", "web.example")
MACHINE_PREFIXES = ("DESKTOP-", "LAPTOP-", "WS-", "PC-", "NB-")
KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
LICENSES_PER_CUSTOMER = 20  # 1,000,000 licenses → 50,000 customers
MIN_CUSTOMERS = 100
BIG_CUSTOMERS_PERCENT = 1  # of customers, who hold a tenth of all licenses
# Seeding a million rows per table takes a minute or two; no statement should come near this.
SEED_STATEMENT_TIMEOUT_MS = 900_000


@dataclass(frozen=True)
class Scale:
    licenses: int

    @property
    def customers(self) -> int:
        return max(MIN_CUSTOMERS, self.licenses // LICENSES_PER_CUSTOMER)


@dataclass(frozen=True)
class Counts:
    customers: int
    licenses: int
    activations: int


def connect(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(url, autocommit=True, options=f"-c statement_timeout={SEED_STATEMENT_TIMEOUT_MS}")


def seed_lists(url: str, scale: Scale) -> Counts:
    """Customers, licenses and activations, then VACUUM ANALYZE; the rows made."""
    with connect(url) as conn, conn.transaction():
        # Rows are consistent by construction: skip the per-row foreign key triggers, which
        # would be most of the seeding time (superuser only, like bench/seed.py).
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("SET LOCAL work_mem = '256MB'")
        seed_customers(conn, scale)
        seed_licenses(conn, scale)
        seed_activations(conn)
        seed_records(conn, scale.licenses, SURNAMES)
    with connect(url) as conn:
        # What autovacuum does on a long-lived installation: statistics for the planner and
        # the visibility map for index-only scans.
        conn.execute("VACUUM ANALYZE")
        row = conn.execute(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM licenses),"
            " (SELECT count(*) FROM activations)"
        ).fetchone()
    assert row is not None
    return Counts(int(row[0]), int(row[1]), int(row[2]))


def seed_customers(conn: psycopg.Connection[tuple[Any, ...]], scale: Scale) -> None:
    surnames, trades = len(SURNAMES), len(TRADES)
    conn.execute(
        "INSERT INTO customers (name, email, created_at)"
        " SELECT s.surname || ' ' || s.trade || ' ' || s.form,"
        "  translate(lower(s.surname), 'äöüß', 'aous') || '.' || lower(s.trade) || '.' || s.i || '@' || s.domain,"
        "  now() - (%(n)s - s.i) * interval '1 hour'"
        " FROM (SELECT i,"
        f"  (%(surnames)s::text[])[1 + i %% {surnames}] AS surname,"
        f"  (%(trades)s::text[])[1 + (i / {surnames}) %% {trades}] AS trade,"
        f"  (%(forms)s::text[])[1 + (i / {surnames * trades}) %% {len(LEGAL_FORMS)}] AS form,"
        f"  (%(domains)s::text[])[1 + i %% {len(MAIL_DOMAINS)}] AS domain"
        "  FROM generate_series(1, %(n)s) AS i) AS s ORDER BY s.i",
        {
            "n": scale.customers,
            "surnames": SURNAMES,
            "trades": TRADES,
            "forms": list(LEGAL_FORMS),
            "domains": list(MAIL_DOMAINS),
        },
    )


def key_sql(row: str) -> str:
    """The license key of row `row`: the 16 md5 bytes, each mapped onto A-Z0-9, in 4 groups."""
    chars = f"substr('{KEY_ALPHABET}', get_byte(decode(md5('bench-admin-' || {row}), 'hex'), j) %% 36 + 1, 1)"
    return (
        f"(SELECT string_agg({chars} || CASE WHEN j IN (3, 7, 11) THEN '-' ELSE '' END, '' ORDER BY j)"
        " FROM generate_series(0, 15) AS j)"
    )


def seed_licenses(conn: psycopg.Connection[tuple[Any, ...]], scale: Scale) -> None:
    """Validity follows the type: perpetual without end, subscriptions for 1-3 years from their
    start (so older ones have expired and some expire within 30 days), trials for 30 days."""
    big = max(1, scale.customers * BIG_CUSTOMERS_PERCENT // 100)
    conn.execute(
        "INSERT INTO licenses (license_key, customer_id, license_type, valid_from, valid_until,"
        " max_activations, max_users, is_active, created_at)"
        f" SELECT {key_sql('l.i')}, l.customer_id, l.license_type, l.valid_from,"
        "  CASE l.license_type WHEN 'perpetual' THEN NULL"
        "   WHEN 'trial' THEN l.valid_from + 30 ELSE l.valid_from + 365 * (1 + l.i %% 3) END,"
        "  1 + l.i %% 5, 1 + l.i %% 3, l.i %% 33 <> 0, l.created_at"
        " FROM (SELECT i,"
        "  CASE WHEN i %% 10 = 0 THEN 1 + abs(hashtext('c' || i)) %% %(big)s"
        "   ELSE 1 + abs(hashtext('c' || i)) %% %(customers)s END AS customer_id,"
        "  CASE WHEN i %% 10 < 5 THEN 'perpetual' WHEN i %% 10 < 9 THEN 'subscription' ELSE 'trial' END"
        "   AS license_type,"
        # One in a hundred starts in the next 60 days (pre-sold); the rest on their creation day.
        "  CASE WHEN i %% 100 = 42 THEN current_date + (i %% 60)"
        "   ELSE (now() - (%(n)s - i) * (interval '1825 days' / %(n)s))::date END AS valid_from,"
        "  now() - (%(n)s - i) * (interval '1825 days' / %(n)s) AS created_at"
        "  FROM generate_series(1, %(n)s) AS i) AS l ORDER BY l.i",
        {"n": scale.licenses, "big": big, "customers": scale.customers},
    )


def seed_activations(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    conn.execute(
        "INSERT INTO activations (license_id, hardware_hash, machine_name, app_version, activated_at,"
        " last_heartbeat, is_active, deactivated_at)"
        " SELECT l.id, encode(sha256(('bench-admin-device-' || l.id || '-' || d)::bytea), 'hex'),"
        f"  (%(prefixes)s::text[])[1 + (l.id + d) %% {len(MACHINE_PREFIXES)}]"
        "   || upper(substr(md5(l.id || '-' || d), 1, 7)),"
        "  '1.' || (l.id %% 4) || '.0', l.created_at + d * interval '1 hour',"
        "  now() - (l.id %% 86400) * interval '1 second', (l.id + d) %% 10 <> 0,"
        "  CASE WHEN (l.id + d) %% 10 = 0 THEN l.created_at + interval '30 days' END"
        " FROM licenses AS l CROSS JOIN LATERAL generate_series(1, l.id %% 3) AS d ORDER BY l.id, d",
        {"prefixes": list(MACHINE_PREFIXES)},
    )


@dataclass(frozen=True)
class Samples:
    """Real values to search for, read back from the seeded data."""

    keys: list[str]
    names: list[str]  # "surname trade": a few dozen customers each
    surnames: list[str]  # about 2 % of the customers each
    devices: list[str]  # start of a hardware hash
    records: RecordSamples  # lead names, contact e-mails, resource addresses


def samples(url: str, count: int = 10) -> Samples:
    """Spread over the data (ordered by a hash of the id), never the first or last rows only."""
    spread = "ORDER BY md5(id::text) LIMIT %s"
    with connect(url) as conn:
        keys = [r[0] for r in conn.execute(f"SELECT license_key FROM licenses {spread}", (count,))]
        names = [r[0] for r in conn.execute(f"SELECT name FROM customers {spread}", (count,))]
        hashes = [r[0] for r in conn.execute(f"SELECT hardware_hash FROM activations {spread}", (count,))]
        records = record_samples(conn, count)
    return Samples(
        keys=keys,
        names=[" ".join(name.split()[:2]) for name in names],
        surnames=[name.split()[0] for name in names],
        devices=[h[:8] for h in hashes],
        records=records,
    )


def prepare(admin_url: str, name: str, scale: Scale) -> tuple[str, Counts]:
    """Create, migrate and seed database `name`; its URL and the rows made."""
    url = seed.create_database(admin_url, name)
    seed.migrate(url)
    return url, seed_lists(url, scale)


def seeded_counts(admin_url: str, name: str, scale: Scale) -> Counts | None:
    """The rows of database `name` when an earlier run seeded it completely at `scale`, else None.
    The seeding is one transaction, so an interrupted one leaves no licenses behind."""
    with connect(admin_url) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            return None
    with connect(seed.database_url(admin_url, name)) as conn:
        if conn.execute("SELECT to_regclass('licenses')").fetchone() in (None, (None,)):
            return None
        row = conn.execute(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM licenses),"
            " (SELECT count(*) FROM activations)"
        ).fetchone()
    assert row is not None
    counts = Counts(int(row[0]), int(row[1]), int(row[2]))
    return counts if counts.licenses == scale.licenses and counts.customers == scale.customers else None


def reuse_or_prepare(admin_url: str, name: str, scale: Scale) -> tuple[str, Counts, bool]:
    """Database `name` as an earlier run left it (migrated to the newest revision, so a new
    index is built on the kept rows), or created and seeded afresh; True when reused."""
    counts = seeded_counts(admin_url, name, scale)
    if counts is None:
        url, made = prepare(admin_url, name, scale)
        return url, made, False
    url = seed.database_url(admin_url, name)
    seed.migrate(url)
    return url, counts, True
