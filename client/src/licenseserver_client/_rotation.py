"""When the client fetches the server's JWK Set (keychain.py says when it believes it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

from licenseserver_client._http import Transport
from licenseserver_client.cache import LocalState
from licenseserver_client.errors import ServerUnavailableError
from licenseserver_client.keychain import JWKS_PATH

# After a fetch for an answer by an unknown key that brought no new key, the next such fetch waits
# this long: whoever can forge such answers (anyone on the wire) cannot make the client hammer the
# server with them. A fetch that did bring a new key needs only a trusted signature to repeat, which
# a forger cannot make, so rotations in quick succession are followed at once.
UNKNOWN_KEY_FETCH_INTERVAL = timedelta(minutes=1)
# While more than one key is trusted, a rotation is under way; the set is read again this often
# to learn when staff retire the older key.
DEFAULT_KEY_REFRESH = timedelta(hours=1)


class KeySetFollower:
    def __init__(
        self,
        transport: Transport,
        state: LocalState,
        clock: Callable[[], float],
        refresh: timedelta = DEFAULT_KEY_REFRESH,
    ) -> None:
        self._transport = transport
        self._state = state
        self._clock = clock
        self._refresh = refresh.total_seconds()
        self._lock = threading.Lock()
        # time.monotonic(), not the user's clock, which may be moved
        self._last_fetch = float("-inf")
        self._last_fruitless = float("-inf")

    def after_unknown_key(self) -> bool:
        """An answer named a key the client does not trust: fetch the set (unless a fetch for this
        reason brought nothing within the last minute); True when the trusted keys changed, and
        the answer is worth checking again."""
        with self._lock:
            if time.monotonic() - self._last_fruitless < UNKNOWN_KEY_FETCH_INTERVAL.total_seconds():
                return False
            changed = self._fetch()
            if not changed:
                self._last_fruitless = time.monotonic()
            return changed

    def during_overlap(self) -> None:
        """After a checked answer: while several keys are trusted, read the set again now and then,
        so that a key staff retired stops being trusted."""
        if len(self._state.keys) > 1:
            with self._lock:
                if time.monotonic() - self._last_fetch >= self._refresh:
                    self._fetch()

    def _fetch(self) -> bool:
        self._last_fetch = time.monotonic()
        try:
            answer = self._transport.exchange("GET", JWKS_PATH, None)
        except ServerUnavailableError:
            return False
        return self._state.learn_key_set(answer, self._clock())
