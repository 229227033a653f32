"""A NUL character in any query parameter or form field of the panel is bad input: 400 and the
data unchanged, on both databases (PostgreSQL cannot hold NUL in text, not even as a query's
parameter, so an unchecked one used to answer 500). The parameters come from the router; the
form fields from the table of state-changing routes, which the CSRF suite checks against the
router."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from starlette.testclient import TestClient

from licenseserver.domain.audit.queries import AuditFilter
from licenseserver.kit.validation import no_nul
from tests.admin.conftest import STAFF_PASSWORD, STAFF_USERNAME, csrf_of, make_staff
from tests.security.conftest import Ids
from tests.security.panel_routes import UNSAFE, api_routes, concrete_path
from tests.support.world import TestWorld

NUL = "a\x00b"
# Routes that validate their query string themselves (with formdata.parse_form, which refuses
# NUL in any value), so the router cannot show their parameters.
QUERY_READ_BY_HAND: dict[str, type[BaseModel]] = {"/audit": AuditFilter}
ADMIN_SOURCES = Path(__file__).parents[2] / "src" / "licenseserver" / "admin"


def _query_fields(route: APIRoute) -> dict[str, FieldInfo]:
    """Every query parameter of the route, a pydantic model of parameters opened up."""
    fields: dict[str, FieldInfo] = {}
    for param in route.dependant.query_params:
        annotation = param.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields.update({info.alias or name: info for name, info in annotation.model_fields.items()})
        else:
            fields[param.alias] = param.field_info
    model = QUERY_READ_BY_HAND.get(route.path)
    if model is not None:
        fields.update({name: info for name, info in model.model_fields.items()})
    return fields


def _is_text(annotation: Any) -> bool:
    if annotation is str:
        return True
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return any(_is_text(arg) for arg in typing.get_args(annotation))
    return False


def _checks_nul(info: FieldInfo) -> bool:
    return any(getattr(item, "func", None) is no_nul for item in info.metadata)


def test_every_text_query_parameter_has_the_nul_checked_type(staff_panel: TestClient) -> None:
    unchecked = [
        f"{route.path}?{name}"
        for _method, route in api_routes(staff_panel.app)  # type: ignore[arg-type]
        if route.path not in QUERY_READ_BY_HAND
        for name, info in _query_fields(route).items()
        if _is_text(info.annotation) and not _checks_nul(info)
    ]
    assert unchecked == []


def test_every_panel_form_is_read_through_the_checked_reader() -> None:
    """formdata.checked_form refuses NUL in any field: a route reading request.form() itself
    would bypass it."""
    readers = {
        path.name
        for path in ADMIN_SOURCES.rglob("*.py")
        if re.search(r"request\.form\(\)", path.read_text()) and path.name not in ("formdata.py", "deps.py")
    }
    assert readers == set()


def _refused(world: TestWorld, response: Any, where: str) -> str | None:
    if response.status_code != 400:
        return f"{where}: {response.status_code} {response.text[:120]!r}"
    return None


def test_nul_in_any_query_parameter_is_400_and_changes_nothing(
    world: TestWorld, staff_panel: TestClient, seeded: Ids
) -> None:
    before = world.snapshot()
    problems, tried = [], 0
    for method, route in api_routes(staff_panel.app):  # type: ignore[arg-type]
        if method != "GET":
            continue
        for name in _query_fields(route):
            url = f"{concrete_path(route, seeded)}?{urlencode({name: NUL})}"
            problems.append(_refused(world, staff_panel.get(url, follow_redirects=False), f"GET {url}"))
            tried += 1
    assert [p for p in problems if p] == []
    assert tried >= 20  # the router's parameters were found
    assert world.snapshot() == before


def _post(panel: TestClient, url: str, kind: str, body: dict[str, Any]) -> Any:
    if kind == "upload":
        return panel.post(url, files={name: ("leads.csv", value) for name, value in body.items()})
    return panel.post(url, data=body, follow_redirects=False)


def test_nul_in_any_form_field_is_400_and_changes_nothing(
    world: TestWorld, staff_panel: TestClient, seeded: Ids
) -> None:
    before = world.snapshot()
    problems, tried = [], 0
    for call in UNSAFE.values():
        if call.kind == "json" or call.url == "/login":  # log-in: logged out, the test below
            continue
        body = call.body(seeded)
        for name, value in body.items():
            poisoned = {**body, name: (value if isinstance(value, str) else str(value)) + "\x00"}
            url = call.concrete_url(seeded)
            problems.append(_refused(world, _post(staff_panel, url, call.kind, poisoned), f"POST {url} {name}"))
            tried += 1
    assert [p for p in problems if p] == []
    assert tried >= 40
    assert world.snapshot() == before


def test_nul_in_a_log_in_field_is_400_and_only_audited(world: TestWorld, panel: TestClient) -> None:
    make_staff(world)
    before = world.snapshot()
    audited_before = world.scalar("SELECT count(*) FROM audit_log WHERE action = 'login_failed'")
    fields = {"username": STAFF_USERNAME, "password": STAFF_PASSWORD, "totp": "", "next": "/"}
    problems = []
    for name in fields:
        token = csrf_of(panel.get("/login").text)
        body = {**fields, name: fields[name] + "\x00", "csrf_token": token}
        problems.append(_refused(world, panel.post("/login", data=body, follow_redirects=False), f"login {name}"))
    assert [p for p in problems if p] == []
    # A refused log-in is still a failed log-in: one audit row each, and nothing else changed.
    assert world.scalar("SELECT count(*) FROM audit_log WHERE action = 'login_failed'") == audited_before + len(fields)
    after = world.snapshot()
    assert {table: rows for table, rows in after.items() if table != "audit_log"} == {
        table: rows for table, rows in before.items() if table != "audit_log"
    }
