"""Client programs and their releases as staff edit them in the panel (ORM path).

The License API reads the same rows through `domain.clients.service` (cached a few seconds), so a
change saved here is in force on every API instance once that cache expires.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Self
from urllib.parse import urlsplit

from packaging.version import InvalidVersion, Version
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import ClientConfig, ClientRelease
from licenseserver.db.models.clients import DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_MINIMUM_VERSION, DEFAULT_SESSION_TIMEOUT
from licenseserver.domain.fields import AppVersion
from licenseserver.kit.errors import AppError, ErrorCode

HEARTBEAT_MIN, HEARTBEAT_MAX = 5, 3600
SESSION_TIMEOUT_MAX = 86_400
DOWNLOAD_URL_MAX = 2048
RELEASE_NOTES_MAX = 10_000


def _empty_as_none(value: Any) -> Any:
    """An empty form field means "no value", not an empty string."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("muss eine http://- oder https://-Adresse sein")
    return value


ClientName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
HttpUrl = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=DOWNLOAD_URL_MAX), AfterValidator(_http_url)
]
DownloadUrl = Annotated[HttpUrl | None, BeforeValidator(_empty_as_none)]
ReleaseNotes = Annotated[
    Annotated[str, StringConstraints(max_length=RELEASE_NOTES_MAX)] | None, BeforeValidator(_empty_as_none)
]


class ClientConfigForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    client_name: ClientName
    heartbeat_interval: int = Field(ge=HEARTBEAT_MIN, le=HEARTBEAT_MAX)
    session_timeout: int = Field(le=SESSION_TIMEOUT_MAX)
    minimum_version: AppVersion

    @model_validator(mode="after")
    def _timeout_after_heartbeat(self) -> Self:
        # A timeout no longer than the interval would end every session between two heartbeats.
        if self.session_timeout <= self.heartbeat_interval:
            raise ValueError("Das Sitzungs-Timeout muss größer als das Heartbeat-Intervall sein")
        return self


class ReleaseForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: AppVersion
    release_date: date
    download_url: DownloadUrl = None
    release_notes: ReleaseNotes = None


def client_state(client: ClientConfig) -> dict[str, Any]:
    return {
        "client_name": client.client_name,
        "heartbeat_interval": client.heartbeat_interval,
        "session_timeout": client.session_timeout,
        "minimum_version": client.minimum_version,
    }


def new_client_state() -> dict[str, Any]:
    """The settings a new client starts with (the columns' defaults), for the empty form."""
    return {
        "heartbeat_interval": DEFAULT_HEARTBEAT_INTERVAL,
        "session_timeout": DEFAULT_SESSION_TIMEOUT,
        "minimum_version": DEFAULT_MINIMUM_VERSION,
    }


def release_state(release: ClientRelease) -> dict[str, Any]:
    return {
        "client_id": release.client_id,
        "version": release.version,
        "release_date": release.release_date.isoformat(),
        "download_url": release.download_url,
        "release_notes": release.release_notes,
    }


async def list_clients(session: AsyncSession) -> list[ClientConfig]:
    return list((await session.scalars(select(ClientConfig).order_by(ClientConfig.id))).all())


async def get_client(session: AsyncSession, client_id: int) -> ClientConfig:
    client = await session.get(ClientConfig, client_id)
    if client is None:
        raise AppError(404, ErrorCode.NOT_FOUND, f"Client {client_id} nicht gefunden")
    return client


def _name_taken(name: str) -> str:
    return f"Ein Client namens {name!r} existiert bereits."


async def _refuse_taken_name(session: AsyncSession, name: str, own_id: int | None) -> None:
    found = await session.scalar(select(ClientConfig.id).where(ClientConfig.client_name == name))
    if found is not None and found != own_id:
        raise AppError(409, ErrorCode.CONFLICT, _name_taken(name))


async def _write_or_conflict(session: AsyncSession, write: Callable[[], None], message: str) -> None:
    """Apply `write` in a savepoint: the unique constraints decide under parallel requests (the
    checks before are for the message), and a refusal leaves the request's transaction usable."""
    try:
        async with session.begin_nested():
            write()
    except IntegrityError:
        raise AppError(409, ErrorCode.CONFLICT, message) from None


async def create_client(session: AsyncSession, data: ClientConfigForm) -> ClientConfig:
    await _refuse_taken_name(session, data.client_name, None)
    client = ClientConfig(**data.model_dump())
    await _write_or_conflict(session, lambda: session.add(client), _name_taken(data.client_name))
    return client


async def update_client(session: AsyncSession, client: ClientConfig, data: ClientConfigForm) -> None:
    await _refuse_taken_name(session, data.client_name, client.id)

    def write() -> None:
        for name, value in data.model_dump().items():
            setattr(client, name, value)

    await _write_or_conflict(session, write, _name_taken(data.client_name))


def _version_sort_key(version: str) -> tuple[int, Version]:
    try:
        return (1, Version(version))
    except InvalidVersion:  # a malformed stored version sorts last, never first
        return (0, Version("0"))


async def list_releases(session: AsyncSession, client_id: int) -> list[ClientRelease]:
    """Newest version first, compared as versions (1.10.0 above 1.9.0). Sorted in Python: SQL
    cannot order version strings, and a client has tens of releases, not millions."""
    rows = (await session.scalars(select(ClientRelease).where(ClientRelease.client_id == client_id))).all()
    return sorted(rows, key=lambda release: _version_sort_key(release.version), reverse=True)


async def add_release(session: AsyncSession, client: ClientConfig, data: ReleaseForm) -> ClientRelease:
    wanted = Version(data.version)
    for existing in await list_releases(session, client.id):
        if _version_sort_key(existing.version) == (1, wanted):  # 1.2 and 1.2.0 are the same version
            raise AppError(409, ErrorCode.CONFLICT, f"Version {existing.version} ist bereits veröffentlicht.")
    release = ClientRelease(client_id=client.id, **data.model_dump())
    await _write_or_conflict(
        session, lambda: session.add(release), f"Version {data.version} ist bereits veröffentlicht."
    )
    return release


async def get_release(session: AsyncSession, client_id: int, release_id: int) -> ClientRelease:
    release = await session.get(ClientRelease, release_id)
    if release is None or release.client_id != client_id:
        raise AppError(404, ErrorCode.NOT_FOUND, f"Release {release_id} nicht gefunden")
    return release


async def delete_release(session: AsyncSession, release: ClientRelease) -> None:
    await session.delete(release)
    await session.flush()


async def newest_versions(session: AsyncSession, client_ids: list[int]) -> dict[int, str]:
    """Each client's current version (its highest release), in one query for the whole list."""
    if not client_ids:
        return {}
    rows = await session.execute(
        select(ClientRelease.client_id, ClientRelease.version).where(ClientRelease.client_id.in_(client_ids))
    )
    newest: dict[int, str] = {}
    for client_id, version in rows:
        held = newest.get(client_id)
        if held is None or _version_sort_key(version) > _version_sort_key(held):
            newest[client_id] = version
    return newest
