"""`knflow run`: register, run one instance in-process, print the output or the failure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest

from knflow import cli
from tests.conftest import REFERENCE_DATA, TEST_DATA
from tests.peers import HttpPeer, Recorded, Reply

WORKFLOWS = TEST_DATA / "workflows"
EXAMPLES = REFERENCE_DATA / "sonataflow-examples"


@pytest.fixture(autouse=True)
def _database(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["run", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _alone(tmp_path: Path, *files: Path) -> Path:
    for file in files:
        shutil.copy(file, tmp_path / file.name)
    return tmp_path / files[0].name


def test_hello_world_prints_its_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    workflow = _alone(
        tmp_path, EXAMPLES / "serverless-workflow-hello-world" / "hello.sw.json"
    )
    code, out, _ = _run(capsys, str(workflow))
    assert code == 0
    assert json.loads(out) == {
        "greeting": "Hello World",
        "mantra": "Serverless Workflow is awesome!",
    }


def test_input_can_come_from_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    workflow = _alone(
        tmp_path, EXAMPLES / "serverless-workflow-foreach-quarkus" / "foreach.sw.json"
    )
    (tmp_path / "input.json").write_text('{"input": [1, 2, 3]}')
    code, out, _ = _run(capsys, str(workflow), "--input", f"@{tmp_path / 'input.json'}")
    assert code == 0
    assert json.loads(out) == {"output": [4, 6, 8]}


def test_a_rest_function_is_called_with_its_path_parameter(
    capsys: pytest.CaptureFixture[str],
    http_peer: HttpPeer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("KNFLOW_FUNCTION_URL_greet", http_peer.url)
    http_peer.route("POST", "/greet/en", Reply(body={"greeting": "Hello"}))
    workflow = _alone(tmp_path, WORKFLOWS / "greet-rest.sw.json")
    code, out, _ = _run(
        capsys, str(workflow), "--input", '{"language": "en", "name": "Ann"}'
    )
    assert code == 0
    assert json.loads(out)["greeting"] == "Hello"
    assert http_peer.received("POST", "/greet/en")[0].json() == {"name": "Ann"}


def test_a_404_is_handled_by_on_errors(
    capsys: pytest.CaptureFixture[str],
    http_peer: HttpPeer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("KNFLOW_FUNCTION_URL_greet", http_peer.url)
    workflow = _alone(tmp_path, WORKFLOWS / "greet-rest.sw.json")
    code, out, _ = _run(
        capsys, str(workflow), "--input", '{"language": "xx", "name": "Ann"}'
    )
    assert code == 0
    assert json.loads(out)["greeting"] == "unknown language"


def test_a_failing_function_exits_1_naming_state_and_message(
    capsys: pytest.CaptureFixture[str],
    http_peer: HttpPeer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("KNFLOW_FUNCTION_URL_greet", http_peer.url)
    http_peer.route("POST", "/greet/en", Reply(status=500, body={"error": "boom"}))
    workflow = _alone(tmp_path, WORKFLOWS / "greet-rest.sw.json")
    code, out, err = _run(capsys, str(workflow), "--input", '{"language": "en"}')
    assert code == 1
    assert out == ""
    assert "state 'greet'" in err
    assert "500" in err


def test_parallel_branches_call_the_service_concurrently(
    capsys: pytest.CaptureFixture[str],
    http_peer: HttpPeer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("KNFLOW_FUNCTION_URL_slow", http_peer.url)

    def answer(request: Recorded) -> Reply:
        http_peer.wait_for(
            2, method="POST"
        )  # each branch blocks until both calls arrived
        return Reply(body={"branch": request.path.rsplit("/", 1)[-1]})

    http_peer.route("POST", "/slow/*", answer)
    workflow = _alone(tmp_path, WORKFLOWS / "fanout.sw.json")
    code, out, _ = _run(capsys, str(workflow))
    assert code == 0
    assert json.loads(out) == {"a": {"branch": "a"}, "b": {"branch": "b"}}


def test_a_subflow_from_the_same_folder_runs_and_returns_its_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    workflow = _alone(
        tmp_path, WORKFLOWS / "parent.sw.json", WORKFLOWS / "child.sw.json"
    )
    code, out, _ = _run(capsys, str(workflow), "--input", '{"n": 21}')
    assert code == 0
    assert json.loads(out) == {"n": 21, "fromChild": {"doubled": 42, "child": True}}


def test_a_sleep_state_waits_then_continues(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    workflow = _alone(tmp_path, WORKFLOWS / "napper.sw.json")
    code, out, _ = _run(capsys, str(workflow))
    assert code == 0
    assert json.loads(out) == {"rested": True}


def test_malformed_input_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    workflow = _alone(
        tmp_path, EXAMPLES / "serverless-workflow-hello-world" / "hello.sw.json"
    )
    code, _, err = _run(capsys, str(workflow), "--input", "{not json")
    assert code == 1
    assert "--input is not valid JSON" in err


def test_input_violating_the_schema_is_refused_naming_the_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = EXAMPLES / "serverless-workflow-expression-quarkus"
    shutil.copytree(folder, tmp_path / "expr")
    code, _, err = _run(
        capsys,
        str(tmp_path / "expr" / "expression.sw.json"),
        "--input",
        '{"numbers": "x"}',
    )
    assert code == 1
    assert "numbers" in err


def test_past_the_step_budget_calls_are_handed_over_and_still_complete(
    capsys: pytest.CaptureFixture[str],
    http_peer: HttpPeer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database_url: str,
) -> None:
    monkeypatch.setenv("KNFLOW_FUNCTION_URL_svc", http_peer.url)
    monkeypatch.setenv("KNFLOW_STEP_BUDGET_SECONDS", "0")
    http_peer.route("POST", "/count", Reply(body={"ok": True}))
    (tmp_path / "twice.sw.json").write_text(
        json.dumps(
            {
                "id": "twice",
                "specVersion": "0.8",
                "start": "calls",
                "functions": [
                    {"name": "svc", "type": "custom", "operation": "rest:post:/count"}
                ],
                "states": [
                    {
                        "name": "calls",
                        "type": "operation",
                        "end": True,
                        "actions": [
                            {
                                "functionRef": "svc",
                                "actionDataFilter": {"toStateData": "${ .first }"},
                            },
                            {
                                "functionRef": "svc",
                                "actionDataFilter": {"toStateData": "${ .second }"},
                            },
                        ],
                    }
                ],
            }
        )
    )
    code, out, _ = _run(capsys, str(tmp_path / "twice.sw.json"))
    assert code == 0
    assert json.loads(out) == {"first": {"ok": True}, "second": {"ok": True}}
    with psycopg.connect(database_url) as conn:
        handed = conn.execute(
            "SELECT count(*) FROM outbox WHERE event_type = 'knflow.step.ready'"
        ).fetchone()
    assert handed is not None
    assert handed[0] >= 1  # the second call went out as a step event
