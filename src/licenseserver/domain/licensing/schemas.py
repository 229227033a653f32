"""Request bodies of the License API's license calls. Limits are part of the public contract
(docs/api.md); the field types are shared with other areas (domain/fields.py)."""

from __future__ import annotations

from licenseserver.domain.fields import ApiRequest, AppVersion, HardwareHash, LicenseKey, MachineName


class ActivateRequest(ApiRequest):
    license_key: LicenseKey
    hardware_hash: HardwareHash
    machine_name: MachineName = ""
    app_version: AppVersion | None = None


class VerifyRequest(ApiRequest):
    license_key: LicenseKey
    hardware_hash: HardwareHash
    app_version: AppVersion | None = None
