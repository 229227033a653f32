"""Client library for the V2 License Server: every answer checked against the pinned signing keys
(and the keys a rotation brought, vouched for by them)."""

from licenseserver_client._rotation import DEFAULT_KEY_REFRESH
from licenseserver_client.cache import default_cache_path
from licenseserver_client.client import CLOCK_TOLERANCE, DEFAULT_GRACE, LicenseClient
from licenseserver_client.errors import (
    ApiError,
    ClockError,
    KeySetError,
    LicenseError,
    OfflineFailure,
    OfflineLicenseError,
    ServerUnavailableError,
    SessionLostError,
    SignatureError,
    SignatureFailure,
)
from licenseserver_client.hardware import default_hardware_hash
from licenseserver_client.keys import jwk_thumbprint, load_key_set
from licenseserver_client.results import (
    ActivateResult,
    Activation,
    LicenseDetails,
    LicenseInfo,
    OfflineLicense,
    OfflineLicenseFile,
    SessionInfo,
    VerifiedLicense,
    VerifyResult,
    VersionInfo,
)
from licenseserver_client.session import LicenseSession

__all__ = [
    "CLOCK_TOLERANCE",
    "DEFAULT_GRACE",
    "DEFAULT_KEY_REFRESH",
    "ActivateResult",
    "Activation",
    "ApiError",
    "ClockError",
    "KeySetError",
    "LicenseClient",
    "LicenseDetails",
    "LicenseError",
    "LicenseInfo",
    "LicenseSession",
    "OfflineFailure",
    "OfflineLicense",
    "OfflineLicenseError",
    "OfflineLicenseFile",
    "ServerUnavailableError",
    "SessionInfo",
    "SessionLostError",
    "SignatureError",
    "SignatureFailure",
    "VerifiedLicense",
    "VerifyResult",
    "VersionInfo",
    "default_cache_path",
    "default_hardware_hash",
    "jwk_thumbprint",
    "load_key_set",
]
