"""A man in the middle between the client library and the real License API: it forwards each
request and spoils one part of the real, signed answer the way an attacker on the wire could.

mode: body | status | path | replay | unsigned (None: passes answers through untouched), or
forged_jwks (the JWK Set's answer swapped for a set of the forger's key, signed by that key for
the request's nonce) and forged (that, and every other answer re-signed by the forger's key).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

FORWARDED = ("X-API-Key", "Accept-Signature", "Content-Type", "Accept")
KEPT = ("Content-Type", "Content-Digest", "Signature-Input", "Signature", "Retry-After")
JWKS_PATH = "/.well-known/jwks.json"
NONCE = re.compile(r';nonce="([^"]*)"')


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Forger:
    """An Ed25519 key of the attacker's own, with its JWK Set, signing as the server signs."""

    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        self.x = b64url(self.private.public_key().public_bytes_raw())
        canonical = '{"crv":"Ed25519","kty":"OKP","x":"' + self.x + '"}'
        self.kid = b64url(hashlib.sha256(canonical.encode()).digest())

    def jwks(self) -> bytes:
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": self.x, "kid": self.kid, "alg": "EdDSA", "use": "sig"}
        return json.dumps({"keys": [jwk]}).encode()

    def sign(self, status: int, body: bytes, method: str, path: str, accept_signature: str) -> dict[str, str]:
        found = NONCE.search(accept_signature)
        digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
        params = f'("@status" "content-digest" "@method";req "@path";req);created={int(time.time())}'
        params += f';keyid="{self.kid}";alg="ed25519"' + (f';nonce="{found.group(1)}"' if found else "")
        base = (
            f'"@status": {status}\n"content-digest": {digest}\n"@method";req: {method}\n"@path";req: {path}\n'
            f'"@signature-params": {params}'
        )
        signature = base64.b64encode(self.private.sign(base.encode())).decode()
        return {"Content-Digest": digest, "Signature-Input": f"sig1={params}", "Signature": f"sig1=:{signature}:"}


@dataclass
class Relayed:
    status: int
    headers: dict[str, str]
    body: bytes


class TamperingProxy:
    def __init__(self, upstream: str) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.mode: str | None = None
        self.other_path: str = "/"  # where `path` sends the request instead
        self.last: Relayed | None = None
        self.forger = Forger()
        self.paths: list[str] = []  # every request's path, as received
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def relay(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Relayed:
        """The real server's answer, then the spoiling the current mode asks for."""
        self.paths.append(path)
        if self.mode == "replay" and self.last is not None:
            return self.last  # signed by the server, for an earlier request's nonce
        sent_path = self.other_path if self.mode == "path" else path
        connection = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            connection.request(method, sent_path, body=body or None, headers=headers)
            response = connection.getresponse()
            answer = Relayed(
                response.status,
                {name: value for name in KEPT if (value := response.getheader(name)) is not None},
                response.read(),
            )
        finally:
            connection.close()
        self.last = answer
        if self.mode == "body":
            return Relayed(answer.status, answer.headers, answer.body.replace(b'"', b"'", 1))
        if self.mode == "status":
            return Relayed(203 if answer.status == 200 else answer.status + 1, answer.headers, answer.body)
        if self.mode in ("forged", "forged_jwks") and path == JWKS_PATH:
            body = self.forger.jwks()
            forged = self.forger.sign(200, body, method, path, headers.get("Accept-Signature", ""))
            return Relayed(200, {"Content-Type": "application/json", **forged}, body)
        if self.mode == "forged":
            forged = self.forger.sign(answer.status, answer.body, method, path, headers.get("Accept-Signature", ""))
            return Relayed(answer.status, {**answer.headers, **forged}, answer.body)
        if self.mode == "unsigned":
            plain = {k: v for k, v in answer.headers.items() if k not in ("Signature-Input", "Signature")}
            return Relayed(answer.status, plain, answer.body)
        return answer

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

            def _forward(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name: value for name in FORWARDED if (value := self.headers.get(name)) is not None}
                answer = proxy.relay(method, self.path, headers, body)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

        return Handler


@contextmanager
def tampering(upstream: str) -> Iterator[TamperingProxy]:
    proxy = TamperingProxy(upstream)
    try:
        yield proxy
    finally:
        proxy.stop()
