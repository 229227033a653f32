"""A tiny License API on 127.0.0.1 that signs its answers as docs/signatures.md says, written
apart from the client's own code so the tests do not check the client against itself.
`tamper` makes it spoil one part of the next answers, as an attacker in the middle would."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

Handler = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]
NONCE = re.compile(r';nonce="([^"]*)"')


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class SigningKey:
    private: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def x(self) -> str:
        return b64url(self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    @property
    def kid(self) -> str:
        canonical = '{"crv":"Ed25519","kty":"OKP","x":"' + self.x + '"}'
        return b64url(hashlib.sha256(canonical.encode()).digest())

    def jwk(self) -> dict[str, str]:
        return {"kty": "OKP", "crv": "Ed25519", "x": self.x, "kid": self.kid, "alg": "EdDSA", "use": "sig"}

    def license_file(self, claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
        head = b64url(json.dumps(header or {"alg": "EdDSA", "kid": self.kid, "typ": "JWT"}).encode())
        body = b64url(json.dumps(claims).encode())
        return f"{head}.{body}.{b64url(self.private.sign(f'{head}.{body}'.encode()))}"


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [key.jwk() for key in keys]}


def license_claims(hardware_hash: str, now: float, ttl: int = 30 * 86400, **changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now) + ttl,
        "jti": str(uuid.uuid4()),
        "sub": "ABCD-EFGH-JKLM-NPQR",
        "hardware_hash": hardware_hash,
        "license_type": "perpetual",
        "valid_from": "2026-01-01",
        "valid_until": None,
        "max_activations": 3,
        "max_users": 1,
    }
    claims.update(changes)
    return claims


JWKS_PATH = "/.well-known/jwks.json"


class FakeServer:
    """Routes by (method, path); every answer signed unless `tamper` says otherwise.

    tamper: body | status | path | nonce | old | unknown_kid | unsigned (None: honest)

    `key` signs; `published` is the JWK Set served at /.well-known/jwks.json, whose answer each
    of `jwks_signers` signs (the published keys unless set), under sig1, sig1-1, …; `jwks_tamper`
    (nonce | old) spoils that answer alone.
    """

    def __init__(self, key: SigningKey) -> None:
        self.key = key
        self.published: list[SigningKey] = [key]
        self.jwks_signers: list[SigningKey] | None = None
        self.jwks_tamper: str | None = None
        self.jwks_requests = 0
        self.routes: dict[tuple[str, str], Handler] = {}
        self.tamper: str | None = None
        self.created_offset = 0
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.nonces: list[str] = []
        self.last_signed_nonce: str | None = None
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def answer(self, method: str, path: str, status: int, body: dict[str, Any]) -> None:
        self.routes[(method, path)] = lambda _request: (status, body)

    def rotate(self) -> SigningKey:
        """A new key signs at once; the old ones stay published, the new one first."""
        self.key = SigningKey()
        self.published = [self.key, *self.published]
        return self.key

    def retire(self, key: SigningKey) -> None:
        self.published = [k for k in self.published if k.kid != key.kid]

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def sign(self, status: int, body: bytes, method: str, path: str, nonce: str | None) -> dict[str, str]:
        tamper = self.tamper
        key = SigningKey() if tamper == "unknown_kid" else self.key
        if tamper == "nonce":
            nonce = self.last_signed_nonce or "replayed-from-another-request"
        created = int(time.time()) + self.created_offset - (301 if tamper == "old" else 0)
        digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
        params = (
            f'("@status" "content-digest" "@method";req "@path";req);created={created};keyid="{key.kid}";alg="ed25519"'
        )
        if nonce is not None:
            params += f';nonce="{nonce}"'
        signed_status = status + 1 if tamper == "status" else status
        signed_path = "/api/license/other" if tamper == "path" else path
        base = "\n".join(
            (
                f'"@status": {signed_status}',
                f'"content-digest": {digest}',
                f'"@method";req: {method}',
                f'"@path";req: {signed_path}',
                f'"@signature-params": {params}',
            )
        )
        signature = base64.b64encode(key.private.sign(base.encode())).decode()
        self.last_signed_nonce = nonce
        return {"Content-Digest": digest, "Signature-Input": f"sig1={params}", "Signature": f"sig1=:{signature}:"}

    def sign_jwks(self, body: bytes, nonce: str | None) -> dict[str, str]:
        """The JWK Set's answer, one signature per signer: sig1, then sig1-1, sig1-2, …"""
        created = int(time.time()) + self.created_offset - (301 if self.jwks_tamper == "old" else 0)
        if self.jwks_tamper == "nonce":
            nonce = "replayed-from-another-request"
        digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
        inputs, signatures = [], []
        for n, key in enumerate(self.published if self.jwks_signers is None else self.jwks_signers):
            label = "sig1" if n == 0 else f"sig1-{n}"
            params = f'("@status" "content-digest" "@method";req "@path";req);created={created};keyid="{key.kid}"'
            params += f';alg="ed25519";nonce="{nonce}"'
            base = (
                f'"@status": 200\n"content-digest": {digest}\n"@method";req: GET\n"@path";req: {JWKS_PATH}\n'
                f'"@signature-params": {params}'
            )
            inputs.append(f"{label}={params}")
            signatures.append(f"{label}=:{base64.b64encode(key.private.sign(base.encode())).decode()}:")
        return {"Content-Digest": digest, "Signature-Input": ", ".join(inputs), "Signature": ", ".join(signatures)}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length) or b"{}")
                path = self.path.split("?", 1)[0]
                server.requests.append((method, path, request))
                found = NONCE.search(self.headers.get("Accept-Signature", ""))
                nonce = found.group(1) if found else None
                if nonce:
                    server.nonces.append(nonce)
                if (method, path) == ("GET", JWKS_PATH):
                    server.jwks_requests += 1
                    body = json.dumps(jwks(*server.published)).encode()
                    self._send(200, body, server.sign_jwks(body, nonce))
                    return
                handler = server.routes.get((method, path))
                status, payload = (
                    handler(request) if handler else (404, {"error": "Not found", "code": "NOT_FOUND", "status": 404})
                )
                body = json.dumps(payload).encode()
                headers = server.sign(status, body, method, path, nonce)
                if server.tamper == "body":
                    body = body.replace(b"false", b"true ") if b"false" in body else body + b" "
                if server.tamper == "unsigned":
                    headers = {}
                self._send(status, body, headers)

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler


@contextmanager
def running(key: SigningKey) -> Iterator[FakeServer]:
    server = FakeServer(key)
    try:
        yield server
    finally:
        server.stop()
