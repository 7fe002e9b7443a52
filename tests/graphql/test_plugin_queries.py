"""The Backstage Orchestrator plugin's queries (Q1-Q11 and the historic ones), replayed.

Each query is sent as the plugin sends it: with values inlined (older plugins) and as
GraphQL variables (newest), over POST (urql 4) and GET (urql 6).
"""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.graphql.conftest import ANN, data
from tests.graphql.plugin_queries import Q5, Q11
from tests.graphql.sample_runs import RUNTIME

METHODS = pytest.mark.parametrize("method", ["POST", "GET"])


@METHODS
def test_q1_introspection_names_the_argument_types_the_plugin_knows(
    shared_index: FlaskClient, method: str
) -> None:
    query = (
        'query ProcessInstanceArgument { __type(name: "ProcessInstanceArgument") {'
        " kind name inputFields { name type { kind name ofType { kind name ofType"
        " { kind name ofType { kind name } } } } } } }"
    )

    found = data(shared_index, query, method=method)["__type"]

    types = {f["name"]: f["type"]["name"] for f in found["inputFields"]}
    assert found["kind"] == "INPUT_OBJECT"
    assert types["id"] == "IdArgument"
    assert types["processId"] == "StringArgument"
    assert types["start"] == "DateArgument"
    assert types["state"] == "ProcessInstanceStateArgument"
    assert types["variables"] == "JSON"


def test_q1_introspection_of_definition_arguments(shared_index: FlaskClient) -> None:
    query = (
        'query ProcessDefinitionArgument { __type(name: "ProcessDefinitionArgument")'
        " { kind name inputFields { name type { kind name } } } }"
    )

    fields = data(shared_index, query)["__type"]["inputFields"]

    types = {f["name"]: f["type"]["name"] for f in fields}
    assert types["id"] == "StringArgument"
    assert types["metadata"] == "JSON"
    assert {"and", "or", "not"} <= set(types)


@METHODS
def test_q2_workflow_info_inlined(shared_index: FlaskClient, method: str) -> None:
    query = (
        '{ ProcessDefinitions ( where: {id: {equal: "greet" } } ) '
        "{ id, name, version, type, endpoint, serviceUrl, source } }"
    )

    [found] = data(shared_index, query, method=method)["ProcessDefinitions"]

    assert found["serviceUrl"] == RUNTIME
    assert found["endpoint"] == f"{RUNTIME}/greet"
    assert found["type"] == "SW"
    assert found["source"].startswith('{"id": "greet"')


def test_q2_workflow_info_with_variables(shared_index: FlaskClient) -> None:
    query = (
        "query ($id: String) { ProcessDefinitions ( where: {id: {equal: $id } } )"
        " { id, name, version, serviceUrl } }"
    )

    found = data(shared_index, query, {"id": "approve"})["ProcessDefinitions"]

    assert [d["id"] for d in found] == ["approve"]


@METHODS
def test_q3_service_urls_of_every_definition(
    shared_index: FlaskClient, method: str
) -> None:
    found = data(
        shared_index, "{ ProcessDefinitions { id, serviceUrl } }", method=method
    )

    assert found["ProcessDefinitions"] == [
        {"id": "approve", "serviceUrl": RUNTIME},
        {"id": "greet", "serviceUrl": RUNTIME},
        {"id": "retired", "serviceUrl": RUNTIME},
    ]


@METHODS
def test_q4_workflow_list_with_empty_order_and_pagination(
    shared_index: FlaskClient, method: str
) -> None:
    query = (
        "query ($paginationInfo: Pagination, $orderByInfo: ProcessDefinitionOrderBy)"
        '{ProcessDefinitions ( where: {id: {in: ["greet", "retired"]}},'
        " orderBy: $orderByInfo, pagination: $paginationInfo)"
        "  {id, name, version, type, endpoint, serviceUrl, source, metadata } }"
    )

    found = data(
        shared_index, query, {"paginationInfo": {}, "orderByInfo": {}}, method=method
    )

    by_id = {d["id"]: d for d in found["ProcessDefinitions"]}
    assert set(by_id) == {"greet", "retired"}
    assert by_id["retired"]["metadata"]["status"] == "unavailable"


def test_q4_and_of_ids_and_a_filter_clause(shared_index: FlaskClient) -> None:
    query = (
        "query ($paginationInfo: Pagination, $orderByInfo: ProcessDefinitionOrderBy,"
        " $clauseVariable0123456789abcdef: String)"
        '{ProcessDefinitions ( where: {and: [{id: {in: ["greet", "approve"]}},'
        " {name: {like: $clauseVariable0123456789abcdef}}]},"
        " orderBy: $orderByInfo, pagination: $paginationInfo) {id} }"
    )
    variables = {
        "paginationInfo": {"limit": 10, "offset": 0},
        "orderByInfo": {"name": "DESC"},
        "clauseVariable0123456789abcdef": "Gr%",
    }

    assert data(shared_index, query, variables)["ProcessDefinitions"] == [
        {"id": "greet"}
    ]


@METHODS
def test_q5_runs_list_ordered_by_start(shared_index: FlaskClient, method: str) -> None:
    variables = {
        "paginationInfo": {"limit": 10, "offset": 0},
        "orderByInfo": {"start": "DESC"},
    }

    found = data(shared_index, Q5, variables, method=method)["ProcessInstances"]

    assert [i["id"] for i in found] == ["r-1", "child-1", "w-1", "f-1", "c-1"]
    first = found[-1]
    assert first["state"] == "COMPLETED"
    assert first["start"] == "2024-05-01T10:00:00.000Z"
    assert first["end"] == "2024-05-01T10:00:03.000Z"
    assert first["version"] == "1.0"
    assert first["variables"]["initiatorEntity"] == ANN
    assert [n["id"] for n in first["nodes"]] == ["c-1-node-1", "c-1-node-2"]


def test_q5_pages(shared_index: FlaskClient) -> None:
    variables = {
        "paginationInfo": {"limit": 2, "offset": 2},
        "orderByInfo": {"start": "ASC"},
    }

    found = data(shared_index, Q5, variables)["ProcessInstances"]

    assert [i["id"] for i in found] == ["w-1", "child-1"]


def test_q5_shows_the_parent_of_a_child_run(shared_index: FlaskClient) -> None:
    found = data(shared_index, Q5, {"paginationInfo": {}, "orderByInfo": {}})[
        "ProcessInstances"
    ]

    child = next(i for i in found if i["id"] == "child-1")
    assert child["parentProcessInstance"] == {
        "id": "w-1",
        "processName": "Approve",
        "businessKey": None,
    }


def test_q5_with_the_non_admin_initiator_filter(shared_index: FlaskClient) -> None:
    query = (
        "query ($paginationInfo: Pagination, $orderByInfo: ProcessInstanceOrderBy,"
        " $clauseVariableaaaaaaaaaaaaaaaa: String)"
        "{ProcessInstances ( where: {and: [{processId: {isNull: false}},"
        " {variables: {initiatorEntity: {equal: $clauseVariableaaaaaaaaaaaaaaaa}}}]},"
        " orderBy: $orderByInfo, pagination: $paginationInfo) {id} }"
    )
    variables = {
        "paginationInfo": {},
        "orderByInfo": {"start": "ASC"},
        "clauseVariableaaaaaaaaaaaaaaaa": ANN,
    }

    assert data(shared_index, query, variables)["ProcessInstances"] == [
        {"id": "c-1"},
        {"id": "w-1"},
    ]


@METHODS
def test_q6_definition_ids_for_a_target_entity(
    shared_index: FlaskClient, method: str
) -> None:
    query = (
        "query ($paginationInfo: Pagination, $orderByInfo: ProcessInstanceOrderBy,"
        " $clauseVariable1111111111111111: String){ProcessInstances ( where: {and:"
        " [{processId: {isNull: false}}, {variables: {targetEntity: {equal:"
        " $clauseVariable1111111111111111}}}]}, orderBy: $orderByInfo,"
        " pagination: $paginationInfo)  {processId } }"
    )
    variables = {
        "paginationInfo": {"limit": 1000, "offset": 0},
        "orderByInfo": {},
        "clauseVariable1111111111111111": "component:default/y",
    }

    found = data(shared_index, query, variables, method=method)

    assert found["ProcessInstances"] == [{"processId": "approve"}]


def test_q6_inlined_form(shared_index: FlaskClient) -> None:
    query = (
        "{ProcessInstances ( where: {and: [{processId: {isNull: false}},"
        ' {variables: {targetEntity: {equal: "component:default/x"}}}]}) {processId } }'
    )

    assert data(shared_index, query)["ProcessInstances"] == [{"processId": "greet"}]


@METHODS
def test_q7_workflow_source(shared_index: FlaskClient, method: str) -> None:
    query = (
        '{ ProcessDefinitions ( where: {id: {equal: "approve" } } ) { id, source } }'
    )

    [found] = data(shared_index, query, method=method)["ProcessDefinitions"]

    assert '"id": "approve"' in found["source"]


@METHODS
def test_q8_last_run_of_a_definition(shared_index: FlaskClient, method: str) -> None:
    query = (
        '{ ProcessInstances( where: {processId: {equal: "greet" } }, orderBy: {start:DESC},'
        " pagination: {limit: 1, offset: 0}) { id, processName, state, start, end } }"
    )

    found = data(shared_index, query, method=method)["ProcessInstances"]

    assert found == [
        {
            "id": "r-1",
            "processName": "Greet",
            "state": "COMPLETED",
            "start": "2024-05-01T10:00:30.000Z",
            "end": "2024-05-01T10:00:36.000Z",
        }
    ]


def test_q8_with_target_entity_as_variables(shared_index: FlaskClient) -> None:
    query = (
        "query ($definitionId: String, $targetEntity: String) { ProcessInstances("
        " where: {processId: {equal: $definitionId }, variables: {targetEntity:"
        " {equal: $targetEntity } } }, orderBy: {start:DESC},"
        " pagination: {limit: 1, offset: 0}) { id, state } }"
    )
    variables = {"definitionId": "greet", "targetEntity": "component:default/x"}

    assert data(shared_index, query, variables)["ProcessInstances"] == [
        {"id": "c-1", "state": "COMPLETED"}
    ]


@METHODS
def test_q9_instance_variables(shared_index: FlaskClient, method: str) -> None:
    query = '{ ProcessInstances (where: { id: {equal: "c-1" } } ) { variables } }'

    [found] = data(shared_index, query, method=method)["ProcessInstances"]

    assert found["variables"]["workflowdata"] == {
        "name": "Ann",
        "greeting": "Hello Ann",
    }


@METHODS
def test_q10_definition_id_of_an_instance(
    shared_index: FlaskClient, method: str
) -> None:
    query = '{ ProcessInstances (where: { id: {equal: "w-1" } } ) { processId } }'

    assert data(shared_index, query, method=method)["ProcessInstances"] == [
        {"processId": "approve"}
    ]


@METHODS
def test_q11_details_of_a_failed_run(shared_index: FlaskClient, method: str) -> None:
    [found] = data(shared_index, Q11, {"instanceId": "f-1"}, method=method)[
        "ProcessInstances"
    ]

    assert found["state"] == "ERROR"
    assert found["serviceUrl"] == RUNTIME
    assert found["error"] == {
        "nodeDefinitionId": "GreetPerson",
        "nodeInstanceId": "f-1-node-2",
        "message": "greeting service failed",
    }
    failed = found["nodes"][-1]
    assert failed["errorMessage"] == "greeting service failed"
    assert failed["enter"] == "2024-05-01T10:00:12.000Z"
    assert found["executionSummary"] == [
        "Workflow started at 2024-05-01T10:00:10Z",
        "Workflow failed with error greeting service failed at 2024-05-01T10:00:12Z",
    ]


def test_q11_summary_of_a_waiting_run(shared_index: FlaskClient) -> None:
    [found] = data(shared_index, Q11, {"instanceId": "w-1"})["ProcessInstances"]

    assert found["executionSummary"] == [
        "Workflow started at 2024-05-01T10:00:20Z",
        "Workflow waiting at node WaitForApproval since 2024-05-01T10:00:22Z",
    ]
    assert found["error"] is None


def test_q11_summary_of_a_retriggered_run_that_completed(
    shared_index: FlaskClient,
) -> None:
    [found] = data(shared_index, Q11, {"instanceId": "r-1"})["ProcessInstances"]

    assert found["state"] == "COMPLETED"
    assert found["error"] is None
    assert found["executionSummary"][-1] == "Workflow completed at 2024-05-01T10:00:36Z"


def test_historic_list_query_with_inlined_order_and_paging(
    shared_index: FlaskClient,
) -> None:
    query = (
        '{ProcessInstances (where: {processId: {in: ["greet"]}, state: {in: [ACTIVE, ERROR]}},'
        " orderBy: {start: DESC}, pagination: {limit: 10, offset: 0})  {id, processName,"
        " processId, businessKey, state, start, end, nodes { id }, variables,"
        " parentProcessInstance {id, processName, businessKey}} }"
    )

    assert [i["id"] for i in data(shared_index, query)["ProcessInstances"]] == ["f-1"]


def test_historic_total_count_query(shared_index: FlaskClient) -> None:
    query = '{ProcessInstances (where: {processId: {in: ["greet", "approve"]}}) {id } }'

    assert len(data(shared_index, query)["ProcessInstances"]) == 5


def test_historic_old_details_query(shared_index: FlaskClient) -> None:
    query = (
        '{ ProcessInstances (where: {id: {equal: "f-1"}}) { id businessKey'
        " error { nodeDefinitionId message } } }"
    )

    [found] = data(shared_index, query)["ProcessInstances"]

    assert found["error"] == {
        "nodeDefinitionId": "GreetPerson",
        "message": "greeting service failed",
    }
