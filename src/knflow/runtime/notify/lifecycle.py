"""Lifecycle notices: the notification an ended instance sends its initiator.

A run that completes, fails or is aborted notifies the entity that started it (the
`initiatorEntity` start variable) and the workflow's extra recipients, with a link to
the run in the Orchestrator plugin.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from knflow.config import Settings
from knflow.errors import InputError
from knflow.events import codec, kogito, types
from knflow.events.codec import Event
from knflow.outbound import backstage
from knflow.runtime.services import Services
from knflow.store import db, notifications
from knflow.store.notifications import EndedInstance
from knflow.workflow.model import Json

logger = logging.getLogger(__name__)

RECIPIENTS_KEY: Final = "knflow.dev/notify-recipients"
"""Definition metadata (or annotation) naming extra recipients of lifecycle notices."""
OUTCOMES_KEY: Final = "knflow.dev/notify-outcomes"
"""Definition metadata (or annotation) overriding `Settings.notify_outcomes`."""
RUN_PATH: Final = "/orchestrator/instances/"
"""Where the Orchestrator plugin shows a run, under Developer Hub's base URL."""
ERROR_STATE: Final = kogito.state_number("ERROR")
ENDED_STATES: Final = (kogito.state_number("COMPLETED"), kogito.state_number("ABORTED"))
OUTCOME_VERBS: Final = {
    "COMPLETED": "completed",
    "ABORTED": "was aborted",
    "ERROR": "failed",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """A lifecycle notice to deliver."""

    body: dict[str, Json]
    """The Backstage body, `{recipients, payload}`."""
    instance_id: str
    """The run that ended."""
    workflow_id: str
    """Its workflow."""


def state_events_in(grouped: Event) -> list[Event]:
    """Return the process state events a grouped event (one commit of an instance) carries.

    The runtime groups each commit's process events into one `MultipleProcessInstanceDataEvent`
    (Kogito's grouped format); notify's Triggers route those whose instance ended.

    Raises:
        InputError: the grouped data is not a list of CloudEvents.
    """
    if not isinstance(grouped.data, list):
        raise InputError("grouped process events must be a JSON array of CloudEvents")
    events = []
    for item in grouped.data:
        if not isinstance(item, Mapping):
            raise InputError("a grouped process event is not a JSON object")
        inner = codec.from_dict(dict(item))
        if inner.type == types.PROCESS_INSTANCE_STATE:
            events.append(inner)
    return events


def notice_of(services: Services, event: Event) -> Notice | None:
    """Return the notice a process state event calls for, or None when none is due.

    Raises:
        InputError: the event data is not an object or names no instance.
    """
    data = event.data
    if not isinstance(data, Mapping):
        raise InputError("process state data must be an object")
    outcome = lifecycle_outcome(data)
    if outcome is None:
        return None
    instance_id = data.get("processInstanceId") or event.extensions.get(
        "kogitoprocinstanceid"
    )
    if not isinstance(instance_id, str) or not instance_id:
        raise InputError("process state event names no instance")
    with db.transaction(services.pool) as conn:
        ended = notifications.find_ended_instance(conn, instance_id)
    if ended is None:
        logger.info(
            "lifecycle notice skipped: unknown instance",
            extra={"instance_id": instance_id},
        )
        return None
    if outcome not in _notified_outcomes(services, ended):
        return None
    recipients = _recipients(ended)
    if not recipients:
        logger.info(
            "lifecycle notice skipped: no recipients",
            extra={"instance_id": instance_id},
        )
        return None
    body = _body(services.settings, ended, outcome=outcome, recipients=recipients)
    return Notice(body=body, instance_id=instance_id, workflow_id=ended.workflow_id)


def lifecycle_outcome(data: Mapping[str, Json]) -> str | None:
    """Return COMPLETED, ABORTED or ERROR when a process state event ends a run.

    An ENDED event (eventType 2) ends a run with state 2 COMPLETED or 3 ABORTED; ERROR
    (state 5) may come with any event type. Anything else is None.
    """
    state = _as_int(data.get("state"))
    if state == ERROR_STATE:
        return kogito.INSTANCE_STATES[ERROR_STATE]
    if _as_int(data.get("eventType")) == kogito.STATE_ENDED and state in ENDED_STATES:
        return kogito.INSTANCE_STATES[state]
    return None


def run_link(settings: Settings, instance_id: str) -> str | None:
    """Return the link to a run that a user's browser can open; None without Backstage.

    Relative unless `backstage_public_url` is set: Backstage resolves a relative link
    against its own `app.baseUrl`, while `backstage_url` is where notify reaches
    Backstage, on a cluster usually an address only the cluster knows.
    """
    if not (settings.backstage_url or settings.backstage_public_url):
        return None
    return f"{settings.backstage_public_url}{RUN_PATH}{quote(instance_id, safe='')}"


def _notified_outcomes(services: Services, ended: EndedInstance) -> frozenset[str]:
    """The workflow's own `knflow.dev/notify-outcomes`, else the settings."""
    chosen = _workflow_setting(ended, OUTCOMES_KEY)
    if not chosen:
        return services.settings.notify_outcomes
    return frozenset(outcome.upper() for outcome in chosen)


def _recipients(ended: EndedInstance) -> list[str]:
    """The initiator, then the workflow's extra recipients, each once."""
    initiator = ended.initiator
    refs = [initiator] if isinstance(initiator, str) else []
    if isinstance(initiator, list):
        refs = [ref for ref in initiator if isinstance(ref, str)]
    refs.extend(_workflow_setting(ended, RECIPIENTS_KEY))
    return list(dict.fromkeys(ref.strip() for ref in refs if ref.strip()))


def _workflow_setting(ended: EndedInstance, key: str) -> list[str]:
    """A list, or comma-separated text, from definition metadata or annotations.

    SW 0.8 annotations are plain strings, so there the setting is written `key=a,b`.
    """
    value: Json = None
    if isinstance(ended.metadata, Mapping):
        value = ended.metadata.get(key)
    if value is None and isinstance(ended.annotations, list):
        for annotation in ended.annotations:
            name, _, rest = str(annotation).partition("=")
            if name.strip() == key:
                value = rest
    if isinstance(value, list):
        return [str(item).strip() for item in value if str(item).strip()]
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return []


def _body(
    settings: Settings,
    ended: EndedInstance,
    *,
    outcome: str,
    recipients: list[str],
) -> dict[str, Json]:
    title, full_title = _title(ended.workflow_name or ended.workflow_id, outcome)
    description = _description(ended, outcome)
    if full_title is not None:
        description = backstage.with_full_texts(description, [full_title])
    payload: dict[str, Json] = {
        "title": title,
        "description": description,
        "severity": "high" if outcome == "ERROR" else "normal",
        "topic": ended.workflow_id,
    }
    link = run_link(settings, ended.instance_id)
    if link is not None:
        payload["link"] = link
    return {
        "recipients": {"type": "entity", "entityRef": recipients},
        "payload": backstage.fit_payload(payload),
    }


def _title(name: str, outcome: str) -> tuple[str, str | None]:
    """The title within Backstage's limit, and the full title when the name was cut.

    A long name is cut inside the quotes, so that the outcome stays readable.
    """
    verb = OUTCOME_VERBS[outcome]
    title = f"Workflow '{name}' {verb}"
    if len(title) <= backstage.TEXT_LIMIT:
        return title, None
    room = backstage.TEXT_LIMIT - len(title) + len(name)
    return f"Workflow '{backstage.shorten(name, room)}' {verb}", title


def _description(ended: EndedInstance, outcome: str) -> str:
    run = f"Run {ended.instance_id} of workflow '{ended.workflow_id}'"
    if outcome != "ERROR":
        return f"{run} {OUTCOME_VERBS[outcome]}."
    return f"{run} failed: {ended.error_message or 'no error message was recorded'}"


def _as_int(value: Json) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None
