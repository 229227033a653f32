"""The edit pages return to the list they were opened from: the list hands its URL (filters,
sort, page) to "Bearbeiten" as `next`, and "Speichern" and "Abbrechen" end there with the list's
message. A `next` that is not that list on this panel is ignored (admin/return_to.py)."""

from __future__ import annotations

import html
import re
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from licenseserver.admin.return_to import list_return, with_notice
from tests.support.world import TestWorld

LICENSE_LIST = "/licenses?q=ACME&state=active&sort=key&dir=asc&per_page=25&page=2"
CUSTOMER_LIST = "/customers?q=GmbH&sort=created&dir=desc&per_page=25&page=2"
FOREIGN = ("https://evil.example/", "//evil.example", "/\\evil", "/licenses\x00", "/licenses?q=%00", "/login")


def _licenses(world: TestWorld, count: int) -> list[int]:
    customer = world.customer("ACME GmbH", "it@acme.example")
    for _ in range(count):
        world.license(customer_id=customer, valid_from=date(2026, 1, 1), max_activations=2)
    return [row["id"] for row in world.rows("SELECT id FROM licenses ORDER BY license_key")]


def _license_form(world: TestWorld, **extra: str) -> dict[str, str]:
    return {
        "customer_id": str(world.scalar("SELECT id FROM customers")),
        "license_type": "perpetual",
        "valid_from": "2026-01-01",
        "max_activations": "5",
        "max_users": "1",
        "is_active": "on",
        **extra,
    }


def _edit_links(page_html: str, kind: str) -> list[str]:
    return [html.unescape(link) for link in re.findall(rf'href="(/{kind}/\d+/edit[^"]*)"', page_html)]


def _next_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["next"][0]


def _cancel_href(page_html: str) -> str:
    match = re.search(r'<a href="([^"]*)" role="button" class="secondary outline">Abbrechen</a>', page_html)
    assert match, "no Abbrechen link"
    return html.unescape(match.group(1))


def _same_list(url: str, expected: str) -> bool:
    """Same path and the same parameters (order aside), the message parameters left out."""
    got, want = urlsplit(url), urlsplit(expected)
    params = {k: v for k, v in parse_qs(got.query).items() if k not in ("notice", "count")}
    return got.path == want.path and params == parse_qs(want.query)


def test_license_edit_from_a_filtered_list_saves_and_cancels_back_to_it(
    world: TestWorld, staff_panel: TestClient
) -> None:
    ids = _licenses(world, 27)  # page 2 of 25 holds two rows
    listing = staff_panel.get(LICENSE_LIST)
    links = _edit_links(listing.text, "licenses")
    assert links and all(_same_list(_next_of(link), LICENSE_LIST) for link in links)
    edit_url = links[-1]
    license_id = int(edit_url.split("/")[2])
    assert license_id in ids[25:]

    form_page = staff_panel.get(edit_url)
    assert form_page.status_code == 200
    assert _same_list(_cancel_href(form_page.text), LICENSE_LIST)
    hidden = re.search(r'<input type="hidden" name="next" value="([^"]*)">', form_page.text)
    assert hidden and _same_list(html.unescape(hidden.group(1)), LICENSE_LIST)

    response = staff_panel.post(
        f"/licenses/{license_id}/edit",
        data=_license_form(world, next=html.unescape(hidden.group(1))),
        follow_redirects=False,
    )
    assert response.status_code == 303
    target = response.headers["location"]
    assert _same_list(target, LICENSE_LIST) and parse_qs(urlsplit(target).query)["notice"] == ["saved"]
    assert world.scalar("SELECT max_activations FROM licenses WHERE id = :id", id=license_id) == 5
    back = staff_panel.get(target)
    assert '<div id="action-message" role="status"><p class="notice ok">Gespeichert.</p></div>' in back.text
    assert "Seite 2" in back.text  # still the second page


def test_customer_edit_from_a_filtered_list_saves_and_cancels_back_to_it(
    world: TestWorld, staff_panel: TestClient
) -> None:
    for number in range(27):
        world.customer(f"Firma {number:02d} GmbH", f"it{number}@firma.example")
    listing = staff_panel.get(CUSTOMER_LIST)
    links = _edit_links(listing.text, "customers")
    assert links and all(_same_list(_next_of(link), CUSTOMER_LIST) for link in links)
    customer_id = int(links[0].split("/")[2])
    form_page = staff_panel.get(links[0])
    assert _same_list(_cancel_href(form_page.text), CUSTOMER_LIST)
    body = {"name": "Umbenannt GmbH", "email": "neu@firma.example", "next": _next_of(links[0])}
    response = staff_panel.post(f"/customers/{customer_id}/edit", data=body, follow_redirects=False)
    assert response.status_code == 303
    assert _same_list(response.headers["location"], CUSTOMER_LIST)
    back = staff_panel.get(response.headers["location"])
    assert '<p class="notice ok">Gespeichert.</p>' in back.text
    assert world.scalar("SELECT name FROM customers WHERE id = :id", id=customer_id) == "Umbenannt GmbH"


def test_a_refused_save_keeps_the_way_back(world: TestWorld, staff_panel: TestClient) -> None:
    license_id = _licenses(world, 1)[0]
    body = _license_form(world, next=LICENSE_LIST, max_activations="0")
    page = staff_panel.post(f"/licenses/{license_id}/edit", data=body)
    assert page.status_code == 400
    assert _same_list(_cancel_href(page.text), LICENSE_LIST)
    assert 'name="next"' in page.text


@pytest.mark.parametrize("foreign", FOREIGN)
def test_a_foreign_next_falls_back_to_the_edit_page(world: TestWorld, staff_panel: TestClient, foreign: str) -> None:
    license_id = _licenses(world, 1)[0]
    customer_id = world.scalar("SELECT id FROM customers")
    if "\x00" not in foreign:  # NUL in a query parameter is refused outright (400)
        page = staff_panel.get(f"/licenses/{license_id}/edit", params={"next": foreign})
        assert page.status_code == 200 and 'name="next"' not in page.text
        assert _cancel_href(page.text) == f"/licenses/{license_id}"
        assert "evil" not in page.text
        customer_page = staff_panel.get(f"/customers/{customer_id}/edit", params={"next": foreign})
        assert _cancel_href(customer_page.text) == "/customers"
    response = staff_panel.post(
        f"/licenses/{license_id}/edit", data=_license_form(world, next=foreign), follow_redirects=False
    )
    if "\x00" in foreign:
        assert response.status_code == 400  # like every other field
        assert world.scalar("SELECT max_activations FROM licenses") == 2
    else:
        assert response.status_code == 303
        assert response.headers["location"] == f"/licenses/{license_id}/edit?notice=saved"
    body = {"name": "Neu GmbH", "email": "neu@acme.example", "next": foreign}
    response = staff_panel.post(f"/customers/{customer_id}/edit", data=body, follow_redirects=False)
    if "\x00" in foreign:
        assert response.status_code == 400
    else:
        assert response.headers["location"] == f"/customers/{customer_id}/edit?notice=saved"


def test_nul_in_the_next_query_parameter_is_refused(world: TestWorld, staff_panel: TestClient) -> None:
    license_id = _licenses(world, 1)[0]
    assert staff_panel.get(f"/licenses/{license_id}/edit", params={"next": "/licenses\x00"}).status_code == 400


def test_list_return_accepts_only_the_list_itself() -> None:
    assert list_return("/licenses?q=a%20b&page=2&notice=saved&count=3", "/licenses") == "/licenses?q=a+b&page=2"
    assert list_return("/licenses", "/licenses") == "/licenses"
    for foreign in (*FOREIGN, "/licenses/5/delete", "/customers", "/licenses#x", "http:/licenses", "", None):
        assert list_return(foreign, "/licenses") is None, foreign
    assert with_notice("/licenses", "saved") == "/licenses?notice=saved"
    assert with_notice("/licenses?q=x", "saved") == "/licenses?q=x&notice=saved"


def test_a_quick_edit_row_keeps_the_way_back(world: TestWorld, staff_panel: TestClient) -> None:
    license_id = _licenses(world, 1)[0]
    current = {"HX-Request": "true", "HX-Current-URL": f"http://testserver{LICENSE_LIST}"}
    row = staff_panel.get(f"/licenses/{license_id}/row", headers=current)
    assert all(_same_list(_next_of(link), LICENSE_LIST) for link in _edit_links(row.text, "licenses"))
    # Only the path and query count (the link stays on this panel); another page gives no way back.
    for foreign in ("http://testserver/login?next=//evil.example", "http://testserver//evil.example/licenses", ""):
        row = staff_panel.get(f"/licenses/{license_id}/row", headers={"HX-Request": "true", "HX-Current-URL": foreign})
        assert _edit_links(row.text, "licenses") == [f"/licenses/{license_id}/edit"] * 2, foreign
