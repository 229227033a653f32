"""A real webhook receiver on 127.0.0.1: an HTTP server in a thread that checks every signature
with the `standardwebhooks` package, as a shop's receiver would, and answers by path:

- `/ok`: 204 when the signature holds, 400 when not;
- `/fail`: 500 always; `/flaky`: 500 on the first try of each webhook-id, then as `/ok`;
- `/slow`: sleeps `slow_seconds` then 200; `/slow-once`: so on the first try of each id, then `/ok`;
- `/loop`: a redirect to itself, for ever; `/to-ftp`: a redirect to an ftp:// URL;
- `/huge`: 200 with a body of `HUGE_BYTES`;
- `/block`: holds the request until `release` is set (`arrived` tells it came), then `/ok`.
"""

from __future__ import annotations

import base64
import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET = "whsec_" + base64.b64encode(b"test-receiver-secret-0123456789ab").decode()
HUGE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Received:
    path: str
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    verified: bool


class Receiver:
    def __init__(self, secret: str = SECRET) -> None:
        self.webhook = Webhook(secret)
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.slow_seconds = 2.0
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ids(self) -> Counter[str]:
        with self.lock:
            return Counter(item.webhook_id for item in self.received)

    def tries(self, webhook_id: str) -> int:
        return self.ids()[webhook_id]

    def record(self, item: Received) -> int:
        """Keep it; how many tries of this webhook-id came so far, this one included."""
        with self.lock:
            self.received.append(item)
            return sum(1 for seen in self.received if seen.webhook_id == item.webhook_id)

    def verify(self, body: bytes, headers: dict[str, str]) -> bool:
        try:
            self.webhook.verify(body, headers)
        except WebhookVerificationError:
            return False
        return True


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            verified = receiver.verify(body, headers)
            tries = receiver.record(Received(self.path, headers.get("webhook-id", ""), headers, body, verified))
            with contextlib.suppress(OSError):  # the deliverer may hang up first (timeouts, caps)
                self._answer(verified, tries)

        def _answer(self, verified: bool, tries: int) -> None:
            path = self.path
            if path == "/fail" or (path == "/flaky" and tries == 1):
                return self._send(500, b"boom")
            if path == "/slow" or (path == "/slow-once" and tries == 1):
                time.sleep(receiver.slow_seconds)
                return self._send(200, b"late")
            if path in ("/loop", "/to-ftp"):
                self.send_response(302)
                self.send_header("Location", "/loop" if path == "/loop" else "ftp://127.0.0.1/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if path == "/huge":
                self.send_response(200)
                self.send_header("Content-Length", str(HUGE_BYTES))
                self.end_headers()
                chunk = b"x" * 65536
                for _ in range(HUGE_BYTES // len(chunk)):
                    self.wfile.write(chunk)
                return None
            if path == "/block" and tries == 1:
                receiver.arrived.set()
                receiver.release.wait(30)
            return self._send(204 if verified else 400, b"" if verified else b"bad signature")

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextlib.contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        receiver.server.shutdown()
        receiver.server.server_close()
