"""Request bodies of the panel are capped: 413 in the contract's body for the JSON endpoints and
the error page for the forms, announced by Content-Length or sent chunked without one, and
nothing changes. The leads CSV upload keeps its own, larger limit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from starlette.testclient import TestClient

from licenseserver.admin.middleware import MAX_BODY_BYTES
from licenseserver.admin.routes.leads_transfer import MAX_UPLOAD_BYTES
from licenseserver.domain.leads.csv_format import COLUMNS
from tests.api.helpers import assert_error
from tests.security.conftest import Ids
from tests.support.world import TestWorld

TWENTY_MB = 20 * 1024 * 1024


def padded_json(value: dict[str, Any], size: int) -> bytes:
    """The JSON document with trailing spaces up to `size` bytes (still valid JSON)."""
    body = orjson.dumps(value)
    return body + b" " * (size - len(body))


def chunked(data: bytes, piece: int = 64 * 1024) -> Iterator[bytes]:
    """The body as a stream of unknown length: sent chunked, without Content-Length."""
    for start in range(0, len(data), piece):
        yield data[start : start + piece]


def _json_post(panel: TestClient, url: str, body: bytes, stream: bool) -> Any:
    headers = {"content-type": "application/json"}
    return panel.post(url, content=chunked(body) if stream else body, headers=headers)


def test_json_bodies_over_the_limit_are_413_and_change_nothing(
    world: TestWorld, staff_panel: TestClient, seeded: Ids
) -> None:
    url = "/api/licenses/bulk-deactivate"
    before = world.snapshot()
    for size in (MAX_BODY_BYTES + 1, TWENTY_MB):
        for stream in (False, True):
            response = _json_post(staff_panel, url, padded_json({"license_ids": [seeded["license"]]}, size), stream)
            assert_error(response, 413, "PAYLOAD_TOO_LARGE")
            assert "chunked" not in response.text
    assert world.snapshot() == before
    for stream in (False, True):  # at the limit: accepted
        response = _json_post(
            staff_panel, url, padded_json({"license_ids": [seeded["license"]]}, MAX_BODY_BYTES), stream
        )
        assert response.status_code == 200, response.text
    assert world.scalar("SELECT is_active FROM licenses WHERE id = :i", i=seeded["license"]) in (False, 0)


def test_form_bodies_over_the_limit_get_the_413_page_and_change_nothing(
    world: TestWorld, staff_panel: TestClient, seeded: Ids
) -> None:
    before = world.snapshot()
    form = b"name=Neu+AG&email=neu%40ag.example&padding=" + b"x" * MAX_BODY_BYTES
    headers = {"content-type": "application/x-www-form-urlencoded"}
    for content in (form, chunked(form)):
        response = staff_panel.post("/customers/new", content=content, headers=headers)
        assert response.status_code == 413
        assert response.headers["content-type"].startswith("text/html")
        assert "Die Anfrage ist zu groß: höchstens 1024 KiB." in response.text
    assert world.snapshot() == before


def test_the_csv_upload_keeps_its_own_limit(world: TestWorld, staff_panel: TestClient) -> None:
    header = ";".join(COLUMNS).encode() + b"\r\n"
    before = world.snapshot()
    within_panel_limit_of_uploads = header + b"x" * (MAX_BODY_BYTES + 1)  # over the forms' limit, a bad file
    response = staff_panel.post("/leads/import", files={"file": ("l.csv", within_panel_limit_of_uploads)})
    assert response.status_code == 400 and "Nichts importiert" in response.text
    oversized = header + b"x" * MAX_UPLOAD_BYTES
    boundary = "grenze"
    multipart = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="l.csv"\r\n\r\n'.encode()
        + oversized
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    for content in (multipart, chunked(multipart)):
        response = staff_panel.post("/leads/import", content=content, headers=headers)
        assert response.status_code == 413 and "Die Datei ist zu groß: höchstens 2 MiB." in response.text
    assert world.snapshot() == before
