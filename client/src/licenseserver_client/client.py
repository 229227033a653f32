"""`LicenseClient`: the License API with every answer's signature checked."""

from __future__ import annotations

import json
import os
import time
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from licenseserver_client import offline
from licenseserver_client._http import Transport
from licenseserver_client._rotation import DEFAULT_KEY_REFRESH, KeySetFollower
from licenseserver_client.cache import LocalState, default_cache_path
from licenseserver_client.errors import (
    ApiError,
    ClockError,
    LicenseError,
    OfflineFailure,
    OfflineLicenseError,
    ServerUnavailableError,
    SignatureError,
    SignatureFailure,
)
from licenseserver_client.keys import KeySource, load_key_set
from licenseserver_client.results import (
    ActivateResult,
    LicenseInfo,
    OfflineLicense,
    OfflineLicenseFile,
    VerifyResult,
    VersionInfo,
)
from licenseserver_client.session import LicenseSession, OnLost
from licenseserver_client.signatures import SignedAnswer, Verified, verify_answer

DEFAULT_GRACE = timedelta(hours=72)
# How far the local clock may lag the newest signed server time before it counts as set back:
# enough for an unsynchronised desktop clock, far too little to stretch a license.
CLOCK_TOLERANCE = timedelta(minutes=5)
USER_AGENT = "licenseserver-client/0.1"
T = TypeVar("T")


class LicenseClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        public_keys: KeySource,
        *,
        cache_path: str | os.PathLike[str] | None = None,
        grace: timedelta = DEFAULT_GRACE,
        clock: Callable[[], float] = time.time,
        timeout: float = 10.0,
        clock_tolerance: timedelta = CLOCK_TOLERANCE,
        key_refresh: timedelta = DEFAULT_KEY_REFRESH,
    ) -> None:
        self.pinned_keys = load_key_set(public_keys)
        self.grace = grace
        self.clock = clock
        self.clock_tolerance = clock_tolerance
        self._transport = Transport(base_url, api_key, timeout, USER_AGENT)
        path = Path(cache_path) if cache_path is not None else default_cache_path(base_url)
        self.state = LocalState(path, self.pinned_keys)
        self._key_sets = KeySetFollower(self._transport, self.state, clock, key_refresh)

    @property
    def keys(self) -> Mapping[str, Ed25519PublicKey]:
        """The keys whose signatures the client believes now: the pinned set, or the JWK Set it
        learnt from them through a rotation (docs/signatures.md, "Key rotation")."""
        return self.state.keys

    # --- the License API -------------------------------------------------------------------

    def activate(self, license_key: str, hardware_hash: str, machine_name: str, app_version: str) -> ActivateResult:
        payload = {
            "license_key": license_key,
            "hardware_hash": hardware_hash,
            "machine_name": machine_name,
            "app_version": app_version,
        }
        return _parsed(ActivateResult.from_json, self.call("POST", "/api/license/activate", payload))

    def verify(self, license_key: str, hardware_hash: str, app_version: str | None = None) -> VerifyResult:
        """The server's verdict; while it cannot be reached, the last valid one within the grace period."""
        payload: dict[str, Any] = {"license_key": license_key, "hardware_hash": hardware_hash}
        if app_version is not None:
            payload["app_version"] = app_version
        cache_key = LocalState.verify_key(license_key, hardware_hash)
        try:
            answer, verified, data = self._exchange("POST", "/api/license/verify", payload)
        except ServerUnavailableError as unreachable:
            return self._verify_from_cache(license_key, hardware_hash, unreachable)
        result = _parsed(lambda d: VerifyResult.from_json(d, verified.created, from_cache=False), data)
        if result.valid:
            self.state.store_verify(cache_key, answer)
        else:
            # The server said no: an older "yes" must not outlive that in the grace period.
            self.state.drop_verify(cache_key)
        return result

    def info(self, license_key: str) -> LicenseInfo:
        path = "/api/license/info/" + urllib.parse.quote(license_key, safe="")
        return _parsed(LicenseInfo.from_json, self.call("GET", path, None))

    def check_version(self, current_version: str, license_key: str | None = None) -> VersionInfo:
        payload = {"current_version": current_version}
        if license_key is not None:
            payload["license_key"] = license_key
        return _parsed(VersionInfo.from_json, self.call("POST", "/api/version/check", payload))

    def checkout(self, license_key: str, hardware_hash: str, ttl_days: int | None = None) -> OfflineLicenseFile:
        """An offline license file for this device, checked before it is handed over."""
        payload: dict[str, Any] = {"license_key": license_key, "hardware_hash": hardware_hash}
        if ttl_days is not None:
            payload["ttl_days"] = ttl_days
        data = self.call("POST", "/api/license/checkout", payload)
        token, expires_at = data.get("license_file"), data.get("expires_at")
        if not isinstance(token, str) or not isinstance(expires_at, str):
            raise LicenseError("the checkout answer holds no license file", "BAD_ANSWER", 200)
        self.check_offline(token.encode("ascii", "replace"), hardware_hash)
        return OfflineLicenseFile(token, expires_at)

    def check_offline(self, file: str | os.PathLike[str] | bytes, hardware_hash: str) -> OfflineLicense:
        """Check a license file (a path, or the file's bytes) for this device, without the server."""
        text = _read_license_file(file)
        claims, kid = offline.verify_license_file(text, self.keys)
        now = self.clock()
        self._guard_clock(now, signed_floor=claims["iat"])
        checked = offline.check_claims(claims, kid, hardware_hash, now)
        self.state.record_license_file(text.strip(), checked.issued_at)
        return checked

    def session(
        self, license_key: str, hardware_hash: str, machine_name: str, version: str, on_lost: OnLost | None = None
    ) -> LicenseSession:
        """A session to use with `with`: started on entry, heartbeats on a thread, ended on exit."""
        payload = {
            "license_key": license_key,
            "machine_id": machine_name,
            "hardware_hash": hardware_hash,
            "version": version,
        }
        return LicenseSession(self.call, payload, on_lost)

    # --- one signed exchange ---------------------------------------------------------------

    def call(self, method: str, path: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        """One request; the answer's JSON when it is a signed 200, else the matching error."""
        return self._exchange(method, path, payload)[2]

    def _exchange(
        self, method: str, path: str, payload: dict[str, Any] | None
    ) -> tuple[SignedAnswer, Verified, dict[str, Any]]:
        self._guard_clock(self.clock())
        answer = self._transport.exchange(method, path, payload)
        if answer.status >= 500:
            raise self._unavailable(answer)
        verified = self._verified(answer)
        self.state.record_answer(answer, verified)
        self._key_sets.during_overlap()
        data = _json_object(answer)
        if answer.status != 200:
            raise ApiError(str(data.get("error", "")), str(data.get("code", "UNKNOWN")), answer.status)
        return answer, verified, data

    def _verified(self, answer: SignedAnswer) -> Verified:
        try:
            return verify_answer(answer, self.keys, self.clock())
        except SignatureError as refused:
            # Signed by a key not trusted yet: a rotation, if a trusted key signs the set naming it.
            if refused.reason is not SignatureFailure.UNKNOWN_KEY or not self._key_sets.after_unknown_key():
                raise
        return verify_answer(answer, self.keys, self.clock())

    def _unavailable(self, answer: SignedAnswer) -> ServerUnavailableError:
        """A 5xx counts as an outage whether signed or not: a proxy in front answers 502 unsigned,
        and a forged 5xx gains an attacker no more than cutting the line would."""
        try:
            verify_answer(answer, self.keys, self.clock())
            data = _json_object(answer)
            return ServerUnavailableError(
                str(data.get("error", "")), str(data.get("code", "SERVER_ERROR")), answer.status
            )
        except LicenseError:  # SignatureError included
            return ServerUnavailableError(f"the server answered {answer.status}", "SERVER_ERROR", answer.status)

    def _verify_from_cache(
        self, license_key: str, hardware_hash: str, unreachable: ServerUnavailableError
    ) -> VerifyResult:
        cached = self.state.load_verify(license_key, hardware_hash)
        if cached is None:
            raise unreachable
        answer, verified = cached
        now = self.clock()
        self._guard_clock(now, signed_floor=verified.created)
        try:
            result = VerifyResult.from_json(_json_object(answer), verified.created, from_cache=True)
        except (LicenseError, KeyError, TypeError, ValueError):
            raise unreachable from None
        if not result.valid or result.license is None or result.license.key != license_key:
            raise unreachable
        if now - verified.created > self.grace.total_seconds():
            hours = self.grace.total_seconds() / 3600
            raise ServerUnavailableError(
                f"{unreachable.message}; the last valid answer is older than the grace period of {hours:g} h",
                "GRACE_PERIOD_OVER",
                unreachable.status,
            ) from unreachable
        return result

    def _guard_clock(self, now: float, signed_floor: int | None = None) -> None:
        floors = [t for t in (self.state.newest_server_time(), signed_floor) if t is not None]
        if floors and now < max(floors) - self.clock_tolerance.total_seconds():
            raise ClockError(
                f"the local clock ({int(now)}) lies before a time the server has signed ({max(floors)}): "
                "it has been set back"
            )


def _json_object(answer: SignedAnswer) -> dict[str, Any]:
    try:
        data = json.loads(answer.body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise LicenseError("the answer is not a JSON object", "BAD_ANSWER", answer.status)
    return data


def _parsed(parse: Callable[[dict[str, Any]], T], data: dict[str, Any]) -> T:
    try:
        return parse(data)
    except (KeyError, TypeError, ValueError) as error:
        raise LicenseError(f"the answer lacks an expected field: {error}", "BAD_ANSWER", 200) from error


def _read_license_file(file: str | os.PathLike[str] | bytes) -> str:
    try:
        raw = file if isinstance(file, bytes) else Path(file).read_bytes()
        return raw.decode("ascii")
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise OfflineLicenseError(OfflineFailure.MALFORMED, f"cannot read the license file: {error}") from None
