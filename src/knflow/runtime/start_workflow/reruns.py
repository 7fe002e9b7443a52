"""Running failed work again: an instance from its start ("entire workflow"), and every failed
instance of a workflow from its failure point (a bulk retrigger after a fix).

A rerun is a new instance: the original stays as it ended, in the Data Index too, and the new
one names it in its `rerunOf` variable. A bulk retrigger is the single retrigger of
`management`, applied to each failed instance in turn at a bounded rate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from knflow.engine import interventions
from knflow.engine.outcome import InstanceStatus
from knflow.errors import ConflictError, InputError, KnflowError
from knflow.runtime.instances import after_commit, transaction
from knflow.runtime.instances import tokens as kept_tokens
from knflow.runtime.instances.creating import NewInstance, create_instance
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import management
from knflow.store import db, instances
from knflow.store.instances import InstanceRow
from knflow.workflow.model import Json

logger = logging.getLogger(__name__)

RERUN_OF_VARIABLE: Final = "rerunOf"
"""The variable of a rerun naming the instance it runs again (the plugin shows variables)."""
RERUNNABLE: Final = frozenset(
    {InstanceStatus.ERROR, InstanceStatus.COMPLETED, InstanceStatus.ABORTED}
)
"""What the plugin offers "Run again" for: an instance that no longer runs."""
INITIATOR_VARIABLE: Final = "initiatorEntity"
BULK_KEYS: Final = frozenset({"failedAfter", "failedBefore", "limit"})
"""What a bulk retrigger request may say."""
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""The start of a bulk retrigger range that names none."""
OWN_VARIABLES: Final = frozenset({RERUN_OF_VARIABLE, interventions.ATTEMPT_VARIABLE})
"""Variables knflow sets on an instance, not carried over to its rerun."""


class RetriggerOutcome(StrEnum):
    """What a bulk retrigger did to one instance."""

    RETRIGGERED = "RETRIGGERED"
    """The failed state runs again; the instance is ACTIVE or already COMPLETED."""
    FAILED_AGAIN = "FAILED_AGAIN"
    """The retrigger ran and the instance is in ERROR again (its error is reported)."""
    SKIPPED = "SKIPPED"
    """The instance left ERROR before its turn (someone retriggered or aborted it)."""
    REFUSED = "REFUSED"
    """The retrigger could not run (its definition is gone, say); the reason is reported."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceReport:
    """The outcome of a bulk retrigger for one instance."""

    instance_id: str
    """Which instance."""
    outcome: RetriggerOutcome
    """What happened."""
    status: InstanceStatus | None = None
    """Its status right after, when the retrigger ran."""
    attempt: int | None = None
    """Its attempt number right after, when the retrigger ran."""
    message: str | None = None
    """Its new error (FAILED_AGAIN) or why it was not retriggered (SKIPPED, REFUSED)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkReport:
    """What one bulk retrigger request did."""

    workflow_id: str
    """The workflow."""
    failed_after: datetime
    """The range's start (failures at or after it)."""
    failed_before: datetime
    """The range's end (failures before it): pass it again to go on with the rest."""
    instances: list[InstanceReport]
    """One report per instance taken, oldest failure first."""
    remaining: int
    """Failed instances in the range this request did not take (past its limit)."""


def rerun(
    services: Services,
    workflow_id: str,
    instance_id: str,
    *,
    tokens: Mapping[str, str] | None = None,
    initiator: str | None = None,
) -> InstanceRow:
    """Start a new instance with the input, variables and business key of an ended one.

    The new instance runs the workflow's current definition with the request's `tokens`.
    When its caller also started the original (the same `sub`, or no identity in `off`
    mode), the tokens the original still keeps come too (an instance in ERROR keeps them
    for `KNFLOW_RETAIN_FAILED_TOKENS`), each replaced by the same header of the request:
    a new instance never runs with someone else's tokens. `initiator` (the caller's `sub`)
    becomes its `initiatorEntity`; without one the original's stays.

    Raises:
        NotFoundError: no such instance, or its workflow is no longer registered.
        ConflictError: the instance still runs, or it is a subflow (it runs with its parent).
        InputError: the original input violates the definition's current `dataInputSchema`.
    """
    with transaction.unit_of_work(services) as work:
        original = management.find_instance(work.conn, workflow_id, instance_id)
        _check_rerunnable(original)
        kept = (
            kept_tokens.read(work.conn, services.settings, original.id)
            if original.initiator == initiator
            else {}
        )
        row = create_instance(
            work,
            _rerun_of(original, tokens={**kept, **(tokens or {})}, initiator=initiator),
        )
    after_commit.carry_out(services, work.after_commit)
    logger.info(
        "instance rerun", extra={"instance_id": row.id, "rerun_of": original.id}
    )
    return row


def retrigger_failed(
    services: Services,
    workflow_id: str,
    *,
    failed_after: datetime,
    failed_before: datetime,
    limit: int,
) -> BulkReport:
    """Retrigger the failed top-level instances of a workflow whose failure falls in a range.

    At most `limit` instances (capped by `bulk_retrigger_max`), oldest failure first, at most
    `bulk_retrigger_rate` per second, one bulk retrigger of a workflow at a time. Each keeps
    its own sealed tokens. An instance that fails again moves past `failed_before` (its
    failure is now), so calling again with the same range takes the rest and never an
    instance twice.

    Raises:
        ConflictError: a bulk retrigger of the workflow is running (in any process).
    """
    with instances.bulk_retrigger_turn(services.pool, workflow_id) as free:
        if not free:
            raise ConflictError(
                f"a bulk retrigger of workflow '{workflow_id}' is running; send this"
                " one again when it answered"
            )
        with db.transaction(services.pool) as conn:
            page = instances.list_failed(
                conn,
                workflow_id,
                failed_after=failed_after,
                failed_before=failed_before,
                limit=min(limit, services.settings.bulk_retrigger_max),
            )
        reports = _retrigger_paced(services, workflow_id, page.ids)
    logger.info(
        "bulk retrigger",
        extra={"workflow_id": workflow_id, "taken": len(reports)},
    )
    return BulkReport(
        workflow_id=workflow_id,
        failed_after=failed_after,
        failed_before=failed_before,
        instances=reports,
        remaining=page.matching - len(page.ids),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkRequest:
    """Which failed instances a bulk retrigger takes."""

    failed_after: datetime
    """Failures at or after this moment."""
    failed_before: datetime
    """Failures before this moment."""
    limit: int
    """Most instances to take."""


def parse_bulk_request(body: Json, *, now: datetime, most: int) -> BulkRequest:
    """Read `{failedAfter?, failedBefore?, limit?}`; the range defaults to every failure so far.

    Raises:
        InputError: the body is not such an object, a date is not ISO 8601 with its time
            zone, the range is empty, or the limit is not a positive whole number.
    """
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise InputError(
            "the request body must be a JSON object {failedAfter?, failedBefore?, limit?}"
        )
    unknown = sorted(set(body) - BULK_KEYS)
    if unknown:
        raise InputError(
            f"unknown key '{unknown[0]}' in the request body; use"
            f" {', '.join(sorted(BULK_KEYS))}"
        )
    failed_after = _moment(body, "failedAfter") or EARLIEST
    failed_before = _moment(body, "failedBefore") or now
    if failed_after >= failed_before:
        raise InputError("'failedAfter' must be before 'failedBefore'")
    limit = body.get("limit", most)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputError("'limit' must be a positive whole number")
    return BulkRequest(
        failed_after=failed_after, failed_before=failed_before, limit=min(limit, most)
    )


def render_report(report: BulkReport) -> dict[str, Json]:
    """Render a bulk report as the management API answers it."""
    return {
        "workflowId": report.workflow_id,
        "failedAfter": report.failed_after.isoformat(),
        "failedBefore": report.failed_before.isoformat(),
        "remaining": report.remaining,
        "instances": [
            {
                "id": item.instance_id,
                "outcome": item.outcome.value,
                "state": item.status.value if item.status else None,
                "attempt": item.attempt,
                "message": item.message,
            }
            for item in report.instances
        ],
    }


def _retrigger_paced(
    services: Services, workflow_id: str, instance_ids: list[str]
) -> list[InstanceReport]:
    interval = 1.0 / services.settings.bulk_retrigger_rate
    reports = []
    next_at = time.monotonic()
    for instance_id in instance_ids:
        # Pacing, not synchronisation: the services a fix brought back see a bounded rate.
        time.sleep(max(0.0, next_at - time.monotonic()))
        next_at = time.monotonic() + interval
        reports.append(_retrigger_one(services, workflow_id, instance_id))
    return reports


def _retrigger_one(
    services: Services, workflow_id: str, instance_id: str
) -> InstanceReport:
    try:
        row = management.retrigger(services, workflow_id, instance_id)
    except ConflictError as error:
        return InstanceReport(
            instance_id=instance_id,
            outcome=RetriggerOutcome.SKIPPED,
            message=str(error),
        )
    except KnflowError as error:
        logger.warning(
            "bulk retrigger refused",
            extra={"instance_id": instance_id, "reason": type(error).__name__},
        )
        return InstanceReport(
            instance_id=instance_id,
            outcome=RetriggerOutcome.REFUSED,
            message=str(error),
        )
    # The retrigger makes its first call after its commit: report what that call left.
    with db.transaction(services.pool) as conn:
        view = instances.status_of(conn, instance_id)
    status = row.status if view is None else view.status
    failed = status is InstanceStatus.ERROR
    return InstanceReport(
        instance_id=instance_id,
        outcome=RetriggerOutcome.FAILED_AGAIN
        if failed
        else RetriggerOutcome.RETRIGGERED,
        status=status,
        attempt=interventions.attempt_of(row.variables),
        message=view.error_message if failed and view is not None else None,
    )


def _moment(body: dict[str, Json], key: str) -> datetime | None:
    raw = body.get(key)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InputError(
            f"'{key}' must be an ISO 8601 date with its time zone"
            " (2026-12-03T10:00:00Z)"
        )
    return moment


def _check_rerunnable(original: InstanceRow) -> None:
    if original.parent_instance_id is not None:
        raise ConflictError(
            f"instance '{original.id}' is a subflow of '{original.parent_instance_id}';"
            " rerun its parent instead"
        )
    if original.input is None:
        raise ConflictError(
            f"instance '{original.id}' started before knflow kept the input of its"
            " instances: start a new instance with that input instead"
        )
    if original.status not in RERUNNABLE:
        raise ConflictError(
            f"instance '{original.id}' is {original.status}; only an instance that"
            " ended (ERROR, COMPLETED or ABORTED) can run again: abort it first"
        )


def _rerun_of(
    original: InstanceRow, *, tokens: Mapping[str, str], initiator: str | None
) -> NewInstance:
    variables = {
        name: value
        for name, value in (original.variables or {}).items()
        if name not in OWN_VARIABLES
    }
    if initiator is not None:
        variables[INITIATOR_VARIABLE] = initiator
    variables[RERUN_OF_VARIABLE] = original.id
    return NewInstance(
        workflow_id=original.workflow_id,
        data=original.input,
        variables=variables,
        headers=original.headers or {},
        tokens=tokens,
        initiator=initiator or original.initiator,
        business_key=original.business_key,
    )
