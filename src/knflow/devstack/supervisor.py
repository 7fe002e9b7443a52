"""The process supervisor of `knflow dev`: one functions-framework process per function.

It plans ports (broker N, functions N+1..), starts every function found under
`functions/` with the environment a cluster would give it, waits for readiness, restarts
a function that dies, and stops them all. It also builds the broker's routing: the
`eventing/` manifests plus a Trigger per event type the workflows consume.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from knflow.devstack import generated, manifests
from knflow.devstack.manifests import Routing
from knflow.errors import InputError
from knflow.workflow import loading

logger = logging.getLogger(__name__)

# Offsets from the port base; the broker takes the base itself (issue 3).
FUNCTION_OFFSETS: Final = {
    "start-workflow": 1,
    "step-executor": 2,
    "data-index-sink": 3,
    "job-trigger": 4,
    "notify": 5,
}
BUNDLE: Final = Path(__file__).resolve().parent / "bundle"
"""knflow's own `functions/` and `eventing/` folders, wherever knflow is installed (links
to the checkout's folders in a development install, copies in a wheel)."""
HOST: Final = "127.0.0.1"
READY_PATH: Final = "/health/readiness"
READY_TIMEOUT: Final = 60.0
# Grace period of a stop; job-trigger may hold a ping request for its whole job window,
# which a development stack need not wait for.
STOP_TIMEOUT: Final = 10.0
# A function that dies again soon after a restart waits longer each time, up to this.
MAX_RESTART_DELAY: Final = 10.0
STABLE_AFTER: Final = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionSpec:
    """One function to run: its folder name, port and entry module."""

    name: str
    """The folder name under `functions/` (also the Knative Service name)."""
    port: int
    """Its local port."""
    source: Path
    """Its `main.py`."""

    @property
    def url(self) -> str:
        """Its local base URL."""
        return f"http://{HOST}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """Which functions run where, and which were skipped."""

    port_base: int
    """The broker's port; functions follow it."""
    functions: tuple[FunctionSpec, ...]
    """The functions with a `main.py`."""
    skipped: tuple[str, ...] = ()
    """Function folders without a `main.py` yet."""
    namespace: str = "default"
    """Namespace of the broker the functions send to."""

    @property
    def broker_ingress(self) -> str:
        """The `default` broker's ingress URL: every function's `K_SINK`."""
        return f"http://{HOST}:{self.port_base}/{self.namespace}/default"

    def url(self, name: str) -> str:
        """Return the URL of a function, planned or not (its fixed port)."""
        return f"http://{HOST}:{self.port_base + FUNCTION_OFFSETS.get(name, 0)}"

    def subscribers(self) -> dict[str, str]:
        """Return the broker's subscriber table: function name to URL."""
        return {spec.name: spec.url for spec in self.functions}


def plan_functions(
    functions_dir: Path, port_base: int, *, namespace: str = "default"
) -> Plan:
    """Give each function folder its port; folders without `main.py` are skipped.

    Folders not in the port table get the ports after the known ones, in name order.
    """
    folders = (
        sorted(p for p in functions_dir.iterdir() if p.is_dir())
        if functions_dir.is_dir()
        else []
    )
    extra = iter(range(max(FUNCTION_OFFSETS.values()) + 1, 1000))
    planned, skipped = [], []
    for folder in folders:
        if not (folder / "main.py").is_file():
            skipped.append(folder.name)
            continue
        offset = FUNCTION_OFFSETS.get(folder.name) or next(extra)
        planned.append(
            FunctionSpec(
                name=folder.name, port=port_base + offset, source=folder / "main.py"
            )
        )
    return Plan(
        port_base=port_base,
        functions=tuple(planned),
        skipped=tuple(skipped),
        namespace=namespace,
    )


def require_every_function(plan: Plan, functions_dir: Path) -> None:
    """Refuse a plan that misses one of knflow's functions.

    Raises:
        InputError: naming the missing functions and the folder searched.
    """
    planned = {spec.name for spec in plan.functions}
    missing = sorted(set(FUNCTION_OFFSETS) - planned)
    if missing:
        raise InputError(
            f"no {', '.join(missing)} function found in {functions_dir} (each needs"
            " <name>/main.py); pass --functions with knflow's functions folder or"
            " reinstall knflow"
        )


def build_routing(
    eventing_dir: Path, workflows_dir: Path, *, namespace: str
) -> Routing:
    """Read the manifests, add a Trigger per event type the workflows consume and a
    KafkaSource per event type they start on (the development broker's topics).

    Raises:
        InputError: a manifest is invalid.
        DefinitionError: a workflow file does not parse.
    """
    sources = loading.load_directory(workflows_dir)
    made = [
        *generated.consumed_event_triggers(sources, namespace=namespace),
        *generated.start_event_sources(sources, namespace=namespace),
    ]
    documents = [*manifests.read_folder(eventing_dir), *made]
    return manifests.parse_routing(documents, namespace=namespace)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventingOidc:
    """Eventing OIDC in the development stack: the broker's issuer and the functions' tokens."""

    issuer: str
    """The broker's stand-in service-account issuer."""
    token_dir: Path
    """Folder of one projected token per function (`<name>.token`)."""


def eventing_audience(function_name: str) -> str:
    """The OIDC audience of a function's deliveries (the Triggers' `subscriber.audience`)."""
    return f"knflow-{function_name}"


def function_environment(
    plan: Plan,
    spec: FunctionSpec,
    *,
    base: Mapping[str, str],
    database_url: str,
    oidc: EventingOidc | None = None,
) -> dict[str, str]:
    """Return the environment of one function: `base` plus what Knative would inject."""
    service_url = plan.url("start-workflow")
    eventing = (
        {}
        if oidc is None
        else {
            "KNFLOW_EVENTING_OIDC": "required",
            "KNFLOW_EVENTING_OIDC_ISSUER": oidc.issuer,
            "KNFLOW_EVENTING_AUDIENCE": eventing_audience(spec.name),
            "KNFLOW_EVENTING_TOKEN_FILE": str(oidc.token_dir / f"{spec.name}.token"),
        }
    )
    return {
        **base,
        **eventing,
        "DATABASE_URL": database_url,
        "K_SINK": plan.broker_ingress,
        "K_SERVICE": spec.name,
        "KNFLOW_SERVICE_URL": service_url,
        "KNFLOW_RUNTIME_URL": service_url,
        "KNFLOW_JOBS_URL": plan.url("job-trigger"),
        "PYTHONUNBUFFERED": "1",
    }


@dataclass(slots=True, kw_only=True)
class _Child:
    spec: FunctionSpec
    process: subprocess.Popen[bytes]
    started_at: float = field(default_factory=time.monotonic)
    restarts: int = 0
    ready: bool = False
    workers: list[int] = field(default_factory=list)


class Supervisor:
    """Starts the planned functions, keeps them running, and stops them."""

    def __init__(
        self,
        plan: Plan,
        *,
        environments: Mapping[str, Mapping[str, str]],
        bin_dir: Path,
        stopping: threading.Event | None = None,
        state_file: Path | None = None,
    ) -> None:
        """Prepare; `environments` maps each function name to its full environment.

        Setting `stopping` (a signal handler does) interrupts a start in progress.
        """
        self._plan = plan
        self._environments = environments
        self._launcher = bin_dir / "functions-framework"
        self._state_file = state_file
        self._extra_state: dict[str, object] = {}
        self._children: dict[str, _Child] = {}
        self._lock = threading.Lock()
        self._stopping = stopping or threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        """Start every function and wait until each answers its readiness probe.

        Raises:
            RuntimeError: a function exited or was not ready in time.
        """
        for spec in self._plan.functions:
            self._children[spec.name] = _Child(spec=spec, process=self._spawn(spec))
        for child in self._children.values():
            _wait_ready(child.spec, child.process, stopping=self._stopping)
            child.ready = True
        self._watcher.start()

    def mark_ready(self, **state: object) -> None:
        """Record the whole stack as up in the state file (what `tests/stack.py` waits for)."""
        self._extra_state.update(state, ready=True)
        self._write_state()

    def pid(self, name: str) -> int:
        """Return the current process id of a function."""
        with self._lock:
            return self._children[name].process.pid

    def stop(self) -> None:
        """Stop every function: SIGTERM, then SIGKILL after a grace period."""
        self._stopping.set()
        if self._watcher.is_alive():
            self._watcher.join()
        with self._lock:
            children = list(self._children.values())
        for child in children:
            _signal(child.process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(max(0.1, deadline - time.monotonic()))
            if child.process.poll() is None:
                logger.warning(
                    "function killed after stop timeout",
                    extra={"function": child.spec.name},
                )
                kill_tree(child.process.pid)
                child.process.wait()
        logger.info("functions stopped")

    def _spawn(self, spec: FunctionSpec) -> subprocess.Popen[bytes]:
        command = [
            str(self._launcher),
            "--source",
            str(spec.source),
            "--target",
            "handle",
            "--signature-type",
            "http",
            "--host",
            HOST,
            "--port",
            str(spec.port),
        ]
        logger.info(
            "function starting", extra={"function": spec.name, "port": spec.port}
        )
        return subprocess.Popen(command, env=dict(self._environments[spec.name]))

    def _watch(self) -> None:
        delays: dict[str, float] = {}
        while not self._stopping.wait(0.2):
            for child in list(self._children.values()):
                if self._stopping.is_set():
                    return
                if child.process.poll() is None:
                    child.workers = _descendants(child.process.pid)
                    continue
                self._restart(child, delays)

    def _restart(self, child: _Child, delays: dict[str, float]) -> None:
        name = child.spec.name
        lived = time.monotonic() - child.started_at
        delay = (
            0.0
            if lived > STABLE_AFTER
            else min(MAX_RESTART_DELAY, delays.get(name, 0.25) * 2)
        )
        delays[name] = delay
        logger.warning(
            "function exited; restarting",
            extra={
                "function": name,
                "returncode": child.process.returncode,
                "delay": delay,
            },
        )
        child.ready = False
        self._write_state()
        # Workers of a killed gunicorn master live on as orphans holding the port.
        for worker in child.workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)
        if self._stopping.wait(delay):
            return
        _wait_port_free(child.spec.port, timeout=5.0)
        process = self._spawn(child.spec)
        with self._lock:
            self._children[name] = _Child(
                spec=child.spec, process=process, restarts=child.restarts + 1
            )
        try:
            _wait_ready(child.spec, process, stopping=self._stopping)
        except RuntimeError as error:
            logger.warning(
                "restarted function not ready",
                extra={"function": name, "reason": str(error)},
            )
            return
        self._children[name].ready = True
        self._write_state()
        logger.info("function restarted", extra={"function": name, "pid": process.pid})

    def _write_state(self) -> None:
        if self._state_file is None:
            return
        with self._lock:
            functions = {
                name: {
                    "url": child.spec.url,
                    "pid": child.process.pid,
                    "ready": child.ready,
                    "restarts": child.restarts,
                }
                for name, child in self._children.items()
            }
        state = {
            **self._extra_state,
            "functions": functions,
            "skipped": list(self._plan.skipped),
        }
        temporary = self._state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=2), encoding="utf-8")
        os.replace(temporary, self._state_file)


def is_ready(url: str, *, timeout: float = 2.0) -> bool:
    """Tell whether `GET <url>/health/readiness` answers 2xx."""
    host_port = url.removeprefix("http://").split("/")[0]
    connection = http.client.HTTPConnection(host_port, timeout=timeout)
    try:
        connection.request("GET", READY_PATH)
        return 200 <= connection.getresponse().status < 300
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def _wait_ready(
    spec: FunctionSpec, process: subprocess.Popen[bytes], *, stopping: threading.Event
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"function '{spec.name}' exited with code {process.returncode} while starting"
            )
        if is_ready(spec.url):
            logger.info(
                "function ready", extra={"function": spec.name, "url": spec.url}
            )
            return
        if stopping.wait(0.1):
            raise RuntimeError(f"stopped while function '{spec.name}' was starting")
    raise RuntimeError(
        f"function '{spec.name}' was not ready within {READY_TIMEOUT:.0f} s at {spec.url}"
    )


def _wait_port_free(port: int, *, timeout: float) -> None:
    """Wait until nothing listens on `port` (a killed server's workers may still hold it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with contextlib.closing(
                http.client.HTTPConnection(HOST, port, timeout=0.5)
            ) as probe:
                probe.connect()
        except OSError:
            return
        time.sleep(0.1)


def kill_tree(pid: int) -> None:
    """SIGKILL a process and its descendants (a server and its gunicorn workers)."""
    for member in [*_descendants(pid), pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    """Child processes, recursively, from Linux's /proc (empty elsewhere)."""
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child in children.read_text().split():
                found += [int(child), *_descendants(int(child))]
    return found


def _signal(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)
