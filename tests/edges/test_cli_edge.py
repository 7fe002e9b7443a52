"""The `knflow` command line under careless input (issue 12).

Every failure is one line, `knflow <command>: <what is wrong and what to do>`, with exit
status 1 (2 for a usage error) and never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from knflow.devstack import postgres
from tests.conftest import REFERENCE_DATA, ROOT
from tests.edges.refusals import assert_no_leak
from tests.stack import KNFLOW, free_port_base
from tests.waiting import eventually

HELLO = ROOT / "workflows" / "hello.sw.json"
EXPRESSION = (
    REFERENCE_DATA / "sonataflow-examples" / "serverless-workflow-expression-quarkus"
)


def _knflow(
    *args: str,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(KNFLOW), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _one_line_failure(
    result: subprocess.CompletedProcess[str], command: str, *words: str, code: int = 1
) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert_no_leak(result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"knflow {command}: ") or lines[0].startswith("knflow: ")
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def test_run_with_a_missing_input_file_is_one_line(database_url: str) -> None:
    result = _knflow(
        "run",
        str(HELLO),
        "--input",
        "@missing.json",
        env={"DATABASE_URL": database_url},
    )
    _one_line_failure(result, "run", "missing.json", "cannot be read")


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("{oops", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"a": NaN}', "NaN"),
        ('{"a": "\\u0000"}', "NUL"),
        ("[" * 5000 + "]" * 5000, "KNFLOW_MAX_JSON_DEPTH"),
    ],
    ids=["malformed", "array", "nan", "nul", "deep"],
)
def test_run_with_bad_input_is_one_line(
    database_url: str, given: str, words: str
) -> None:
    result = _knflow(
        "run", str(HELLO), "--input", given, env={"DATABASE_URL": database_url}
    )
    _one_line_failure(result, "run", words)


def test_run_reports_every_input_schema_error(
    database_url: str, tmp_path: Path
) -> None:
    for name in ("expression.sw.json", "schema"):
        source = EXPRESSION / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    given = json.dumps({"numbers": [{"x": "two"}, {"y": "three"}]})
    result = _knflow(
        "run",
        str(tmp_path / "expression.sw.json"),
        "--input",
        given,
        env={"DATABASE_URL": database_url},
    )
    assert result.returncode == 1
    assert_no_leak(result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) >= 3, lines
    assert all(line.startswith("knflow run: input /numbers/") for line in lines)
    assert any("/numbers/0/x" in line for line in lines)
    assert any("/numbers/1" in line for line in lines)


def test_run_of_a_missing_workflow_file_is_one_line(database_url: str) -> None:
    result = _knflow("run", "nowhere.sw.json", env={"DATABASE_URL": database_url})
    _one_line_failure(result, "run", "nowhere.sw.json")


def test_migrate_with_a_database_url_that_is_not_one_is_one_line() -> None:
    result = _knflow("migrate", env={"DATABASE_URL": "not a url"})
    _one_line_failure(result, "migrate", "DATABASE_URL")


def test_a_setting_that_is_not_a_number_is_one_line(database_url: str) -> None:
    result = _knflow(
        "migrate", env={"DATABASE_URL": database_url, "KNFLOW_MAX_BODY_BYTES": "lots"}
    )
    _one_line_failure(result, "migrate", "KNFLOW_MAX_BODY_BYTES")


@pytest.mark.parametrize(
    ("args", "command"),
    [
        ((), "knflow"),
        (("run",), "run"),
        (("nope",), "knflow"),
        (("run", "--bogus", "x"), "run"),
    ],
    ids=["nothing", "run-without-file", "unknown-command", "unknown-option"],
)
def test_a_usage_error_is_one_line_with_exit_2(
    args: tuple[str, ...], command: str
) -> None:
    result = _knflow(*args)
    line = _one_line_failure(result, command, "--help", code=2)
    assert "usage" not in line


def test_schema_prints_the_migrated_schema(server_url: str) -> None:
    result = _knflow("schema", env={"DATABASE_URL": server_url})
    assert result.returncode == 0, result.stderr
    assert "CREATE TABLE public.instances" in result.stdout
    assert "CREATE TABLE public.index_process_instances" in result.stdout


def test_validate_reports_a_jq_syntax_error_with_its_pointer(tmp_path: Path) -> None:
    document = json.loads(HELLO.read_text())
    document["functions"][0]["operation"] = ".name +"
    (tmp_path / "broken.sw.json").write_text(json.dumps(document))
    result = _knflow("validate", str(tmp_path / "broken.sw.json"))
    assert result.returncode == 1
    assert "broken.sw.json: /functions/0/operation:" in result.stderr
    assert "does not compile" in result.stderr


def test_dev_with_invalid_definitions_lists_each_problem_and_refuses_to_start(
    tmp_path: Path, database_url: str
) -> None:
    shutil.copy(HELLO, tmp_path / "hello.sw.json")
    (tmp_path / "bad.sw.json").write_text(
        json.dumps(
            {"id": "bad", "version": "1", "start": "x", "states": [{"name": "x"}]}
        )
    )
    broken = json.loads(HELLO.read_text())
    broken["id"] = "broken"
    broken["functions"][0]["operation"] = ".name +"
    (tmp_path / "broken.sw.json").write_text(json.dumps(broken))
    result = _knflow(
        "dev",
        "--workflows",
        str(tmp_path),
        "--port-base",
        str(free_port_base()),
        env={"DATABASE_URL": database_url},
    )
    assert result.returncode == 1
    assert "is up" not in result.stdout
    assert_no_leak(result.stderr)
    lines = result.stderr.strip().splitlines()
    assert any(
        line.startswith(f"{tmp_path / 'bad.sw.json'}: /states/0") for line in lines
    )
    assert any(
        line.startswith(f"{tmp_path / 'broken.sw.json'}: /functions/0/operation:")
        for line in lines
    )
    assert lines[-1].startswith("knflow dev: the definitions above are invalid")


def test_dev_names_a_port_that_is_taken(tmp_path: Path, database_url: str) -> None:
    shutil.copy(HELLO, tmp_path / "hello.sw.json")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _knflow(
            "dev",
            "--workflows",
            str(tmp_path),
            "--port-base",
            str(port),
            env={"DATABASE_URL": database_url},
        )
    line = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1
    assert f"port {port} is in use" in line
    assert "PORT_BASE" in line


def test_dev_fails_loudly_when_a_function_is_missing(
    tmp_path: Path, database_url: str
) -> None:
    functions = tmp_path / "functions"
    shutil.copytree(ROOT / "functions" / "notify", functions / "notify")
    shutil.copy(HELLO, tmp_path / "hello.sw.json")
    result = _knflow(
        "dev",
        "--workflows",
        str(tmp_path),
        "--functions",
        str(functions),
        "--port-base",
        str(free_port_base()),
        env={"DATABASE_URL": database_url},
    )
    _one_line_failure(result, "dev", "start-workflow", "step-executor", "--functions")


def test_dev_outside_the_checkout_runs_every_function(
    tmp_path: Path, database_url: str
) -> None:
    shutil.copy(HELLO, tmp_path / "hello.sw.json")
    state_file = tmp_path / "state.json"
    command = [str(KNFLOW), "dev", "--workflows", ".", "--state-file", str(state_file)]
    command += ["--port-base", str(free_port_base())]
    environment = {**os.environ, "DATABASE_URL": database_url}
    with (tmp_path / "dev.log").open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=environment,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:

        def state() -> dict[str, object]:
            assert process.poll() is None, (tmp_path / "dev.log").read_text()[-2000:]
            return json.loads(state_file.read_text()) if state_file.exists() else {}

        ready = eventually(state, lambda s: s.get("ready"), timeout=150)
        assert set(ready["functions"]) == {  # type: ignore[arg-type]
            "start-workflow",
            "step-executor",
            "data-index-sink",
            "job-trigger",
            "notify",
        }
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_make_run_takes_the_port_base() -> None:
    dry = subprocess.run(
        ["make", "-n", "run", "PORT_BASE=9000"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "--port-base 9000" in dry.stdout


def test_a_second_embedded_postgresql_in_the_same_folder_says_what_runs() -> None:
    data_dir = ROOT / ".pgdata" / f"edge-{os.getpid()}"
    first = postgres.start_embedded(data_dir)
    try:
        with pytest.raises(RuntimeError, match="already running") as refused:
            postgres.start_embedded(data_dir)
        assert "another `make run`" in str(refused.value)
        assert "DATABASE_URL" in str(refused.value)
    finally:
        first.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
