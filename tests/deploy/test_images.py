"""`make images` / `make deploy` (knflow.deploy.images) with fake external tools on PATH:
missing tools are explained, builds and pushes run the builder, digests land in func.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knflow.deploy import images
from tests.conftest import ROOT
from tests.manifests.test_functions import DIGEST, func_yaml_problems

DIGEST_VALUE = "sha256:" + "ab" * 32
# A podman stand-in: logs its arguments, writes a digest where --digestfile asks.
FAKE_PODMAN = """#!/bin/sh
echo "podman $*" >> "{log}"
while [ $# -gt 0 ]; do
  if [ "$1" = "--digestfile" ]; then printf '%s' "{digest}" > "$2"; fi
  shift
done
"""
FAKE_LOGGER = '#!/bin/sh\necho "{name} $*" >> "{log}"\n'
FAKE_DOCKER_WITHOUT_DAEMON = "#!/bin/sh\necho 'Cannot connect to the Docker daemon. Is it running?' >&2\nexit 1\n"


def _tool(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text(script, encoding="utf-8")
    path.chmod(0o755)


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    return folder


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the files `make deploy` rewrites."""
    root = tmp_path / "repo"
    for name in images.FUNCTIONS:
        (root / "functions" / name).mkdir(parents=True)
        shutil.copy(ROOT / "functions" / name / "func.yaml", root / "functions" / name)
    (root / "knative").mkdir()
    shutil.copy(ROOT / images.MIGRATION_JOB, root / images.MIGRATION_JOB)
    return root


def test_images_without_any_builder_explains_what_to_install(
    bin_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = images.main(["build"], search_path=str(bin_dir))

    error = capsys.readouterr().err
    assert code == 1
    assert (
        "docker is not installed; podman is not installed; buildah is not installed"
        in error
    )
    assert "Install Docker (with a running daemon), Podman or Buildah" in error


def test_docker_without_a_daemon_is_reported_as_such(
    bin_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _tool(bin_dir, "docker", FAKE_DOCKER_WITHOUT_DAEMON)

    code = images.main(["build"], search_path=str(bin_dir))

    assert code == 1
    assert "docker is installed but `docker info` failed (Cannot connect" in (
        capsys.readouterr().err
    )


def test_images_builds_every_function_from_the_repository_root(
    bin_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "tools.log"
    _tool(bin_dir, "podman", FAKE_PODMAN.format(log=log, digest=DIGEST_VALUE))

    code = images.main(
        ["build", "--registry", "reg.example/me", "--tag", "t1", "--root", "/src"],
        search_path=str(bin_dir),
    )

    builds = [line for line in log.read_text().splitlines() if " build " in line]
    assert code == 0
    assert builds[0] == (
        "podman build --file /src/functions/start-workflow/Dockerfile"
        " --tag reg.example/me/knflow-start-workflow:t1 /src"
    )
    assert len(builds) == len(images.FUNCTIONS)


def test_deploy_pins_pushed_digests_and_runs_kn_func_deploy(
    bin_dir: Path, tmp_path: Path, repo: Path
) -> None:
    log = tmp_path / "tools.log"
    _tool(bin_dir, "podman", FAKE_PODMAN.format(log=log, digest=DIGEST_VALUE))
    _tool(bin_dir, "kn", FAKE_LOGGER.format(name="kn", log=log))
    _tool(bin_dir, "kubectl", FAKE_LOGGER.format(name="kubectl", log=log))

    code = images.main(
        ["deploy", "--registry", "reg.example/me", "--root", str(repo)],
        search_path=str(bin_dir),
    )

    func_yaml = repo / "functions" / "notify" / "func.yaml"
    pinned = f"image: reg.example/me/knflow-notify@{DIGEST_VALUE}"
    assert code == 0
    assert pinned in func_yaml.read_text().splitlines()
    assert func_yaml_problems(func_yaml) == []
    assert f"reg.example/me/knflow-start-workflow@{DIGEST_VALUE}" in (
        (repo / images.MIGRATION_JOB).read_text()
    )
    assert f"kn func deploy --path {repo}/functions/notify" in log.read_text()


def test_pinning_keeps_comments_and_layout(repo: Path) -> None:
    func_yaml = repo / "functions" / "step-executor" / "func.yaml"
    before = func_yaml.read_text().splitlines()

    images.pin_image(func_yaml, f"r/x@{DIGEST_VALUE}")

    after = func_yaml.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert [b for _a, b in changed] == [f"image: r/x@{DIGEST_VALUE}"]
    assert DIGEST.match(after[after.index(f"image: r/x@{DIGEST_VALUE}")][7:])


def test_deploy_lists_everything_missing_at_once(
    bin_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = images.main(["deploy"], search_path=str(bin_dir))

    error = capsys.readouterr().err
    assert code == 1
    assert "no registry: set REGISTRY" in error
    assert "no working OCI image builder" in error
    assert "neither kn (with the func plugin) nor func is installed" in error


def test_deploy_migrates_the_database_before_deploying_functions(
    bin_dir: Path, tmp_path: Path, repo: Path
) -> None:
    log = tmp_path / "tools.log"
    _tool(bin_dir, "podman", FAKE_PODMAN.format(log=log, digest=DIGEST_VALUE))
    _tool(bin_dir, "kn", FAKE_LOGGER.format(name="kn", log=log))
    _tool(bin_dir, "kubectl", FAKE_LOGGER.format(name="kubectl", log=log))

    images.main(
        ["deploy", "--registry", "r", "--root", str(repo), "--functions", "notify"],
        search_path=str(bin_dir),
    )

    calls = [
        line for line in log.read_text().splitlines() if not line.startswith("podman")
    ]
    assert calls == [
        "kubectl --namespace knflow delete job knflow-migrate --ignore-not-found",
        f"kubectl apply --kustomize {repo}/knative",
        "kubectl --namespace knflow wait --for=condition=complete --timeout=300s"
        " job/knflow-migrate",
        f"kn func deploy --path {repo}/functions/notify",
    ]


def test_deploy_without_kubectl_says_how_to_migrate(
    bin_dir: Path, tmp_path: Path, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "tools.log"
    _tool(bin_dir, "podman", FAKE_PODMAN.format(log=log, digest=DIGEST_VALUE))
    _tool(bin_dir, "func", FAKE_LOGGER.format(name="func", log=log))

    code = images.main(
        ["deploy", "--registry", "r", "--root", str(repo), "--functions", "notify"],
        search_path=str(bin_dir),
    )

    assert code == 0
    assert "run `kubectl apply -k knative/` and wait for job/knflow-migrate" in (
        capsys.readouterr().err
    )
    assert f"func deploy --path {repo}/functions/notify" in log.read_text()
