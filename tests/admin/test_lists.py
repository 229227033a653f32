"""The lists' shared chrome and the feedback after actions: empty states with a hint, one paging
wording everywhere, resources in natural order, the computer's name in the session list, the bulk
buttons without a selection, the throttled log-in page and the success notices."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from tests.admin.conftest import csrf_of
from tests.admin.pool_support import new_license, pool
from tests.api.helpers import live_session
from tests.conftest import make_client
from tests.support.world import TestWorld

# "Seite X von Y · A–B von N <Dingen>", the one wording of every list's pager.
PAGER = re.compile(r"Seite (\d+) von (\d+) · (\d+)–(\d+) von (\d+) (\w+)")
LISTS = ("/licenses", "/customers", "/devices", "/sessions", "/resources", "/leads/")
TOMORROW = datetime.now(UTC).date() + timedelta(days=1)


def test_empty_lists_give_a_hint_and_never_say_von_0(staff_panel: TestClient) -> None:
    for path in LISTS:
        page = staff_panel.get(path)
        assert page.status_code == 200, path
        assert 'class="empty-state"' in page.text, path
        assert "von 0" not in page.text and "Seite 1 von 0" not in page.text, path
        assert 'class="pager"' not in page.text, path  # nothing to page through
        assert "Filter zurücksetzen" not in page.text, path  # no filter is set


def test_an_empty_filtered_list_offers_to_reset_the_filters(staff_panel: TestClient) -> None:
    for path, query in (
        ("/licenses", "q=NOTHING"),
        ("/customers", "q=nobody"),
        ("/resources", "q=nothing"),
        ("/leads/", "q=nobody"),
        ("/audit", "actor=nobody"),
    ):
        page = staff_panel.get(f"{path}?{query}")
        assert page.status_code == 200, path
        assert f'<a href="{path}">Filter zurücksetzen</a>' in page.text, path
        assert "von 0" not in page.text, path


def test_a_page_behind_the_end_leads_back_to_the_first(world: TestWorld, staff_panel: TestClient) -> None:
    new_license(world)
    page = staff_panel.get("/licenses?page=5")
    assert "Diese Seite liegt hinter dem Ende der Liste." in page.text and "Zur ersten Seite" in page.text
    assert "von 0" not in page.text


def test_every_list_pages_in_the_same_words(world: TestWorld, staff_panel: TestClient) -> None:
    customer = world.customer("Alpha GmbH", "it@alpha.example")
    pool(world, "server", *(f"SRV-{i}" for i in range(3)))
    with make_client(world) as api:
        live_session(world, api, "hw-1", customer_id=customer)
    staff_panel.post("/leads/create", data={"name": "Uni Beispiel", "type": "university", "customer_id": ""})
    texts = {path: staff_panel.get(path).text for path in LISTS}
    texts["/audit/count"] = staff_panel.get("/audit/count").text
    texts["/licenses/count"] = staff_panel.get("/licenses/count").text
    nouns = {}
    for path, text in texts.items():
        match = PAGER.search(text)
        assert match, (path, text[-600:])
        number, pages, first, last, total, noun = match.groups()
        assert (number, pages, first) == ("1", "1", "1") and last == total, (path, match.group(0))
        nouns[path] = noun
    assert nouns["/resources"] == "Ressourcen" and nouns["/sessions"] == "Sitzungen"
    assert nouns["/devices"] == "Geräten" and nouns["/audit/count"] == "Einträgen"


def test_the_pager_numbers_go_through_the_number_filter(world: TestWorld, staff_panel: TestClient) -> None:
    pool(world, "server", *(f"SRV-{i:04d}" for i in range(1001)))
    last = staff_panel.get("/resources?page=21").text
    assert "Seite 21 von 21 · 1.001–1.001 von 1.001 Ressourcen" in last


def test_resources_are_listed_in_natural_order(world: TestWorld, staff_panel: TestClient) -> None:
    pool(world, "server", "kunde10", "kunde2", "kunde1", "backup", "kunde20", "kunde3")
    pool(world, "ipv4", "10.0.0.10", "10.0.0.9", "10.0.0.100")
    page = staff_panel.get("/resources").text
    shown = re.findall(r'href="/resources/\d+">([^<]+)</a>', page)
    assert shown == [
        "10.0.0.9", "10.0.0.10", "10.0.0.100",
        "backup", "kunde1", "kunde2", "kunde3", "kunde10", "kunde20",
    ]  # fmt: skip


def test_resources_page_offers_adding_at_the_top(staff_panel: TestClient) -> None:
    page = staff_panel.get("/resources").text
    assert page.index('href="#hinzufuegen"') < page.index("<table")


def test_session_list_shows_the_computer_name_of_the_activation(world: TestWorld, staff_panel: TestClient) -> None:
    with make_client(world) as api:
        key, _ = live_session(world, api, "hw-42")
    world.execute("UPDATE activations SET machine_name = 'Empfang-PC' WHERE hardware_hash = 'hw-42'")
    page = staff_panel.get("/sessions").text
    assert key in page and "<td>Empfang-PC</td>" in page


def test_bulk_action_without_selection_goes_back_to_the_list(world: TestWorld, staff_panel: TestClient) -> None:
    new_license(world)
    before = {table: world.snapshot()[table] for table in ("licenses", "audit_log")}
    for action in ("activate", "deactivate", "delete"):
        response = staff_panel.post(
            "/licenses/bulk", data={"action": action, "back": "q=AB&page=2&per_page=50"}, follow_redirects=False
        )
        assert response.status_code == 303, action
        assert response.headers["location"] == "/licenses?q=AB&page=2&per_page=50&notice=none_selected"
    page = staff_panel.get("/licenses?notice=none_selected")
    assert "Keine Lizenz ausgewählt." in page.text
    assert {table: world.snapshot()[table] for table in before} == before
    # The buttons say they need a selection; licenses.js keeps them disabled until then.
    assert page.text.count("data-needs-selection") == 3


def test_throttled_login_shows_the_login_form_with_the_message(panel: TestClient) -> None:
    token = csrf_of(panel.get("/login").text)
    form = {"username": "somebody", "password": "wrong-password", "csrf_token": token}
    answers = [panel.post("/login", data=form, follow_redirects=False) for _ in range(6)]
    throttled = answers[-1]
    assert [a.status_code for a in answers] == [401] * 5 + [429]
    assert "retry-after" in throttled.headers
    assert "Zu viele Anmeldeversuche. Bitte warten Sie eine Minute." in throttled.text
    assert '<form method="post" action="/login">' in throttled.text and 'value="somebody"' in throttled.text


def test_quick_edit_save_answers_the_row_with_its_message(world: TestWorld, staff_panel: TestClient) -> None:
    key, lid = new_license(world)
    form = {"valid_until": "", "max_activations": "4", "max_users": "2"}
    row = staff_panel.post(f"/licenses/{lid}/quick-edit", data=form)
    assert row.status_code == 200
    assert f'data-message="Lizenz {key} gespeichert."' in row.text and "Gespeichert." in row.text
    # The row as "Abbrechen" brings it back says nothing.
    assert "Gespeichert." not in staff_panel.get(f"/licenses/{lid}/row").text


def test_the_list_has_one_status_element(world: TestWorld, staff_panel: TestClient) -> None:
    new_license(world)
    page = staff_panel.get("/licenses?notice=activated&count=1").text
    assert page.count('role="status"') == 1 and "1 Lizenz(en) aktiviert." in page


def test_no_success_notice_above_an_error(world: TestWorld, staff_panel: TestClient) -> None:
    _, lid = new_license(world)
    form = {"customer_id": "", "license_type": "perpetual", "max_activations": "0", "max_users": "1"}
    refused = staff_panel.post(f"/licenses/{lid}/edit?notice=saved", data=form)
    assert refused.status_code == 400
    assert 'class="notice error"' in refused.text and "Gespeichert." not in refused.text


def test_not_yet_valid_wears_the_neutral_badge(world: TestWorld, staff_panel: TestClient) -> None:
    new_license(world, valid_from=TOMORROW)
    page = staff_panel.get("/licenses").text
    assert '<span class="badge info">Noch nicht gültig</span>' in page
    assert '<td class="mono"><a href="/licenses/' in page  # the key's cell never breaks


def test_device_list_counts_after_the_page(world: TestWorld, staff_panel: TestClient) -> None:
    with make_client(world) as api:
        for n in range(3):
            live_session(world, api, f"hw-{n}")
    counted = staff_panel.get("/devices/count?page=1").text
    assert "Seite 1 von 1 · 1–3 von 3 Geräten" in counted
