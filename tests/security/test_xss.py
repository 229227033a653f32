"""Text staff type into the panel, and what clients send to the License API, is shown on the
panel's pages only as text: an XSS corpus goes into every free-text field, then every page that
shows those values is parsed and must hold no script of its own making, no event-handler
attribute, no `javascript:` link, and each payload as plain text."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

from starlette.testclient import TestClient

from tests.api.helpers import ACTIVATE, start_session
from tests.conftest import make_client
from tests.support.world import TestWorld

PAYLOADS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'onmouseover='alert(1)",
    "javascript:alert(1)",
    "</textarea><script>x</script>",
    "{{7*7}}",
)
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "hx-get", "hx-post", "hx-put", "hx-delete"}


class PageParts(HTMLParser):
    """What a browser would build from a page: its tags with attributes, and its text."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.texts: list[str] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and not (values.get("src") or "").startswith("/static/"):
            self.problems.append(f"<script> not from /static: {attrs}")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler attribute {name}={value!r} on <{tag}>")
            if name in URL_ATTRIBUTES and (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL in {name} of <{tag}>")
            self.texts.append(value or "")

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def check_page(panel: TestClient, url: str, expected: tuple[str, ...] = (), status: int = 200) -> list[str]:
    response = panel.get(url) if isinstance(url, str) else url
    return inspect(response, url, expected, status)


def inspect(response: Any, where: str, expected: tuple[str, ...], status: int = 200) -> list[str]:
    assert response.status_code == status, (where, response.status_code, response.text[:300])
    parts = PageParts(response.text)
    shown = "\n".join(parts.texts)
    missing = [f"{where}: {payload!r} not shown as text" for payload in expected if payload not in shown]
    return [f"{where}: {problem}" for problem in parts.problems] + missing


def _enter_staff_text(panel: TestClient, payload: str, n: int) -> dict[str, int]:
    """Every free-text field staff fill in, with the payload; the ids of what was made."""
    customer_form = {"name": payload, "email": f"k{n}@kunde.example"}
    created = panel.post("/customers/new", data=customer_form, follow_redirects=False)
    assert created.status_code == 303, created.text[:300]
    customer = int(created.headers["location"].split("/")[2])
    institution = panel.post("/leads/api/institutions", json={"name": payload, "type": "company"}).json()["id"]
    person = {"first_name": payload, "last_name": payload, "position": payload, "institution_id": institution}
    contact = panel.post("/leads/api/contacts", json=person).json()["id"]
    detail = {"type": "email", "value": f"c{n}@lead.example", "label": payload}
    assert panel.post(f"/leads/api/contacts/{contact}/details", json=detail).status_code == 201
    note = panel.post(f"/leads/api/contacts/{contact}/notes", json={"content": payload}).json()["id"]
    assert panel.put(f"/leads/api/notes/{note}", json={"content": payload + " (2)"}).status_code == 200
    client = panel.post(
        "/administration/clients",
        data={
            "client_name": f"{payload} {n}",
            "heartbeat_interval": "30",
            "session_timeout": "90",
            "minimum_version": "1.0.0",
        },
        follow_redirects=False,
    )
    assert client.status_code == 303, client.text[:300]
    client_id = int(client.headers["location"].split("/")[3].split("?")[0])
    release = {"version": "2.0.0", "release_date": "2026-03-01", "release_notes": payload}
    answer = panel.post(f"/administration/clients/{client_id}/releases", data=release, follow_redirects=False)
    assert answer.status_code == 303, answer.text[:300]
    return {"customer": customer, "institution": institution, "client": client_id}


def _license_with_client_text(world: TestWorld, panel: TestClient, customer: int, payload: str, n: int) -> int:
    """A license whose devices carry the payload: one registered by staff, one activated by a
    client through the License API (app_version too, where the API accepts it), holding a live
    session started with the payload as its machine id."""
    key = world.license(customer_id=customer, max_activations=5)
    license_id = int(world.scalar("SELECT id FROM licenses WHERE license_key = :k", k=key))
    device = {"hardware_hash": payload, "machine_name": payload, "app_version": "1.0.0"}
    assert panel.post(f"/licenses/{license_id}/devices", data=device, follow_redirects=False).status_code == 303
    with make_client(world) as api:
        for version in (payload, "1.0.0"):
            body = {"license_key": key, "hardware_hash": f"hw-{n}", "machine_name": payload, "app_version": version}
            answer = api.post(ACTIVATE, json=body)
            assert answer.status_code in (200, 400), answer.text
        assert start_session(api, key, f"hw-{n}", machine_id=payload).status_code == 200
    return license_id


def test_xss_corpus_is_shown_only_as_text(world: TestWorld, staff_panel: TestClient) -> None:
    made = []
    for n, payload in enumerate(PAYLOADS):
        ids = _enter_staff_text(staff_panel, payload, n)
        ids["license"] = _license_with_client_text(world, staff_panel, ids["customer"], payload, n)
        made.append((payload, ids))
    everything = PAYLOADS
    problems = []
    for url, expected in (
        ("/", ()),
        ("/customers", everything),
        ("/licenses", everything),
        ("/sessions", everything),
        ("/leads/", everything),
        ("/administration", ()),
        ("/audit", everything),
        ("/resources", ()),
    ):
        problems += check_page(staff_panel, url, expected)
    for payload, ids in made:
        q = quote(payload)
        problems += check_page(staff_panel, f"/customers/{ids['customer']}/edit", (payload,))
        problems += check_page(staff_panel, f"/licenses/{ids['license']}", (payload,))
        problems += check_page(staff_panel, f"/licenses/{ids['license']}/quick-edit", ())
        problems += check_page(staff_panel, f"/licenses?q={q}", ())
        problems += check_page(staff_panel, f"/customers?q={q}", (payload,))
        problems += check_page(staff_panel, f"/search?q={q}", (payload,))
        problems += check_page(staff_panel, f"/leads/?q={q}", (payload,))
        problems += check_page(staff_panel, f"/leads/edit/{ids['institution']}", (payload, payload + " (2)"))
        problems += check_page(staff_panel, f"/administration/clients/{ids['client']}", (payload,))
        problems += check_page(staff_panel, f"/audit?actor={q}", ())
        problems += _refused_forms(staff_panel, payload, ids)
    assert problems == []


def _refused_forms(panel: TestClient, payload: str, ids: dict[str, int]) -> list[str]:
    """Forms shown again with the refused text and the reason, which may quote it."""
    answers = [
        ("resource add", panel.post("/resources/add", data={"resource_type": "server", "identifiers": payload})),
        ("customer form", panel.post("/customers/new", data={"name": payload, "email": payload})),
        ("lead form", panel.post("/leads/create", data={"name": payload, "type": payload})),
        (
            "release form",
            panel.post(
                f"/administration/clients/{ids['client']}/releases",
                data={"version": payload, "release_date": "2026-03-01", "download_url": payload},
            ),
        ),
    ]
    return [problem for where, answer in answers for problem in inspect(answer, where, (), status=400)]
