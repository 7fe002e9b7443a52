"""`DevStack`: the whole system as `knflow dev` runs it, for end-to-end tests.

Use the `dev_stack_factory` fixture (tests/conftest.py) rather than this class directly::

    def test_hello(dev_stack_factory, tmp_path):
        stack = dev_stack_factory(WORKFLOWS)            # waits until every function is ready
        answer = httpx.post(f"{stack.url('start-workflow')}/hello", json={})
        stack.kill("step-executor")                     # SIGKILL; knflow dev restarts it
        stack.wait_restarted("step-executor")

`knflow dev` runs as a subprocess in its own process group, on six free consecutive ports,
against the test's own database, with the repository's `eventing/` and `functions/`. Its
output (every function's log too) goes to a file; the fixture prints the file's tail after
the test, which pytest shows when the test failed. Stopping kills the whole process group,
so no process outlives the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from knflow.devstack.supervisor import kill_tree

ROOT: Final = Path(__file__).resolve().parent.parent
KNFLOW: Final = Path(sys.executable).parent / "knflow"
PORT_COUNT: Final = 6
START_TIMEOUT: Final = 120.0
STOP_TIMEOUT: Final = 30.0
LOG_TAIL: Final = 200
START_ATTEMPTS: Final = 3


class DevStackError(AssertionError):
    """The stack did not start or a function did not come back; the message has the log."""


class DevStack:
    """A running `knflow dev` and what tests need of it: URLs, pids, kill, logs."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        *,
        state_file: Path,
        log_file: Path,
        port_base: int,
    ) -> None:
        self.process = process
        self.state_file = state_file
        self.log_file = log_file
        self.port_base = port_base

    @classmethod
    def start(
        cls,
        *,
        workflows_dir: Path,
        database_url: str,
        work_dir: Path,
        env: dict[str, str] | None = None,
        options: Sequence[str] = (),
    ) -> DevStack:
        """Start `knflow dev` and wait until every function is ready.

        `options` are more `knflow dev` arguments (`--faults ...`). Retries on fresh ports
        when another process took one of the chosen ports first.
        """
        work_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(START_ATTEMPTS):
            stack = cls._launch(
                workflows_dir, database_url, work_dir / f"try-{attempt}", env, options
            )
            try:
                stack.wait_until_up()
                return stack
            except DevStackError:
                stack.stop()
                if "in use" not in stack.log_text():
                    raise
        raise DevStackError(
            f"knflow dev found no free ports in {START_ATTEMPTS} attempts"
        )

    @property
    def broker_url(self) -> str:
        """The `default` broker's ingress (every function's `K_SINK`)."""
        return str(self.state()["broker"])

    def url(self, function_name: str) -> str:
        """Return the base URL of a function (`start-workflow`, `data-index-sink`, ...)."""
        return str(self._function(function_name)["url"])

    def pid(self, function_name: str) -> int:
        """Return the current process id of a function's server."""
        return int(self._function(function_name)["pid"])

    def kill(self, function_name: str, sig: signal.Signals = signal.SIGKILL) -> int:
        """Send `sig` to a function's server (SIGKILL: with its workers, like a pod crash).

        Returns the pid signalled; `wait_restarted` waits for the replacement.
        """
        pid = self.pid(function_name)
        if sig == signal.SIGKILL:
            kill_tree(pid)
        else:
            os.kill(pid, sig)
        return pid

    def wait_restarted(
        self, function_name: str, *, old_pid: int | None = None, timeout: float = 60.0
    ) -> int:
        """Wait until a function runs under a new pid and is ready; return the new pid."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entry = self._function(function_name)
            if entry["ready"] and entry["pid"] != old_pid:
                return int(entry["pid"])
            self._check_running()
            time.sleep(0.1)
        raise DevStackError(
            f"{function_name} was not restarted within {timeout} s\n{self.log_tail()}"
        )

    def wait_until_up(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until `knflow dev` reports every function ready and definitions registered."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_running()
            if self.state().get("ready"):
                return
            time.sleep(0.1)
        raise DevStackError(
            f"knflow dev was not up within {timeout} s\n{self.log_tail()}"
        )

    def state(self) -> dict[str, Any]:
        """The supervisor's state file: broker, functions (url, pid, ready), skipped."""
        with contextlib.suppress(FileNotFoundError, ValueError):
            loaded: dict[str, Any] = json.loads(
                self.state_file.read_text(encoding="utf-8")
            )
            return loaded
        return {}

    def stop(self) -> int | None:
        """Stop with SIGTERM as Ctrl-C would; kill the process group if it hangs.

        Returns the exit code of `knflow dev` (None when it had to be killed).
        """
        code = None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self.process.wait(STOP_TIMEOUT)
        else:
            code = self.process.returncode
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        return code

    def log_text(self) -> str:
        """Everything `knflow dev` and its functions wrote."""
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = LOG_TAIL) -> str:
        """The last lines of the log."""
        return "\n".join(self.log_text().splitlines()[-lines:])

    @classmethod
    def _launch(
        cls,
        workflows_dir: Path,
        database_url: str,
        work_dir: Path,
        env: dict[str, str] | None,
        options: Sequence[str],
    ) -> DevStack:
        work_dir.mkdir(parents=True, exist_ok=True)
        port_base = free_port_base()
        state_file = work_dir / "state.json"
        log_file = work_dir / "knflow-dev.log"
        command = [
            str(KNFLOW),
            "dev",
            "--workflows",
            str(workflows_dir.resolve()),
            "--port-base",
            str(port_base),
            "--state-file",
            str(state_file),
            "--eventing",
            str(ROOT / "eventing"),
            "--functions",
            str(ROOT / "functions"),
            *options,
        ]
        environment = {**os.environ, "DATABASE_URL": database_url, **(env or {})}
        with log_file.open("wb") as log:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(
            process, state_file=state_file, log_file=log_file, port_base=port_base
        )

    def _function(self, name: str) -> dict[str, Any]:
        functions = self.state().get("functions", {})
        if name not in functions:
            raise DevStackError(
                f"knflow dev runs no function '{name}': {sorted(functions)}"
            )
        entry: dict[str, Any] = functions[name]
        return entry

    def _check_running(self) -> None:
        if self.process.poll() is not None:
            raise DevStackError(
                f"knflow dev exited with code {self.process.returncode}\n{self.log_tail()}"
            )


def free_port_base() -> int:
    """Return a port N such that N..N+5 are free on 127.0.0.1 right now."""
    for _ in range(100):
        base = random.randrange(20000, 60000 - PORT_COUNT)
        if all(_is_free(base + offset) for offset in range(PORT_COUNT)):
            return base
    raise DevStackError("no six consecutive free ports found")


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
