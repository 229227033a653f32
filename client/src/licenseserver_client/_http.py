"""One HTTP exchange through the standard library, signed-answer request headers included."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from licenseserver_client.errors import ServerUnavailableError
from licenseserver_client.signatures import SignedAnswer, accept_signature, new_nonce

_SIGNATURE_HEADERS = ("content-digest", "signature-input", "signature")
_MAX_BODY = 4 * 1024 * 1024  # no License API answer comes near this; a bigger one is not ours


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would change the path the answer is signed for; the answer is refused anyway,
    # so the redirect is not followed at all and the 3xx is checked (and refused) as it stands.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Transport:
    def __init__(self, base_url: str, api_key: str, timeout: float, user_agent: str) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"base_url must be an http:// or https:// address, not {base_url!r}")
        self.origin = f"{parsed.scheme}://{parsed.netloc}"
        self.prefix = parsed.path.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.user_agent = user_agent
        self.opener = urllib.request.build_opener(_NoRedirect())

    def exchange(self, method: str, path: str, payload: dict[str, Any] | None) -> SignedAnswer:
        """Send one request; the answer as received (not yet checked), or ServerUnavailableError."""
        full_path = self.prefix + path
        data = b"" if payload is None else json.dumps(payload).encode("utf-8")
        nonce = new_nonce(data)
        headers = {
            "X-API-Key": self.api_key,
            "Accept": "application/json",
            "Accept-Signature": accept_signature(nonce),
            "User-Agent": self.user_agent,
        }
        if payload is not None:
            headers["Content-Type"] = "application/json"
        # The scheme was checked to be http or https in __init__.
        url, sent = self.origin + full_path, data if payload is not None else None
        request = urllib.request.Request(url, data=sent, headers=headers, method=method)  # noqa: S310
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                body = response.read(_MAX_BODY + 1)
                return self._answer(response.status, response.headers, body, method, full_path, nonce, data)
        except urllib.error.HTTPError as error:
            with error:
                body = error.read(_MAX_BODY + 1)
            return self._answer(error.code, error.headers, body, method, full_path, nonce, data)
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ServerUnavailableError(f"cannot reach {self.origin}: {reason}", "SERVER_UNREACHABLE") from error

    @staticmethod
    def _answer(
        status: int, headers: Any, body: bytes, method: str, path: str, nonce: str, request_body: bytes
    ) -> SignedAnswer:
        kept = {}
        for name in _SIGNATURE_HEADERS:
            values = headers.get_all(name) if headers is not None else None
            if values:
                kept[name] = ", ".join(values)  # repeated fields combine as RFC 9110 says
        return SignedAnswer(status, kept, body, method, path, nonce, request_body)
