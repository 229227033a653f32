"""Log lines of every process: one JSON object a line for log collectors, or plain text for a
person at a terminal (`LOG_FORMAT`: auto picks text when stderr is a terminal, JSON otherwise).

Every line written while a request is served carries that request's id. No line carries a
secret: requests are logged without headers, bodies or query strings, and `redact()` masks system
API keys to their `AF-YYYY-` prefix and license keys to their first four characters (a license
key is what a customer pays for) in every formatted line and in the path of every access line.
"""

from __future__ import annotations

import logging
import os
import random
import re
import sys
import time
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any, TextIO

import orjson

from licenseserver.kit.clientaddr import Network, is_trusted
from licenseserver.kit.line_writer import LineWriter

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
ACCESS_LOG = logging.getLogger("licenseserver.access")
# The servers' own loggers: they go through our handler like every other line.
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "gunicorn.error", "gunicorn.access")
# Loggers LOG_LEVEL applies to: ours, the servers' and the migrations'.
OWN_LOGGERS = ("licenseserver", "uvicorn", "gunicorn", "alembic")
# We write one access line per request ourselves, with the request id; the servers' would be a second.
SILENCED_LOGGERS = ("uvicorn.access", "gunicorn.access")

_API_KEY = re.compile(r"(AF-\d{4}-)[A-Z0-9]{32}(?![A-Za-z0-9])")
_LICENSE_KEY = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z0-9]{4})-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}(?![A-Za-z0-9])"
)
# A cheap search first: the full pattern costs ~15 µs on an access line, this one under 1 µs.
_MAYBE_LICENSE_KEY = re.compile(r"-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}-")
# Characters that could end a text line or steer a terminal: C0, DEL, C1 and the Unicode line and
# paragraph separators (str.splitlines() breaks on these too).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# An id a trusted proxy sends is kept only when it is short and plain (it is echoed in a header).
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,127}")


def redact(text: str) -> str:
    """Mask the secrets a line might quote (a path, a database error's DETAIL, a traceback)."""
    if "AF-" in text:
        text = _API_KEY.sub(r"\1****", text)
    if _MAYBE_LICENSE_KEY.search(text):
        text = _LICENSE_KEY.sub(r"\1-****-****-****", text)
    return text


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED_ESCAPES.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def escape_controls(text: str) -> str:
    """One text log line stays one line: a `%0a` in a path, or any other control character a
    client sent, is written as `\\n`, `\\x1b`... (a search first: most values have none)."""
    return _CONTROL.sub(_escape_one, text) if _CONTROL.search(text) else text


def sane_request_id(value: str | None) -> str | None:
    return value if value is not None and _SANE_REQUEST_ID.fullmatch(value) else None


# Request ids correlate log lines and guard nothing, so they come from a generator seeded from
# os.urandom instead of a system call per request; each forked worker reseeds its own.
_request_ids = random.Random()  # nosec B311
os.register_at_fork(after_in_child=_request_ids.seed)


def request_id_for(scope: MutableMapping[str, Any], trusted: tuple[Network, ...]) -> str:
    """The id a trusted proxy gave the request (when it is sane), else a new random one."""
    if trusted:
        incoming = next((v for k, v in scope.get("headers", ()) if k == b"x-request-id"), None)
        peer = scope.get("client")
        if incoming is not None and peer and is_trusted(str(peer[0]), trusted):
            kept = sane_request_id(incoming.decode("latin-1"))
            if kept is not None:
                return kept
    return f"{_request_ids.getrandbits(128):032x}"


_last_second: list[Any] = [None, ""]  # formatting the date once a second, not once a line


def _timestamp(created: float) -> str:
    seconds = int(created)
    if _last_second[0] != seconds:
        _last_second[:] = [seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))]
    return f"{_last_second[1]}.{int((created - seconds) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(orjson.dumps(entry, default=str).decode())


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = escape_controls(record.getMessage())
        parts = [_timestamp(record.created), record.levelname, f"{record.name}:", message]
        fields = getattr(record, "fields", None) or {}
        request_id = REQUEST_ID.get()
        if request_id is not None and "request_id" not in fields:
            parts.append(f"request_id={escape_controls(request_id)}")
        line = " ".join(parts)
        if fields:
            line += " " + text_fields(fields)
        if record.exc_info:
            line += "\n" + _indented(self.formatException(record.exc_info))
        return redact(line)


def text_fields(fields: dict[str, Any]) -> str:
    return " ".join(f"{escape_controls(str(name))}={escape_controls(str(value))}" for name, value in fields.items())


def _indented(traceback: str) -> str:
    """A traceback keeps its lines (a person reads it), each indented so that none can pass for a
    log line of its own, with the control characters inside each line escaped."""
    return "\n".join("    " + escape_controls(line) for line in traceback.splitlines())


def chosen_format(log_format: str, stream: TextIO) -> str:
    if log_format != "auto":
        return log_format
    return "text" if stream.isatty() else "json"


class _Output:
    """Where access lines go once `configure_logging` ran: the root handler's stream, written
    without the logging machinery (its record, caller lookup and handler chain cost ~20 µs of CPU
    a line, a tenth of a verify request; this path ~6 µs) and off the event loop (line_writer)."""

    handler: logging.StreamHandler[TextIO] | None = None
    writer: LineWriter | None = None
    as_json = True


def configure_logging(log_format: str, level: str, stream: TextIO | None = None) -> None:
    """One handler on the root logger for the app's lines and the servers' alike."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    as_json = chosen_format(log_format, stream) == "json"
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # Libraries stay at WARNING whatever LOG_LEVEL says: some (aiosqlite, for one) log every
    # statement with its parameters at DEBUG, and those parameters include secrets.
    root.setLevel(max(logging.getLevelName(level), logging.WARNING))
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)
    for name in SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = name not in SILENCED_LOGGERS
    _Output.handler, _Output.as_json = handler, as_json
    if _Output.writer is not None:
        _Output.writer.flush()
    _Output.writer = LineWriter(handler)


def access_lines_flushed() -> None:
    """Write the access lines still queued (at the end of an app's lifespan)."""
    if _Output.writer is not None:
        _Output.writer.flush()


def log_request(method: str, route: str, path: str, status: int, seconds: float, client: str, app: str) -> None:
    """The one access line of a request (its id comes from REQUEST_ID). Only the path can hold a
    secret (a license key), so only the path is redacted."""
    path = redact(path)
    message = f"{method} {path} {status}"
    handler, writer = _Output.handler, _Output.writer
    if handler is None or writer is None or not _Output.as_json:
        fields = {"app": app, "method": method, "route": route, "path": path, "status": status}
        fields |= {"duration_ms": round(seconds * 1000, 2), "client": client}
        if handler is None or writer is None:  # logging left to its defaults (an app run in-process by a test)
            ACCESS_LOG.info("%s", message, extra={"fields": fields})
            return
        line = handler.format(ACCESS_LOG.makeRecord(ACCESS_LOG.name, logging.INFO, "", 0, message, (), None))
        line += " " + text_fields(fields)
    else:
        entry = {
            "time": _timestamp(time.time()),
            "level": "INFO",
            "logger": ACCESS_LOG.name,
            "message": message,
            "request_id": REQUEST_ID.get(),
            "app": app,
            "method": method,
            "route": route,
            "path": path,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "client": client,
        }
        line = orjson.dumps(entry).decode()
    writer.add(line)
