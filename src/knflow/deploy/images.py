"""Function images and `kn func deploy`: what `make images` and `make deploy` run.

Builds each function's image from the repository root with whichever OCI builder works
(docker, podman, buildah), pushes it, pins its digest in `functions/<name>/func.yaml`
(and in the migration Job), and deploys with `kn func deploy` (or the standalone
`func`). When a tool is missing it says which one and what to install, and exits
non-zero.

Run as `python -m knflow.deploy.images build|deploy --registry REGISTRY`.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from knflow.errors import UnavailableError

FUNCTIONS: Final = (
    "start-workflow",
    "step-executor",
    "data-index-sink",
    "job-trigger",
    "notify",
)
BUILDERS: Final = ("docker", "podman", "buildah")
LOCAL_REGISTRY: Final = "localhost/knflow"
MIGRATION_JOB: Final = Path("knative/job-knflow-migrate.yaml")
MIGRATION_IMAGE_OF: Final = "start-workflow"
NAMESPACE: Final = "knflow"
MIGRATE_BY_HAND: Final = (
    "kubectl is not installed, so the database was not migrated: run"
    " `kubectl apply -k knative/` and wait for job/knflow-migrate in namespace knflow;"
    " the functions become ready once it completed"
)
_IMAGE_LINE: Final = re.compile(r"^(?P<indent>\s*)image: .*$", re.MULTILINE)
_DIGEST: Final = re.compile(r"sha256:[0-9a-f]{64}")
_TOOL_TIMEOUT: Final = 3600


@dataclass(frozen=True, slots=True, kw_only=True)
class Builder:
    """An OCI image builder that answered."""

    name: str
    """`docker`, `podman` or `buildah`."""
    binary: str
    """Its full path."""


def main(argv: Sequence[str] | None = None, *, search_path: str | None = None) -> int:
    """Run `build` or `deploy`; return the exit code.

    `search_path` replaces PATH when looking for tools (tests use it).
    """
    args = _parser().parse_args(argv)
    try:
        if args.command == "build":
            build_all(args, find_builder(search_path))
        else:
            builder, deployer = _deploy_tools(args.registry, search_path)
            deploy_all(args, builder, deployer, search_path=search_path)
    except UnavailableError as error:
        target = "images" if args.command == "build" else "deploy"
        print(f"make {target}: {error}", file=sys.stderr)  # noqa: T201
        return 1
    return 0


def build_all(args: argparse.Namespace, builder: Builder) -> None:
    """Build and tag every chosen function's image.

    Raises:
        UnavailableError: a build failed.
    """
    for name in args.functions:
        ref = image_ref(args.registry or LOCAL_REGISTRY, name, args.tag)
        build_image(builder, name, ref, Path(args.root))
        print(f"built {ref}")  # noqa: T201


def deploy_all(
    args: argparse.Namespace,
    builder: Builder,
    deployer: list[str],
    *,
    search_path: str | None = None,
) -> None:
    """Push and pin every image, migrate the database, then `func deploy` each function.

    Functions report not-ready while the schema is behind (docs/architecture.md §4), so
    the migration Job runs first when `kubectl` is at hand; otherwise the way to run it is
    printed.

    Raises:
        UnavailableError: a push, a pin, the migration or a deployment failed.
    """
    root = Path(args.root)
    pinned = {}
    for name in args.functions:
        pinned[name] = push_image(builder, image_ref(args.registry, name, args.tag))
        pin_image(root / "functions" / name / "func.yaml", pinned[name])
        if name == MIGRATION_IMAGE_OF:
            pin_image(root / MIGRATION_JOB, pinned[name])
    run_migration(root, search_path)
    for name in args.functions:
        deploy_function(deployer, root / "functions" / name)
        print(f"deployed {name} from {pinned[name]}")  # noqa: T201


def run_migration(root: Path, search_path: str | None = None) -> None:
    """Apply knative/ (namespace, settings, the migration Job) and wait for the Job.

    Raises:
        UnavailableError: the Job failed or did not finish in time.
    """
    kubectl = shutil.which("kubectl", path=search_path)
    if kubectl is None:
        print(MIGRATE_BY_HAND, file=sys.stderr)  # noqa: T201
        return
    namespaced = [kubectl, "--namespace", NAMESPACE]
    _run([*namespaced, "delete", "job", "knflow-migrate", "--ignore-not-found"])
    _run([kubectl, "apply", "--kustomize", str(root / "knative")])
    _run(
        [
            *namespaced,
            "wait",
            "--for=condition=complete",
            "--timeout=300s",
            "job/knflow-migrate",
        ]
    )


def find_builder(search_path: str | None = None) -> Builder:
    """Return the first builder that is installed and working.

    Raises:
        UnavailableError: none is; the message says what was found and what to do.
    """
    reasons = []
    for name in BUILDERS:
        binary = shutil.which(name, path=search_path)
        if binary is None:
            reasons.append(f"{name} is not installed")
            continue
        failure = _probe(name, binary)
        if failure is None:
            return Builder(name=name, binary=binary)
        reasons.append(failure)
    raise UnavailableError(
        "no working OCI image builder: "
        + "; ".join(reasons)
        + ". Install Docker (with a running daemon), Podman or Buildah"
    )


def find_deployer(search_path: str | None = None) -> list[str]:
    """Return the command that runs `func deploy`: `kn func` or the standalone `func`.

    Raises:
        UnavailableError: neither is installed.
    """
    kn = shutil.which("kn", path=search_path)
    if kn is not None:
        return [kn, "func"]
    func = shutil.which("func", path=search_path)
    if func is not None:
        return [func]
    raise UnavailableError(
        "neither kn (with the func plugin) nor func is installed: install the Knative"
        " CLI and its func plugin (https://knative.dev/docs/functions/install-func/)"
    )


def image_ref(registry: str, name: str, tag: str) -> str:
    """Return `REGISTRY/knflow-NAME:TAG`."""
    return f"{registry.rstrip('/')}/knflow-{name}:{tag}"


def build_image(builder: Builder, name: str, ref: str, root: Path) -> None:
    """Build one function's image from the repository root.

    Raises:
        UnavailableError: the build failed.
    """
    dockerfile = str(root / "functions" / name / "Dockerfile")
    verb = "bud" if builder.name == "buildah" else "build"
    _run([builder.binary, verb, "--file", dockerfile, "--tag", ref, str(root)])


def push_image(builder: Builder, ref: str) -> str:
    """Push an image; return its reference pinned by digest (`repo@sha256:...`).

    Raises:
        UnavailableError: the push failed or reported no digest.
    """
    repository = ref.rsplit(":", 1)[0] if ":" in ref.rsplit("/", 1)[-1] else ref
    if builder.name == "docker":
        output = _run([builder.binary, "push", ref])
        digest = _DIGEST.findall(output)
    else:
        with tempfile.TemporaryDirectory() as folder:
            digest_file = Path(folder) / "digest"
            _run([builder.binary, "push", "--digestfile", str(digest_file), ref])
            digest = _DIGEST.findall(digest_file.read_text(encoding="utf-8"))
    if not digest:
        raise UnavailableError(f"pushing {ref} reported no sha256 digest")
    return f"{repository}@{digest[-1]}"


def pin_image(manifest: Path, pinned: str) -> None:
    """Write `pinned` as the `image:` of a func.yaml or a single-container manifest.

    Only the `image:` lines change, so comments and layout stay as written.

    Raises:
        UnavailableError: the file has no `image:` line.
    """
    text = manifest.read_text(encoding="utf-8")
    if not _IMAGE_LINE.search(text):
        raise UnavailableError(f"{manifest} has no image: line to pin")
    manifest.write_text(
        _IMAGE_LINE.sub(lambda m: f"{m['indent']}image: {pinned}", text),
        encoding="utf-8",
    )


def deploy_function(deployer: list[str], folder: Path) -> None:
    """Run `func deploy` for one function folder; its image digest disables building.

    Raises:
        UnavailableError: the deployment failed.
    """
    _run([*deployer, "deploy", "--path", str(folder)])


def _deploy_tools(registry: str, search_path: str | None) -> tuple[Builder, list[str]]:
    """Return the builder and the deployer, or say at once everything missing."""
    missing = []
    if not registry:
        missing.append(
            "no registry: set REGISTRY to one the cluster pulls from"
            " (make deploy REGISTRY=quay.io/me)"
        )
    builder: Builder | None = None
    deployer: list[str] | None = None
    try:
        builder = find_builder(search_path)
    except UnavailableError as error:
        missing.append(str(error))
    try:
        deployer = find_deployer(search_path)
    except UnavailableError as error:
        missing.append(str(error))
    if missing or builder is None or deployer is None:
        raise UnavailableError("\n  - ".join(["cannot deploy:", *missing]))
    return builder, deployer


def _probe(name: str, binary: str) -> str | None:
    """Return why a builder cannot build, or None when it can."""
    command = [binary, "version" if name == "buildah" else "info"]
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=30)
    except subprocess.CalledProcessError as error:
        detail = (error.stderr or b"").decode(errors="replace").strip().splitlines()
        why = detail[-1] if detail else f"exit status {error.returncode}"
        return f"{name} is installed but `{name} {command[1]}` failed ({why})"
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{name} is installed but does not run ({error})"
    return None


def _run(command: list[str]) -> str:
    try:
        done = subprocess.run(
            command, check=True, capture_output=True, text=True, timeout=_TOOL_TIMEOUT
        )
    except subprocess.CalledProcessError as error:
        tail = "\n".join((error.stderr or error.stdout or "").strip().splitlines()[-5:])
        raise UnavailableError(f"`{' '.join(command)}` failed: {tail}") from error
    except (OSError, subprocess.TimeoutExpired) as error:
        raise UnavailableError(f"`{' '.join(command)}` did not run: {error}") from error
    return done.stdout + done.stderr


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m knflow.deploy.images")
    parser.add_argument("command", choices=("build", "deploy"))
    parser.add_argument(
        "--registry",
        default="",
        help="where images go, e.g. quay.io/me (make REGISTRY=...); required to deploy",
    )
    parser.add_argument("--tag", default="latest", help="image tag (default: latest)")
    parser.add_argument("--root", default=".", help="the repository root")
    parser.add_argument(
        "--functions", nargs="+", default=list(FUNCTIONS), choices=FUNCTIONS
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
