"""Lizenzserver Administration: the system API key, the client programs with their releases, the
rate limits and the signing keys (their actions live in signing_keys). A refused form is shown
again with its values and the reason (status 400/409)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import RedirectResponse, Response

from licenseserver.admin.deps import Db, Staff, actor_of
from licenseserver.admin.formdata import form_fields, parse_form
from licenseserver.admin.i18n import lazy_gettext as _l
from licenseserver.admin.rendering import render
from licenseserver.admin.routes.signing_keys import signing_section
from licenseserver.admin.state import admin_state
from licenseserver.db.models import ClientConfig
from licenseserver.db.unit_of_work import sql_connection
from licenseserver.domain.api_key.service import read_api_key, regenerate_api_key
from licenseserver.domain.audit.service import record
from licenseserver.domain.clients import admin as clients
from licenseserver.domain.settings.admin import RateLimitForm, current_rate_limits, limits_state, set_rate_limits
from licenseserver.domain.settings.service import RateLimits
from licenseserver.kit.errors import AppError
from licenseserver.kit.validation import MAX_ID

router = APIRouter()
RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]
SAVED_MESSAGES = {
    "api_key": _l("Ein neuer System-API-Key wurde generiert. Der alte Key ist ab sofort ungültig."),
    "rate_limits": _l("Die Rate-Limits wurden gespeichert. Sie gelten in wenigen Sekunden überall."),
    "client": _l("Der Client wurde gespeichert."),
    "release_added": _l("Das Release wurde hinzugefügt."),
    "release_deleted": _l("Das Release wurde gelöscht."),
    "signing_key_rotated": _l("Ein neuer Signaturschlüssel signiert ab sofort; der bisherige bleibt veröffentlicht."),
    "signing_key_retired": _l("Der Signaturschlüssel wurde zurückgezogen und steht nicht mehr im JWK Set."),
}
LABELS = {
    "api_per_minute": "API-Anfragen pro Minute",
    "login_per_minute": _l("Anmeldeversuche pro Minute"),
    "client_name": _l("Client-Name"),
    "heartbeat_interval": "Heartbeat-Intervall",
    "session_timeout": "Sitzungs-Timeout",
    "minimum_version": "Mindestversion",
    "version": "Version",
    "release_date": _l("Veröffentlichungsdatum"),
    "download_url": "Download-URL",
    "release_notes": _l("Release Notes"),
}


def _masked(key: str | None) -> str:
    return "–" if not key else f"{key[:8]}{'•' * 24}{key[-4:]}"


def _saved(request: Request) -> str:
    return str(SAVED_MESSAGES.get(request.query_params.get("saved", ""), ""))


def _defaults(request: Request) -> RateLimits:
    settings = admin_state(request).settings
    return RateLimits(settings.rate_limit_api_per_minute, settings.rate_limit_login_per_minute)


async def _overview(
    request: Request, db: Db, *, rate_form: dict[str, str] | None = None, error: str = "", status: int = 200
) -> Response:
    conn = await sql_connection(db)
    api_key = await read_api_key(conn)
    client_list = await clients.list_clients(db)
    limits = await current_rate_limits(db, _defaults(request))
    context = {
        "api_key": api_key,
        "masked_key": _masked(api_key),
        "clients": client_list,
        "newest": await clients.newest_versions(db, [c.id for c in client_list]),
        "rate_form": rate_form or {name: str(value) for name, value in limits_state(limits).items()},
        "error": error,
        "saved": _saved(request),
        **await signing_section(request, conn),
    }
    return render(request, "administration/index.html", context, status_code=status)


@router.get("/administration")
async def overview(request: Request, db: Db, staff: Staff) -> Response:
    return await _overview(request, db)


@router.post("/administration/api-key")
async def regenerate_key(request: Request, db: Db, staff: Staff) -> Response:
    # The SQL-layer rule the CLI uses, inside this request's transaction with its audit entry. Other
    # instances cache the key for at most a second.
    await regenerate_api_key(await sql_connection(db))
    await record(db, actor_of(request, staff), "api_key_regenerated", "system_api_key", 1)
    return RedirectResponse("/administration?saved=api_key", status_code=303)


@router.post("/administration/rate-limits")
async def save_rate_limits(request: Request, db: Db, staff: Staff) -> Response:
    fields: dict[str, str] | None = None  # the stored limits are shown when the form cannot be read
    try:
        fields = await form_fields(request)
        data = parse_form(RateLimitForm, fields, LABELS)
    except AppError as exc:
        return await _overview(request, db, rate_form=fields, error=exc.message, status=exc.status)
    before = limits_state(await current_rate_limits(db, _defaults(request)))
    await set_rate_limits(db, data)
    after = data.model_dump()
    if after != before:
        await record(db, actor_of(request, staff), "rate_limits_updated", "rate_limit_settings", 1, before, after)
    admin_state(request).rate_limits.invalidate()  # this instance's log-in throttle: at once
    return RedirectResponse("/administration?saved=rate_limits", status_code=303)


def _client_fields(client: ClientConfig | None) -> dict[str, str]:
    state = clients.new_client_state() if client is None else clients.client_state(client)
    return {name: str(value) for name, value in state.items()}


def _new_client_page(request: Request, form: dict[str, str], error: str = "", status: int = 200) -> Response:
    context = {"client": None, "form": form, "error": error}
    return render(request, "administration/client_form.html", context, status_code=status)


@router.get("/administration/clients/new")
async def new_client_form(request: Request, staff: Staff) -> Response:
    return _new_client_page(request, _client_fields(None))


@router.post("/administration/clients")
async def create_client(request: Request, db: Db, staff: Staff) -> Response:
    fields = _client_fields(None)  # shown again when the form cannot be read
    try:
        fields = await form_fields(request)
        client = await clients.create_client(db, parse_form(clients.ClientConfigForm, fields, LABELS))
    except AppError as exc:
        return _new_client_page(request, fields, exc.message, exc.status)
    after = clients.client_state(client)
    await record(db, actor_of(request, staff), "client_created", "client_config", client.id, None, after)
    return RedirectResponse(f"/administration/clients/{client.id}?saved=client", status_code=303)


async def _client_page(
    request: Request,
    db: Db,
    client: ClientConfig,
    *,
    form: dict[str, str] | None = None,
    release_form: dict[str, str] | None = None,
    error: str = "",
    release_error: str = "",
    status: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "client": client,
        "form": form or _client_fields(client),
        "releases": await clients.list_releases(db, client.id),
        "release_form": release_form or {},
        "error": error,
        "release_error": release_error,
        "saved": _saved(request),
    }
    return render(request, "administration/client.html", context, status_code=status)


@router.get("/administration/clients/{client_id}")
async def client_detail(request: Request, db: Db, staff: Staff, client_id: RecordId) -> Response:
    return await _client_page(request, db, await clients.get_client(db, client_id))


@router.post("/administration/clients/{client_id}")
async def update_client(request: Request, db: Db, staff: Staff, client_id: RecordId) -> Response:
    client = await clients.get_client(db, client_id)
    before = clients.client_state(client)
    fields: dict[str, str] | None = None  # the stored values are shown when the form cannot be read
    try:
        fields = await form_fields(request)
        await clients.update_client(db, client, parse_form(clients.ClientConfigForm, fields, LABELS))
    except AppError as exc:
        await db.refresh(client)  # show the stored values beside the refused ones, not a mix
        return await _client_page(request, db, client, form=fields, error=exc.message, status=exc.status)
    after = clients.client_state(client)
    if after != before:
        await record(db, actor_of(request, staff), "client_updated", "client_config", client.id, before, after)
    return RedirectResponse(f"/administration/clients/{client.id}?saved=client", status_code=303)


@router.post("/administration/clients/{client_id}/releases")
async def add_release(request: Request, db: Db, staff: Staff, client_id: RecordId) -> Response:
    client = await clients.get_client(db, client_id)
    fields: dict[str, str] | None = None
    try:
        fields = await form_fields(request)
        release = await clients.add_release(db, client, parse_form(clients.ReleaseForm, fields, LABELS))
    except AppError as exc:
        return await _client_page(
            request, db, client, release_form=fields, release_error=exc.message, status=exc.status
        )
    after = clients.release_state(release)
    await record(db, actor_of(request, staff), "release_added", "client_release", release.id, None, after)
    return RedirectResponse(f"/administration/clients/{client.id}?saved=release_added", status_code=303)


@router.post("/administration/clients/{client_id}/releases/{release_id}/delete")
async def delete_release(request: Request, db: Db, staff: Staff, client_id: RecordId, release_id: RecordId) -> Response:
    release = await clients.get_release(db, client_id, release_id)
    before = clients.release_state(release)
    await clients.delete_release(db, release)
    await record(db, actor_of(request, staff), "release_deleted", "client_release", release_id, before, None)
    return RedirectResponse(f"/administration/clients/{client_id}?saved=release_deleted", status_code=303)
