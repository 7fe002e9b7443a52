"""The REST service every `rest:` call and DBOS step of the suite calls: a local HTTP/1.1 echo.

`POST /<anything>` with `{"n": N}` answers `{"n": N + 1}`; `GET /count` answers how many
POSTs it served. It runs in a process of its own (`python -m bench.echo_service PORT`) so that
serving the calls never competes for the measured process's interpreter.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar


class EchoHandler(BaseHTTPRequestHandler):
    """Answers POSTs with the incremented number, GET /count with the tally."""

    protocol_version = "HTTP/1.1"  # keep-alive, as a real service would offer
    # Headers and body go out in separate writes: with Nagle's algorithm on, the body waits
    # for the client's delayed ACK (40 ms on Linux) and every call would cost that.
    disable_nagle_algorithm = True
    served: ClassVar[int] = 0
    lock: ClassVar[threading.Lock] = threading.Lock()

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}") if length else {}
        number = body.get("n", 0) if isinstance(body, dict) else 0
        with EchoHandler.lock:
            EchoHandler.served += 1
        self._answer({"n": (number if isinstance(number, int) else 0) + 1})

    def do_GET(self) -> None:
        self._answer({"count": EchoHandler.served})

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: one line per call would cost more than the call."""

    def _answer(self, body: dict[str, int]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def main() -> None:
    """Serve on 127.0.0.1:PORT until killed."""
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), EchoHandler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
