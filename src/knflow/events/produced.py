"""The CloudEvents a workflow produces (`produceEvents`, `eventRef` triggers, notifications).

Each carries the `kogito*` extensions that name its instance, as SonataFlow's do, so that a
consumer can correlate a reply (`kogitoprocrefid`) with the instance that asked.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from knflow import uuids
from knflow.engine.outcome import EmitEvent
from knflow.events.codec import Event

PRODUCED_NAMESPACE: Final = uuid.UUID("3b0f5f0e-9a51-4c57-8d2e-7f1f64a9c2d4")
"""Namespace of produced event ids; never change it (ids would stop de-duplicating)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Producer:
    """The instance an event comes from."""

    instance_id: str
    """The producing instance."""
    workflow_id: str
    """Its workflow."""
    version: str
    """Its definition's version."""
    business_key: str | None = None
    """Its business key, when it has one."""
    correlation: Mapping[str, str] = field(default_factory=dict)
    """The correlation values its start event fixed."""


def produced_event(command: EmitEvent, *, producer: Producer, now: datetime) -> Event:
    """Build the CloudEvent of an `EmitEvent` command; its id is fixed by the command key."""
    extensions = {
        "kogitoprocinstanceid": producer.instance_id,
        "kogitoprocid": producer.workflow_id,
        "kogitoprocversion": producer.version,
        "kogitoproctype": "SW",
        "partitionkey": producer.instance_id,
        **(
            {"kogitobusinesskey": producer.business_key}
            if producer.business_key
            else {}
        ),
        **producer.correlation,
        **{name.lower(): value for name, value in command.extensions.items()},
    }
    return Event(
        id=uuids.name_based(
            PRODUCED_NAMESPACE, f"{producer.instance_id}/{command.key}/produced"
        ),
        source=command.source or f"/knflow/{producer.workflow_id}",
        type=command.type,
        data=command.data,
        time=now,
        extensions=extensions,
    )
