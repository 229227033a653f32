"""One webhook request, bounded in every way a receiver could stretch it.

- **Safe targets**: the connection layer (httpcore2's network backend) resolves the host itself,
  checks every address it resolved to (kit/safe_targets.py) and connects to a checked address;
  the TLS handshake still names and verifies the host from the URL (SNI, certificate), and the
  `Host` header is the URL's. There is no second lookup that a rebinding DNS server could answer
  differently. Unless `allow_private`, one refused address refuses the host.
- **Redirects** are not followed by the client: at most `MAX_REDIRECTS` are followed here, each
  target checked like the first, each as the same POST (a webhook is never turned into a GET).
- **Time**: one limit for the whole attempt, redirects included (`timeout`), and the same limit for
  each connect, read and write inside it.
- **Answer bodies**: read up to `READ_CAP` bytes and dropped after; `EXCERPT_CHARS` kept.
- **No keep-alive** between attempts: each attempt opens its connection and closes it, so each
  resolves and checks the host again.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from functools import cache
from urllib.parse import urljoin, urlsplit

import httpcore2

from licenseserver.kit.safe_targets import refused_reason

MAX_REDIRECTS = 3
READ_CAP = 64 * 1024
EXCERPT_CHARS = 1000  # webhook_attempts.answer_excerpt is String(1000)
ERROR_CHARS = 500  # webhook_attempts.error and webhook_deliveries.last_error are String(500)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


class RefusedTargetError(Exception):
    """The URL or an address its host resolved to is not one a webhook may go to."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What one attempt came to: the final status (None when no answer came) or why it failed."""

    status_code: int | None
    error: str | None
    excerpt: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


class CheckedBackend(httpcore2.AsyncNetworkBackend):
    """Connects only to addresses that passed the check, and only to those it checked."""

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface: each connect's own limit)
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        addresses = await self._addresses(host, port)
        failure: Exception = httpcore2.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc  # the next address may answer
        raise failure

    async def _addresses(self, host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise httpcore2.ConnectError(f"{host} does not resolve") from exc
        addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            reason = refused_reason(address)
            if reason is not None and not self._allow_private:
                raise RefusedTargetError(f"{host} resolves to {address}, {reason}")
            if address not in addresses:
                addresses.append(address)
        return addresses

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@cache
def tls_context() -> ssl.SSLContext:
    """The system's trusted CAs, loaded once per process (loading them costs milliseconds)."""
    return httpcore2.default_ssl_context()


async def post(url: str, headers: dict[str, str], body: bytes, *, limit_seconds: float, allow_private: bool) -> Answer:
    """POST `body` to `url`, following at most MAX_REDIRECTS redirects; never raises for the
    receiver's sake: every way it can fail is an Answer with an error."""
    started = time.monotonic()
    status: int | None = None
    excerpt: str | None = None
    error: str | None = None
    try:
        async with asyncio.timeout(limit_seconds):
            for hop in range(MAX_REDIRECTS + 1):
                _check_scheme(url)
                status, excerpt, location = await _post_once(url, headers, body, limit_seconds, allow_private)
                if status not in REDIRECT_STATUSES or location is None:
                    break
                if hop == MAX_REDIRECTS:
                    error = f"more than {MAX_REDIRECTS} redirects"
                    break
                url = urljoin(url, location)
    except TimeoutError:
        error = f"no answer within {limit_seconds:g} s"
    except httpcore2.TimeoutException:
        error = f"no answer within {limit_seconds:g} s"
    except RefusedTargetError as exc:
        error = f"refused target: {exc}"
    except (httpcore2.NetworkError, httpcore2.ProtocolError, httpcore2.UnsupportedProtocol, OSError) as exc:
        error = f"connection failed: {type(exc).__name__}: {exc}".rstrip(": ")
    duration_ms = round((time.monotonic() - started) * 1000)
    if error is not None:
        error = error[:ERROR_CHARS]
    return Answer(status, error, excerpt, duration_ms)


def _check_scheme(url: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise RefusedTargetError("the URL cannot be read") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise RefusedTargetError(f"not an http(s) URL: {url[:200]}")


async def _post_once(
    url: str, headers: dict[str, str], body: bytes, limit_seconds: float, allow_private: bool
) -> tuple[int, str | None, str | None]:
    """One request: the status, the start of the body, the Location header."""
    each = {"connect": limit_seconds, "read": limit_seconds, "write": limit_seconds, "pool": limit_seconds}
    async with (
        httpcore2.AsyncConnectionPool(
            ssl_context=tls_context(),
            max_connections=1,
            max_keepalive_connections=0,
            network_backend=CheckedBackend(allow_private),
        ) as pool,
        pool.stream("POST", url, headers=list(headers.items()), content=body, extensions={"timeout": each}) as answer,
    ):
        start = await _read_capped(answer.aiter_stream())
        location = next((v.decode("latin-1") for name, v in answer.headers if name.lower() == b"location"), None)
        return answer.status, start.decode("utf-8", "replace")[:EXCERPT_CHARS] or None, location


async def _read_capped(chunks: AsyncIterator[bytes]) -> bytes:
    """At most READ_CAP bytes of the body; the rest is never read (the connection is closed)."""
    kept = bytearray()
    async for chunk in chunks:
        kept += chunk[: READ_CAP - len(kept)]
        if len(kept) >= READ_CAP:
            break
    return bytes(kept)
