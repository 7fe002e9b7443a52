"""Reading a development broker ingress body: Content-Length or chunked, within a limit.

`http.server` leaves framing to the handler; without this a non-numeric Content-Length
closed the connection unanswered and a chunked body was delivered as an empty event.
"""

from __future__ import annotations

from email.message import Message
from io import BufferedIOBase
from typing import Final

CHUNK_LINE_LIMIT: Final = 1024
"""Longest chunk-size or trailer line read."""


class BodyError(Exception):
    """An ingress body that cannot be read: bad framing (400) or too large (413)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def read_body(headers: Message, stream: BufferedIOBase, limit: int) -> bytes:
    """Read a request body framed by Content-Length or chunked, at most `limit` bytes.

    Raises:
        BodyError: 400 for a malformed or ambiguous framing, 413 past `limit`.
    """
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    declared = headers.get("content-length")
    if chunked and declared is not None:
        # RFC 9112 6.3: both at once is how requests are smuggled; refuse it.
        raise BodyError(400, "send Content-Length or chunked transfer, not both")
    if chunked:
        return _read_chunked(stream, limit)
    if declared is None:
        return b""
    if not declared.strip().isdigit():
        raise BodyError(
            400, f"Content-Length must be a whole number of bytes, not {declared!r}"
        )
    length = int(declared)
    if length > limit:
        raise BodyError(413, _too_large(limit))
    return stream.read(length)


def _read_chunked(stream: BufferedIOBase, limit: int) -> bytes:
    body = bytearray()
    while True:
        size_line = stream.readline(CHUNK_LINE_LIMIT)
        size_text = size_line.split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BodyError(400, "a chunk size is not a hexadecimal number") from None
        if size == 0:
            break
        if len(body) + size > limit:
            raise BodyError(413, _too_large(limit))
        body += stream.read(size)
        stream.readline(CHUNK_LINE_LIMIT)  # the CRLF after the chunk
    while stream.readline(CHUNK_LINE_LIMIT).strip():  # trailer fields, if any
        pass
    return bytes(body)


def _too_large(limit: int) -> str:
    return (
        f"the request body is larger than the limit of {limit} bytes"
        " (KNFLOW_MAX_BODY_BYTES)"
    )
