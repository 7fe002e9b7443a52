"""Settings: one frozen value built once from the environment at process start.

This is the only module that reads `os.environ`; everything else receives `Settings`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Final

from knflow.errors import InputError
from knflow.json_limits import DEFAULT_MAX_DEPTH, JsonLimits

SECRET_ENV_PREFIX: Final = "KNFLOW_SECRET_"
FUNCTION_URL_ENV_PREFIX: Final = "KNFLOW_FUNCTION_URL_"
DEFAULT_KNATIVE_URL_PATTERN: Final = "http://{service}.{namespace}.svc.cluster.local"
DEFAULT_ANONYMOUS: Final = "read,abort"
"""What the Orchestrator plugin does without a token: reads, and `DELETE` (abort)."""
DEFAULT_EVENTING_ISSUER: Final = "https://kubernetes.default.svc"
DEFAULT_EVENTING_TOKEN_FILE: Final = "/oidc/token"
"""Where a SinkBinding mounts the projected service-account token when Eventing OIDC is on."""


class AuthMode(StrEnum):
    """Whether callers must prove who they are."""

    OFF = "off"
    """Anyone who reaches a function may use it (`make run`, a laptop)."""
    REQUIRED = "required"
    """Write paths need a valid token; token-less reads only as `KNFLOW_AUTH_ANONYMOUS` allows."""


# Quarkus' default `quarkus.http.limits.max-body-size` (10240K), what SonataFlow answers 413 past.
DEFAULT_MAX_BODY_BYTES: Final = 10 * 1024 * 1024


KEEP_FOREVER: Final = "forever"


@dataclass(frozen=True, slots=True, kw_only=True)
class Retention:
    """How long finished records stay in PostgreSQL before the reconcile deletes them.

    Each period is an ISO 8601 duration (`P7D`) or `forever` (None here). Only what no
    guarantee needs any more is ever deleted: unsent outbox rows, running instances and
    their subflows, and pending jobs and notifications stay however old they are.
    """

    sent_events: timedelta | None = timedelta(days=1)
    """`KNFLOW_RETAIN_SENT_EVENTS`: outbox rows after they were published."""
    received_events: timedelta | None = timedelta(days=1)
    """`KNFLOW_RETAIN_RECEIVED_EVENTS`: consumed events, and events no wait took."""
    ended_instances: timedelta | None = timedelta(days=7)
    """`KNFLOW_RETAIN_ENDED_INSTANCES`: COMPLETED and ABORTED instance trees, with their
    Data Index records, counted from their end."""
    failed_instances: timedelta | None = timedelta(days=30)
    """`KNFLOW_RETAIN_FAILED_INSTANCES`: ERROR instance trees (kept longer: they can be
    retriggered), counted from their failure."""
    finished_jobs: timedelta | None = timedelta(days=7)
    """`KNFLOW_RETAIN_FINISHED_JOBS`: executed, failed and canceled jobs."""
    notifications: timedelta | None = timedelta(days=7)
    """`KNFLOW_RETAIN_NOTIFICATIONS`: notification deliveries that reached a final status."""
    failed_tokens: timedelta | None = timedelta(days=1)
    """`KNFLOW_RETAIN_FAILED_TOKENS`: the sealed tokens an ERROR instance keeps for a
    retrigger or rerun, counted from its failure; `PT0S` drops them when it fails."""

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Retention:
        """Read each `KNFLOW_RETAIN_*` period, keeping the default when unset."""
        defaults = cls()
        return cls(
            sent_events=_period(env, "KNFLOW_RETAIN_SENT_EVENTS", defaults.sent_events),
            received_events=_period(
                env, "KNFLOW_RETAIN_RECEIVED_EVENTS", defaults.received_events
            ),
            ended_instances=_period(
                env, "KNFLOW_RETAIN_ENDED_INSTANCES", defaults.ended_instances
            ),
            failed_instances=_period(
                env, "KNFLOW_RETAIN_FAILED_INSTANCES", defaults.failed_instances
            ),
            finished_jobs=_period(
                env, "KNFLOW_RETAIN_FINISHED_JOBS", defaults.finished_jobs
            ),
            notifications=_period(
                env, "KNFLOW_RETAIN_NOTIFICATIONS", defaults.notifications
            ),
            failed_tokens=_period(
                env,
                "KNFLOW_RETAIN_FAILED_TOKENS",
                defaults.failed_tokens,
                zero=True,
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowControl:
    """Deployment overrides of the flow control definitions declare in their metadata.

    Each setting is a comma-separated list of `name=value` pairs; a pair replaces what the
    definition declares for that name, so an operator can tighten or lift a limit without
    re-registering the workflow.
    """

    max_active: Mapping[str, int] = field(default_factory=dict)
    """`KNFLOW_MAX_ACTIVE_INSTANCES` (`onboarding=5,nightly=1`): most active instances
    per workflow id; extra starts queue as PENDING."""
    calls_per_second: Mapping[str, float] = field(default_factory=dict)
    """`KNFLOW_CALL_RATE_LIMITS` (`api.example.com=10`): calls per second per rate-limit
    key (a function's `knflow.rateLimitKey`, else `<workflow id>/<function name>`)."""

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> FlowControl:
        """Read both lists.

        Raises:
            InputError: a pair is not `name=positive number`.
        """
        name = "KNFLOW_MAX_ACTIVE_INSTANCES"
        max_active = {
            key: _positive(name, value, whole=True)
            for key, value in _pairs(env, name).items()
        }
        name = "KNFLOW_CALL_RATE_LIMITS"
        rates = {
            key: _positive(name, value, whole=False)
            for key, value in _pairs(env, name).items()
        }
        return cls(
            max_active={key: int(value) for key, value in max_active.items()},
            calls_per_second=rates,
        )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Settings:
    """Everything a knflow process is configured with.

    Compared by identity, and without a generated `repr`: that would show the secrets and
    the database password, and compiling a generated `__eq__`, `__hash__` and `__repr__`
    of all these fields costs every cold start (~6M instructions, callgrind).
    """

    database_url: str = ""
    """libpq connection string; empty means the standard `PG*` variables apply."""
    k_sink: str = ""
    """Where outgoing CloudEvents go (the broker ingress); Knative injects it as `K_SINK`."""
    namespace: str = "default"
    """Kubernetes namespace, used for Knative service URLs and the broker path."""
    knative_url_pattern: str = DEFAULT_KNATIVE_URL_PATTERN
    """URL of a Knative service from `{service}` and `{namespace}` (`knative:` functions)."""
    function_urls: Mapping[str, str] = field(default_factory=dict)
    """Base URL per function or service name, overriding OpenAPI servers and the pattern."""
    secrets: Mapping[str, str] = field(default_factory=dict)
    """`$SECRET` values: files in `KNFLOW_SECRETS_DIR` and `KNFLOW_SECRET_*` variables."""
    sync_budget: timedelta = timedelta(seconds=30)
    """How long `POST /{workflowId}` waits for an instance that fans out to finish."""
    step_budget: timedelta = timedelta(seconds=20)
    """How long one invocation keeps performing calls before handing over with step events."""
    action_timeout: timedelta = timedelta(seconds=30)
    """Default HTTP timeout of a function call when no `actionExecTimeout` is set."""
    service_url: str = "http://localhost:8081"
    """Public URL of start-workflow, announced as the definitions' `endpoint`."""
    jobs_url: str = "http://localhost:8084"
    """Public URL of job-trigger (Kogito Job Service v2 API)."""
    runtime_url: str = "http://localhost:8081"
    """URL of start-workflow's management API, called by Data Index mutations."""
    backstage_url: str = ""
    """Backstage base URL notify posts notifications to (often a cluster-internal address)."""
    backstage_public_url: str = ""
    """Developer Hub's public URL for links in notifications; empty: relative links,
    which Backstage resolves against its own `app.baseUrl`."""
    backstage_token: str = ""
    """Bearer token for the Backstage Notifications API."""
    notify_webhook_url: str = ""
    """Optional generic webhook receiving each notification as JSON."""
    notify_outcomes: frozenset[str] = frozenset({"COMPLETED", "ERROR", "ABORTED"})
    """Instance outcomes that produce a lifecycle notification."""
    notify_give_up_after: timedelta = timedelta(hours=24)
    """How long notify keeps retrying a notification a channel did not take."""
    job_window: timedelta = timedelta(seconds=45)
    """How long one job-trigger invocation stays to fire jobs at their exact time; keep it
    below the ping Trigger's delivery timeout (50 s) and Knative's request timeout."""
    redrive_after: timedelta = timedelta(seconds=5)
    """How long a runnable ACTIVE instance may go without progress before a sweep re-sends
    its step event."""
    claim_lease: timedelta = timedelta(seconds=6)
    """How long a claimed call belongs to its executor without a heartbeat (renewed every
    third of it while the call runs): how soon a dead executor's call is taken over."""
    sweep_delay: timedelta = timedelta(seconds=2)
    """How soon after a start or after work a process sweeps for stalled work (0: never)."""
    idempotency_window: timedelta = timedelta(hours=24)
    """How long a start's `Idempotency-Key` (or `businessKey`) returns the instance it created."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    """Largest request body a function or the development broker reads (413 beyond)."""
    json_limits: JsonLimits = field(default_factory=JsonLimits)
    """How deep received JSON may nest (`KNFLOW_MAX_JSON_DEPTH`)."""
    graphql_max_depth: int = 15
    """Deepest GraphQL selection (introspection of nested argument types needs ~10)."""
    graphql_max_aliases: int = 30
    """Most aliases in one GraphQL document."""
    graphql_max_cost: int = 2000
    """Highest cost of one GraphQL document: fields, weighed by the queries they cause."""
    graphql_max_tokens: int = 5000
    """Most lexical tokens in one GraphQL document (parsing stops there)."""
    statement_timeout: timedelta = timedelta(seconds=10)
    """PostgreSQL `statement_timeout` of each Data Index GraphQL request."""
    job_url_schemes: frozenset[str] = frozenset({"http", "https"})
    """URL schemes a job's http recipient or sink URL may use."""
    retention: Retention = field(default_factory=Retention)
    """How long finished records are kept (`KNFLOW_RETAIN_*`)."""
    bulk_retrigger_rate: float = 5.0
    """`KNFLOW_BULK_RETRIGGER_PER_SECOND`: most retriggers per second of one bulk retrigger,
    so that a fix is not met by every failed instance calling its services at once."""
    bulk_retrigger_max: int = 100
    """`KNFLOW_BULK_RETRIGGER_MAX`: most instances one bulk retrigger request takes."""
    flow_control: FlowControl = field(default_factory=FlowControl)
    """Overrides of declared flow control (`KNFLOW_MAX_ACTIVE_INSTANCES`, ...)."""

    auth_mode: AuthMode = AuthMode.OFF
    """`KNFLOW_AUTH_MODE`: `off` (default) or `required`."""
    oidc_issuer: str = ""
    """`KNFLOW_OIDC_ISSUER`: the OIDC issuer (a Keycloak realm URL); its discovery gives the JWKS."""
    oidc_audience: tuple[str, ...] = ()
    """`KNFLOW_OIDC_AUDIENCE`: accepted `aud` values of bearer tokens (comma-separated)."""
    backstage_jwks_url: str = ""
    """`KNFLOW_BACKSTAGE_JWKS_URL`: the Backstage auth backend's JWKS; default from the issuer."""
    backstage_issuer: str = ""
    """`KNFLOW_BACKSTAGE_ISSUER`: `iss` of Backstage user tokens (`https://backstage/api/auth`)."""
    backstage_audience: tuple[str, ...] = ("backstage",)
    """`KNFLOW_BACKSTAGE_AUDIENCE`: accepted `aud` of Backstage user tokens."""
    auth_policy: str = ""
    """`KNFLOW_AUTH_POLICY`: path of the policy file; empty lets any authenticated caller do all."""
    auth_anonymous: frozenset[str] = frozenset({"read", "abort"})
    """`KNFLOW_AUTH_ANONYMOUS`: permissions a caller without a token has in `required` mode."""
    auth_leeway: timedelta = timedelta(seconds=30)
    """`KNFLOW_AUTH_LEEWAY_SECONDS`: clock skew allowed on `exp`, `nbf` and `iat`."""
    jwks_max_age: timedelta = timedelta(minutes=5)
    """`KNFLOW_JWKS_MAX_AGE_SECONDS`: how long fetched signing keys are trusted before a re-fetch."""
    jwks_min_refresh: timedelta = timedelta(seconds=30)
    """`KNFLOW_JWKS_MIN_REFRESH_SECONDS`: an unknown `kid` re-fetches at most once per interval."""
    token_keys: tuple[str, ...] = ()
    """`KNFLOW_TOKEN_KEY`: AES-256 keys (base64) sealing forwarded tokens; the first seals."""
    eventing_oidc: bool = False
    """`KNFLOW_EVENTING_OIDC=required`: CloudEvent deliveries need an audience-bound token."""
    eventing_issuer: str = DEFAULT_EVENTING_ISSUER
    """`KNFLOW_EVENTING_OIDC_ISSUER`: the cluster's service-account token issuer."""
    eventing_audience: str = ""
    """`KNFLOW_EVENTING_AUDIENCE`: the `aud` this function's deliveries carry."""
    eventing_token_file: str = ""
    """`KNFLOW_EVENTING_TOKEN_FILE`: the projected token the outbox sends to the broker."""
    job_recipient_hosts: tuple[str, ...] = ()
    """`KNFLOW_JOB_RECIPIENT_HOSTS`: host globs HTTP job recipients may name; empty: any host."""
    metrics_multiprocess_dir: str = ""
    """`PROMETHEUS_MULTIPROC_DIR`: the folder several gunicorn workers share their metrics in."""
    service_name: str = "knflow"
    """`OTEL_SERVICE_NAME`, else `K_SERVICE` (the function's name): who the spans come from."""
    otlp_endpoint: str = ""
    """`OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`): traces are exported over
    OTLP/HTTP when set, and not even imported otherwise. The SDK reads its other standard
    `OTEL_*` variables itself (service name, headers, sampler, batch delays)."""

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `env` (the process environment by default)."""
        env = os.environ if env is None else env
        settings = cls(
            database_url=env.get("DATABASE_URL", ""),
            k_sink=env.get("K_SINK", ""),
            namespace=env.get("KNFLOW_NAMESPACE", env.get("POD_NAMESPACE", "default")),
            knative_url_pattern=env.get(
                "KNFLOW_KNATIVE_URL_PATTERN", DEFAULT_KNATIVE_URL_PATTERN
            ),
            function_urls=_prefixed(env, FUNCTION_URL_ENV_PREFIX),
            secrets={
                **_secret_files(env.get("KNFLOW_SECRETS_DIR", "")),
                **_prefixed(env, SECRET_ENV_PREFIX),
            },
            sync_budget=timedelta(
                seconds=float(env.get("KNFLOW_SYNC_BUDGET_SECONDS", "30"))
            ),
            step_budget=timedelta(
                seconds=float(env.get("KNFLOW_STEP_BUDGET_SECONDS", "20"))
            ),
            action_timeout=timedelta(
                seconds=float(env.get("KNFLOW_ACTION_TIMEOUT_SECONDS", "30"))
            ),
            service_url=env.get("KNFLOW_SERVICE_URL", "http://localhost:8081"),
            jobs_url=env.get("KNFLOW_JOBS_URL", "http://localhost:8084"),
            runtime_url=env.get(
                "KNFLOW_RUNTIME_URL",
                env.get("KNFLOW_SERVICE_URL", "http://localhost:8081"),
            ),
            backstage_url=env.get("BACKSTAGE_URL", "").rstrip("/"),
            backstage_public_url=env.get("BACKSTAGE_PUBLIC_URL", "").rstrip("/"),
            backstage_token=env.get("BACKSTAGE_NOTIFICATIONS_TOKEN", ""),
            notify_webhook_url=env.get("NOTIFY_WEBHOOK_URL", ""),
            notify_outcomes=frozenset(
                s.strip().upper()
                for s in env.get(
                    "KNFLOW_NOTIFY_OUTCOMES", "COMPLETED,ERROR,ABORTED"
                ).split(",")
                if s.strip()
            ),
            notify_give_up_after=timedelta(
                seconds=float(env.get("KNFLOW_NOTIFY_GIVE_UP_AFTER_SECONDS", "86400"))
            ),
            job_window=timedelta(
                seconds=float(env.get("KNFLOW_JOB_WINDOW_SECONDS", "45"))
            ),
            redrive_after=_seconds(env, "KNFLOW_REDRIVE_AFTER_SECONDS", "5"),
            claim_lease=_seconds(env, "KNFLOW_CLAIM_LEASE_SECONDS", "6"),
            sweep_delay=_seconds(env, "KNFLOW_SWEEP_DELAY_SECONDS", "2"),
            idempotency_window=_seconds(
                env, "KNFLOW_IDEMPOTENCY_WINDOW_SECONDS", "86400"
            ),
            max_body_bytes=_count(env, "KNFLOW_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            json_limits=JsonLimits(
                max_depth=_count(env, "KNFLOW_MAX_JSON_DEPTH", DEFAULT_MAX_DEPTH)
            ),
            graphql_max_depth=_count(env, "KNFLOW_GRAPHQL_MAX_DEPTH", 15),
            graphql_max_aliases=_count(env, "KNFLOW_GRAPHQL_MAX_ALIASES", 30),
            graphql_max_cost=_count(env, "KNFLOW_GRAPHQL_MAX_COST", 2000),
            graphql_max_tokens=_count(env, "KNFLOW_GRAPHQL_MAX_TOKENS", 5000),
            statement_timeout=timedelta(
                milliseconds=_count(env, "KNFLOW_STATEMENT_TIMEOUT_MS", 10_000)
            ),
            job_url_schemes=_names(env.get("KNFLOW_JOB_URL_SCHEMES", "http,https")),
            retention=Retention.from_environment(env),
            bulk_retrigger_rate=_rate(env, "KNFLOW_BULK_RETRIGGER_PER_SECOND", 5.0),
            bulk_retrigger_max=_count(env, "KNFLOW_BULK_RETRIGGER_MAX", 100),
            flow_control=FlowControl.from_environment(env),
            metrics_multiprocess_dir=env.get("PROMETHEUS_MULTIPROC_DIR", ""),
            service_name=env.get("OTEL_SERVICE_NAME", env.get("K_SERVICE", "knflow")),
            otlp_endpoint=_otlp_endpoint(env),
        )
        return _with_auth(settings, env)


def configured_service_url(env: Mapping[str, str] | None = None) -> str:
    """Return `KNFLOW_SERVICE_URL` as set in `env` (the process environment), "" when unset.

    `Settings.service_url` falls back to a local default, which suits the functions on a
    laptop but not a command run outside the cluster (`knflow deploy --database`).
    """
    env = os.environ if env is None else env
    return env.get("KNFLOW_SERVICE_URL", "")


def process_environment() -> dict[str, str]:
    """Return a copy of this process's environment (`knflow dev` passes it to children)."""
    return dict(os.environ)


def _with_auth(settings: Settings, env: Mapping[str, str]) -> Settings:
    """Add the authentication settings (`KNFLOW_AUTH_*`, `KNFLOW_OIDC_*`, `KNFLOW_EVENTING_*`...)."""
    eventing_oidc = env.get("KNFLOW_EVENTING_OIDC", "off").strip().lower() == "required"
    return dataclasses.replace(
        settings,
        auth_mode=AuthMode(env.get("KNFLOW_AUTH_MODE", "off").strip().lower()),
        oidc_issuer=env.get("KNFLOW_OIDC_ISSUER", "").rstrip("/"),
        oidc_audience=_listed(env.get("KNFLOW_OIDC_AUDIENCE", "")),
        backstage_jwks_url=env.get("KNFLOW_BACKSTAGE_JWKS_URL", ""),
        backstage_issuer=env.get("KNFLOW_BACKSTAGE_ISSUER", "").rstrip("/"),
        backstage_audience=_listed(env.get("KNFLOW_BACKSTAGE_AUDIENCE", "backstage")),
        auth_policy=env.get("KNFLOW_AUTH_POLICY", ""),
        auth_anonymous=frozenset(
            _listed(env.get("KNFLOW_AUTH_ANONYMOUS", DEFAULT_ANONYMOUS).lower())
        ),
        auth_leeway=_seconds(env, "KNFLOW_AUTH_LEEWAY_SECONDS", "30"),
        jwks_max_age=_seconds(env, "KNFLOW_JWKS_MAX_AGE_SECONDS", "300"),
        jwks_min_refresh=_seconds(env, "KNFLOW_JWKS_MIN_REFRESH_SECONDS", "30"),
        token_keys=_value_or_file(env.get("KNFLOW_TOKEN_KEY", "")),
        eventing_oidc=eventing_oidc,
        eventing_issuer=env.get(
            "KNFLOW_EVENTING_OIDC_ISSUER", DEFAULT_EVENTING_ISSUER
        ).rstrip("/"),
        eventing_audience=env.get("KNFLOW_EVENTING_AUDIENCE", ""),
        eventing_token_file=env.get(
            "KNFLOW_EVENTING_TOKEN_FILE",
            DEFAULT_EVENTING_TOKEN_FILE if eventing_oidc else "",
        ),
        job_recipient_hosts=_listed(env.get("KNFLOW_JOB_RECIPIENT_HOSTS", "")),
    )


def _otlp_endpoint(env: Mapping[str, str]) -> str:
    """Where traces go: the OTLP endpoint unless the SDK is disabled (OTel's own variables)."""
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return ""
    return env.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    )


def _listed(text: str) -> tuple[str, ...]:
    """Comma- or whitespace-separated values, in order, without empties."""
    return tuple(part for part in text.replace(",", " ").split() if part)


def _seconds(env: Mapping[str, str], name: str, default: str) -> timedelta:
    return timedelta(seconds=float(env.get(name, default)))


def _value_or_file(text: str) -> tuple[str, ...]:
    """Keys given inline, or in a file (a mounted Secret) named by the value."""
    if text and Path(text).is_file():
        text = Path(text).read_text(encoding="utf-8")
    return _listed(text)


def _rate(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number (per second) from `name`, or `default` when unset.

    Raises:
        InputError: the variable is set to something else.
    """
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        rate = float(raw)
    except ValueError:
        rate = 0.0
    if not rate > 0 or rate == float("inf"):
        raise InputError(f"setting {name} must be a positive number, not '{raw}'")
    return rate


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    """A positive whole number from `name`, or `default` when unset.

    Raises:
        InputError: the variable is set to something else.
    """
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise InputError(f"setting {name} must be a positive whole number, not '{raw}'")
    return int(raw)


def _period(
    env: Mapping[str, str],
    name: str,
    default: timedelta | None,
    *,
    zero: bool = False,
) -> timedelta | None:
    """A positive ISO 8601 duration (`P7D`, `PT12H`) or `forever` (None) from `name`.

    With `zero`, `PT0S` (keep nothing) is allowed too.

    Raises:
        InputError: the variable is set to something else.
    """
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if raw.lower() == KEEP_FOREVER:
        return None
    # Imported only when a retention period is set: every process reads its settings at
    # its cold start, and most keep the defaults.
    import isodate

    try:
        period = isodate.parse_duration(raw)
    except (isodate.ISO8601Error, ValueError) as error:
        raise InputError(_period_problem(name, raw)) from error
    if not isinstance(period, timedelta) or period < timedelta(0):
        raise InputError(_period_problem(name, raw))
    if period == timedelta(0) and not zero:
        raise InputError(_period_problem(name, raw))
    return period


def _period_problem(name: str, raw: str) -> str:
    return (
        f"setting {name} must be a positive ISO 8601 duration in days or less "
        f"(P7D, PT12H) or '{KEEP_FOREVER}', not '{raw}'"
    )


def _pairs(env: Mapping[str, str], name: str) -> dict[str, str]:
    """`a=1,b=2` from `name` as a mapping, in order.

    Raises:
        InputError: an entry has no `=` or no name.
    """
    pairs: dict[str, str] = {}
    for entry in _listed(env.get(name, "")):
        key, sign, value = entry.partition("=")
        if not sign or not key.strip():
            raise InputError(
                f"setting {name} must list name=value pairs, not '{entry}'"
            )
        pairs[key.strip()] = value.strip()
    return pairs


def _positive(name: str, raw: str, *, whole: bool) -> float:
    """A positive number (a whole one when `whole`) of setting `name`.

    Raises:
        InputError: `raw` is something else.
    """
    kind = "positive whole number" if whole else "positive number"
    try:
        value = float(raw) if not whole or raw.isdigit() else float("nan")
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise InputError(f"setting {name} values must be a {kind}, not '{raw}'")
    return value


def _names(raw: str) -> frozenset[str]:
    return frozenset(part.strip().lower() for part in raw.split(",") if part.strip())


def _prefixed(env: Mapping[str, str], prefix: str) -> dict[str, str]:
    """Values of variables starting with `prefix`, keyed by the rest of the name."""
    return {
        name[len(prefix) :]: value
        for name, value in env.items()
        if name.startswith(prefix)
    }


def _secret_files(folder: str) -> dict[str, str]:
    """Secret values mounted as files (a Kubernetes Secret volume), keyed by file name."""
    if not folder or not Path(folder).is_dir():
        return {}
    return {
        path.name: path.read_text(encoding="utf-8").strip()
        for path in sorted(Path(folder).iterdir())
        if path.is_file() and not path.name.startswith(".")
    }
