"""Answers of /api/version/check and /api/version/latest, from the current client's releases."""

from __future__ import annotations

from typing import Any

from licenseserver.domain.clients.schemas import VersionCheckRequest
from licenseserver.domain.clients.service import ClientCache
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.timefmt import iso_date


async def check_version(clients: ClientCache, request: VersionCheckRequest) -> dict[str, Any]:
    client = await clients.require()
    info = client.update_info(request.current_version)
    info["update_required"] = client.is_below_minimum(request.current_version)
    return info


async def latest_version(clients: ClientCache) -> dict[str, Any]:
    client = await clients.require()
    release = client.latest
    if release is None:
        raise AppError(404, ErrorCode.NOT_FOUND, "No release has been published yet")
    return {
        "version": release.version,
        "release_date": iso_date(release.release_date),
        "download_url": release.download_url,
        "release_notes": release.release_notes,
    }
