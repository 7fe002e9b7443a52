"""`knflow gen-manifest DIR`: write the cluster objects of a workflow folder to files.

One file per object (`<kind>-<name>.yaml`), like `kn workflow gen-manifest`. Files of
objects knflow generated earlier that are no longer wanted are removed, so the output
folder can be applied with `kubectl apply --prune`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from knflow.deploy import documents, objects
from knflow.deploy.folder import load_definitions
from knflow.deploy.plan import is_generated, object_key
from knflow.errors import KnflowError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument(
        "workflow_dir", type=Path, help="folder of workflow definitions"
    )
    parser.add_argument(
        "--output", type=Path, default=Path("manifests"), help="default: ./manifests"
    )
    parser.add_argument("--namespace", default="knflow", help="default: knflow")
    parser.add_argument("--broker", default="default", help="default: default")
    parser.add_argument(
        "--kafka-bootstrap-servers",
        default="",
        help="the Kafka variant: also a KafkaSource per start event type, reading its"
        " topic from these servers (comma-separated) into the broker",
    )


def run(args: argparse.Namespace) -> int:
    """Write the objects; print each file written or removed."""
    try:
        sources = load_definitions(args.workflow_dir)
        wanted = objects.cluster_objects(
            sources,
            namespace=args.namespace,
            broker=args.broker,
            kafka_bootstrap_servers=objects.parse_servers(args.kafka_bootstrap_servers),
        )
        written = write_objects(wanted, args.output)
        removed = remove_stale(args.output, keep=written)
    except KnflowError as error:
        sys.stderr.write(f"knflow gen-manifest: {error}\n")
        return 1
    for path in written:
        sys.stdout.write(f"wrote {path}\n")
    for path in removed:
        sys.stdout.write(f"removed {path}\n")
    return 0


def write_objects(wanted: list[dict[str, object]], folder: Path) -> list[Path]:
    """Write each object to `<kind>-<name>.yaml` in `folder`; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for obj in wanted:
        kind, _namespace, name = object_key(obj)
        path = folder / f"{kind.lower()}-{name}.yaml"
        path.write_text(documents.render([obj]), encoding="utf-8")
        paths.append(path)
    return paths


def remove_stale(folder: Path, *, keep: list[Path]) -> list[Path]:
    """Delete files in `folder` holding only generated objects that were not written."""
    kept = set(keep)
    removed = []
    for path in sorted(folder.glob("*.yaml")):
        if path in kept:
            continue
        found = documents.read(path)
        if found and all(is_generated(obj) for obj in found):
            path.unlink()
            removed.append(path)
    return removed
