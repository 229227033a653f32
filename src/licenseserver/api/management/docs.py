"""How management operations describe themselves in /openapi.json: their errors, their bodies
and answers with examples, the Idempotency-Key header of creates, and the Bearer scheme."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from licenseserver.api.guard import MANAGEMENT_PREFIX
from licenseserver.api.schemas import DB_ERRORS, SIZE_ERRORS, errors

SECURITY_SCHEME = "BearerToken"
FASTAPI_VALIDATION = "Validation Error"  # the 422 FastAPI documents for every operation with parameters
# Every call: a token in the URL (400), no valid token (401), over the limit (429), too large (413).
CALL_ERRORS = ((400, "VALIDATION_ERROR"), (401, "INVALID_TOKEN"), (429, "RATE_LIMITED"), *SIZE_ERRORS, *DB_ERRORS)
WRITE_ERRORS = ((403, "INSUFFICIENT_SCOPE"),)
BODY_ERRORS = ((400, "VALIDATION_ERROR"), (415, "UNSUPPORTED_MEDIA_TYPE"))
IDEMPOTENCY_ERRORS = ((422, "IDEMPOTENCY_KEY_REUSED"),)
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any unique text up to 255 characters (a UUID, the shop's order number). A retry with "
    "the same key and the same body within 24 hours gets the first answer again instead of a second "
    "record; the same key with another body is refused with 422 IDEMPOTENCY_KEY_REUSED.",
    "schema": {"type": "string", "maxLength": 255},
    "example": "order-2026-10045",
}


def operation(
    summary: str,
    *codes: tuple[int, str],
    write: bool = False,
    body: type[BaseModel] | None = None,
    body_example: dict[str, Any] | None = None,
    answer_example: Any = None,
    status: int = 200,
    idempotent: bool = False,
) -> dict[str, Any]:
    """The keyword arguments of a route decorator: summary, status, responses, body and header."""
    cases = [*CALL_ERRORS, *(WRITE_ERRORS if write else ()), *codes]
    if body is not None:
        cases += BODY_ERRORS
    if idempotent:
        cases += IDEMPOTENCY_ERRORS
    responses: dict[int | str, dict[str, Any]] = errors(*dict.fromkeys(cases))  # each code once
    if status == 204:
        responses[204] = {"description": "Done; no content"}
    else:
        answer: dict[str, Any] = {"description": "Success"}
        if answer_example is not None:
            answer["content"] = {"application/json": {"example": answer_example}}
        responses[status] = answer
    extra: dict[str, Any] = {}
    if body is not None:
        media: dict[str, Any] = {"schema": body.model_json_schema()}
        if body_example is not None:
            media["example"] = body_example
        extra["requestBody"] = {"required": True, "content": {"application/json": media}}
    if idempotent:
        extra["parameters"] = [IDEMPOTENCY_HEADER]
    return {"summary": summary, "status_code": status, "responses": responses, "openapi_extra": extra or None}


def document_management(schema: dict[str, Any]) -> None:
    """The Bearer scheme on every management operation of the finished document, and no 422 of
    FastAPI's own: bad query or path values are answered 400 VALIDATION_ERROR (api/errors.py)."""
    schema.setdefault("components", {}).setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A management API token (`licenseserver token create NAME --scope read|write`); "
        "never in the URL. The system X-API-Key does not open these paths.",
    }
    for path, operations in schema["paths"].items():
        if path.startswith(MANAGEMENT_PREFIX):
            for item in operations.values():
                item["security"] = [{SECURITY_SCHEME: []}]
                if item["responses"].get("422", {}).get("description") == FASTAPI_VALIDATION:
                    del item["responses"]["422"]
