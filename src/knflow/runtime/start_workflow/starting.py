"""Starting an instance by REST call: create it, run it as far as it goes here, and wait for it.

`POST /{workflowId}` answers once the instance ended, waits for an event or timer, or the
synchronous budget ran out (SonataFlow's REST behaviour). Once the start committed, the answer
says so whatever happens next: when the database goes away while the instance runs on, the
answer carries the state the commit left (ACTIVE) and the reconcile finishes the instance.
A start carrying a key (`Idempotency-Key`, else `businessKey`) that an earlier start used within
`KNFLOW_IDEMPOTENCY_WINDOW_SECONDS` creates nothing and returns that start's instance.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from knflow.engine.outcome import InstanceStatus
from knflow.errors import (
    ConflictError,
    DefinitionChangedError,
    InputError,
    UnavailableError,
)
from knflow.runtime.catalog import DefinitionRead
from knflow.runtime.instances import after_commit, transaction
from knflow.runtime.instances.creating import NewInstance, create_instance
from knflow.runtime.instances.work import UnitOfWork
from knflow.runtime.services import Services
from knflow.store import db, instances, start_keys
from knflow.store.instances import InstanceRow, StatusView
from knflow.store.start_keys import KeyKind, StartKey
from knflow.workflow.model import Json

logger = logging.getLogger(__name__)

FIRST_POLL: Final = 0.02
LONGEST_POLL: Final = 0.25
LONGEST_KEY: Final = 255
"""Longest `Idempotency-Key` or `businessKey` a start may carry (characters)."""


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
    idempotency_key: str | None = None
    """The `Idempotency-Key` header: a retried start returns the first start's instance."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Started:
    """What a start request led to."""

    row: InstanceRow
    """The instance as this process last committed it (its start, or the calls after)."""
    replayed: bool
    """True when an earlier start with the same key created it, and nothing was created now."""


def start_instance(services: Services, request: StartRequest) -> InstanceRow:
    """Create an instance, run it as far as it goes in this process, and return its newest row.

    Raises:
        NotFoundError: the workflow is not registered.
        InputError: the input violates the definition's `dataInputSchema`.
        ConflictError: the start's key was used for a start with other data.
    """
    return start(services, request).row


def start(services: Services, request: StartRequest) -> Started:
    """Create an instance and run it as far as it goes in this process (`start_instance`).

    A start whose key an earlier start used within the window creates nothing: it returns
    that start's instance (`replayed`). The workflow's latest definition is this process's
    copy when it has one, checked by the server at commit; when the workflow was registered
    again meanwhile, nothing was kept and the start runs again on the definition read anew.

    Raises:
        NotFoundError: the workflow is not registered.
        InputError: the input violates the definition's `dataInputSchema`, or a key is
            blank or too long.
        ConflictError: the key was used for a start with other data.
    """
    instance_id = str(uuid.uuid4())
    try:
        return _start_once(
            services, request, instance_id, DefinitionRead.CHECKED_AT_COMMIT
        )
    except DefinitionChangedError:
        services.definitions.forget_latest(request.workflow_id)
        return _start_once(services, request, instance_id, DefinitionRead.FROM_DATABASE)


def _start_once(
    services: Services,
    request: StartRequest,
    instance_id: str,
    definition_read: DefinitionRead,
) -> Started:
    key = start_key_of(request)
    with transaction.unit_of_work(services) as work:
        if key is not None:
            first = _first_start(work, key, instance_id, _request_hash(request))
            if first is not None:
                return Started(row=first, replayed=True)
        row = create_instance(
            work,
            NewInstance(
                instance_id=instance_id,
                workflow_id=request.workflow_id,
                version=request.version,
                data=request.data,
                variables=request.variables,
                headers=request.headers,
                tokens=request.tokens,
                initiator=request.initiator,
                business_key=request.business_key,
                definition_read=definition_read,
            ),
        )
    known = after_commit.carry_out(services, work.after_commit)
    return Started(row=known.get(row.id, row), replayed=False)


def start_key_of(request: StartRequest) -> StartKey | None:
    """Return the key that makes this start idempotent: the header, else the business key.

    Raises:
        InputError: the key is blank or longer than `LONGEST_KEY`.
    """
    for kind, key in (
        (KeyKind.IDEMPOTENCY_KEY, request.idempotency_key),
        (KeyKind.BUSINESS_KEY, request.business_key),
    ):
        if key is None:
            continue
        name = "Idempotency-Key" if kind is KeyKind.IDEMPOTENCY_KEY else "businessKey"
        if not key.strip() or len(key) > LONGEST_KEY:
            raise InputError(f"{name} must be 1 to {LONGEST_KEY} characters, not blank")
        return StartKey(workflow_id=request.workflow_id, kind=kind, key=key)
    return None


def settle(services: Services, row: InstanceRow, budget: timedelta) -> StatusView:
    """Wait until the committed instance settled (`await_settled`); never fails for an outage.

    A row that committed settled (ended, failed, queued, or waiting for an event or timer)
    is its own answer, with no read. When the database stops answering, the view is what
    `row` (as committed) shows: the caller still learns that its request was done.
    """
    if row.status is not InstanceStatus.ACTIVE or row.waiting:
        return _view_of(row)
    try:
        return await_settled(services, row.id, budget)
    except UnavailableError as error:
        logger.warning(
            "answering with the committed state",
            extra={"instance_id": row.id, "reason": str(error)},
        )
        return _view_of(row)


def _view_of(row: InstanceRow) -> StatusView:
    return StatusView(
        status=row.status,
        waiting=row.waiting,
        data=row.data,
        error_state=row.error_state,
        error_message=row.error_message,
    )


def reachable_row(services: Services, instance_id: str) -> InstanceRow | None:
    """Read an instance's row; None when there is none or the database does not answer."""
    try:
        with db.transaction(services.pool) as conn:
            return instances.get(conn, instance_id)
    except UnavailableError:
        return None


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


def _first_start(
    work: UnitOfWork, key: StartKey, instance_id: str, request_hash: str
) -> InstanceRow | None:
    """Claim the key for `instance_id`; if an earlier start owns it, return its instance.

    Raises:
        ConflictError: the earlier start carried other data, or its instance is gone.
    """
    window = work.services.settings.idempotency_window
    if start_keys.claim(
        work.conn,
        key,
        instance_id=instance_id,
        request_hash=request_hash,
        now=work.now,
        expired_before=work.now - window,
    ):
        return None
    kept = start_keys.find(work.conn, key)
    assert kept is not None, "the claim found the key taken"
    if kept.request_hash != request_hash:
        raise ConflictError(
            f"{_key_name(key)} '{key.key}' was used by another start of workflow"
            f" '{key.workflow_id}' (instance '{kept.instance_id}') with other data"
        )
    first = instances.get(work.conn, kept.instance_id)
    if first is None:
        raise ConflictError(
            f"{_key_name(key)} '{key.key}' belongs to instance '{kept.instance_id}',"
            " which no longer exists"
        )
    logger.info(
        "start replayed", extra={"instance_id": first.id, "key_kind": key.kind.value}
    )
    return first


def _request_hash(request: StartRequest) -> str:
    """A digest of what the start asks (data and variables), to tell retries from reuse."""
    body = json.dumps(
        [request.data, dict(request.variables), request.version],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _key_name(key: StartKey) -> str:
    return "Idempotency-Key" if key.kind is KeyKind.IDEMPOTENCY_KEY else "businessKey"
