"""`knflow deploy`: register workflow definitions on a cluster, or in the database.

On a cluster (`--namespace NS`): each definition is applied as a ConfigMap labelled
`knflow.dev/workflow` (the ApiServerSource in `eventing/` hands it to start-workflow),
and each consumed event type gets a Trigger to step-executor; generated objects no
longer wanted are deleted. `--dry-run` prints the objects as YAML instead. With
`--database`, no cluster is involved: the definitions are registered in PostgreSQL and
those removed from the folder are marked unavailable; the URL start-workflow serves must
then be named (`--service-url` or `KNFLOW_SERVICE_URL`), since the announcements carry it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Final

from knflow.config import Settings, configured_service_url
from knflow.deploy import documents, objects
from knflow.deploy.folder import load_definitions
from knflow.deploy.plan import Plan, describe, plan_changes
from knflow.errors import InputError, KnflowError
from knflow.workflow.loading import WorkflowSource


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument(
        "workflow_dir",
        type=Path,
        nargs="?",
        default=Path("workflows"),
        help="folder of workflow definitions (default: ./workflows)",
    )
    parser.add_argument("--namespace", help="the cluster namespace to deploy to")
    parser.add_argument("--broker", default="default", help="default: default")
    parser.add_argument(
        "--kafka-bootstrap-servers",
        default="",
        help="the Kafka variant: also a KafkaSource per start event type, reading its"
        " topic from these servers (comma-separated) into the broker",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the objects as YAML, change nothing",
    )
    parser.add_argument(
        "--context", help="kubeconfig context (default: the current one)"
    )
    parser.add_argument(
        "--database",
        action="store_true",
        help="register in the database (DATABASE_URL) instead of a cluster",
    )
    parser.add_argument("--database-url", help="libpq URL (default: DATABASE_URL)")
    parser.add_argument(
        "--service-url",
        help="with --database: the URL start-workflow serves, announced to the Data"
        " Index as each workflow's serviceUrl (default: KNFLOW_SERVICE_URL)",
    )


def run(args: argparse.Namespace) -> int:
    """Deploy; print what changed."""
    try:
        if args.database:
            lines = deploy_to_database(
                args.workflow_dir, args.database_url, service_url=args.service_url
            )
        else:
            lines = deploy_to_cluster(args)
    except KnflowError as error:
        sys.stderr.write(f"knflow deploy: {error}\n")
        return 1
    for line in lines:
        sys.stdout.write(f"{line}\n")
    return 0


def deploy_to_cluster(args: argparse.Namespace) -> list[str]:
    """Apply (or print) the objects of the folder; return what was done, one line each.

    Raises:
        KnflowError: the folder, a definition or the cluster failed.
    """
    if not args.namespace:
        raise InputError("name the namespace to deploy to with --namespace")
    sources = load_definitions(args.workflow_dir)
    wanted = objects.cluster_objects(
        sources,
        namespace=args.namespace,
        broker=args.broker,
        kafka_bootstrap_servers=objects.parse_servers(args.kafka_bootstrap_servers),
    )
    if args.dry_run:
        return [documents.render(wanted).rstrip("\n")]
    from knflow.deploy import cluster  # the kubernetes client costs a second to import

    target = cluster.Cluster(cluster.connect(context=args.context), args.namespace)
    existing = target.list_generated()
    plan = plan_changes(wanted, existing)
    target.apply(plan, existing)
    return summarize(plan)


def deploy_to_database(
    folder: Path, database_url: str | None, *, service_url: str | None = None
) -> list[str]:
    """Register the folder's definitions; mark the others unavailable.

    Raises:
        InputError: no service URL is named, or two files define one workflow.
        KnflowError: a definition is invalid or the database is unreachable.
    """
    from knflow.outbound.http import new_client
    from knflow.runtime.services import Services
    from knflow.runtime.start_workflow import registration
    from knflow.store import db

    settings = dataclasses.replace(
        Settings.from_environment(), service_url=_service_url(service_url)
    )
    sources = load_definitions(folder)
    workflow_ids = _distinct_ids(sources)
    pool = db.open_pool(database_url or settings.database_url, max_size=2)
    http = new_client(settings.action_timeout)
    try:
        services = Services(settings=settings, pool=pool, http=http)
        registration.register_folder(services, folder)
        registration.mark_unavailable_except(services, workflow_ids)
    finally:
        http.close()
        pool.close()
    lines = [f"registered {workflow_id}" for workflow_id in workflow_ids]
    if not settings.k_sink:
        lines.append(ANNOUNCED_LATER)
    return lines


ANNOUNCED_LATER: Final = (
    "the Data Index learns of these changes at job-trigger's next reconcile tick"
    " (within a minute); set K_SINK to the broker's URL to announce them at once"
)
"""Said when no broker is named: the outbox rows wait for the reconcile to publish them."""


def _service_url(given: str | None) -> str:
    """The URL start-workflow serves, named by the operator.

    Every announcement carries it as the definition's endpoint, which the Data Index turns
    into the serviceUrl the Orchestrator plugin calls and pings. This command runs outside
    the cluster, so it cannot know that URL, and a default (the local one) would point the
    plugin at nothing and mark every workflow unavailable: it is refused instead.

    Raises:
        InputError: neither `--service-url` nor `KNFLOW_SERVICE_URL` is set.
    """
    url = given or configured_service_url()
    if not url:
        raise InputError(
            "name the URL start-workflow serves with --service-url or"
            " KNFLOW_SERVICE_URL (e.g. http://start-workflow.<namespace>.svc.cluster.local):"
            " it becomes the serviceUrl the Orchestrator plugin calls"
        )
    return url


def _distinct_ids(sources: list[WorkflowSource]) -> list[str]:
    """The sorted workflow ids of the folder, each defined once (as on a cluster).

    Two versions of one workflow would each take over from the other at every deploy.

    Raises:
        InputError: two files define the same id.
    """
    seen: dict[str, str] = {}
    for source in sources:
        workflow_id = objects.workflow_id_of(source)
        where = str(source.path or "a definition")
        if workflow_id in seen:
            raise InputError(
                f"workflow id '{workflow_id}' is defined twice: in {seen[workflow_id]}"
                f" and {where}; keep one file per workflow"
            )
        seen[workflow_id] = where
    return sorted(seen)


def summarize(plan: Plan) -> list[str]:
    """Return one line per object: created, updated, deleted or unchanged."""
    return [
        *(f"created {describe(obj)}" for obj in plan.create),
        *(f"updated {describe(obj)}" for obj in plan.update),
        *(f"deleted {describe(obj)}" for obj in plan.delete),
        *(f"unchanged {describe(obj)}" for obj in plan.unchanged),
    ]
