"""Leads and resources for the admin list benchmark, at the scale of its licenses, so the global
search's lead, contact and resource probes meet tables of a realistic size:

- lead institutions: one per 50 licenses (20,000 at 1,000,000), named "<kind> <city> <n>" from
  6 × 30 words, so a kind word matches a sixth of them and "<kind> <city>" a few hundred;
- three contacts each, "<first name> <surname>", each with an e-mail address and a phone number;
- resources: one per 10 licenses (100,000 at 1,000,000), half IPv4 addresses (in 198.18.0.0/15,
  the range set aside for benchmarks: only text here, never an address anything is sent to),
  half domains.

Derived from the row number like bench/admin_seed.py, so every run seeds the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

INSTITUTION_KINDS = ("Hochschule", "Universität", "Klinikum", "Stadtwerke", "Landesamt", "Institut")
CITIES = (  # noqa: SIM905 (a word list reads better as text)
    "Aachen Augsburg Bamberg Bielefeld Bochum Bonn Bremen Darmstadt Dortmund Dresden Erfurt Essen Freiburg"
    " Gießen Göttingen Halle Hamburg Hannover Jena Kassel Kiel Köln Leipzig Lübeck Mainz Münster Passau"
    " Regensburg Rostock Trier"
).split()
FIRST_NAMES = (  # noqa: SIM905
    "Anna Ben Clara David Emma Felix Greta Hannah Jonas Julia Karl Lena Lukas Marie Max Nora Paul Sophie Tom Ute"
).split()
LICENSES_PER_INSTITUTION = 50
CONTACTS_PER_INSTITUTION = 3
LICENSES_PER_RESOURCE = 10


@dataclass(frozen=True)
class RecordSamples:
    lead_names: list[str]  # an institution's whole name
    contact_emails: list[str]
    resource_ips: list[str]


def seed_records(
    conn: psycopg.Connection[tuple[Any, ...]], licenses: int, surnames: tuple[str, ...] | list[str]
) -> None:
    institutions = max(20, licenses // LICENSES_PER_INSTITUTION)
    conn.execute(
        "INSERT INTO lead_institutions (name, institution_type)"
        " SELECT (%(kinds)s::text[])[1 + i %% 6] || ' ' || (%(cities)s::text[])[1 + (i / 6) %% 30] || ' ' || i,"
        "  (ARRAY['university', 'company', 'government', 'other'])[1 + i %% 4]"
        " FROM generate_series(1, %(n)s) AS i ORDER BY i",
        {"kinds": list(INSTITUTION_KINDS), "cities": list(CITIES), "n": institutions},
    )
    conn.execute(
        "INSERT INTO lead_contacts (institution_id, first_name, last_name)"
        " SELECT 1 + (c - 1) / %(per)s, (%(firsts)s::text[])[1 + c %% 20],"
        f"  (%(surnames)s::text[])[1 + (c / 20) %% {len(surnames)}]"
        " FROM generate_series(1, %(n)s) AS c ORDER BY c",
        {
            "per": CONTACTS_PER_INSTITUTION,
            "firsts": FIRST_NAMES,
            "surnames": list(surnames),
            "n": institutions * CONTACTS_PER_INSTITUTION,
        },
    )
    conn.execute(
        "INSERT INTO lead_contact_details (contact_id, detail_type, value, label)"
        " SELECT c.id, 'email', translate(lower(c.first_name || '.' || c.last_name), 'äöüß', 'aous')"
        "  || '.' || c.id || '@lead' || (c.institution_id %% %(domains)s) || '.example', 'Büro' FROM lead_contacts AS c"
        " UNION ALL SELECT c.id, 'phone', '+49 ' || (30 + c.institution_id %% 900) || ' ' || (100000 + c.id),"
        "  'Büro' FROM lead_contacts AS c",
        {"domains": 97},  # lead1.example … lead96.example
    )
    resources = max(20, licenses // LICENSES_PER_RESOURCE)
    conn.execute(
        "INSERT INTO resources (resource_type, identifier, status)"
        " SELECT CASE WHEN i %% 2 = 0 THEN 'ipv4' ELSE 'domain' END,"
        "  CASE WHEN i %% 2 = 0 THEN '198.' || (18 + i / 65536) || '.' || (i / 256) %% 256 || '.' || i %% 256"
        "   ELSE 'kunde-' || i || '.example' END, 'available'"
        " FROM generate_series(1, %(n)s) AS i ORDER BY i",
        {"n": resources},
    )


def record_samples(conn: psycopg.Connection[tuple[Any, ...]], count: int) -> RecordSamples:
    spread = "ORDER BY md5(id::text) LIMIT %s"
    names = [r[0] for r in conn.execute(f"SELECT name FROM lead_institutions {spread}", (count,))]
    emails = [
        r[0]
        for r in conn.execute(f"SELECT value FROM lead_contact_details WHERE detail_type = 'email' {spread}", (count,))
    ]
    ips = [
        r[0] for r in conn.execute(f"SELECT identifier FROM resources WHERE resource_type = 'ipv4' {spread}", (count,))
    ]
    return RecordSamples(names, emails, ips)
