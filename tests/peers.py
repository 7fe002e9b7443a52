"""`HttpPeer`: a real local HTTP server that records requests and answers as scripted.

It stands in for the services at the edge of knflow (REST APIs, the broker, Backstage).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Recorded:
    """One request the peer received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True)
class Reply:
    """A scripted answer."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


DROP = Reply(status=0)
"""A reply that closes the connection without answering (WireMock's connection reset)."""

Responder = Callable[[Recorded], Reply]


class HttpPeer:
    """A threaded HTTP server on 127.0.0.1 at a free port."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._routes: list[tuple[str, str, Responder]] = []
        self._queued: dict[tuple[str, str], list[Reply]] = {}
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HttpPeer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def route(self, method: str, path: str, responder: Responder | Reply) -> None:
        """Answer `method path` (path prefix match when it ends with `*`) with `responder`."""
        fixed = responder
        handler: Responder = (lambda _r: fixed) if isinstance(fixed, Reply) else fixed  # type: ignore[assignment,return-value]
        with self._lock:
            self._routes.insert(0, (method.upper(), path, handler))

    def queue(self, method: str, path: str, *replies: Reply) -> None:
        """Answer the next requests to `method path` with `replies`, in order, then the route."""
        with self._lock:
            self._queued.setdefault((method.upper(), path), []).extend(replies)

    def received(
        self, method: str | None = None, path: str | None = None
    ) -> list[Recorded]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method.upper())
                and (path is None or r.path == path)
            ]

    def wait_for(
        self,
        count: int,
        *,
        method: str | None = None,
        path: str | None = None,
        timeout: float = 10.0,
    ) -> list[Recorded]:
        """Wait until at least `count` matching requests arrived; fail after `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.received(method, path)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(
            f"expected {count} request(s) to {method} {path}, got {len(self.received(method, path))}"
        )

    def _answer(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            bare_path = recorded.path.split("?")[0]
            queue = self._queued.get((recorded.method, bare_path))
            if queue:
                return queue.pop(0)
            responder = next(
                (
                    handler
                    for method, path, handler in self._routes
                    if method == recorded.method
                    and (
                        path == bare_path
                        or (path.endswith("*") and bare_path.startswith(path[:-1]))
                    )
                ),
                None,
            )
        if responder is None:
            return Reply(
                status=404,
                body={"message": f"no route for {recorded.method} {bare_path}"},
            )
        return responder(
            recorded
        )  # outside the lock: a responder may wait for other requests

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                recorded = Recorded(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                reply = peer._answer(recorded)
                if reply.status == DROP.status:
                    self.close_connection = True  # no answer: the client sees a reset
                    return
                payload = (
                    b""
                    if reply.body is None
                    else (
                        reply.body
                        if isinstance(reply.body, bytes)
                        else json.dumps(reply.body).encode()
                    )
                )
                self.send_response(reply.status)
                headers = {"content-type": "application/json", **reply.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


class _QuietServer(ThreadingHTTPServer):
    """A client that went away mid-answer (a killed function) is not an error of the peer."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def started_peer() -> Iterator[HttpPeer]:
    """Start a peer for a fixture and stop it afterwards."""
    peer = HttpPeer().start()
    try:
        yield peer
    finally:
        peer.stop()
