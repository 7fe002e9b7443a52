"""The notify use case: notification requests and instance endings become deliveries.

Each event is delivered on every configured channel (Backstage, the webhook) through
the delivery log, keyed by (CloudEvent id, channel): a row is claimed in one
transaction, sent after commit, and its outcome recorded in a second one. A redelivered
event finds its row finished and sends nothing. A crash after the send and before the
outcome is recorded leaves a claim whose lease runs out; the next delivery sends once
more (at least once, and at most one extra send per crash).

A send that time can fix (the channel is down or busy, or refuses knflow's credentials
until someone fixes them) leaves the row `FAILED` with a back-off. A redelivery or the
periodic re-drive tries it again once the back-off has passed; one that comes sooner
neither sends nor counts. Only age ends the retries: a row still unsent
`Settings.notify_give_up_after` after it was first seen is `DEAD`, however fast or slow
the broker redelivered.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from knflow import logs
from knflow.errors import ActionError, InputError, KnflowError, UnavailableError
from knflow.events import types
from knflow.events.codec import Event
from knflow.outbound import backstage
from knflow.runtime.notify import lifecycle
from knflow.runtime.services import Services
from knflow.store import db, notifications
from knflow.store.notifications import (
    FINAL_STATUSES,
    Channel,
    Delivery,
    DeliveryStatus,
    SendOutcome,
)
from knflow.workflow.model import Json

logger = logging.getLogger(__name__)

RETRY_FIRST: Final = timedelta(seconds=1)
"""Back-off after a first failed attempt; it doubles after each further one. The
Triggers' broker retries (exponential from 1 s) then find the row due."""
RETRY_LONGEST: Final = timedelta(minutes=10)
"""The longest back-off: how late a notification may follow a channel's return."""
LEASE_MARGIN: Final = timedelta(seconds=10)
"""Added to the HTTP timeout: how long a claim outlives the send it covers."""
STALLED_BATCH: Final = 50
"""Due deliveries retried per ping; the rest wait for the next one."""
CHANNEL_DOWN: Final = frozenset({SendOutcome.UNAVAILABLE, SendOutcome.UNAUTHORIZED})
"""Outcomes that say nothing else will get through the channel now either."""
_MAX_DOUBLINGS: Final = 20


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


@dataclass(frozen=True, slots=True, kw_only=True)
class _Sent:
    """How one send ended."""

    outcome: SendOutcome
    """What happened."""
    failure: KnflowError | None = None
    """The error, unless the channel took the notification."""
    recipient_count: int | None = None
    """How many notifications Backstage created, when it said."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Attempt:
    """What one try at a logged delivery did."""

    outcome: SendOutcome | None
    """How the send ended; None when nothing was sent (finished, not due, claimed)."""
    failure: KnflowError | None
    """What to report to the broker, if anything."""


def handle_event(services: Services, event: Event) -> None:
    """Deliver the notification `event` asks for; acknowledged events return None.

    Raises:
        InputError: unknown event type, or bad notification data (recorded as refused).
        UnavailableError: a channel has not taken the notification yet; it stays in the
            log, and a redelivery or the re-drive tries again after its back-off.
        ActionError: a channel refused for good, or the give-up age was reached.
    """
    if event.type == types.PING:
        redeliver_stalled(services)
        return
    if event.type == types.PROCESS_INSTANCE_MULTIPLE:
        if not _configured_channels(services):
            _warn_no_channel_once()
            return
        for state_event in lifecycle.state_events_in(event):
            handle_event(services, state_event)
        return
    if event.type not in (types.NOTIFICATION_REQUESTED, types.PROCESS_INSTANCE_STATE):
        raise InputError(f"notify does not handle events of type '{event.type}'")
    try:
        notification = _notification_of(services, event)
    except InputError as error:
        raise _refuse(services, event, error) from error
    if notification is not None:
        with _about(notification.instance_id, notification.workflow_id):
            deliver(services, notification)


def deliver(services: Services, notification: Notification) -> None:
    """Send `notification` on every configured channel that has not had it yet.

    Every channel is tried before an error is raised, so that one failing channel does
    not hold back the others; a redelivery then retries only the channels still open.

    Raises:
        UnavailableError: some channel has not taken it yet and will be retried.
        ActionError: some channel refused for good or the give-up age was reached.
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
    """Give up on deliveries past the give-up age, then retry the due ones.

    The periodic ping calls this, so that a notification still goes out after the
    broker stopped redelivering it, or after its sender crashed. A channel whose send
    fails as down or unauthorized is left alone for the rest of the sweep: during an
    outage each ping costs one request per channel, not one per notification.
    """
    channels = _configured_channels(services)
    now = services.clock()
    with db.transaction(services.pool) as conn:
        expired = notifications.expire_deliveries(
            conn, created_before=now - services.settings.notify_give_up_after, now=now
        )
        stalled = notifications.list_stalled(conn, now=now, limit=STALLED_BATCH)
    for delivery in expired:
        with _about(delivery.instance_id, delivery.workflow_id):
            logger.warning("notification given up", extra=_facts(delivery))
    down: set[Channel] = set()
    for delivery in stalled:
        if delivery.channel not in channels or delivery.channel in down:
            continue
        with _about(delivery.instance_id, delivery.workflow_id):
            attempt = _attempt(
                services, delivery.event_id, delivery.channel, delivery.body
            )
        if attempt.outcome in CHANNEL_DOWN:
            down.add(delivery.channel)


def retry_delay(attempt: int) -> timedelta:
    """Return the back-off after failed attempt number `attempt` (1 for the first)."""
    doublings = min(max(attempt - 1, 0), _MAX_DOUBLINGS)
    delay: timedelta = RETRY_FIRST * (1 << doublings)
    return min(delay, RETRY_LONGEST)


def _notification_of(services: Services, event: Event) -> Notification | None:
    """The notification `event` asks for; None for a state event that ends no run.

    Raises:
        InputError: the event data is not a notification or a process state.
    """
    if event.type == types.NOTIFICATION_REQUESTED:
        return Notification(
            event_id=event.id,
            event_type=event.type,
            body=backstage.parse_notification(event.data),
            instance_id=event.extensions.get("kogitoprocinstanceid"),
            workflow_id=event.extensions.get("kogitoprocid"),
        )
    notice = lifecycle.notice_of(services, event)
    if notice is None:
        return None
    return Notification(
        event_id=event.id,
        event_type=event.type,
        body=notice.body,
        instance_id=notice.instance_id,
        workflow_id=notice.workflow_id,
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


@functools.cache
def _warn_no_channel_once() -> None:
    """Lifecycle notices are dropped while no channel is configured: said once per process."""
    logger.warning("lifecycle notices dropped: no notification channel is configured")


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
    now = services.clock()
    with db.transaction(services.pool) as conn:
        notifications.insert_delivery(
            conn,
            event_id=notification.event_id,
            channel=channel,
            event_type=notification.event_type,
            instance_id=notification.instance_id,
            workflow_id=notification.workflow_id,
            body=body,
            now=now,
            retry_at=_lease_end(services, now),
        )
    return _attempt(services, notification.event_id, channel, body).failure


def _attempt(
    services: Services, event_id: str, channel: Channel, body: Mapping[str, Json]
) -> _Attempt:
    """Claim a logged delivery, send `body` after commit and record the outcome."""
    now = services.clock()
    with db.transaction(services.pool) as conn:
        claimed = notifications.start_attempt(
            conn, event_id, channel, now=now, lease_until=_lease_end(services, now)
        )
        current = claimed or notifications.get_delivery(conn, event_id, channel)
    if claimed is None:
        return _Attempt(outcome=None, failure=_unclaimed(event_id, channel, current))
    sent = _send(services, channel, body)
    return _Attempt(outcome=sent.outcome, failure=_record(services, claimed, sent))


def _lease_end(services: Services, now: datetime) -> datetime:
    return now + services.settings.action_timeout + LEASE_MARGIN


def _unclaimed(
    event_id: str, channel: Channel, current: Delivery | None
) -> KnflowError | None:
    """A delivery that may not send now: acknowledged when finished, else retryable."""
    if current is not None and current.status in FINAL_STATUSES:
        logger.debug(
            "duplicate notification ignored",
            extra={"channel": channel.value, "status": current.status.value},
        )
        return None
    if current is not None and current.status is DeliveryStatus.FAILED:
        due = "now" if current.retry_at is None else current.retry_at.isoformat()
        return UnavailableError(
            f"notification '{event_id}' is not sent to {channel.value} yet; the next"
            f" try is due {due} (last try: {current.last_error})"
        )
    return UnavailableError(
        f"notification '{event_id}' is being sent to {channel.value}"
        " by another delivery"
    )


def _send(services: Services, channel: Channel, body: Mapping[str, Json]) -> _Sent:
    settings = services.settings
    try:
        if channel is Channel.WEBHOOK:
            backstage.send_webhook(services.http, body, url=settings.notify_webhook_url)
            return _Sent(outcome=SendOutcome.SENT)
        count = backstage.send_notification(
            services.http,
            body,
            base_url=settings.backstage_url,
            token=settings.backstage_token,
        )
    except (ActionError, UnavailableError) as error:
        return _Sent(outcome=_failure_outcome(error), failure=error)
    if count == 0 and _entity_refs(body) is not None:
        return _Sent(outcome=SendOutcome.NO_RECIPIENTS, recipient_count=0)
    return _Sent(outcome=SendOutcome.SENT, recipient_count=count)


def _failure_outcome(error: KnflowError) -> SendOutcome:
    if backstage.is_credentials_refusal(error):
        return SendOutcome.UNAUTHORIZED
    if error.retryable:
        return SendOutcome.UNAVAILABLE
    return SendOutcome.REJECTED


def _record(services: Services, claimed: Delivery, sent: _Sent) -> KnflowError | None:
    """Store how the attempt ended; return the failure to report to the broker.

    Every attempt that sent ends here with one `SendOutcome`: the place to count them.
    """
    now = services.clock()
    status = _status_after(services, claimed, sent, now)
    retry_at = None
    if status is DeliveryStatus.FAILED:
        retry_at = now + retry_delay(claimed.attempts)
    with db.transaction(services.pool) as conn:
        notifications.finish_attempt(
            conn,
            claimed.event_id,
            claimed.channel,
            attempt=claimed.attempts,
            status=status,
            outcome=sent.outcome,
            last_error=None if sent.failure is None else str(sent.failure),
            retry_at=retry_at,
            recipient_count=sent.recipient_count,
            now=now,
        )
    _log_attempt(claimed, sent, status=status, retry_at=retry_at)
    services.metrics.notification_deliveries.labels(
        claimed.channel.value, sent.outcome.value
    ).inc()
    if sent.failure is None or status is not DeliveryStatus.DEAD:
        return sent.failure
    age = timedelta(seconds=int((now - claimed.created_at).total_seconds()))
    attempts = f"{claimed.attempts} attempt{'' if claimed.attempts == 1 else 's'}"
    return ActionError(
        f"gave up after {attempts} over {age}: {sent.failure}",
        kind="NotificationError",
    )


def _status_after(
    services: Services, claimed: Delivery, sent: _Sent, now: datetime
) -> DeliveryStatus:
    if sent.failure is None:
        return DeliveryStatus.SENT
    if not sent.failure.retryable:
        return DeliveryStatus.REJECTED
    if now - claimed.created_at >= services.settings.notify_give_up_after:
        return DeliveryStatus.DEAD
    return DeliveryStatus.FAILED


def _log_attempt(
    claimed: Delivery,
    sent: _Sent,
    *,
    status: DeliveryStatus,
    retry_at: datetime | None,
) -> None:
    extra: dict[str, object] = {
        "channel": claimed.channel.value,
        "attempt": claimed.attempts,
        "status": status.value,
        "outcome": sent.outcome.value,
    }
    if sent.outcome is SendOutcome.SENT:
        logger.info(
            "notification sent", extra={**extra, "recipients": sent.recipient_count}
        )
        return
    if sent.outcome is SendOutcome.NO_RECIPIENTS:
        # Backstage resolved the refs to nobody: unknown or empty groups, users
        # missing from the catalog, or every user turned these notifications off.
        logger.warning(
            "notification reached nobody",
            extra={**extra, "entity_refs": _entity_refs(claimed.body)},
        )
        return
    extra["reason"] = str(sent.failure)
    if retry_at is not None:
        extra["retry_at"] = retry_at.isoformat()
    if sent.outcome is SendOutcome.UNAUTHORIZED:
        logger.error("notification refused: credentials are wrong", extra=extra)
    elif status is DeliveryStatus.DEAD:
        logger.warning("notification given up", extra=extra)
    else:
        logger.warning("notification not sent", extra=extra)


def _entity_refs(body: Json) -> Json:
    """The entity refs of a Backstage body with entity recipients, else None."""
    if not isinstance(body, Mapping):
        return None
    recipients = body.get("recipients")
    if not isinstance(recipients, Mapping) or recipients.get("type") != "entity":
        return None
    return recipients.get("entityRef")


def _facts(delivery: Delivery) -> dict[str, object]:
    return {
        "channel": delivery.channel.value,
        "attempt": delivery.attempts,
        "status": delivery.status.value,
        "reason": delivery.last_error,
    }


@contextmanager
def _about(instance_id: str | None, workflow_id: str | None) -> Iterator[None]:
    with logs.context(instance_id=instance_id or "", workflow_id=workflow_id or ""):
        yield


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
