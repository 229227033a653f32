"""A man in the middle between the client library and the real License API: it forwards each
request and spoils one part of the real, signed answer the way an attacker on the wire could.

mode: body | status | path | replay | unsigned (None: passes answers through untouched)
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FORWARDED = ("X-API-Key", "Accept-Signature", "Content-Type", "Accept")
KEPT = ("Content-Type", "Content-Digest", "Signature-Input", "Signature", "Retry-After")


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
