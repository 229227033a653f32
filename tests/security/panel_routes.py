"""The panel's routes as its router declares them, and the table of every state-changing route
with a request that would change something. The suite checks the table against the router, so a
route added without an entry here fails it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from licenseserver.admin.deps import UNSAFE_METHODS
from licenseserver.domain.leads.csv_format import write_csv
from tests.admin.conftest import STAFF_PASSWORD, STAFF_USERNAME

Ids = dict[str, Any]
Body = Callable[[Ids], dict[str, Any]]
# The seeded row a path parameter names (conftest.seed_everything).
PATH_IDS = {
    "customer_id": "customer",
    "license_id": "license",
    "device_id": "device",
    "session_id": "session",
    "resource_id": "free_resource",
    "client_id": "client",
    "release_id": "release",
    "lead_id": "lead",
    "contact_id": "contact",
    "note_id": "note",
    "kid": "previous_key",
    "token_id": "api_token",
    "endpoint_id": "webhook_endpoint",
    "delivery_id": "webhook_delivery",
}


def concrete_path(route: APIRoute, ids: Ids) -> str:
    """The route's path with every parameter replaced by the seeded row it names."""
    return route.path.format(**{name: ids[key] for name, key in PATH_IDS.items()})


def api_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    """(method, route) for every method of every route the admin app serves."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            for method in sorted(route.methods):
                yield method, route


def unsafe_routes(app: FastAPI) -> set[tuple[str, str]]:
    return {(method, route.path) for method, route in api_routes(app) if method in UNSAFE_METHODS}


def get_routes(app: FastAPI) -> list[APIRoute]:
    return [route for method, route in api_routes(app) if method == "GET"]


@dataclass(frozen=True)
class Unsafe:
    """How to call one state-changing route: its URL (placeholders name keys of the seeded ids),
    the kind of body and a body that succeeds with the right CSRF token."""

    url: str
    kind: Literal["form", "json", "upload"]
    body: Body = field(default=lambda ids: {})
    # False where a correct request writes nothing by design, or needs what a test cannot
    # produce (a second factor's current code): the "it would have changed" proof is skipped.
    changes: bool = True

    def concrete_url(self, ids: Ids) -> str:
        return self.url.format(**ids)


def _license_form(ids: Ids) -> dict[str, Any]:
    return {
        "customer_id": str(ids["customer"]),
        "license_type": "subscription",
        "valid_from": "2026-01-01",
        "valid_until": "2030-12-31",
        "max_activations": "3",
        "max_users": "2",
        "is_active": "on",
    }


def _client_form(_ids: Ids) -> dict[str, Any]:
    return {
        "client_name": "Zweiter Client",
        "heartbeat_interval": "20",
        "session_timeout": "60",
        "minimum_version": "1.0.0",
    }


def _release_form(_ids: Ids) -> dict[str, Any]:
    return {
        "version": "9.1.0",
        "release_date": "2026-02-01",
        "download_url": "https://dl.example.test/9.1.0",
        "release_notes": "Neu",
    }


def _webhook_form(_ids: Ids) -> dict[str, Any]:
    return {
        "url": "https://93.184.215.15/other",
        "description": "CRM",
        "event_types": ["lead.created"],
        "enabled": "on",
    }


LEAD_CSV = write_csv([["s1", "Uni Süd", "university", "", "k1", "Max", "Muster", "", "email", "max@sued.example", ""]])

UNSAFE: dict[tuple[str, str], Unsafe] = {
    ("POST", "/login"): Unsafe("/login", "form", lambda ids: {"username": STAFF_USERNAME, "password": STAFF_PASSWORD}),
    ("POST", "/logout"): Unsafe("/logout", "form"),
    ("POST", "/customers/new"): Unsafe(
        "/customers/new", "form", lambda ids: {"name": "Neu AG", "email": "neu@ag.example"}
    ),
    ("POST", "/customers/{customer_id}/edit"): Unsafe(
        "/customers/{customer}/edit",
        "form",
        lambda ids: {"name": "Umbenannt AG", "email": "neu@ag.example", "next": "/customers?q=AG"},
    ),
    ("POST", "/customers/{customer_id}/delete"): Unsafe("/customers/{bare_customer}/delete", "form"),
    ("POST", "/licenses/bulk"): Unsafe(
        "/licenses/bulk",
        "form",
        lambda ids: {"action": "deactivate", "license_ids": str(ids["license"]), "back": "q=x"},
    ),
    ("POST", "/licenses/new"): Unsafe(
        "/licenses/new", "form", lambda ids: {**_license_form(ids), "license_key": "ABCD-EFGH-JKLM-NPQR"}
    ),
    ("POST", "/licenses/{license_id}/edit"): Unsafe(
        "/licenses/{license}/edit", "form", lambda ids: {**_license_form(ids), "next": "/licenses?state=active"}
    ),
    ("POST", "/licenses/{license_id}/delete"): Unsafe("/licenses/{license}/delete", "form"),
    ("POST", "/licenses/{license_id}/quick-edit"): Unsafe(
        "/licenses/{license}/quick-edit",
        "form",
        lambda ids: {"valid_until": "2031-01-31", "max_activations": "7", "max_users": "4"},
    ),
    ("POST", "/licenses/{license_id}/devices"): Unsafe(
        "/licenses/{license}/devices",
        "form",
        lambda ids: {"hardware_hash": "hw-form", "machine_name": "PC-2", "app_version": "1.0.0"},
    ),
    ("POST", "/licenses/{license_id}/devices/{device_id}/deactivate"): Unsafe(
        "/licenses/{license}/devices/{device}/deactivate", "form"
    ),
    ("POST", "/licenses/{license_id}/sessions/{session_id}/end"): Unsafe(
        "/licenses/{license}/sessions/{session}/end", "form"
    ),
    ("POST", "/licenses/{license_id}/resources/allocate"): Unsafe(
        "/licenses/{license}/resources/allocate", "form", lambda ids: {"resource_type": "domain", "count": "1"}
    ),
    ("POST", "/licenses/{license_id}/resources/{resource_id}/release"): Unsafe(
        "/licenses/{license}/resources/{allocated_resource}/release", "form"
    ),
    ("POST", "/sessions/{session_id}/end"): Unsafe("/sessions/{session}/end", "form"),
    ("POST", "/resources/add"): Unsafe(
        "/resources/add", "form", lambda ids: {"resource_type": "domain", "identifiers": "neu.example"}
    ),
    ("POST", "/resources/{resource_id}/release"): Unsafe(
        "/resources/{allocated_resource}/release", "form", lambda ids: {"back": "/resources"}
    ),
    ("POST", "/resources/{resource_id}/quarantine"): Unsafe(
        "/resources/{free_resource}/quarantine", "form", lambda ids: {"back": "/resources"}
    ),
    ("POST", "/administration/api-key"): Unsafe("/administration/api-key", "form"),
    ("POST", "/administration/signing-keys/rotate"): Unsafe("/administration/signing-keys/rotate", "form"),
    ("POST", "/administration/signing-keys/{kid}/retire"): Unsafe(
        "/administration/signing-keys/{previous_key}/retire", "form"
    ),
    # Issues a credential and changes no license, but the audit log records who took one.
    ("POST", "/licenses/{license_id}/devices/{device_id}/offline-file"): Unsafe(
        "/licenses/{license}/devices/{device}/offline-file", "form"
    ),
    ("POST", "/administration/rate-limits"): Unsafe(
        "/administration/rate-limits", "form", lambda ids: {"api_per_minute": "77", "login_per_minute": "4"}
    ),
    ("POST", "/administration/clients"): Unsafe("/administration/clients", "form", _client_form),
    ("POST", "/administration/clients/{client_id}"): Unsafe(
        "/administration/clients/{client}", "form", lambda ids: {**_client_form(ids), "client_name": "Account Forger"}
    ),
    ("POST", "/administration/clients/{client_id}/releases"): Unsafe(
        "/administration/clients/{client}/releases", "form", _release_form
    ),
    ("POST", "/administration/clients/{client_id}/releases/{release_id}/delete"): Unsafe(
        "/administration/clients/{client}/releases/{release}/delete", "form"
    ),
    ("POST", "/administration/api-tokens"): Unsafe(
        "/administration/api-tokens", "form", lambda ids: {"name": "Zweiter Zugang", "scope": "read"}
    ),
    ("POST", "/administration/api-tokens/{token_id}/revoke"): Unsafe(
        "/administration/api-tokens/{api_token}/revoke", "form"
    ),
    ("POST", "/administration/webhooks"): Unsafe("/administration/webhooks", "form", _webhook_form),
    ("POST", "/administration/webhooks/{endpoint_id}"): Unsafe(
        "/administration/webhooks/{webhook_endpoint}", "form", _webhook_form
    ),
    ("POST", "/administration/webhooks/{endpoint_id}/delete"): Unsafe(
        "/administration/webhooks/{webhook_endpoint}/delete", "form"
    ),
    ("POST", "/administration/webhooks/{endpoint_id}/secret"): Unsafe(
        "/administration/webhooks/{webhook_endpoint}/secret", "form"
    ),
    ("POST", "/administration/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver"): Unsafe(
        "/administration/webhooks/{webhook_endpoint}/deliveries/{webhook_delivery}/redeliver", "form"
    ),
    ("POST", "/account/password"): Unsafe(
        "/account/password",
        "form",
        lambda ids: {
            "current_password": STAFF_PASSWORD,
            "new_password": "ein neues langes Passwort 42",
            "new_password_repeat": "ein neues langes Passwort 42",
        },
    ),
    ("POST", "/account/totp"): Unsafe("/account/totp", "form", lambda ids: {"enrolment": "x", "code": "123456"}, False),
    ("POST", "/account/totp/disable"): Unsafe(
        "/account/totp/disable", "form", lambda ids: {"password": STAFF_PASSWORD}, False
    ),
    ("POST", "/account/recovery-codes"): Unsafe(
        "/account/recovery-codes", "form", lambda ids: {"password": STAFF_PASSWORD}, False
    ),
    ("POST", "/account/language"): Unsafe("/account/language", "form", lambda ids: {"language": "en"}),
    ("POST", "/leads/create"): Unsafe("/leads/create", "form", lambda ids: {"name": "Firma Ost", "type": "company"}),
    ("POST", "/leads/update/{lead_id}"): Unsafe(
        "/leads/update/{lead}", "form", lambda ids: {"name": "Uni Nord-West", "type": "university"}
    ),
    ("POST", "/leads/delete/{lead_id}"): Unsafe("/leads/delete/{lead}", "form", lambda ids: {"confirm": "yes"}),
    ("POST", "/leads/import"): Unsafe("/leads/import", "upload", lambda ids: {"file": LEAD_CSV}),
    ("POST", "/api/license/{license_id}/toggle"): Unsafe("/api/license/{license}/toggle", "json"),
    ("POST", "/api/licenses/bulk-activate"): Unsafe(
        "/api/licenses/bulk-activate", "json", lambda ids: {"license_ids": [ids["license"]]}, False
    ),
    ("POST", "/api/licenses/bulk-deactivate"): Unsafe(
        "/api/licenses/bulk-deactivate", "json", lambda ids: {"license_ids": [ids["license"]]}
    ),
    ("POST", "/api/licenses/bulk-delete"): Unsafe(
        "/api/licenses/bulk-delete", "json", lambda ids: {"license_ids": [ids["license"]]}
    ),
    ("POST", "/api/license/{license_id}/quick-edit"): Unsafe(
        "/api/license/{license}/quick-edit", "json", lambda ids: {"max_users": 9}
    ),
    ("POST", "/api/generate-license-key"): Unsafe("/api/generate-license-key", "json", changes=False),
    ("POST", "/api/license/{license_id}/register-device"): Unsafe(
        "/api/license/{license}/register-device",
        "json",
        lambda ids: {"hardware_hash": "hw-json", "machine_name": "PC-3", "app_version": "1.0.0"},
    ),
    ("POST", "/api/license/{license_id}/deactivate-device/{device_id}"): Unsafe(
        "/api/license/{license}/deactivate-device/{device}", "json"
    ),
    ("POST", "/api/sessions/{session_id}/end"): Unsafe("/api/sessions/{session}/end", "json"),
    ("POST", "/api/resources/allocate"): Unsafe(
        "/api/resources/allocate",
        "json",
        lambda ids: {"license_id": ids["license"], "resource_ids": [ids["free_resource"]]},
    ),
    ("POST", "/api/resources/{resource_id}/release"): Unsafe("/api/resources/{allocated_resource}/release", "json"),
    ("POST", "/api/resources/{resource_id}/quarantine"): Unsafe("/api/resources/{free_resource}/quarantine", "json"),
    ("POST", "/leads/api/institutions"): Unsafe(
        "/leads/api/institutions", "json", lambda ids: {"name": "Behörde West", "type": "government"}
    ),
    ("POST", "/leads/api/contacts"): Unsafe(
        "/leads/api/contacts",
        "json",
        lambda ids: {"first_name": "Grace", "last_name": "Hopper", "position": "", "institution_id": ids["lead"]},
    ),
    ("POST", "/leads/api/contacts/{contact_id}/details"): Unsafe(
        "/leads/api/contacts/{contact}/details", "json", lambda ids: {"type": "phone", "value": "+49 30 1234567"}
    ),
    ("POST", "/leads/api/contacts/{contact_id}/notes"): Unsafe(
        "/leads/api/contacts/{contact}/notes", "json", lambda ids: {"content": "Rückruf"}
    ),
    ("PUT", "/leads/api/notes/{note_id}"): Unsafe("/leads/api/notes/{note}", "json", lambda ids: {"content": "Neu"}),
}
