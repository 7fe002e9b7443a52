"""The notify use case: notification requests and instance endings become deliveries.

Each event is delivered on every configured channel (Backstage, the webhook) through
the delivery log, keyed by (CloudEvent id, channel): a row is claimed in one
transaction, sent after commit, and its outcome recorded in a second one. A redelivered
event finds its row finished and sends nothing. A crash after the send and before the
outcome is recorded leaves a claim whose lease runs out; the next delivery sends once
more (at least once, and at most one extra send per crash).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from knflow import logs
from knflow.errors import ActionError, InputError, KnflowError, UnavailableError
from knflow.events import kogito, types
from knflow.events.codec import Event
from knflow.outbound import backstage
from knflow.runtime.services import Services
from knflow.store import db, notifications
from knflow.store.notifications import FINAL_STATUSES, Channel, DeliveryStatus
from knflow.workflow.model import Json

logger = logging.getLogger(__name__)

MAX_ATTEMPTS: Final = 5
"""Sends per channel before a notification is dead-lettered (answered 422)."""
LEASE_MARGIN: Final = timedelta(seconds=10)
"""Added to the HTTP timeout: how long a claim outlives the send it covers."""
STALLED_BATCH: Final = 50
"""Stalled deliveries retried per ping; the rest wait for the next one."""
RECIPIENTS_KEY: Final = "knflow.dev/notify-recipients"
"""Definition metadata (or annotation) naming extra recipients of lifecycle notices."""
OUTCOMES_KEY: Final = "knflow.dev/notify-outcomes"
"""Definition metadata (or annotation) overriding `Settings.notify_outcomes`."""
ERROR_STATE: Final = kogito.state_number("ERROR")
ENDED_STATES: Final = (kogito.state_number("COMPLETED"), kogito.state_number("ABORTED"))
OUTCOME_VERBS: Final = {
    "COMPLETED": "completed",
    "ABORTED": "was aborted",
    "ERROR": "failed",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """A notification to deliver: the Backstage body and what it is about."""

    event_id: str
    """The CloudEvent that asked for it; the delivery log's key."""
    event_type: str
    """That event's type."""
    body: Mapping[str, Json]
    """The Backstage body, `{recipients, payload}`."""
    instance_id: str | None = None
    """The instance it is about, when known."""
    workflow_id: str | None = None
    """The workflow it is about, when known."""


def handle_event(services: Services, event: Event) -> None:
    """Deliver the notification `event` asks for; acknowledged events return None.

    Raises:
        InputError: unknown event type, or bad notification data (recorded as refused).
        UnavailableError: a channel failed in a way a retry can fix; the broker retries.
        ActionError: a channel refused for good, or `MAX_ATTEMPTS` sends failed.
    """
    notification: Notification | None
    if event.type == types.NOTIFICATION_REQUESTED:
        notification = _requested_notification(services, event)
    elif event.type == types.PROCESS_INSTANCE_STATE:
        notification = _lifecycle_notification(services, event)
    elif event.type == types.PING:
        redeliver_stalled(services)
        return
    else:
        raise InputError(f"notify does not handle events of type '{event.type}'")
    if notification is not None:
        context = {
            "instance_id": notification.instance_id or "",
            "workflow_id": notification.workflow_id or "",
        }
        with logs.context(**context):
            deliver(services, notification)


def deliver(services: Services, notification: Notification) -> None:
    """Send `notification` on every configured channel that has not had it yet.

    Every channel is tried before an error is raised, so that one failing channel does
    not hold back the others; a redelivery then retries only the channels still open.

    Raises:
        UnavailableError: some channel may succeed on a later delivery.
        ActionError: some channel refused for good or ran out of attempts.
    """
    channels = _configured_channels(services)
    if not channels:
        logger.warning("notification dropped: no channel configured")
        return
    failures = [
        failure
        for channel in channels
        if (failure := _deliver_on(services, notification, channel)) is not None
    ]
    if any(failure.retryable for failure in failures):
        raise UnavailableError(_summary(notification, failures))
    if failures:
        raise ActionError(_summary(notification, failures), kind="NotificationError")


def redeliver_stalled(services: Services) -> None:
    """Retry deliveries no event will finish: failed ones past their back-off, dead claims.

    The periodic ping calls this, so that a notification whose retries the broker lost,
    or whose sender crashed, still goes out (or is marked dead after `MAX_ATTEMPTS`).
    """
    channels = _configured_channels(services)
    with db.transaction(services.pool) as conn:
        stalled = notifications.list_stalled(
            conn, now=services.clock(), limit=STALLED_BATCH
        )
    for delivery in stalled:
        if delivery.channel not in channels:
            continue
        context = {
            "instance_id": delivery.instance_id or "",
            "workflow_id": delivery.workflow_id or "",
        }
        with logs.context(**context):
            _attempt(services, delivery.event_id, delivery.channel, delivery.body)


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


def _requested_notification(services: Services, event: Event) -> Notification:
    try:
        body = backstage.parse_notification(event.data)
    except InputError as error:
        raise _refuse(services, event, error) from error
    return Notification(
        event_id=event.id,
        event_type=event.type,
        body=body,
        instance_id=event.extensions.get("kogitoprocinstanceid"),
        workflow_id=event.extensions.get("kogitoprocid"),
    )


def _lifecycle_notification(services: Services, event: Event) -> Notification | None:
    """The notice of an ended instance to its initiator, or None when none is due."""
    data = event.data
    if not isinstance(data, Mapping):
        raise _refuse(
            services, event, InputError("process state data must be an object")
        )
    outcome = lifecycle_outcome(data)
    if outcome is None:
        return None
    instance_id = data.get("processInstanceId") or event.extensions.get(
        "kogitoprocinstanceid"
    )
    if not isinstance(instance_id, str) or not instance_id:
        raise _refuse(
            services, event, InputError("process state event names no instance")
        )
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
    recipients = _lifecycle_recipients(ended)
    if not recipients:
        logger.info(
            "lifecycle notice skipped: no recipients",
            extra={"instance_id": instance_id},
        )
        return None
    return Notification(
        event_id=event.id,
        event_type=event.type,
        body=_lifecycle_body(services, ended, outcome=outcome, recipients=recipients),
        instance_id=instance_id,
        workflow_id=ended.workflow_id,
    )


def _refuse(services: Services, event: Event, error: InputError) -> InputError:
    """Record that `event` was refused for bad data; return the error to raise."""
    with db.transaction(services.pool) as conn:
        notifications.record_refusal(
            conn,
            event_id=event.id,
            event_type=event.type,
            instance_id=event.extensions.get("kogitoprocinstanceid"),
            workflow_id=event.extensions.get("kogitoprocid"),
            data=_storable(event.data),
            reason=str(error),
            now=services.clock(),
        )
    return InputError(f"notification event '{event.id}' is refused: {error}")


def _notified_outcomes(
    services: Services, ended: notifications.EndedInstance
) -> frozenset[str]:
    """The workflow's own `knflow.dev/notify-outcomes`, else the settings."""
    chosen = _workflow_setting(ended, OUTCOMES_KEY)
    if not chosen:
        return services.settings.notify_outcomes
    return frozenset(outcome.upper() for outcome in chosen)


def _lifecycle_recipients(ended: notifications.EndedInstance) -> list[str]:
    """The initiator, then the workflow's extra recipients, each once."""
    initiator = ended.initiator
    refs = [initiator] if isinstance(initiator, str) else []
    if isinstance(initiator, list):
        refs = [ref for ref in initiator if isinstance(ref, str)]
    refs.extend(_workflow_setting(ended, RECIPIENTS_KEY))
    return list(dict.fromkeys(ref.strip() for ref in refs if ref.strip()))


def _workflow_setting(ended: notifications.EndedInstance, key: str) -> list[str]:
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


def _lifecycle_body(
    services: Services,
    ended: notifications.EndedInstance,
    *,
    outcome: str,
    recipients: list[str],
) -> dict[str, Json]:
    name = ended.workflow_name or ended.workflow_id
    payload: dict[str, Json] = {
        "title": f"Workflow '{name}' {OUTCOME_VERBS[outcome]}",
        "description": _lifecycle_description(ended, outcome),
        "severity": "high" if outcome == "ERROR" else "normal",
        "topic": ended.workflow_id,
    }
    if services.settings.backstage_url:
        base = services.settings.backstage_url
        payload["link"] = f"{base}/orchestrator/instances/{ended.instance_id}"
    return {
        "recipients": {"type": "entity", "entityRef": recipients},
        "payload": payload,
    }


def _lifecycle_description(ended: notifications.EndedInstance, outcome: str) -> str:
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


def _configured_channels(services: Services) -> list[Channel]:
    settings = services.settings
    channels = []
    if settings.backstage_url:
        channels.append(Channel.BACKSTAGE)
    if settings.notify_webhook_url:
        channels.append(Channel.WEBHOOK)
    return channels


def _deliver_on(
    services: Services, notification: Notification, channel: Channel
) -> KnflowError | None:
    """Log, claim, send and record one channel; return the failure, if any."""
    body = _channel_body(notification, channel)
    with db.transaction(services.pool) as conn:
        notifications.insert_delivery(
            conn,
            event_id=notification.event_id,
            channel=channel,
            event_type=notification.event_type,
            instance_id=notification.instance_id,
            workflow_id=notification.workflow_id,
            body=body,
            now=services.clock(),
        )
    return _attempt(services, notification.event_id, channel, body)


def _attempt(
    services: Services, event_id: str, channel: Channel, body: Mapping[str, Json]
) -> KnflowError | None:
    """Claim a logged delivery, send `body` after commit and record the outcome."""
    now = services.clock()
    lease_until = now + services.settings.action_timeout + LEASE_MARGIN
    with db.transaction(services.pool) as conn:
        claimed = notifications.start_attempt(
            conn, event_id, channel, now=now, lease_until=lease_until
        )
        current = claimed or notifications.get_delivery(conn, event_id, channel)
    if claimed is None:
        return _unclaimed(event_id, channel, current)
    failure = _send(services, channel, body)
    return _record(
        services, event_id, channel, attempt=claimed.attempts, failure=failure
    )


def _unclaimed(
    event_id: str, channel: Channel, current: notifications.Delivery | None
) -> KnflowError | None:
    """A duplicate delivery: acknowledged when finished, retried while another sends."""
    if current is not None and current.status in FINAL_STATUSES:
        logger.debug(
            "duplicate notification ignored",
            extra={"channel": channel.value, "status": current.status.value},
        )
        return None
    return UnavailableError(
        f"notification '{event_id}' is being sent to {channel.value}"
        " by another delivery"
    )


def _send(
    services: Services, channel: Channel, body: Mapping[str, Json]
) -> KnflowError | None:
    settings = services.settings
    try:
        if channel is Channel.BACKSTAGE:
            backstage.send_notification(
                services.http,
                body,
                base_url=settings.backstage_url,
                token=settings.backstage_token,
            )
        else:
            backstage.send_webhook(services.http, body, url=settings.notify_webhook_url)
    except (ActionError, UnavailableError) as error:
        return error
    return None


def _record(
    services: Services,
    event_id: str,
    channel: Channel,
    *,
    attempt: int,
    failure: KnflowError | None,
) -> KnflowError | None:
    """Store how the attempt ended; return the failure to report to the broker."""
    status = _status_after(failure, attempt)
    with db.transaction(services.pool) as conn:
        notifications.finish_attempt(
            conn,
            event_id,
            channel,
            attempt=attempt,
            status=status,
            last_error=None if failure is None else str(failure),
            now=services.clock(),
        )
    extra = {"channel": channel.value, "attempt": attempt, "status": status.value}
    if failure is None:
        logger.info("notification sent", extra=extra)
        return None
    logger.warning("notification not sent", extra={**extra, "reason": str(failure)})
    if status is DeliveryStatus.DEAD:
        return ActionError(
            f"gave up after {attempt} attempts: {failure}", kind="NotificationError"
        )
    return failure


def _status_after(failure: KnflowError | None, attempt: int) -> DeliveryStatus:
    if failure is None:
        return DeliveryStatus.SENT
    if not failure.retryable:
        return DeliveryStatus.REJECTED
    if attempt >= MAX_ATTEMPTS:
        return DeliveryStatus.DEAD
    return DeliveryStatus.FAILED


def _channel_body(notification: Notification, channel: Channel) -> Mapping[str, Json]:
    if channel is Channel.BACKSTAGE:
        return notification.body
    return backstage.render_webhook_body(
        notification.body,
        event_id=notification.event_id,
        instance_id=notification.instance_id,
        workflow_id=notification.workflow_id,
    )


def _summary(notification: Notification, failures: list[KnflowError]) -> str:
    reasons = "; ".join(str(failure) for failure in failures)
    return f"notification '{notification.event_id}' not delivered: {reasons}"


def _storable(data: Json) -> Json:
    """Event data as JSON; undecodable bytes are kept as text."""
    if isinstance(data, bytes | bytearray):
        return bytes(data).decode("utf-8", errors="replace")
    return data
