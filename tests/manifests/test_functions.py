"""Each function folder deploys with `kn func deploy`: a func.yaml that passes knative/func's
schema and pins an image by digest, and a Dockerfile that builds that image from the
repository (the core package installed, byte-compiled, a non-root user, gunicorn)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from knflow.deploy import documents
from tests.conftest import ROOT
from tests.manifests.schemas import func_yaml_schema

FUNCTIONS = (
    "start-workflow",
    "step-executor",
    "data-index-sink",
    "job-trigger",
    "notify",
)
DIGEST = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


def func_yaml_problems(path: Path) -> list[str]:
    """Return `file: pointer: reason` for each schema violation of a func.yaml."""
    validator = jsonschema.Draft4Validator(func_yaml_schema())
    [document] = documents.read(path)
    return [
        f"{path}: /{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def dockerfile_problems(path: Path, root: Path) -> list[str]:
    """Return what is wrong with a function Dockerfile whose build context is `root`."""
    instructions = _instructions(path)
    problems = [
        f"{path}: COPY source {source} does not exist"
        for source in _copy_sources(instructions)
        if not list(root.glob(source.rstrip("/")))
    ]
    runs = " && ".join(args for name, args in instructions if name == "RUN")
    if not re.search(r"pip install\b[^&]*\s\.(\s|$)", runs):
        problems.append(f"{path}: no RUN installs the package (pip install ... .)")
    if "compileall" not in runs:
        problems.append(f"{path}: nothing is byte-compiled")
    users = [args for name, args in instructions if name == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append(f"{path}: the image does not run as a non-root user")
    return problems


def _instructions(path: Path) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def _copy_sources(instructions: list[tuple[str, str]]) -> list[str]:
    sources = []
    for name, args in instructions:
        if name in ("COPY", "ADD"):
            words = [w for w in shlex.split(args) if not w.startswith("--")]
            sources.extend(words[:-1])
    return sources


def _func_yaml(name: str) -> dict[str, Any]:
    return documents.read(ROOT / "functions" / name / "func.yaml")[0]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_func_yaml_passes_the_func_schema(name: str) -> None:
    assert func_yaml_problems(ROOT / "functions" / name / "func.yaml") == []


@pytest.mark.parametrize("name", FUNCTIONS)
def test_func_yaml_pins_its_image_by_digest_so_kn_func_does_not_build(
    name: str,
) -> None:
    spec = _func_yaml(name)

    assert DIGEST.match(spec["image"])
    assert spec["name"] == name
    assert spec["runtime"] == "python"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_func_yaml_scales_to_zero_with_limits_and_health_probes(name: str) -> None:
    deploy = _func_yaml(name)["deploy"]

    assert deploy["healthEndpoints"] == {
        "liveness": "/health/liveness",
        "readiness": "/health/readiness",
    }
    assert deploy["options"]["scale"]["min"] == 0
    assert deploy["options"]["resources"]["limits"]["concurrency"] > 0
    assert deploy["options"]["resources"]["limits"]["memory"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_func_yaml_reads_the_database_url_from_a_secret(name: str) -> None:
    envs = {env.get("name"): env["value"] for env in _func_yaml(name)["run"]["envs"]}

    assert envs["DATABASE_URL"] == "{{ secret:knflow-database:url }}"
    assert envs["FUNCTION_SIGNATURE_TYPE"] == "http"
    assert envs[None] == "{{ configMap:knflow-config }}"


def test_only_start_workflow_is_invoked_over_plain_http() -> None:
    invoked = {name: _func_yaml(name)["invoke"] for name in FUNCTIONS}

    assert invoked == {
        name: "http" if name == "start-workflow" else "cloudevent" for name in FUNCTIONS
    }


def test_broken_func_yaml_fails_with_its_file_and_path(tmp_path: Path) -> None:
    spec = _func_yaml("notify")
    spec["deploy"]["options"]["scale"]["minimum"] = 0
    path = tmp_path / "func.yaml"
    path.write_text(documents.render([spec]), encoding="utf-8")

    [problem] = func_yaml_problems(path)

    assert problem.startswith(f"{path}: /deploy/options/scale: Additional properties")


@pytest.mark.parametrize("name", FUNCTIONS)
def test_dockerfile_copies_existing_files_and_installs_the_package(name: str) -> None:
    assert dockerfile_problems(ROOT / "functions" / name / "Dockerfile", ROOT) == []


@pytest.mark.parametrize("name", FUNCTIONS)
def test_dockerfile_serves_the_function_app_with_gunicorn(name: str) -> None:
    instructions = _instructions(ROOT / "functions" / name / "Dockerfile")
    [command] = [args for kind, args in instructions if kind == "CMD"]
    copied = _copy_sources(instructions)

    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert "gunicorn" in command
    assert (
        f'create_app(target="handle", source="functions/{name}/main.py",'
        ' signature_type="http")'
    ) in command
    assert f"functions/{name}/" in copied


def test_dockerfile_with_a_missing_source_or_root_user_is_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(
        "FROM python:3.11-slim\nCOPY missing.txt /x\nRUN pip install .\nUSER root\n",
        encoding="utf-8",
    )

    assert dockerfile_problems(path, tmp_path) == [
        f"{path}: COPY source missing.txt does not exist",
        f"{path}: nothing is byte-compiled",
        f"{path}: the image does not run as a non-root user",
    ]


def test_build_context_leaves_out_the_virtualenv_and_local_databases() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()

    assert {".venv", ".pgdata", ".git"} <= set(ignored)
