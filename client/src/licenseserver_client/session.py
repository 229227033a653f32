"""A license session: started, kept alive by heartbeats on a daemon thread, ended on exit."""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

from licenseserver_client.errors import ApiError, LicenseError, SessionLostError
from licenseserver_client.results import SessionInfo

# The server's refusals that mean the session is gone for good; anything else (a timeout, a 5xx,
# a rate limit, an answer that failed its signature check) is retried at the next beat.
_FATAL_HEARTBEAT_STATUSES = frozenset({400, 401, 403, 404})
_MIN_INTERVAL_SECONDS = 1.0

OnLost = Callable[[SessionLostError], object]


class Caller(Protocol):
    def __call__(self, method: str, path: str, payload: dict[str, Any]) -> dict[str, Any]: ...


class LicenseSession:
    """Use as `with client.session(...) as session:`; `check()` raises once the session is lost.

    `on_lost` runs on the heartbeat thread (or in `start()` for a refusal at start).
    """

    def __init__(self, call: Caller, start_payload: dict[str, Any], on_lost: OnLost | None) -> None:
        self._call = call
        self._start_payload = start_payload
        self._on_lost = on_lost
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lost: SessionLostError | None = None
        self._ended = False
        self.info: SessionInfo | None = None
        self.beats = 0

    @property
    def token(self) -> str | None:
        return self.info.session_token if self.info else None

    @property
    def lost(self) -> SessionLostError | None:
        return self._lost

    def start(self) -> SessionInfo:
        try:
            data = self._call("POST", "/api/license/session/start", self._start_payload)
        except ApiError as refused:
            if refused.code != "SESSION_CONFLICT":
                raise
            lost = SessionLostError(refused.message, refused.code, refused.status)
            self._lose(lost)
            raise lost from refused
        self.info = SessionInfo.from_json(data)
        atexit.register(self._end_at_exit)
        self._thread = threading.Thread(target=self._beat, name="license-heartbeat", daemon=True)
        self._thread.start()
        return self.info

    def check(self) -> None:
        """Raise SessionLostError when the server ended or refused the session."""
        if self._lost is not None:
            raise self._lost

    def end(self) -> dict[str, Any] | None:
        """End the session at the server; the server's answer, or None when it was lost or ended."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        atexit.unregister(self._end_at_exit)
        if self._ended or self._lost is not None or self.info is None:
            return None
        self._ended = True
        return self._call("POST", "/api/license/session/end", {"session_token": self.info.session_token})

    def __enter__(self) -> LicenseSession:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        # An unreachable server at exit is no reason to fail the program: the server times the
        # session out on its own after `session_timeout`.
        with contextlib.suppress(LicenseError):
            self.end()

    def _end_at_exit(self) -> None:
        with contextlib.suppress(LicenseError):
            self.end()

    def _beat(self) -> None:
        assert self.info is not None
        interval = max(float(self.info.heartbeat_interval), _MIN_INTERVAL_SECONDS)
        payload = {"session_token": self.info.session_token, "license_key": self._start_payload["license_key"]}
        while not self._stop.wait(interval):
            try:
                data = self._call("POST", "/api/license/session/heartbeat", payload)
            except ApiError as refused:
                if refused.status in _FATAL_HEARTBEAT_STATUSES:
                    self._lose(SessionLostError(refused.message, refused.code, refused.status))
                    return
                continue
            except LicenseError:
                continue
            self.beats += 1
            with contextlib.suppress(KeyError, TypeError, ValueError):
                interval = max(float(data["heartbeat_interval"]), _MIN_INTERVAL_SECONDS)

    def _lose(self, error: SessionLostError) -> None:
        self._lost = error
        self._stop.set()
        atexit.unregister(self._end_at_exit)
        if self._on_lost is not None:
            self._on_lost(error)
