"""Request bodies of the version endpoints."""

from __future__ import annotations

from licenseserver.domain.fields import ApiRequest, AppVersion, LicenseKey


class VersionCheckRequest(ApiRequest):
    current_version: AppVersion
    license_key: LicenseKey | None = None
