"""Processes the suite starts: spawning in a group of their own, killing, ports, CPU from /proc.

Every child is started in a new session so that stopping it takes its whole tree (gunicorn
workers included); `Children` remembers them so an interrupted run leaves none behind.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
PYTHON: Final = sys.executable
BIN: Final = Path(sys.executable).parent
TICKS: Final = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_port_base(count: int) -> int:
    """A port N such that N..N+count-1 are all free right now."""
    for _ in range(200):
        base = free_port()
        if base + count < 65000 and all(_is_free(base + i) for i in range(count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports found on 127.0.0.1")


def spawn(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `command` in a session of its own; output to `log` (or nowhere)."""
    output = log.open("ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            list(command),
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        if log:
            output.close()  # type: ignore[union-attr]


def stop(process: subprocess.Popen[bytes], *, grace: float = 10.0) -> None:
    """SIGTERM the process's group, SIGKILL it after `grace` seconds."""
    if process.poll() is None:
        _signal_group(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
    _signal_group(process.pid, signal.SIGKILL)
    process.wait()


@contextmanager
def running(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    grace: float = 10.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` for the duration of the block, then stop its whole group."""
    process = spawn(command, env=env, log=log)
    try:
        yield process
    finally:
        stop(process, grace=grace)


def wait_http_ok(
    url: str,
    *,
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
    interval: float = 0.01,
) -> float:
    """Poll `GET url` until it answers 2xx; return the monotonic time it first did.

    Raises:
        RuntimeError: the process exited or `timeout` seconds passed first.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        if is_ok(url):
            return time.monotonic()
        time.sleep(interval)
    raise RuntimeError(f"{url} did not answer 2xx within {timeout:.0f} s")


def is_ok(url: str) -> bool:
    """Tell whether `GET url` answers 2xx (a refused connection is a no)."""
    host_port, _, path = url.removeprefix("http://").partition("/")
    connection = http.client.HTTPConnection(host_port, timeout=2.0)
    try:
        connection.request("GET", "/" + path)
        return 200 <= connection.getresponse().status < 300
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def tree(pid: int) -> list[int]:
    """`pid` and its descendants, from /proc."""
    found = [pid]
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child in children.read_text().split():
                found += tree(int(child))
    return found


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of one process (its threads included), None if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
