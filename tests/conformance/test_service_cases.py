"""SonataFlow's tests of service calls (OpenAPI and `rest:` functions), through `knflow run`.

`http_peer` stands in for the WireMock servers of those tests and answers as they were
stubbed; `KNFLOW_FUNCTION_URL_<name>` points each function (or document) at it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.sonataflow import EXECUTOR, INTEGRATION, copy_case, knflow_run
from tests.peers import HttpPeer, Recorded, Reply


@pytest.fixture(autouse=True)
def _database(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)


def _point(monkeypatch: pytest.MonkeyPatch, peer: HttpPeer, *names: str) -> None:
    for name in names:
        monkeypatch.setenv(f"KNFLOW_FUNCTION_URL_{name}", peer.url)


def test_foreach_calls_a_rest_function_per_item(
    capsys: pytest.CaptureFixture[str],
    http_peer: HttpPeer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """ForEachRestIT.testForEachWorkItem(/forEachRest), with DivisionMockService."""
    _point(monkeypatch, http_peer, "division")
    http_peer.route("GET", "/division", _divide)
    workflow = copy_case(INTEGRATION, ["forEachRest.sw.json"], tmp_path)

    code, output, err = knflow_run(
        capsys, workflow, {"input": [2, 4, 6, 8, 10], "divisor": 2}
    )

    assert code == 0, err
    assert output["output"] == [2, 3, 4, 5, 6]
    assert "response" not in output


def _divide(request: Recorded) -> Reply:
    query = dict(part.split("=") for part in request.path.partition("?")[2].split("&"))
    return Reply(body={"result": int(query["dividend"]) // int(query["divisor"])})


def test_uri_definitions_name_the_documents_of_operations(
    capsys: pytest.CaptureFixture[str],
    http_peer: HttpPeer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """ConversionFlowIT.sanityVerification, with OperationsMockService (cluster1)."""
    _point(monkeypatch, http_peer, "multiplication", "subtraction")
    http_peer.route("POST", "/", _operations)
    workflow = copy_case(INTEGRATION, ["fahrenheit-to-celsius.sw.json"], tmp_path)

    code, output, err = knflow_run(
        capsys, workflow, {"fahrenheit": "100", "clusterName": "cluster1"}
    )

    assert code == 0, err
    assert output["fahrenheit"] == "100"
    assert output["celsius"] == 37.808


def _operations(request: Recorded) -> Reply:
    # The mock tells the two services apart by the header multiplication must carry.
    if request.headers.get("pepe") == "pepa":
        return Reply(body={"product": 37.808})
    return Reply(body={"difference": 68.0})


def test_openapi_functions_convert_fahrenheit(
    capsys: pytest.CaptureFixture[str],
    http_peer: HttpPeer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """OpenAPIWorkflowApplicationTest.openAPIInvocation (executor)."""
    _point(monkeypatch, http_peer, "spec")
    http_peer.route("POST", "/substract", Reply(body={"difference": 68.0}))
    http_peer.route("POST", "/multiply", Reply(body={"product": 68.0 * 0.5556}))
    workflow = copy_case(EXECUTOR, ["fahrenheit-to-celsius.sw.json"], tmp_path)

    code, output, err = knflow_run(capsys, workflow, {"fahrenheit": 100})

    assert code == 0, err
    assert output["product"] == pytest.approx(68.0 * 0.5556)


@pytest.mark.parametrize(
    ("folder", "document"),
    [(INTEGRATION, "stringOperations"), (EXECUTOR, "spec")],
    ids=["StringOpenAPIIT", "OpenAPIWorkflowApplicationTest-string"],
)
def test_a_string_body_goes_out_and_comes_back_as_text(
    capsys: pytest.CaptureFixture[str],
    http_peer: HttpPeer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    folder: Path,
    document: str,
) -> None:
    """A text/plain operation (`reverse`, listed as `reverse,` in the executor's spec)."""
    _point(monkeypatch, http_peer, document)
    http_peer.route("POST", "/stringResource/reverse", _reverse)
    workflow = copy_case(folder, ["stringResource.sw.json"], tmp_path)

    code, output, err = knflow_run(capsys, workflow, {"name": "redrum"})

    assert code == 0, err
    assert output["response"] == "murder"


def _reverse(request: Recorded) -> Reply:
    text = request.body.decode()
    return Reply(body=text[::-1].encode(), headers={"content-type": "text/plain"})


def test_an_array_body_and_answer(
    capsys: pytest.CaptureFixture[str],
    http_peer: HttpPeer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """OpenAPIArrayFlowIT.testArray, with OpenAPIArrayMockService."""
    _point(monkeypatch, http_peer, "array")
    http_peer.route("POST", "/testArray", lambda request: Reply(body=request.json()))
    workflow = copy_case(INTEGRATION, ["openapiarray.sw.json"], tmp_path)

    code, output, err = knflow_run(capsys, workflow, {"inputArray": [1, 2, 3, 4]})

    assert code == 0, err
    assert output["response"] == [1, 2, 3, 4]


def test_a_path_parameter_from_a_constant_argument(
    capsys: pytest.CaptureFixture[str],
    http_peer: HttpPeer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """OpenAPIArrayFlowIT.testInt (long-call), with the pet store mock."""
    _point(monkeypatch, http_peer, "petstore.openapi")
    http_peer.route("GET", "/pet/4", Reply(body={"name": "Maya", "photoUrls": []}))
    workflow = copy_case(INTEGRATION, ["long-call.sw.yaml"], tmp_path)

    code, output, err = knflow_run(capsys, workflow, {})

    assert code == 0, err
    assert output["name"] == "Maya"


def test_an_enum_parameter_is_sent_as_its_value(
    capsys: pytest.CaptureFixture[str],
    http_peer: HttpPeer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """OpenAPIEnumParameterIT.test, with EnumEchoServiceMock."""
    _point(monkeypatch, http_peer, "enum-parameter")
    http_peer.route(
        "POST",
        "/echo",
        lambda request: Reply(body={"echoedMsgType": request.json()["msgType"]}),
    )
    workflow = copy_case(INTEGRATION, ["openAPIEnumParameter.sw.json"], tmp_path)

    code, output, err = knflow_run(capsys, workflow, {})

    assert code == 0, err
    assert output["echoedMsgType"] == "text"
