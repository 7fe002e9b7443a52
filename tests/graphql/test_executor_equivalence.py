"""The fast executor answers byte for byte what graphql-core's own executor answers.

Every query shape the Orchestrator plugin sent (the recorded calls), the plugin queries of
`plugin_queries`, and shapes that reach every output field, alias, fragment, directive,
`__typename`, introspection and error path, run through both executors over the loaded
Data Index; the JSON answers (keys in order) must be the same bytes, and the fast one's
second answer (its arguments memoized) the same as its first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Final

import pytest
from flask.testing import FlaskClient

from knflow.config import Settings
from knflow.graphql import http
from knflow.graphql.schema import DataIndexSchema, Executor
from knflow.outbound.http import new_client
from knflow.runtime.services import Services
from knflow.store import db
from tests.graphql.plugin_queries import Q5, Q11, recorded_calls

NODE: Final = (
    "id name type enter exit definitionId nodeId slaDueDate retrigger errorMessage"
    " cancelType inputArgs outputArgs"
)
DEFINITION: Final = (
    "id name version source addons roles type endpoint serviceUrl description"
    " annotations metadata nodes { id name type uniqueId metadata { UniqueId state"
    " branch action } }"
)
INSTANCE: Final = (
    "id processId version processName parentProcessInstanceId rootProcessInstanceId"
    " rootProcessId roles state endpoint serviceUrl variables start end addons"
    " lastUpdate businessKey diagram identity createdBy updatedBy slaDueDate"
    " cloudEventId cloudEventSource executionSummary source"
    " milestones { id name status } timers { timerId processId processInstanceId"
    " nodeInstanceId description } error { nodeDefinitionId nodeInstanceId message }"
    f" nodes {{ {NODE} }} nodeDefinitions {{ id name uniqueId }}"
)
JOB: Final = (
    "id processId processInstanceId nodeInstanceId rootProcessInstanceId rootProcessId"
    " status expirationTime priority callbackEndpoint repeatInterval repeatLimit"
    " scheduledId retries lastUpdate executionCounter endpoint exceptionMessage"
    " exceptionDetails"
)
SHAPES: Final[list[tuple[str, dict[str, Any] | None]]] = [
    (Q5, {"paginationInfo": {}, "orderByInfo": {"start": "DESC"}}),
    (Q11, {"instanceId": "f-1"}),
    (Q11, {"instanceId": "w-1"}),
    (f"{{ ProcessInstances {{ {INSTANCE} }} }}", None),
    (
        f"{{ ProcessInstances {{ {INSTANCE} parentProcessInstance {{ {INSTANCE} }}"
        f" childProcessInstances {{ {INSTANCE} }} definition {{ {DEFINITION} }} }} }}",
        None,
    ),
    (f"{{ ProcessDefinitions {{ {DEFINITION} }} }}", None),
    (f"{{ Jobs {{ {JOB} }} }}", None),
    (
        "{ CountProcessInstances CountProcessDefinitions CountJobs"
        " failed: CountProcessInstances(where: {state: {equal: ERROR}}) }",
        None,
    ),
    (
        "query Aliased { first: ProcessInstances(orderBy: {start: ASC},"
        " pagination: {limit: 2}) { key: id again: id, id, state, when: start"
        " __typename, kind: __typename nodes { __typename n: name } }"
        " __typename }",
        None,
    ),
    (
        "query Fragments { ProcessInstances { ...Run ... on ProcessInstance { state"
        " error { ...Failure } } nodes { ... on NodeInstance { id enter } } } }"
        " fragment Run on ProcessInstance { id processId start end state }"
        " fragment Failure on ProcessInstanceError { message nodeDefinitionId }",
        None,
    ),
    (
        "query Directives($with: Boolean!, $without: Boolean!) { ProcessInstances {"
        " id state @include(if: $with) start @skip(if: $with)"
        " variables @include(if: $without) end @skip(if: $without)"
        " nodes @include(if: $with) { id name @skip(if: $with) } } }",
        {"with": True, "without": False},
    ),
    (
        "query ($ids: [String!]) { ProcessInstances(where: {id: {in: $ids}}) {"
        " id roles addons executionSummary } }",
        {"ids": ["c-1", "r-1", "child-1"]},
    ),
    ("{ __schema { queryType { name } types { name kind } } }", None),
    ('{ __type(name: "ProcessInstance") { name fields { name } } }', None),
    ("{ ProcessInstances { id nope } }", None),
    ("{ ProcessInstances { id ", None),
    (
        "query ($limit: Int!) { ProcessInstances(pagination: {limit: $limit}) { id } }",
        {},
    ),
    ('{ ProcessInstances(where: {start: {equal: "not a date"}}) { id } }', None),
]


@pytest.fixture(scope="module")
def index_services(shared_index: FlaskClient) -> Iterator[Services]:
    """Services on the shared loaded index (its database is the environment's now)."""
    settings = Settings.from_environment()
    pool = db.open_pool(settings.database_url, max_size=2)
    client = new_client(timedelta(seconds=10))
    yield Services(settings=settings, pool=pool, http=client)
    client.close()
    pool.close()


def _answer(
    services: Services,
    query: str,
    variables: dict[str, Any] | None,
    executor: Executor,
    operation_name: str | None = None,
) -> str:
    response = http.execute(
        services, query, variables, operation_name, executor=executor
    )
    assert response.status == 200
    return json.dumps(response.body)


def _compared(
    services: Services,
    query: str,
    variables: dict[str, Any] | None,
    operation_name: str | None = None,
) -> tuple[str, str]:
    fast = _answer(services, query, variables, Executor.PLAIN_FIELDS, operation_name)
    reference = _answer(
        services, query, variables, Executor.GRAPHQL_CORE, operation_name
    )
    again = _answer(services, query, variables, Executor.PLAIN_FIELDS, operation_name)
    assert again == fast, "the second run (memoized arguments) differs"
    return fast, reference


@pytest.mark.parametrize(
    "call",
    recorded_calls(),
    ids=[f"recorded-{i:02d}" for i in range(len(recorded_calls()))],
)
def test_every_recorded_plugin_call_answers_the_same_bytes(
    index_services: Services, call: Any
) -> None:
    fast, reference = _compared(index_services, call.query, call.variables)

    assert fast == reference
    assert '"data"' in fast


@pytest.mark.parametrize(
    ("query", "variables"), SHAPES, ids=[f"shape-{i:02d}" for i in range(len(SHAPES))]
)
def test_every_field_fragment_and_error_answers_the_same_bytes(
    index_services: Services, query: str, variables: dict[str, Any] | None
) -> None:
    fast, reference = _compared(index_services, query, variables)

    assert fast == reference


TWO_OPERATIONS: Final = (
    "query Runs { ProcessInstances { id state } }"
    " query Count { CountProcessInstances }"
    ' mutation Abort { ProcessInstanceAbort(id: "nope") }'
)
NAMED: Final[list[tuple[str, str | None]]] = [
    (TWO_OPERATIONS, None),
    (TWO_OPERATIONS, "Count"),
    (TWO_OPERATIONS, "Abort"),
    ("{ ProcessInstances { id } } { CountJobs }", None),
    ("query Q { CountJobs }", "Q"),
    ("subscription S { CountJobs }", None),
]


@pytest.mark.parametrize(
    ("query", "operation_name"),
    NAMED,
    ids=[f"named-{i:02d}" for i in range(len(NAMED))],
)
def test_every_choice_of_operation_answers_the_same_bytes(
    index_services: Services, query: str, operation_name: str | None
) -> None:
    """Several operations, one named, mutations, and what no executor runs."""
    fast, reference = _compared(index_services, query, None, operation_name)

    assert fast == reference


@pytest.mark.parametrize("operation_name", ["Other", None])
def test_an_operation_that_is_not_there_is_refused_alike(
    index_services: Services, operation_name: str | None
) -> None:
    query = "query Q { CountJobs }" if operation_name else "fragment F on Job { id }"
    refusals = []
    for executor in Executor:
        with pytest.raises(Exception) as raised:  # noqa: PT011 - strawberry's own
            _answer(index_services, query, None, executor, operation_name)
        refusals.append((type(raised.value), str(raised.value)))

    assert refusals[0] == refusals[1]


def test_a_valid_query_is_run_without_strawberrys_per_request_set_up(
    index_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the comparisons above compare is `execute_valid`'s own path."""
    query, variables = SHAPES[0]

    def refused(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("execute_sync ran")

    monkeypatch.setattr(DataIndexSchema, "execute_sync", refused)
    answer = json.loads(
        _answer(index_services, query, variables, Executor.PLAIN_FIELDS)
    )

    assert answer["data"]["ProcessInstances"]


def test_one_text_with_other_variables_answers_for_those_variables(
    index_services: Services,
) -> None:
    """Arguments are memoized by field and variables: new variables, new arguments."""
    query, _ = SHAPES[1]
    answers = [
        json.loads(_answer(index_services, query, {"instanceId": run}, executor))
        for run in ("f-1", "w-1", "f-1")
        for executor in Executor
    ]

    ids = [answer["data"]["ProcessInstances"][0]["id"] for answer in answers]
    assert ids == ["f-1", "f-1", "w-1", "w-1", "f-1", "f-1"]


def test_the_full_selection_reaches_rows_with_every_kind_of_value(
    index_services: Services,
) -> None:
    """The shapes above are only worth comparing if they read filled-in rows."""
    answer = json.loads(
        _answer(index_services, SHAPES[3][0], None, Executor.PLAIN_FIELDS)
    )
    runs = {run["id"]: run for run in answer["data"]["ProcessInstances"]}

    assert runs["f-1"]["state"] == "ERROR"
    assert runs["f-1"]["error"]["message"]
    assert runs["c-1"]["start"].endswith("Z")
    assert runs["c-1"]["variables"]
    assert runs["child-1"]["parentProcessInstanceId"] == "w-1"
    assert any(node["enter"] for node in runs["c-1"]["nodes"])
