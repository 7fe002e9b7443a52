"""Settings: one frozen value built once from the environment at process start.

This is the only module that reads `os.environ`; everything else receives `Settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Final

SECRET_ENV_PREFIX: Final = "KNFLOW_SECRET_"
FUNCTION_URL_ENV_PREFIX: Final = "KNFLOW_FUNCTION_URL_"
DEFAULT_KNATIVE_URL_PATTERN: Final = "http://{service}.{namespace}.svc.cluster.local"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything a knflow process is configured with."""

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
    redrive_after: timedelta = timedelta(seconds=30)
    """How long a runnable ACTIVE instance may go without progress before the reconcile
    re-sends its step event."""

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `env` (the process environment by default)."""
        env = os.environ if env is None else env
        return cls(
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
            redrive_after=timedelta(
                seconds=float(env.get("KNFLOW_REDRIVE_AFTER_SECONDS", "30"))
            ),
        )


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
