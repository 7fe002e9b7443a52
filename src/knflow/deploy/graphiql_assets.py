"""Install the GraphiQL page's assets from pinned npm packages (run by `make install`).

data-index-sink serves GraphiQL at `/graphiql` without fetching anything at run time (an
air-gapped cluster has no CDN): the React and GraphiQL bundles are copied, at install or
image build time, from the npm tarballs pinned with their integrity in
`graphql/graphiql-assets.txt` into `graphql/static/`, which is package data and never
committed.

Usage: python -m knflow.deploy.graphiql_assets [--force]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from knflow.graphql.page import ASSETS_DIR, PINNED_ASSETS


@dataclass(frozen=True, slots=True)
class PinnedPackage:
    """One npm tarball and the files taken from it."""

    name: str
    version: str
    integrity: str
    files: tuple[str, ...]


def main(argv: list[str] | None = None) -> int:
    """Fetch, check and copy the assets unless they are all there already."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="fetch even when present")
    args = parser.parse_args(argv)
    packages = read_pins(PINNED_ASSETS)
    wanted = [Path(f).name for p in packages for f in p.files]
    if not args.force and all((ASSETS_DIR / name).is_file() for name in wanted):
        return 0
    npm = shutil.which("npm")
    if npm is None:
        sys.stderr.write(
            "graphiql assets: npm was not found; install Node.js and npm\n"
        )
        return 1
    ASSETS_DIR.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        for package in packages:
            tarball = _pack(npm, package, Path(work))
            _check_integrity(tarball, package)
            _copy_files(tarball, package)
    return 0


def read_pins(path: Path) -> list[PinnedPackage]:
    """Read the pinned packages: `name version integrity file[,file...]` per line."""
    packages = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, version, integrity, files = line.split()
        packages.append(
            PinnedPackage(name, version, integrity, tuple(files.split(",")))
        )
    return packages


def _pack(npm: str, package: PinnedPackage, work: Path) -> Path:
    subprocess.run(
        [npm, "pack", f"{package.name}@{package.version}", "--silent"],
        cwd=work,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return work / f"{package.name}-{package.version}.tgz"


def _check_integrity(tarball: Path, package: PinnedPackage) -> None:
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != package.integrity:
        raise SystemExit(
            f"graphiql assets: {package.name}@{package.version} does not match its"
            " pinned integrity; refusing to install it"
        )


def _copy_files(tarball: Path, package: PinnedPackage) -> None:
    with tarfile.open(tarball) as archive:
        for name in package.files:
            member = archive.extractfile(f"package/{name}")
            if member is None:
                raise SystemExit(f"graphiql assets: {package.name} has no {name}")
            (ASSETS_DIR / Path(name).name).write_bytes(member.read())


if __name__ == "__main__":
    sys.exit(main())
