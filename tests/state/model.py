"""The License API's rules (CONTRACT.md §5) as plain Python, for the state machine beside it.

The model knows nothing of SQL or HTTP: it holds what a reader of the contract expects, and the
machine compares every answer of the real app with it. Ids and session tokens are chosen by the
server; the model learns them from the first answer that names them and holds the server to them
from then on.

Time in the model is virtual: `pass_seconds` and `pass_days` age what the model holds. Real time
also passes while a run goes on (milliseconds per step); the session rules are kept clear of
that by `clear_step`, which never lets a live session's silence land close to the timeout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

SESSION_TIMEOUT = 90  # seconds: the seeded client "Account Forger" (tests/support/database.py)
# Real seconds one example may take (a few on a quiet machine, several times that on a busy one);
# a time step never leaves a live session's virtual silence within this margin below the timeout.
REAL_TIME_MARGIN = 20


@dataclass(frozen=True, slots=True)
class Expected:
    status: int
    code: str | None = None


@dataclass
class LicenseModel:
    key: str
    license_id: int
    is_active: bool
    valid_from: date
    valid_until: date | None
    max_activations: int
    active: dict[str, int] = field(default_factory=dict)  # hardware hash -> its active activation
    retired: dict[str, list[int]] = field(default_factory=dict)  # hardware hash -> deactivated ones

    def refusal(self, today: date) -> str | None:
        """Why the license cannot be used today (UTC), or None when it can."""
        if not self.is_active:
            return "LICENSE_INACTIVE"
        if self.valid_from > today:
            return "LICENSE_NOT_YET_VALID"
        if self.valid_until is not None and self.valid_until < today:
            return "LICENSE_EXPIRED"
        return None


@dataclass
class SessionModel:
    token: str
    license_key: str
    hardware_hash: str
    since_start: int = 0  # virtual seconds since it started
    silence: int = 0  # virtual seconds since its last heartbeat (or start)
    ended_reason: str | None = None  # set when a client or staff ended it while it was live
    ended_after: int | None = None  # its virtual duration when it was ended that way
    reported_duration: int | None = None  # what the first answer to an end said

    def over_reason(self) -> str | None:
        """How the session is over ("normal", "admin", "timeout"), or None while it is live."""
        if self.ended_reason is not None:
            return self.ended_reason
        return "timeout" if self.silence >= SESSION_TIMEOUT else None

    @property
    def live(self) -> bool:
        return self.over_reason() is None

    def least_duration(self) -> int:
        """The duration an end must report at least: real time only ever adds to it."""
        if self.ended_after is not None:
            return self.ended_after
        return self.since_start - self.silence  # a timeout ends at the last heartbeat

    def end_now(self, reason: str) -> None:
        if self.live:
            self.ended_reason = reason
            self.ended_after = self.since_start


class LicensingModel:
    def __init__(self, api_key: str) -> None:
        self.licenses: list[LicenseModel] = []
        self.sessions: list[SessionModel] = []
        self.api_key = api_key
        self.old_keys: list[str] = []

    def license(self, key: str) -> LicenseModel | None:
        return next((lic for lic in self.licenses if lic.key == key), None)

    # ---- activations -------------------------------------------------------------------------

    def expect_activate(self, key: str, hardware_hash: str, today: date) -> Expected:
        lic = self.license(key)
        if lic is None:
            return Expected(404, "LICENSE_NOT_FOUND")
        refusal = lic.refusal(today)
        if refusal is not None:
            return Expected(403, refusal)
        if hardware_hash not in lic.active and len(lic.active) >= lic.max_activations:
            return Expected(409, "ACTIVATION_LIMIT_REACHED")
        return Expected(200)

    def activated(self, key: str, hardware_hash: str, activation_id: int) -> None:
        lic = self.license(key)
        assert lic is not None
        lic.active[hardware_hash] = activation_id

    def expect_verify(self, key: str, hardware_hash: str, today: date) -> str | None:
        """The refusal code of a verify, or None for `valid: true`."""
        lic = self.license(key)
        if lic is None:
            return "LICENSE_NOT_FOUND"
        refusal = lic.refusal(today)
        if refusal is not None:
            return refusal
        return None if hardware_hash in lic.active else "DEVICE_NOT_ACTIVATED"

    def deactivation_target(self, key: str, hardware_hash: str) -> tuple[int, Expected]:
        """The device id staff act on for this device, and what deactivating it must give:
        its active activation (200), else an old one (409 CONFLICT), else none at all (404)."""
        lic = self.license(key)
        assert lic is not None
        if hardware_hash in lic.active:
            return lic.active[hardware_hash], Expected(200)
        if lic.retired.get(hardware_hash):
            return lic.retired[hardware_hash][-1], Expected(409, "CONFLICT")
        return 999_999, Expected(404, "DEVICE_NOT_FOUND")

    def deactivated(self, key: str, hardware_hash: str) -> None:
        lic = self.license(key)
        assert lic is not None
        lic.retired.setdefault(hardware_hash, []).append(lic.active.pop(hardware_hash))
        # A deactivated device must not keep running on the session it started before.
        for session in self.sessions:
            if session.license_key == key and session.hardware_hash == hardware_hash:
                session.end_now("admin")

    # ---- sessions ----------------------------------------------------------------------------

    def live_session_of(self, key: str) -> SessionModel | None:
        return next((s for s in self.sessions if s.license_key == key and s.live), None)

    def expect_start(self, key: str, hardware_hash: str, today: date) -> Expected:
        lic = self.license(key)
        if lic is None:
            return Expected(404, "LICENSE_NOT_FOUND")
        refusal = lic.refusal(today)
        if refusal is not None:
            return Expected(403, refusal)
        if hardware_hash not in lic.active:
            return Expected(403, "DEVICE_NOT_ACTIVATED")
        if self.live_session_of(key) is not None:
            return Expected(409, "SESSION_CONFLICT")
        return Expected(200)

    def started(self, key: str, hardware_hash: str, token: str) -> None:
        self.sessions.append(SessionModel(token, key, hardware_hash))

    @staticmethod
    def expect_heartbeat(session: SessionModel, key: str) -> Expected:
        if session.live and key == session.license_key:
            return Expected(200)
        return Expected(404, "SESSION_NOT_FOUND")

    # ---- time --------------------------------------------------------------------------------

    def clear_step(self, seconds: int) -> int:
        """`seconds`, lengthened until no live session's silence ends within the margin below
        the timeout (or on it): there the real seconds of the run could tip the answer."""
        band = range(SESSION_TIMEOUT - REAL_TIME_MARGIN, SESSION_TIMEOUT + 1)
        while any(s.silence + seconds in band for s in self.sessions if s.live):
            seconds += 1
        return seconds

    def pass_seconds(self, seconds: int) -> None:
        for session in self.sessions:
            session.since_start += seconds
            session.silence += seconds

    def pass_days(self, days: int) -> None:
        for lic in self.licenses:
            lic.valid_from -= timedelta(days=days)
            if lic.valid_until is not None:
                lic.valid_until -= timedelta(days=days)
        self.pass_seconds(days * 86_400)
