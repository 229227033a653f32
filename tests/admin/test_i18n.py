"""The panel's languages: the catalogs are complete and in step with the sources, every page and
error message a German staff member reaches is German, an English account reads English, and
numbers carry German thousands separators."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from starlette.testclient import TestClient

from licenseserver.admin import i18n
from tests.admin.pool_support import license_id, pool
from tests.api.helpers import activate, live_session
from tests.conftest import make_client
from tests.support.world import TestWorld

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "_l": None, "lazy_gettext": None}
# Words of the English interface (and of the API's refusals) that no German page may show.
ENGLISH_WORDS = (
    "License",
    "not found",
    "Not found",
    "Invalid",
    "Active",
    "request",
    "available",
    "Initial release",
    "Customer",
    "Device",
    "Session",
    "Resource",
    "Expired",
    "already",
    "missing",
    "Page",
    "Delete",
    "Save",
    "Log out",
    "Value error",
    "should be",
    "Input",
)
ENGLISH_PATTERN = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in ENGLISH_WORDS) + r")\b")


def _catalog(language: str) -> dict[str, object]:
    path = ROOT / "src/licenseserver/admin/locale" / language / "LC_MESSAGES/messages.po"
    with path.open("rb") as po:
        return {message.id: message.string for message in read_po(po) if message.id}


def _extracted() -> set[object]:
    """The msgids of the sources, extracted as `pybabel extract -F babel.cfg` does (docs/admin.md)."""
    method_map = [("src/licenseserver/admin/**.py", "python"), ("src/licenseserver/admin/templates/**.html", "jinja2")]
    options = {"src/licenseserver/admin/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    found: set[object] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def test_every_text_of_the_sources_has_a_german_and_an_english_translation() -> None:
    extracted = _extracted()
    for language in i18n.LANGUAGES:
        catalog = _catalog(language)
        missing = sorted(str(m) for m in extracted if m not in catalog)
        assert not missing, f"{language}: not in the catalog (re-extract, docs/admin.md): {missing[:10]}"
        empty = sorted(str(m) for m, s in catalog.items() if not s or (isinstance(s, tuple) and not all(s)))
        assert not empty, f"{language}: untranslated: {empty[:10]}"
        stale = sorted(str(m) for m in catalog if m not in extracted)
        assert not stale, f"{language}: no longer in the sources: {stale[:10]}"


class _TextOnly(HTMLParser):
    """The text a reader sees: no attributes, no script or style."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("script", "style")
        # Visible attributes are text too.
        self.parts.extend(v for k, v in attrs if k in ("placeholder", "title", "aria-label", "data-confirm") and v)

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    return " ".join(parser.parts)


def _seed(world: TestWorld, staff_panel: TestClient) -> int:
    customer = world.customer("Omega KG", "it@omega.example")
    with make_client(world) as api:
        key, _token = live_session(world, api, "hw-live", customer_id=customer, max_activations=3)
        assert activate(api, key, "hw-other", "LAPTOP-7").status_code == 200
    lid = license_id(world, key)
    [rid, _free] = pool(world, "server", "srv1.example", "srv2.example")
    staff_panel.post("/api/resources/allocate", json={"license_id": lid, "resource_ids": [rid]})
    created = staff_panel.post(
        "/leads/create",
        data={"csrf_token": staff_panel.headers["x-csrf-token"], "name": "Uni Omega", "type": "university"},
    )
    assert created.status_code in (200, 303)
    return lid


def _links(html: str) -> set[str]:
    return {
        href
        for href in re.findall(r'href="(/[^"#]*)"', html)
        if not href.startswith(("/static", "/logout", "/leads/export")) and "offline-file" not in href
    }


def test_every_page_and_refusal_is_german(world: TestWorld, staff_panel: TestClient) -> None:
    lid = _seed(world, staff_panel)
    seen: set[str] = set()
    todo = ["/", f"/licenses/{lid}", "/audit", "/account", "/account/totp"]
    while todo and len(seen) < 80:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        page = staff_panel.get(path)
        assert page.status_code == 200, path
        if "text/html" not in page.headers.get("content-type", ""):
            continue
        hits = ENGLISH_PATTERN.findall(visible_text(page.text))
        assert not hits, (path, hits)
        todo.extend(_links(page.text) - seen)
    assert len(seen) > 15
    csrf = staff_panel.headers["x-csrf-token"]
    refusals = {
        # The API's refusals, shown in the panel.
        f"/licenses/{lid}/resources/allocate": {"csrf_token": csrf, "resource_type": "server", "count": "50"},
        "/resources/add": {"csrf_token": csrf, "resource_type": "domain", "identifiers": "not a domain"},
        "/leads/create": {"csrf_token": csrf, "name": "Uni", "type": "bank"},
    }
    for path, form in refusals.items():
        page = staff_panel.post(path, data=form)
        assert page.status_code in (400, 404, 409), path
        assert not ENGLISH_PATTERN.findall(visible_text(page.text)), (path, visible_text(page.text)[-400:])
    for path in ("/licenses/999999", "/no-such-page", "/licenses?page=abc", "/customers?per_page=x"):
        page = staff_panel.get(path)
        assert page.status_code in (400, 404), path
        assert not ENGLISH_PATTERN.findall(visible_text(page.text)), (path, visible_text(page.text)[-400:])
    no_csrf = staff_panel.post("/account/language", data={"language": "en"}, headers={"x-csrf-token": ""})
    assert no_csrf.status_code == 403
    assert not ENGLISH_PATTERN.findall(visible_text(no_csrf.text))


def test_an_english_account_reads_english(world: TestWorld, staff_panel: TestClient) -> None:
    csrf = staff_panel.headers["x-csrf-token"]
    assert 'lang="de"' in staff_panel.get("/").text
    chosen = staff_panel.post("/account/language", data={"csrf_token": csrf, "language": "en"})
    assert chosen.status_code == 200  # followed the redirect to /account
    assert "The language was changed." in chosen.text
    assert world.scalar("SELECT language FROM admin_users") == "en"
    page = staff_panel.get("/licenses")
    assert '<html lang="en">' in page.text
    assert "<title>Licenses · V2 License Server</title>" in page.text
    assert "Lizenzen" not in visible_text(page.text)
    refused = staff_panel.post("/account/language", data={"csrf_token": csrf, "language": "fr"})
    assert refused.status_code == 400 and "Unknown language." in refused.text
    assert world.scalar("SELECT language FROM admin_users") == "en"


def test_numbers_and_dates_in_german_and_english() -> None:
    from datetime import date

    i18n.use_language("de")
    assert i18n.format_number(20001) == "20.001"
    assert i18n.format_number(12.25, 1) == "12,2"
    assert i18n.format_day(date(2026, 12, 31)) == "31.12.2026"
    i18n.use_language("en")
    assert i18n.format_number(20001) == "20,001"
    assert i18n.format_day(date(2026, 12, 31)) == "Dec 31, 2026"
    i18n.use_language("de")


def test_english_staff_read_charts_search_and_import_problems_in_english(
    world: TestWorld, staff_panel: TestClient
) -> None:
    _seed(world, staff_panel)
    csrf = staff_panel.headers["x-csrf-token"]
    staff_panel.post("/account/language", data={"csrf_token": csrf, "language": "en"})
    dashboard = visible_text(staff_panel.get("/").text)
    assert "Licenses by state" in dashboard and "New activations" in dashboard
    assert "Keine Daten" not in dashboard and "Lizenzen nach Status" not in dashboard
    assert "Week " in dashboard and "KW " not in dashboard
    found = visible_text(staff_panel.get("/search?q=omega").text)
    assert "it@omega.example – 1 license" in found and "Lizenz" not in found
    leads = visible_text(staff_panel.get("/leads/").text)
    assert "University" in leads and "Universität" not in leads and "Became a customer" in leads
    live = staff_panel.get("/search/live?q=srv1").text
    assert "Server – allocated" in live and "zugewiesen" not in live
    bad_header = "name;type\nUni;university\n".encode("cp1252")
    refused = staff_panel.post("/leads/import", data={"csrf_token": csrf}, files={"file": ("l.csv", bad_header)})
    assert refused.status_code == 400
    text = visible_text(refused.text)
    assert "Header line" in text and "the expected columns are" in text, text[-600:]
    assert "erwartet" not in text and "Kopfzeile" not in text
