"""Starting an instance by REST call: create it, run it as far as it goes here, and wait for it.

`POST /{workflowId}` answers once the instance ended, waits for an event or timer, or the
synchronous budget ran out (SonataFlow's REST behaviour). Once the start committed, the answer
says so whatever happens next: when the database goes away while the instance runs on, the
answer carries the state the commit left (ACTIVE) and the reconcile finishes the instance.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from knflow.engine.outcome import InstanceStatus
from knflow.errors import UnavailableError
from knflow.runtime.instances import after_commit, transaction
from knflow.runtime.instances.creating import NewInstance, create_instance
from knflow.runtime.services import Services
from knflow.store import db, instances
from knflow.store.instances import InstanceRow, StatusView
from knflow.workflow.model import Json

logger = logging.getLogger(__name__)

FIRST_POLL: Final = 0.02
LONGEST_POLL: Final = 0.25


@dataclass(frozen=True, slots=True, kw_only=True)
class StartRequest:
    """A request to start an instance."""

    workflow_id: str
    """Which workflow."""
    data: Json
    """The workflow input (`workflowdata`)."""
    variables: Mapping[str, Json] = field(default_factory=dict)
    """Other top-level keys of the request (`initiatorEntity`, `targetEntity`, ...)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Headers kept for the instance (`$WORKFLOW.headers`)."""
    tokens: Mapping[str, str] = field(default_factory=dict)
    """`X-Authorization-*` headers, sealed for the instance's calls."""
    initiator: str | None = None
    """`sub` of the caller's token, when it sent one."""
    business_key: str | None = None
    """Optional business key."""
    version: str | None = None
    """Pinned version; the latest when None."""


def start_instance(services: Services, request: StartRequest) -> InstanceRow:
    """Create an instance, run it as far as it goes in this process, and return its first row.

    Raises:
        NotFoundError: the workflow is not registered.
        InputError: the input violates the definition's `dataInputSchema`.
    """
    with transaction.unit_of_work(services) as work:
        row = create_instance(
            work,
            NewInstance(
                workflow_id=request.workflow_id,
                version=request.version,
                data=request.data,
                variables=request.variables,
                headers=request.headers,
                tokens=request.tokens,
                initiator=request.initiator,
                business_key=request.business_key,
            ),
        )
    after_commit.carry_out(services, work.after_commit)
    return row


def settle(services: Services, row: InstanceRow, budget: timedelta) -> StatusView:
    """Wait until the committed instance settled (`await_settled`); never fails for an outage.

    When the database stops answering, the view is what `row` (as committed) shows: the
    caller still learns that its request was done.
    """
    try:
        return await_settled(services, row.id, budget)
    except UnavailableError as error:
        logger.warning(
            "answering with the committed state",
            extra={"instance_id": row.id, "reason": str(error)},
        )
        return StatusView(
            status=row.status,
            waiting=row.waiting,
            data=row.data,
            error_state=row.error_state,
            error_message=row.error_message,
        )


def await_settled(
    services: Services, instance_id: str, budget: timedelta
) -> StatusView:
    """Wait until the instance ended or waits for an event or timer, at most `budget`."""
    deadline = time.monotonic() + budget.total_seconds()
    pause = FIRST_POLL
    while True:
        with db.transaction(services.pool) as conn:
            view = instances.status_of(conn, instance_id)
        assert view is not None, "the caller created the instance"
        if (
            view.status is not InstanceStatus.ACTIVE
            or view.waiting
            or time.monotonic() >= deadline
        ):
            return view
        time.sleep(pause)
        pause = min(
            pause * 2, LONGEST_POLL
        )  # fast answers stay fast; long runs cost few queries
