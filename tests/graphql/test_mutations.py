"""Data Index mutations call the runtime's management API and the jobs API."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.graphql.conftest import data, gql
from tests.peers import HttpPeer, Reply

BASE = "/management/processes/greet/instances/f-1"


@pytest.mark.parametrize(
    ("mutation", "method", "path"),
    [
        ("ProcessInstanceAbort(id: $id)", "DELETE", BASE),
        ("ProcessInstanceRetry(id: $id)", "POST", BASE + "/retrigger"),
        ("ProcessInstanceSkip(id: $id)", "POST", BASE + "/skip"),
        (
            'NodeInstanceTrigger(id: $id, nodeId: "GreetPerson")',
            "POST",
            BASE + "/nodes/GreetPerson",
        ),
        (
            'NodeInstanceRetrigger(id: $id, nodeInstanceId: "f-1-node-2")',
            "POST",
            BASE + "/nodeInstances/f-1-node-2",
        ),
        (
            'NodeInstanceCancel(id: $id, nodeInstanceId: "f-1-node-2")',
            "DELETE",
            BASE + "/nodeInstances/f-1-node-2",
        ),
        ("ProcessInstanceRerun(id: $id)", "POST", BASE + "/rerun"),
    ],
    ids=[
        "abort",
        "retry",
        "skip",
        "trigger",
        "retrigger-node",
        "cancel-node",
        "rerun",
    ],
)
def test_instance_mutations_call_the_management_api(
    indexed: FlaskClient, http_peer: HttpPeer, mutation: str, method: str, path: str
) -> None:
    http_peer.route(method, path, Reply(200, {"workflowdata": {"name": "Bob"}}))

    found = data(indexed, f"mutation ($id: String) {{ {mutation} }}", {"id": "f-1"})

    assert list(found.values()) == ['{"workflowdata": {"name": "Bob"}}']
    assert [(r.method, r.path) for r in http_peer.requests] == [(method, path)]


def test_the_historic_abort_mutation(indexed: FlaskClient, http_peer: HttpPeer) -> None:
    http_peer.route("DELETE", BASE, Reply(200, {}))
    query = "mutation ProcessInstanceAbortMutation($id: String) { ProcessInstanceAbort(id: $id) }"

    assert data(indexed, query, {"id": "f-1"}) == {"ProcessInstanceAbort": "{}"}


def test_update_variables_puts_the_data(
    indexed: FlaskClient, http_peer: HttpPeer
) -> None:
    http_peer.route("PUT", "/greet/f-1", Reply(200, {"ok": True}))
    query = 'mutation { ProcessInstanceUpdateVariables(id: "f-1", variables: "{\\"a\\": 1}") }'

    data(indexed, query)

    assert http_peer.requests[0].json() == {"a": 1}


def test_the_bulk_retrigger_mutation_posts_the_range_to_the_runtime(
    indexed: FlaskClient, http_peer: HttpPeer
) -> None:
    path = "/management/processes/greet/instances/retrigger"
    http_peer.route("POST", path, Reply(200, {"remaining": 0, "instances": []}))
    query = (
        'mutation { ProcessInstancesRetrigger(processId: "greet",'
        ' failedAfter: "2026-12-03T09:00:00.000Z", limit: 20) }'
    )

    found = data(indexed, query)

    assert found == {"ProcessInstancesRetrigger": '{"remaining": 0, "instances": []}'}
    assert http_peer.requests[0].json() == {
        "failedAfter": "2026-12-03T09:00:00+00:00",
        "limit": 20,
    }


def test_job_cancel_calls_the_jobs_api(
    indexed: FlaskClient, http_peer: HttpPeer
) -> None:
    http_peer.route("DELETE", "/jobs-service/v2/jobs/j-1", Reply(200, {"id": "j-1"}))

    found = data(indexed, 'mutation { JobCancel(id: "j-1") }')

    assert found == {"JobCancel": '{"id": "j-1"}'}


def test_a_refusal_by_the_runtime_is_a_data_fetching_error(
    indexed: FlaskClient, http_peer: HttpPeer
) -> None:
    http_peer.route(
        "POST", BASE + "/retrigger", Reply(400, {"message": "not in error"})
    )

    answer = gql(indexed, 'mutation { ProcessInstanceRetry(id: "f-1") }')

    error = answer["errors"][0]
    assert error["extensions"]["classification"] == "DataFetchingException"
    assert "answered 400" in error["message"]
    assert answer["data"] == {"ProcessInstanceRetry": None}


def test_an_unknown_instance_is_reported_without_calling_out(
    indexed: FlaskClient, http_peer: HttpPeer
) -> None:
    answer = gql(indexed, 'mutation { ProcessInstanceAbort(id: "nope") }')

    assert "is not indexed" in answer["errors"][0]["message"]
    assert http_peer.requests == []


def test_mutations_are_refused_over_get(indexed: FlaskClient) -> None:
    answer = indexed.get(
        "/graphql", query_string={"query": 'mutation { JobCancel(id: "j") }'}
    )

    assert answer.status_code == 405


def test_mutations_pass_the_callers_tokens_on_so_the_runtime_authorizes_the_caller(
    indexed: FlaskClient, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", BASE + "/retrigger", Reply(200, {}))
    query = "mutation ($id: String) { ProcessInstanceRetry(id: $id) }"

    indexed.post(
        "/graphql",
        json={"query": query, "variables": {"id": "f-1"}},
        headers={"X-Authorization-Backstage": "user-token", "Cookie": "s=1"},
    )

    sent = http_peer.requests[0].headers
    assert sent["x-authorization-backstage"] == "user-token"
    assert "cookie" not in sent
