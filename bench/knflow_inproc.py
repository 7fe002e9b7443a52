"""knflow driven in this process the way `knflow run` drives it (commands/run.py).

The one module of the suite that calls knflow's Python API, so that a change of the core's
signatures is fixed here once; everything else talks to knflow over HTTP or its CLI.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from knflow.commands import environment
from knflow.config import Settings
from knflow.runtime import local_run
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import registration, starting
from knflow.store import db
from knflow.workflow import loading


@dataclass(frozen=True, slots=True, kw_only=True)
class Finished:
    """How an instance ended."""

    status: str
    data: Any


@contextmanager
def services(database_url: str) -> Iterator[Services]:
    """The pool, HTTP client and settings `knflow run` opens, on `database_url`."""
    settings = replace(Settings.from_environment(), database_url=database_url)
    with environment.services(settings, database_url) as opened:
        yield opened


def register(services: Services, definition: dict[str, Any]) -> None:
    """Register a definition as `knflow run` registers its file."""
    source = loading.load_text(
        json.dumps(definition), name=f"{definition['id']}.sw.json"
    )
    with db.transaction(services.pool) as conn:
        registration.register_source(
            conn, source, settings=services.settings, now=services.clock()
        )


def run(services: Services, workflow_id: str, data: Any, *, timeout: float) -> Finished:
    """Start an instance and drive it in this process until it ends or `timeout` passes."""
    row = starting.start_instance(
        services,
        starting.StartRequest(
            workflow_id=workflow_id, data=data, variables={}, headers={}
        ),
    )
    view = local_run.run_to_end(services, row.id, timeout=timedelta(seconds=timeout))
    return Finished(status=str(view.status), data=view.data)
