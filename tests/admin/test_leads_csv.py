"""Leads as CSV: the export's layout and formula guard, export then import into an empty database
giving the same data, and refused files (all or nothing, every problem with its line)."""

from __future__ import annotations

import csv
import html
import io
import itertools
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from licenseserver.admin.app import create_admin_app
from licenseserver.db.engine import make_engine
from licenseserver.domain.leads.csv_format import (
    BOM,
    COLUMNS,
    FORMULA_STARTS,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
    neutralise,
    read_rows,
    restore,
    write_csv,
)
from tests.admin.conftest import log_in, make_staff
from tests.admin.test_leads_helpers import audit, contact, detail, everything, institution
from tests.support import database
from tests.support.world import TestWorld

HEADER = ";".join(COLUMNS)
PROBLEM_ROW = re.compile(r'<tr><td>(\d+)</td><td class="mono">([^<]*)</td><td>([^<]*)</td></tr>')
_other_numbers = itertools.count(1)


# ---- the formula guard over generated text ------------------------------------------------------

risky_text = st.builds(
    lambda prefix, rest: prefix + rest,
    st.sampled_from(["", "'", "''", "=", "+", "-", "@", "\t", "\r", "'=", "''+", "'-", "'\t"]),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30),
)


@given(risky_text)
def test_neutralised_cells_never_start_a_formula_and_come_back_unchanged(text: str) -> None:
    cell = neutralise(text)
    assert not cell.startswith(FORMULA_STARTS)
    assert restore(cell) == text


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(risky_text, min_size=len(COLUMNS) - 1, max_size=len(COLUMNS) - 1), min_size=1, max_size=5))
def test_a_file_of_generated_text_reads_back_cell_for_cell(rows: list[list[str]]) -> None:
    rows = [["ref", *row] for row in rows]  # a non-blank first cell: blank rows are skipped on import
    data = write_csv(rows)
    assert data.startswith(BOM)
    raw_cells = [
        cell for record in csv.reader(io.StringIO(data[3:].decode(), newline=""), delimiter=";") for cell in record
    ]
    assert not any(cell.startswith(FORMULA_STARTS) for cell in raw_cells)  # what a spreadsheet would see
    read, problems = read_rows(data)
    assert problems == []
    assert [list(r.cells.values()) for r in read] == rows


# ---- export ---------------------------------------------------------------------------------------


def test_export_layout_bom_and_guard(world: TestWorld, staff_panel: TestClient) -> None:
    lonely = institution(world, '=HYPERLINK("http://evil")', type="company")
    uni = institution(world, "Universität Würzburg", type="university")
    person = contact(world, uni, "Jürgen", "Öztürk", position="-Leitung")
    detail(world, person, "phone", "+49 931 12345", "Büro")
    detail(world, person, "email", "j@uni-wuerzburg.example", "@work")
    no_details = contact(world, uni, "Eva", "Ohne")
    response = staff_panel.get("/leads/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="leads-')
    assert response.content.startswith(BOM)
    lines = response.content[3:].decode("utf-8").split("\r\n")
    assert lines == [
        HEADER,
        f'{lonely};"\'=HYPERLINK(""http://evil"")";company;;;;;;;;',
        f"{uni};Universität Würzburg;university;;{person};Jürgen;Öztürk;'-Leitung;phone;'+49 931 12345;Büro",
        f"{uni};Universität Würzburg;university;;{person};Jürgen;Öztürk;'-Leitung;email;j@uni-wuerzburg.example;'@work",
        f"{uni};Universität Würzburg;university;;{no_details};Eva;Ohne;;;;",
        "",
    ]


def test_export_needs_a_login(world: TestWorld, panel: TestClient) -> None:
    assert panel.get("/leads/export", follow_redirects=False).status_code == 303


# ---- round trip ----------------------------------------------------------------------------------


@pytest.fixture
def other_world(backend: str, sqlite_template: Path, tmp_path: Path) -> Iterator[TestWorld]:
    """A second fresh, seeded database on the same backend: the import's empty target."""
    if backend == "sqlite":
        url = database.copy_sqlite(sqlite_template, tmp_path / "other.db")
        engine = make_engine(url)
        yield TestWorld("sqlite", url, engine)
        engine.dispose()
        return
    name = f"licenseserver_test_leads_{os.getpid()}_{next(_other_numbers)}"
    url = database.create_pg_database(name)
    engine = make_engine(url)
    try:
        database.reset_pg(engine)  # the seed rows the tests start with
        yield TestWorld("postgresql", url, engine)
    finally:
        engine.dispose()
        database.drop_pg_database(name)


def logged_in_panel(world: TestWorld) -> TestClient:
    client = TestClient(
        create_admin_app(world.settings(secret_key="test-secret-key-for-the-panel")), raise_server_exceptions=False
    )
    make_staff(world)
    client.__enter__()
    client.headers["X-CSRF-Token"] = log_in(client)
    return client


def lead_data(world: TestWorld) -> list[Any]:
    """Every lead fact except ids and times, in id order."""
    result = []
    for i in world.rows("SELECT id, name, institution_type, customer_id FROM lead_institutions ORDER BY id"):
        contacts = []
        for c in world.rows(
            "SELECT id, first_name, last_name, position FROM lead_contacts WHERE institution_id = :i ORDER BY id",
            i=i["id"],
        ):
            details = world.rows(
                "SELECT detail_type, value, label FROM lead_contact_details WHERE contact_id = :c ORDER BY id",
                c=c["id"],
            )
            contacts.append((c["first_name"], c["last_name"], c["position"], [tuple(d.values()) for d in details]))
        result.append((i["name"], i["institution_type"], i["customer_id"], contacts))
    return result


def fill(world: TestWorld) -> None:
    customer_id = world.customer("Kunde Eins", "eins@kunde.example")
    assert customer_id == 1  # the same id in the fresh database below
    institution(world, "Ohne Kontakte e.V.")
    uni = institution(world, "Hochschule für Musik Köln", type="university", customer_id=customer_id)
    a = contact(world, uni, "Ärger", "Straße", position='=Dekan; "Chef"')
    detail(world, a, "email", "dekan@hfmt.example", "'=nicht rechnen")
    detail(world, a, "phone", "+49 221 28380", "-Sekretariat")
    detail(world, a, "phone", "(0221) 123-45", "")
    contact(world, uni, "@Lea", "'Apostroph", position="Zwei;Semikolons;")
    amt = institution(world, "+Amt für Zahlen", type="government")
    detail(world, contact(world, amt, "Tab", "Start"), "email", "x@amt.example", "\ttab")


def test_export_then_import_into_an_empty_database_gives_the_same_data(
    world: TestWorld, staff_panel: TestClient, other_world: TestWorld
) -> None:
    fill(world)
    exported = staff_panel.get("/leads/export").content
    other_world.customer("Kunde Eins", "eins@kunde.example")
    target = logged_in_panel(other_world)
    try:
        response = target.post(
            "/leads/import", files={"file": ("leads.csv", exported, "text/csv")}, follow_redirects=False
        )
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/leads/?notice=imported&count=3"
        assert lead_data(other_world) == lead_data(world)
        assert target.get("/leads/export").content == exported  # the same ids, so the same file
        [entry] = audit(other_world, "lead_institution")
        assert entry["action"] == "import"
        assert json.loads(entry["after"]) == {
            "institutions": 3,
            "contacts": 3,
            "details": 4,
            "institution_id_range": [1, 3],
        }
        assert "Import abgeschlossen: 3 Institution(en) angelegt." in target.get(response.headers["location"]).text
    finally:
        target.__exit__(None, None, None)


def test_import_accepts_a_hand_written_file_without_bom(world: TestWorld, staff_panel: TestClient) -> None:
    text = "\r\n".join(
        [
            HEADER,
            "a;Firma A;company;;k1;Max;Muster;;email;max@a.example;",
            "",
            "a;Firma A;company;;k1;Max;Muster;;phone;030 1234567;Zentrale",
            "b;Firma B;other;;;;;;;;",
        ]
    )
    response = staff_panel.post("/leads/import", files={"file": ("l.csv", text.encode())}, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert lead_data(world) == [
        (
            "Firma A",
            "company",
            None,
            [("Max", "Muster", "", [("email", "max@a.example", ""), ("phone", "030 1234567", "Zentrale")])],
        ),
        ("Firma B", "other", None, []),
    ]


# ---- refused files -------------------------------------------------------------------------------


def problems_of(response: Any) -> list[tuple[int, str, str]]:
    return [(int(line), field, html.unescape(reason)) for line, field, reason in PROBLEM_ROW.findall(response.text)]


def refused(world: TestWorld, panel: TestClient, data: bytes, status: int = 400) -> list[tuple[int, str, str]]:
    before = everything(world)
    response = panel.post("/leads/import", files={"file": ("leads.csv", data, "text/csv")})
    assert response.status_code == status, response.text[:500]
    assert "notice error" in response.text
    assert everything(world) == before  # nothing written
    return problems_of(response)


def good_row(n: int) -> str:
    return f"i{n};Firma {n};company;;c{n};Vor{n};Nach{n};;email;p{n}@firma.example;"


def test_a_file_with_other_columns_is_refused(world: TestWorld, staff_panel: TestClient) -> None:
    wrong = b"name;email\r\nFirma;a@b.example\r\n"
    [(line, field, reason)] = refused(world, staff_panel, wrong)
    assert (line, field) == (1, "Kopfzeile")
    assert "es fehlen: institution_ref" in reason and "unbekannt: name, email" in reason
    comma = (",".join(COLUMNS) + "\r\n").encode()
    assert refused(world, staff_panel, comma)[0][:2] == (1, "Kopfzeile")
    reordered = (";".join(reversed(COLUMNS)) + "\r\n").encode()
    assert "Reihenfolge" in refused(world, staff_panel, reordered)[0][2]
    assert refused(world, staff_panel, b"") == [(1, "Kopfzeile", "fehlt: die Datei ist leer")]


def test_a_windows_1252_file_is_read_as_such_and_the_report_says_so(world: TestWorld, staff_panel: TestClient) -> None:
    rows = [HEADER, "m;Müller GmbH;company;;k;Jürgen;Weiß;Geschäftsführer „Vertrieb“;email;jw@mueller.example;Büro"]
    data = "\r\n".join(rows).encode("cp1252")  # what Excel with German settings saves as "CSV"
    response = staff_panel.post("/leads/import", files={"file": ("l.csv", data)}, follow_redirects=False)
    assert response.status_code == 303, response.text[:500]
    assert lead_data(world) == [
        (
            "Müller GmbH",
            "company",
            None,
            [("Jürgen", "Weiß", "Geschäftsführer „Vertrieb“", [("email", "jw@mueller.example", "Büro")])],
        )
    ]
    page = staff_panel.get(response.headers["location"]).text
    assert "Import abgeschlossen: 1 Institution(en) angelegt." in page
    assert "Die Datei wurde als Windows-1252 gelesen (nicht UTF-8)." in page
    [entry] = audit(world, "lead_institution")
    assert json.loads(entry["after"])["encoding"] == "cp1252"


def test_a_windows_1252_file_with_bad_rows_reports_them_and_how_it_was_read(
    world: TestWorld, staff_panel: TestClient
) -> None:
    data = "\r\n".join([HEADER, "b;Bär AG;verein;;;;;;;;"]).encode("cp1252")
    response = staff_panel.post("/leads/import", files={"file": ("l.csv", data)})
    assert response.status_code == 400
    assert "Die Datei wurde als Windows-1252 gelesen" in html.unescape(response.text)
    assert [p[:2] for p in problems_of(response)] == [(2, "institution_type")]


def test_a_file_in_no_readable_encoding_is_refused_with_its_lines_and_the_tip(
    world: TestWorld, staff_panel: TestClient
) -> None:
    rows = [HEADER, good_row(1), "i2;Universität Köln;university;;;;;;;;", good_row(3), "i4;Bär AG;company;;;;;;;;"]
    # 0x81 is one of the five bytes Windows-1252 leaves undefined
    undefined = "\r\n".join(rows).encode("cp1252").replace(b"\xe4", b"\x81")
    tip = "„CSV UTF-8“"
    response = staff_panel.post("/leads/import", files={"file": ("l.csv", undefined)})
    assert response.status_code == 400 and tip in html.unescape(response.text)
    problems = problems_of(response)
    assert [(p[0], p[1]) for p in problems] == [(3, "Datei"), (5, "Datei")]
    assert all("ist nicht UTF-8" in p[2] for p in problems)
    # Mixed: one line UTF-8 with umlauts, another Windows-1252. Either reading garbles a line.
    mixed = "\r\n".join(rows[:3]).encode("utf-8") + b"\r\n" + "\r\n".join(rows[3:]).encode("cp1252")
    assert [(p[0], p[1]) for p in refused(world, staff_panel, mixed)] == [(5, "Datei")]
    # With a byte order mark the file says it is UTF-8, so it is not read as anything else.
    with_bom = BOM + "\r\n".join(rows).encode("cp1252")
    assert [(p[0], p[1]) for p in refused(world, staff_panel, with_bom)] == [(3, "Datei"), (5, "Datei")]
    utf16 = "\r\n".join(rows).encode("utf-16")  # NUL bytes everywhere: no plausible text
    assert refused(world, staff_panel, utf16)[0][:2] == (1, "Datei")


def test_nul_bytes_are_refused_with_their_lines(world: TestWorld, staff_panel: TestClient) -> None:
    data = "\r\n".join([HEADER, good_row(1), good_row(2).replace("Firma", "Fi\x00rma"), good_row(3) + "\x00"]).encode()
    assert refused(world, staff_panel, data) == [
        (3, "Datei", "enthält ein NUL-Zeichen"),
        (4, "Datei", "enthält ein NUL-Zeichen"),
    ]


def test_every_bad_row_is_reported_and_nothing_is_written(world: TestWorld, staff_panel: TestClient) -> None:
    lines = [
        HEADER,  # line 1
        good_row(2),
        "i3;;company;;;;;;;;",  # no name
        "i4;Firma 4;club;;;;;;;;",  # unknown type
        "i2;Firma Zwei;company;;;;;;;;",  # the same institution with another name
        good_row(6),
        "i7;Firma 7;company;;c7;Eva;Sieben;;email;eva(at)firma7.example;",  # a bad e-mail in row 7
        "i8;Firma 8;company;999;;;;;;;",  # no such customer
        "i9;Firma 9;company;;;Ohne;Ref;;;;",  # contact fields without a contact_ref
        "i10;Firma 10;company",  # too few cells
        "i11;Firma 11;company;;c11;Tel;Falsch;;phone;ruf an;",  # a bad phone number
        "i12;Firma 12;company;abc;;;;;;;",  # customer id not a number
    ]
    problems = refused(world, staff_panel, "\r\n".join(lines).encode())
    assert [(line, field) for line, field, _ in problems] == [
        (3, "institution_name"),
        (4, "institution_type"),
        (5, "institution_name"),
        (7, "detail_value"),
        (8, "customer_id"),
        (9, "contact_ref"),
        (10, "Zeile"),
        (11, "detail_value"),
        (12, "customer_id"),
    ]
    reasons = {line: reason for line, _, reason in problems}
    assert reasons[3] == "darf nicht leer sein"
    assert reasons[5] == "weicht von Zeile 2 ab (dieselbe Referenz, andere Angaben)"
    assert reasons[7] == "ist keine gültige E-Mail-Adresse"
    assert reasons[8] == "Kunde 999 existiert nicht"
    assert reasons[10] == "hat 3 Felder statt 11"
    assert reasons[12] == "muss eine ganze Zahl sein"


def test_a_row_with_three_problems_gets_three_messages(world: TestWorld, staff_panel: TestClient) -> None:
    # no name, an unknown type, a bad e-mail: one row, every problem reported at once
    lines = [HEADER, good_row(2), "i3;;club;;c3;Eva;Drei;;email;eva(at)firma.example;"]
    assert refused(world, staff_panel, "\r\n".join(lines).encode()) == [
        (3, "institution_name", "darf nicht leer sein"),
        (3, "institution_type", "muss einer der Werte 'university', 'company', 'government' oder 'other' sein"),
        (3, "detail_value", "ist keine gültige E-Mail-Adresse"),
    ]


def test_a_row_reports_its_own_problems_and_its_differences_from_earlier_rows(
    world: TestWorld, staff_panel: TestClient
) -> None:
    lines = [
        HEADER,
        "a;Firma A;company;;k;Max;Muster;;email;max@a.example;",
        "a;Firma B;other;;k;Moritz;Muster;;phone;ruf an;",  # two institution and one contact difference, a bad phone
        "z;Firma Z;company;999;k;Max;;;;;",  # an unknown customer and an empty last name
    ]
    problems = refused(world, staff_panel, "\r\n".join(lines).encode())
    assert [(line, field) for line, field, _ in problems] == [
        (3, "detail_value"),
        (3, "institution_name"),
        (3, "institution_type"),
        (3, "first_name"),
        (4, "last_name"),
        (4, "customer_id"),
    ]


def test_rows_of_separators_alone_are_bad_rows_not_skipped(world: TestWorld, staff_panel: TestClient) -> None:
    empty_cells = ";" * (len(COLUMNS) - 1)  # the right number of cells, every one empty
    lines = [HEADER, ";;;", good_row(3), "", "   ", empty_cells, ";"]
    problems = refused(world, staff_panel, "\r\n".join(lines).encode())
    assert problems == [
        (2, "Zeile", "hat 4 Felder statt 11"),
        (6, "institution_ref", "muss 1 bis 50 Zeichen lang sein"),
        (7, "Zeile", "hat 2 Felder statt 11"),
    ]
    assert refused(world, staff_panel, f"{HEADER}\r\n;;;\r\n".encode()) == [(2, "Zeile", "hat 4 Felder statt 11")]


def test_one_line_of_100000_separators_is_refused_quickly(world: TestWorld, staff_panel: TestClient) -> None:
    started = time.monotonic()
    problems = refused(world, staff_panel, f"{HEADER}\r\n{';' * 100_000}\r\n".encode())
    assert problems == [(2, "Zeile", "hat 100001 Felder statt 11")]
    assert time.monotonic() - started < 5


def test_a_broken_quote_is_reported_with_its_line(world: TestWorld, staff_panel: TestClient) -> None:
    data = "\r\n".join([HEADER, good_row(1), 'i2;"Firma 2;company;;;;;;;;']).encode()
    [(line, field, reason)] = refused(world, staff_panel, data)
    assert (line, field) == (3, "Datei") and "kein gültiges CSV" in reason


def test_the_limits_of_size_and_rows(world: TestWorld, staff_panel: TestClient) -> None:
    too_many = "\r\n".join([HEADER, *(good_row(n) for n in range(MAX_IMPORT_ROWS + 1))]).encode()
    assert len(too_many) < MAX_IMPORT_BYTES
    assert refused(world, staff_panel, too_many) == [
        (MAX_IMPORT_ROWS + 2, "Datei", f"mehr als {MAX_IMPORT_ROWS} Datenzeilen")
    ]
    too_big = (HEADER + "\r\n").encode() + b"x" * MAX_IMPORT_BYTES
    response = staff_panel.post("/leads/import", files={"file": ("l.csv", too_big)})
    assert response.status_code == 413 and "höchstens 2 MiB" in response.text
    assert staff_panel.post("/leads/import", data={"file": "kein Datei-Feld"}).status_code == 400
    assert staff_panel.post("/leads/import", data={}).status_code == 400


def test_the_largest_allowed_file_imports(world: TestWorld, staff_panel: TestClient) -> None:
    rows = [HEADER, *(good_row(n) for n in range(MAX_IMPORT_ROWS))]
    response = staff_panel.post(
        "/leads/import", files={"file": ("l.csv", "\r\n".join(rows).encode())}, follow_redirects=False
    )
    assert response.status_code == 303, response.text[:300]
    assert world.scalar("SELECT COUNT(*) FROM lead_contact_details") == MAX_IMPORT_ROWS
