"""`knflow dev` for the suite: the whole stack on free ports, against a database of the run.

Started and stopped by the runner (stopping takes its whole process group, functions and
gunicorn workers included); trials get its URLs, its pid and its database's name.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bench import procs

START_TIMEOUT: Final = 180.0
PORTS: Final = 6  # the broker and five functions


@dataclass(frozen=True, slots=True, kw_only=True)
class Stack:
    """A running stack: the pid of `knflow dev` (the broker runs in it) and its URLs."""

    pid: int
    urls: Mapping[str, str]

    def url(self, function_name: str) -> str:
        """Base URL of one function (`start-workflow`, `data-index-sink`, ...)."""
        return self.urls[function_name]

    def as_params(self) -> dict[str, Any]:
        """What a trial needs to know of the stack."""
        return {"stack_pid": self.pid, "urls": dict(self.urls)}


@contextmanager
def running(
    definitions: list[dict[str, Any]], *, database_url: str, work_dir: Path
) -> Iterator[Stack]:
    """Write `definitions` to a folder, run `knflow dev` on it, yield it once it is up."""
    workflows = work_dir / "workflows"
    workflows.mkdir(parents=True, exist_ok=True)
    for definition in definitions:
        (workflows / f"{definition['id']}.sw.json").write_text(json.dumps(definition))
    state_file = work_dir / "state.json"
    state_file.unlink(missing_ok=True)
    command = [
        str(procs.BIN / "knflow"),
        "dev",
        "--workflows",
        str(workflows),
        "--port-base",
        str(procs.free_port_base(PORTS)),
        "--state-file",
        str(state_file),
        "--eventing",
        str(procs.ROOT / "eventing"),
        "--functions",
        str(procs.ROOT / "functions"),
    ]
    env = {"DATABASE_URL": database_url}
    with procs.running(
        command, env=env, log=work_dir / "knflow-dev.log", grace=20.0
    ) as dev:
        state = _wait_up(state_file, dev.poll, work_dir)
        urls = {name: str(entry["url"]) for name, entry in state["functions"].items()}
        yield Stack(pid=dev.pid, urls=urls)


def _wait_up(state_file: Path, poll: Any, work_dir: Path) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if poll() is not None:
            raise RuntimeError(
                f"knflow dev exited while starting; see {work_dir / 'knflow-dev.log'}"
            )
        try:
            state: dict[str, Any] = json.loads(state_file.read_text())
        except (OSError, ValueError):
            state = {}
        if state.get("ready"):
            return state
        time.sleep(0.2)
    raise RuntimeError(f"knflow dev was not up within {START_TIMEOUT:.0f} s")
