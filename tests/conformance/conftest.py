"""The running stack the REST-level conformance modules share (one per module and worker)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Final

import pytest

from tests.conformance.rest_stack import RestStack
from tests.conformance.sonataflow import BUILDER, INTEGRATION, OPENAPI_PARSER
from tests.peers import DROP, HttpPeer, Recorded, Reply
from tests.stack import DevStack

WORKFLOWS: Final = {
    INTEGRATION: (
        "helloworld.sw.json",
        "expression.sw.json",
        "invalidOutputExpression.sw.json",
        "greet.sw.json",
        "keepActive.sw.json",
        "division.sw.json",
        "compensation_aborted.sw.json",
        "main-flow.sw.yml",
        "subflow1.sw.yml",
        "subflow2.sw.yml",
        "subflow3.sw.yml",
        "event-flow.sw.yml",
        "event-flow2.sw.yml",
        "event.sw.json",
        "eventMultiple.sw.json",
        "eventMultipleExclusive.sw.json",
        "eventMultipleTimeout.sw.json",
        "eventMultipleTimeoutExclusive.sw.json",
        "eventMultipleWorkflowTimeout.sw.json",
        "eventWithError.sw.json",
        "correlation.sw.json",
        "helloworldevent.sw.yaml",
        "asyncPublisher.sw.json",
        "asyncConsumer.sw.json",
        "callback-state-with-timeouts-error-handler.sw.json",
        "errorWithMetadata.sw.json",
        "greetCustomer.sw.json",
    ),
    OPENAPI_PARSER: ("callback-state.sw.json", "callback-state-timeouts.sw.json"),
    BUILDER: (
        "switch-state-event-condition-timeouts-transition.sw.json",
        "switch-state-event-condition-timeouts-transition2.sw.json",
        "switch-state-event-condition-timeouts-end.sw.json",
        "multiple-timer-instances-event-state-timeouts.sw.json",
    ),
}
SECRET: Final = "javierito"
SUCCESSFUL_QUERY: Final = "SUCCESSFUL_QUERY"
GENERATE_ERROR_QUERY: Final = "GENERATE_ERROR_QUERY"


@pytest.fixture(scope="module")
def external_service() -> Iterator[HttpPeer]:
    """ExternalServiceMock: `sendRequest` succeeds, or fails for the error query."""
    peer = HttpPeer().start()
    peer.route("POST", "/external-service/sendRequest", _send_request)
    yield peer
    peer.stop()


def _send_request(request: Recorded) -> Reply:
    if request.json() == {"query": SUCCESSFUL_QUERY}:
        return Reply(body={})
    return DROP  # Fault.CONNECTION_RESET_BY_PEER


@pytest.fixture(scope="module")
def sonataflow(
    module_database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    external_service: HttpPeer,
) -> Iterator[RestStack]:
    folder = tmp_path_factory.mktemp("workflows")
    for source, files in WORKFLOWS.items():
        for name in files:
            shutil.copy(source / name, folder / name)
    for resources in ("specs", "schema"):
        shutil.copytree(INTEGRATION / resources, folder / resources)
    stack = DevStack.start(
        workflows_dir=folder,
        database_url=module_database_url,
        work_dir=tmp_path_factory.mktemp("stack"),
        env={
            "KNFLOW_SECRET_expression.my_name": SECRET,
            "KNFLOW_FUNCTION_URL_external-service": external_service.url,
        },
    )
    try:
        yield RestStack(stack=stack, database_url=module_database_url)
    finally:
        stack.stop()
