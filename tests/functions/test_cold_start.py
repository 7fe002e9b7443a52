"""What each function imports at its start and past readiness, checked in a fresh interpreter.

A cold start answers readiness before the function's use cases load (`knflow.serving`), and
what loads after it stays what the function's own first request needs: these modules are
the ones a regression would bring back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import psycopg
import pytest

from knflow.events.codec import Event
from knflow.runtime.start_workflow import instance_api, rest_api, revision_api
from knflow.store import migrate, outbox
from tests.conftest import ROOT
from tests.functions.conftest import FunctionClient
from tests.peers import HttpPeer, Reply

FUNCTIONS = (
    "start-workflow",
    "step-executor",
    "data-index-sink",
    "job-trigger",
    "notify",
)
NOT_AT_START = (
    "knflow.serving.dispatch",
    "knflow.serving.endpoints",
    "knflow.runtime",
    "knflow.engine",
    "knflow.workflow",
    "knflow.auth",
    "httpx",
    "prometheus_client",
    "strawberry",
    "graphql",
    "jwt",
    "cryptography",
    "opentelemetry",
    "jsonschema",
    "yaml",
    "jq",
    "rich",
    "isodate",
)
"""Nothing of the use cases, the HTTP client, metrics, GraphQL, tokens or tracing."""


def imported_modules(function: str, *, loaded: bool) -> set[str]:
    """The modules a fresh interpreter holds after importing `function`'s `main.py`.

    With `loaded`, also after loading its endpoints and what a request past health
    imports (`dispatch`, the services' HTTP client and gate), as after readiness.
    """
    steps = ["import main"]
    if loaded:
        steps += [
            "main.endpoints()",
            "import knflow.serving.dispatch, knflow.auth.gate, knflow.outbound.http",
        ]
    code = "; ".join(
        [*steps, "import json, sys", "print(json.dumps(sorted(sys.modules)))"]
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT / "functions" / function,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(json.loads(result.stdout))


def under(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(
        name
        for name in modules
        if any(name == p or name.startswith(p + ".") for p in packages)
    )


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_function_starts_without_its_use_cases(function: str) -> None:
    assert under(imported_modules(function, loaded=False), NOT_AT_START) == []


def test_a_function_starts_with_its_modules_frozen_and_the_collector_running() -> None:
    code = (
        "import gc; import main;"  # get_objects: what collections still scan
        "print(gc.isenabled(), any(getattr(o, '__module__', None) == 'psycopg.errors'"
        " for o in gc.get_objects()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT / "functions" / "notify",
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert result.stdout.split() == ["True", "False"]


def test_the_data_index_loads_without_strawberry_until_a_query() -> None:
    modules = imported_modules("data-index-sink", loaded=True)
    assert "knflow.runtime.data_index.ingest" in modules
    assert under(modules, ("strawberry", "graphql", "knflow.graphql.http")) == []


def test_start_workflow_loads_without_the_engine_until_an_instance_endpoint() -> None:
    modules = imported_modules("start-workflow", loaded=True)
    assert "knflow.runtime.start_workflow.rest_api" in modules
    heavy = (
        "knflow.runtime.start_workflow.instance_api",
        "knflow.runtime.instances.after_commit",
        "knflow.runtime.instances.publishing",
        "knflow.engine.interpreter",
    )
    assert under(modules, heavy) == []


def test_every_start_workflow_route_names_a_handler_that_exists() -> None:
    modules = (rest_api, instance_api, revision_api)
    missing = [
        f"{route.method} {route.pattern}: {route.handler.__name__}"
        for route in rest_api.ROUTES
        if not any(callable(getattr(m, route.handler.__name__, None)) for m in modules)
    ]
    assert missing == []


def test_a_gate_in_off_mode_loads_no_token_machinery() -> None:
    code = (
        "import sys; from datetime import UTC, datetime, timedelta;"
        "from knflow.auth.gate import Gate; from knflow.config import Settings;"
        "from knflow.outbound.http import new_client;"
        "gate = Gate.from_settings(Settings(), new_client(timedelta(seconds=5)),"
        " lambda: datetime.now(UTC));"
        "print(gate.mode, sorted(m for m in ('jwt', 'cryptography') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert result.stdout.split(maxsplit=1) == ["off", "[]\n"]


def test_readiness_waits_for_the_migrations(
    function_client: FunctionClient,
    empty_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    client = function_client("notify")

    behind = client.get("/health/readiness")
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        migrate.apply_migrations(conn)
    ready = client.get("/health/readiness")

    assert behind.status_code == 503
    assert "migration(s) pending" in behind.get_json()["reason"]
    assert ready.status_code == 200


def test_once_ready_a_function_sweeps_without_any_other_request(
    function_client: FunctionClient,
    database_url: str,
    http_peer: HttpPeer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pod restarted after a crash, and sent no request, still publishes what was left unsent.

    The services (and the sweeper) are built by the warm-up readiness starts, not by the probe.
    """
    http_peer.route("POST", "/sink", Reply(status=202))
    left = Event(id="left-unsent", source="/tests", type="knflow.test.left")
    with psycopg.connect(database_url, autocommit=True) as conn:
        outbox.enqueue(
            conn,
            event_id=left.id,
            event_type=left.type,
            instance_id=None,
            event=left.to_dict(),
            now=datetime.now(UTC),
        )
    monkeypatch.setenv("K_SINK", f"{http_peer.url}/sink")
    monkeypatch.setenv("KNFLOW_SWEEP_DELAY_SECONDS", "0.1")
    client = function_client("notify")

    ready = client.get("/health/readiness")
    ready.close()  # as a WSGI server does once the answer is sent: the warm-up starts then
    assert ready.status_code == 200
    sent = http_peer.wait_for(1, method="POST", path="/sink")
    assert [request.headers["ce-id"] for request in sent] == ["left-unsent"]
