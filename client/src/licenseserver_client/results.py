"""What the calls return: typed views of the License API's JSON. `raw` keeps the whole answer,
since the server may add fields that this version of the library does not name yet."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Activation:
    id: int
    hardware_hash: str
    machine_name: str
    activated_at: str
    last_heartbeat: str
    is_active: bool
    app_version: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Activation:
        return cls(
            id=int(data["id"]),
            hardware_hash=str(data["hardware_hash"]),
            machine_name=str(data.get("machine_name") or ""),
            activated_at=str(data["activated_at"]),
            last_heartbeat=str(data["last_heartbeat"]),
            is_active=bool(data["is_active"]),
            app_version=_opt_str(data.get("app_version")),
        )


@dataclass(frozen=True)
class ActivateResult:
    message: str
    activation: Activation
    already_active: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ActivateResult:
        return cls(
            str(data["message"]), Activation.from_json(data["activation"]), bool(data.get("already_active")), data
        )


@dataclass(frozen=True)
class VerifiedLicense:
    key: str
    valid_until: str | None
    max_users: int


@dataclass(frozen=True)
class VerifyResult:
    """`from_cache` is true when the server could not be reached and a cached answer within the
    grace period stood in; `signed_at` is the server's signing time of the answer (Unix seconds)."""

    valid: bool
    message: str
    code: str | None
    license: VerifiedLicense | None
    update_available: bool | None
    latest_version: str | None
    signed_at: int
    from_cache: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], signed_at: int, from_cache: bool) -> VerifyResult:
        found = data.get("license")
        license_ = None
        if isinstance(found, dict):
            license_ = VerifiedLicense(str(found["key"]), _opt_str(found.get("valid_until")), int(found["max_users"]))
        update = data.get("update_available")
        return cls(
            valid=data["valid"] is True,
            message=str(data.get("message", "")),
            code=_opt_str(data.get("code")),
            license=license_,
            update_available=None if update is None else bool(update),
            latest_version=_opt_str(data.get("latest_version")),
            signed_at=signed_at,
            from_cache=from_cache,
            raw=data,
        )


@dataclass(frozen=True)
class LicenseDetails:
    id: int
    key: str
    customer_name: str
    type: str
    valid_from: str
    valid_until: str | None
    max_activations: int
    max_users: int
    is_active: bool


@dataclass(frozen=True)
class LicenseInfo:
    license: LicenseDetails
    activations: list[Activation]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LicenseInfo:
        found = data["license"]
        details = LicenseDetails(
            id=int(found["id"]),
            key=str(found["key"]),
            customer_name=str(found["customer_name"]),
            type=str(found["type"]),
            valid_from=str(found["valid_from"]),
            valid_until=_opt_str(found.get("valid_until")),
            max_activations=int(found["max_activations"]),
            max_users=int(found["max_users"]),
            is_active=bool(found["is_active"]),
        )
        return cls(details, [Activation.from_json(item) for item in data["activations"]], data)


@dataclass(frozen=True)
class VersionInfo:
    update_available: bool
    update_required: bool
    latest_version: str | None
    download_url: str | None
    release_notes: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VersionInfo:
        return cls(
            update_available=bool(data["update_available"]),
            update_required=bool(data.get("update_required", False)),
            latest_version=_opt_str(data.get("latest_version")),
            download_url=_opt_str(data.get("download_url")),
            release_notes=_opt_str(data.get("release_notes")),
            raw=data,
        )


@dataclass(frozen=True)
class OfflineLicenseFile:
    """A license file from checkout, already checked against the pinned keys and this device."""

    license_file: str
    expires_at: str

    def save(self, path: str | Path) -> Path:
        """Write the file as the panel offers it: the compact JWS and a newline."""
        target = Path(path)
        target.write_text(self.license_file + "\n", encoding="ascii")
        return target


@dataclass(frozen=True)
class OfflineLicense:
    """The claims of a license file that passed every check."""

    license_key: str
    hardware_hash: str
    license_type: str
    valid_from: str
    valid_until: str | None
    max_activations: int
    max_users: int
    issued_at: int
    expires_at: int
    jti: str
    kid: str
    claims: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class SessionInfo:
    session_token: str
    heartbeat_interval: int
    session_timeout: int
    started_at: str
    update_available: bool
    latest_version: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SessionInfo:
        return cls(
            session_token=str(data["session_token"]),
            heartbeat_interval=int(data["heartbeat_interval"]),
            session_timeout=int(data.get("session_timeout", 0)),
            started_at=str(data.get("started_at", "")),
            update_available=bool(data.get("update_available", False)),
            latest_version=_opt_str(data.get("latest_version")),
            raw=data,
        )
