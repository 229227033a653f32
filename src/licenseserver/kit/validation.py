"""Reading request bodies into the domain's request models.

Routes parse with `model_validate_json` on the raw bytes instead of FastAPI's body parameters:
bench/run_bench.py measured FastAPI's request/response model machinery as the largest cost on
verify after the database. The models stay the single source of limits and of the OpenAPI text.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ValidationError
from starlette.requests import Request

from licenseserver.kit.errors import AppError, ErrorCode

M = TypeVar("M", bound=BaseModel)
NUL_MESSAGE = "must not contain NUL characters"
# The id columns are 32-bit: a larger id is bad input, never a database error.
MAX_ID = 2**31 - 1


def no_nul(value: str) -> str:
    # No text column can hold NUL (PostgreSQL refuses it even in a query's parameter): bad
    # input, never a failed query.
    if "\x00" in value:
        raise ValueError(NUL_MESSAGE)
    return value


# The text type of every query parameter and model field that reaches the database.
Text = Annotated[str, AfterValidator(no_nul)]


def validation_details(exc: ValidationError) -> list[dict[str, str]]:
    details = []
    for error in exc.errors(include_input=False, include_url=False):
        field = ".".join(str(part) for part in error["loc"]) or "body"
        details.append({"field": field, "message": error["msg"]})
    return details


def invalid_request(exc: ValidationError) -> AppError:
    details = validation_details(exc)
    first = details[0] if details else {"field": "body", "message": "invalid"}
    message = f"Invalid request: {first['field']}: {first['message']}"
    return AppError(400, ErrorCode.VALIDATION_ERROR, message, details=details)


def refuse_nul_characters(parsed: BaseModel) -> None:
    """A JSON-escaped NUL (`\\u0000`) is valid JSON but no text column can hold it (PostgreSQL
    refuses it outright): refuse it as bad input on every backend instead of failing later."""
    details = [
        {"field": name, "message": NUL_MESSAGE} for name, value in parsed if isinstance(value, str) and "\x00" in value
    ]
    if details:
        message = f"Invalid request: {details[0]['field']}: {details[0]['message']}"
        raise AppError(400, ErrorCode.VALIDATION_ERROR, message, details=details)


async def parse_body(request: Request, model: type[M]) -> M:
    raw = await request.body()
    try:
        parsed = model.model_validate_json(raw or b"null")
    except ValidationError as exc:
        raise invalid_request(exc) from None
    refuse_nul_characters(parsed)
    return parsed


def parse_value(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_request(exc) from None


def request_body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI text for a body read with parse_body (FastAPI cannot see it by itself)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }
