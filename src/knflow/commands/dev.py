"""`knflow dev`: every function, the development broker and PostgreSQL on this machine.

What `make run` runs. Order of start: database (migrated), broker, functions (each ready),
definitions registered; Ctrl-C or SIGTERM stops functions, then the broker, then an
embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import signal
import sys
import tempfile
import threading
from pathlib import Path

from knflow import config, logs
from knflow.auth import sealing
from knflow.commands import environment, validate
from knflow.config import Settings
from knflow.devstack import faults, supervisor
from knflow.devstack.broker import DevBroker, broker_audience
from knflow.devstack.faults import DeliveryFaults
from knflow.devstack.manifests import Routing
from knflow.devstack.supervisor import BUNDLE, EventingOidc, Plan, Supervisor
from knflow.errors import DefinitionError, InputError, KnflowError
from knflow.runtime.start_workflow import registration


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument(
        "--workflows",
        type=Path,
        default=Path("workflows"),
        help="folder of workflow definitions to register (default: workflows)",
    )
    parser.add_argument(
        "--port-base",
        type=int,
        default=8080,
        help="broker port; functions use the next five (default: 8080)",
    )
    parser.add_argument(
        "--eventing",
        type=Path,
        default=BUNDLE / "eventing",
        help="folder of Broker/Trigger/PingSource manifests (default: knflow's own)",
    )
    parser.add_argument(
        "--functions",
        type=Path,
        default=BUNDLE / "functions",
        help="folder of function folders (default: knflow's own)",
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        default=None,
        help="keep the stack's URLs and process ids in this JSON file (for test harnesses)",
    )
    parser.add_argument(
        "--backoff-count-from",
        type=int,
        choices=(0, 1),
        default=0,
        help="retry number of the first back-off wait: 0 as Knative's code, 1 as its docs",
    )
    parser.add_argument(
        "--faults",
        type=_faults,
        default=None,
        help="inject delivery faults: drop=P,duplicate=P,delay=SECONDS,types=T1|T2"
        " (make chaos; default: none)",
    )


def _faults(text: str) -> DeliveryFaults:
    try:
        return faults.parse_faults(text)
    except InputError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def run(args: argparse.Namespace) -> int:
    """Run the stack until Ctrl-C or SIGTERM; exit 1 when it cannot start."""
    logs.configure()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if _report_invalid_definitions(args.workflows):
        return 1
    try:
        _serve(args, Settings.from_environment(), stop)
    except (KnflowError, RuntimeError, OSError) as error:
        if stop.is_set():
            return 0
        sys.stderr.write(f"knflow dev: {_describe(error)}\n")
        return 1
    return 0


def _report_invalid_definitions(folder: Path) -> bool:
    """Print every problem of every definition as `FILE: POINTER: REASON`.

    Like SonataFlow's dev mode, which fails the build on an invalid workflow, the stack
    does not start with some definitions silently missing.
    """
    if not folder.is_dir():
        return False  # build_routing reports a missing folder
    invalid = False
    for path in validate.workflow_files([folder]):
        for problem in validate.problems_of(path):
            sys.stderr.write(f"{path}: {problem}\n")
            invalid = True
    if invalid:
        sys.stderr.write(
            "knflow dev: the definitions above are invalid; fix them (knflow validate"
            f" {folder} checks them) and start again\n"
        )
    return invalid


def _serve(args: argparse.Namespace, settings: Settings, stop: threading.Event) -> None:
    routing = supervisor.build_routing(
        args.eventing, args.workflows, namespace=settings.namespace
    )
    plan = supervisor.plan_functions(
        args.functions, args.port_base, namespace=_namespace(routing, settings)
    )
    supervisor.require_every_function(plan, args.functions)
    data_dir = Path.cwd() / ".pgdata" / "dev"
    with (
        environment.database(settings, data_dir=data_dir) as database_url,
        tempfile.TemporaryDirectory(prefix="knflow-dev-oidc-") as token_dir,
    ):
        broker = _start_broker(args, plan, routing, settings)
        oidc = _project_tokens(broker, plan, Path(token_dir))
        try:
            _run_functions(
                args, plan, database_url, stop, oidc=oidc, topics=_topics(routing)
            )
        finally:
            broker.stop()


def _start_broker(
    args: argparse.Namespace, plan: Plan, routing: Routing, settings: Settings
) -> DevBroker:
    """Start the broker on the port base.

    Raises:
        InputError: the port is taken.
    """
    try:
        broker = DevBroker(
            routing,
            subscribers=plan.subscribers(),
            port=plan.port_base,
            backoff_count_from=args.backoff_count_from,
            oidc=settings.eventing_oidc,
            max_body_bytes=settings.max_body_bytes,
            json_limits=settings.json_limits,
            faults=args.faults,
        )
    except OSError as error:
        raise InputError(
            f"port {plan.port_base} is in use ({error.strerror}); stop whatever"
            " listens there (another knflow dev?) or choose other ports with"
            " --port-base N (make run PORT_BASE=N)"
        ) from error
    return broker.start()


def _project_tokens(
    broker: DevBroker, plan: Plan, token_dir: Path
) -> EventingOidc | None:
    """Write each function's broker token, as a SinkBinding would mount it (OIDC mode)."""
    if broker.issuer is None:
        return None
    audience = broker_audience(plan.namespace, "default")
    for name in [spec.name for spec in plan.functions] + ["knflow-dev"]:
        subject = f"system:serviceaccount:{plan.namespace}:{name}"
        token = broker.issuer.mint(audience, subject=subject, lifetime_seconds=86_400)
        (token_dir / f"{name}.token").write_text(token, encoding="utf-8")
    return EventingOidc(issuer=broker.issuer.issuer, token_dir=token_dir)


def _run_functions(
    args: argparse.Namespace,
    plan: Plan,
    database_url: str,
    stop: threading.Event,
    *,
    oidc: EventingOidc | None,
    topics: list[str],
) -> None:
    base = config.process_environment()
    # Forwarded tokens are sealed at rest; a laptop stack gets a key for its lifetime.
    base.setdefault("KNFLOW_TOKEN_KEY", sealing.new_key())
    environments = {
        spec.name: supervisor.function_environment(
            plan, spec, base=base, database_url=database_url, oidc=oidc
        )
        for spec in plan.functions
    }
    functions = Supervisor(
        plan,
        environments=environments,
        bin_dir=Path(sys.executable).parent,
        stopping=stop,
        state_file=args.state_file,
    )
    try:
        functions.start()
        changed = _register(plan, database_url, args.workflows, oidc)
        functions.mark_ready(
            broker=plan.broker_ingress, database=_redacted(database_url)
        )
        _print_table(plan, database_url, changed, topics=topics)
        stop.wait()
    finally:
        functions.stop()


def _register(
    plan: Plan, database_url: str, folder: Path, oidc: EventingOidc | None
) -> list[str]:
    """Register the definitions as start-workflow would announce them, through the broker."""
    settings = dataclasses.replace(
        Settings.from_environment(config.process_environment()),
        database_url=database_url,
        k_sink=plan.broker_ingress,
        service_url=plan.url("start-workflow"),
        runtime_url=plan.url("start-workflow"),
        jobs_url=plan.url("job-trigger"),
        eventing_token_file=""
        if oidc is None
        else str(oidc.token_dir / "knflow-dev.token"),
    )
    with environment.services(settings, database_url) as services:
        return registration.register_folder(services, folder)


def _namespace(routing: Routing, settings: Settings) -> str:
    """The namespace of the `default` broker, when the manifests put it in one."""
    for broker in routing.brokers:
        if broker.name == "default":
            return broker.namespace
    return settings.namespace


def _topics(routing: Routing) -> list[str]:
    """The Kafka topics the development broker stands in for (its KafkaSources' topics)."""
    return sorted(
        {topic for source in routing.kafka_sources for topic in source.topics}
    )


def _print_table(
    plan: Plan, database_url: str, changed: list[str], *, topics: list[str]
) -> None:
    rows = [("broker", plan.broker_ingress)]
    rows += [
        ("kafka topic", f"{plan.broker_ingress.rsplit('/', 2)[0]}/kafka/{topic}")
        for topic in topics
    ]
    rows += [(spec.name, spec.url) for spec in plan.functions]
    rows += [(name, "skipped: no main.py yet") for name in plan.skipped]
    rows += [("database", _redacted(database_url))]
    width = max(len(name) for name, _ in rows)
    lines = ["", "knflow dev is up (Ctrl-C stops it)", ""]
    lines += [f"  {name.ljust(width)}  {value}" for name, value in rows]
    registered = ", ".join(changed) if changed else "none changed"
    lines += ["", f"  definitions registered: {registered}", ""]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def _redacted(url: str) -> str:
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _describe(error: Exception) -> str:
    if isinstance(error, DefinitionError):
        return "\n  ".join([str(error), *(str(problem) for problem in error.problems)])
    return str(error)
