"""Counting a request body while it is read: a chunked body announces no length to refuse up
front, so both apps count what arrives and stop at their limit."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import Message, Receive


def limited_receive(receive: Receive, limit: int, too_large: Callable[[], Exception]) -> Receive:
    """A `receive` that raises `too_large()` as soon as the body read so far passes `limit` bytes."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise too_large()
        return message

    return counted
