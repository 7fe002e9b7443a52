"""Builder of the `JobEvent` the Kogito Job Service sends the Data Index on each job status change.

`data` is the Job Service's "ScheduledJob" view; the envelope carries the `kogito*`
extensions when the job belongs to an instance. Ids are uuid5 values of the job and its
status, counters and expiration, so a re-emitted event keeps its id. This module builds
events; it never sends them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from knflow import uuids
from knflow.events import types
from knflow.events.codec import Event, render_time
from knflow.workflow.model import Json

JOB_EVENT_NAMESPACE: Final = uuid.UUID("9e2b7c44-51d0-4f3a-8c6e-2a7d1b0e5f93")
"""Namespace of the uuid5 event ids; never change it (ids would stop de-duplicating)."""
SINK_EVENT_NAMESPACE: Final = uuid.UUID("4a7e9d21-3c5b-4f08-a6d2-8b1e0c9f7d35")
"""Namespace of the ids of the CloudEvents sink recipients receive."""
SOURCE: Final = "/knflow/jobs"
"""CloudEvent `source` of every JobEvent (the Job Service sends `<its url>/jobs`)."""
STATUSES: Final = frozenset({"SCHEDULED", "RETRY", "EXECUTED", "ERROR", "CANCELED"})


@dataclass(frozen=True, slots=True, kw_only=True)
class JobFacts:
    """What a JobEvent says about one job at one moment."""

    job_id: str
    """Job id."""
    status: str
    """SCHEDULED, RETRY, EXECUTED, ERROR or CANCELED."""
    expiration_time: datetime
    """When it fires (next)."""
    last_update: datetime
    """When this status was reached."""
    priority: int = 0
    """Priority."""
    callback_endpoint: str | None = None
    """The URL an http or sink recipient is called at."""
    instance_id: str | None = None
    """`processInstanceId`."""
    workflow_id: str | None = None
    """`processId`."""
    root_instance_id: str | None = None
    """`rootProcessInstanceId`."""
    root_workflow_id: str | None = None
    """`rootProcessId`."""
    node_instance_id: str | None = None
    """`nodeInstanceId`."""
    repeat_interval_ms: int | None = None
    """`repeatInterval` in milliseconds."""
    repeat_limit: int | None = None
    """`repeatLimit`."""
    retries: int = 0
    """Failed attempts of the current occurrence."""
    execution_counter: int = 0
    """Successful firings."""
    response_code: str | None = None
    """The recipient's answer (`executionResponse.code`), once fired."""
    response_message: str | None = None
    """`executionResponse.message`."""
    error: str | None = None
    """`exceptionMessage` after a failed attempt."""


def job_event(facts: JobFacts) -> Event:
    """Build the JobEvent announcing `facts`."""
    return Event(
        id=event_id(facts),
        source=SOURCE,
        type=types.JOB_EVENT,
        data=job_data(facts),
        time=facts.last_update,
        extensions=_extensions(facts),
    )


def sink_event(
    *,
    job_id: str,
    recipient: Mapping[str, Json],
    firing: int,
    remaining: int | None,
    now: datetime,
) -> Event:
    """Build the CloudEvent a sink recipient receives at the `firing`-th firing of a job.

    The Job Service sends the number of firings left as the `limit` extension (-1: forever,
    `remaining` None).
    """
    payload = recipient.get("payload")
    data = payload.get("data") if isinstance(payload, dict) else None
    raw_extensions = recipient.get("ce-extensions")
    extensions: dict[str, str] = {
        str(k): str(v)
        for k, v in (raw_extensions if isinstance(raw_extensions, dict) else {}).items()
    }
    extensions["limit"] = str(-1 if remaining is None else max(remaining, 0))
    subject = recipient.get("ce-subject")
    return Event(
        id=uuids.name_based(SINK_EVENT_NAMESPACE, f"{job_id}/{firing}"),
        source=str(recipient.get("ce-source") or SOURCE),
        type=str(recipient.get("ce-type")),
        subject=None if subject is None else str(subject),
        data=data,
        time=now,
        datacontenttype=str(recipient.get("ce-datacontenttype") or "application/json"),
        extensions=extensions,
    )


def event_id(facts: JobFacts) -> str:
    """Return the deterministic id of the event announcing `facts`."""
    key = "/".join(
        (
            facts.job_id,
            facts.status,
            str(facts.execution_counter),
            str(facts.retries),
            render_time(facts.expiration_time),
        )
    )
    return uuids.name_based(JOB_EVENT_NAMESPACE, key)


def job_data(facts: JobFacts) -> dict[str, Json]:
    """Render the `data` of a JobEvent (the Job Service's ScheduledJob JSON)."""
    data: dict[str, Json] = {
        "id": facts.job_id,
        "expirationTime": render_time(facts.expiration_time),
        "priority": facts.priority,
        "callbackEndpoint": facts.callback_endpoint,
        "processInstanceId": facts.instance_id,
        "rootProcessInstanceId": facts.root_instance_id,
        "processId": facts.workflow_id,
        "rootProcessId": facts.root_workflow_id,
        "nodeInstanceId": facts.node_instance_id,
        "repeatInterval": facts.repeat_interval_ms,
        "repeatLimit": facts.repeat_limit,
        "scheduledId": None,
        "retries": facts.retries,
        "status": facts.status,
        "lastUpdate": render_time(facts.last_update),
        "executionCounter": facts.execution_counter,
        "executionResponse": _response(facts),
    }
    if facts.error is not None:
        data["exceptionMessage"] = facts.error
    return data


def _response(facts: JobFacts) -> Json:
    if facts.response_code is None:
        return None
    return {
        "message": facts.response_message or "",
        "code": facts.response_code,
        "timestamp": render_time(facts.last_update),
        "jobId": facts.job_id,
    }


def _extensions(facts: JobFacts) -> Mapping[str, str]:
    known = {
        "kogitoprocinstanceid": facts.instance_id,
        "kogitorootprociid": facts.root_instance_id,
        "kogitoprocid": facts.workflow_id,
        "kogitorootprocid": facts.root_workflow_id,
        "partitionkey": facts.instance_id,
    }
    return {name: value for name, value in known.items() if value}
