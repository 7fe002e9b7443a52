"""The retention policy, applied a bounded amount at a time on each reconcile tick.

Storage stays bounded without a separate cron job: the same PingSource tick that re-drives
lost work deletes what `Settings.retention` says is past keeping. A tick deletes at most
`MOST_PER_TICK` rows of each kind, oldest first, in short transactions; a large backlog
(the first run on an old database) drains over the following ticks instead of holding
locks for minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from knflow.config import Retention
from knflow.runtime.services import Services
from knflow.store import db, retention
from knflow.store.db import Connection

logger = logging.getLogger(__name__)

BATCH: Final = 500
"""Rows (instance trees for instances) one statement deletes."""
MOST_PER_TICK: Final = 5000
"""Rows of each kind one tick deletes at most."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Purged:
    """What one pass deleted, per kind."""

    sent_events: int = 0
    received_events: int = 0
    instances: int = 0
    """Instances, counting every subflow of a purged tree."""
    finished_jobs: int = 0
    notifications: int = 0
    failed_tokens: int = 0
    """Sealed tokens of instances in ERROR (the instances stay)."""
    start_keys: int = 0
    """Idempotency keys past `KNFLOW_IDEMPOTENCY_WINDOW_SECONDS`."""

    @property
    def total(self) -> int:
        """Every row this pass deleted."""
        return (
            self.sent_events
            + self.received_events
            + self.instances
            + self.finished_jobs
            + self.notifications
            + self.failed_tokens
            + self.start_keys
        )


def purge(services: Services) -> Purged:
    """Delete, up to the per-tick bound, each kind of record past its retention."""
    policy = services.settings.retention
    now = services.clock()
    purged = Purged(
        sent_events=_drain(
            services, _older(retention.purge_sent_events, policy.sent_events, now)
        ),
        received_events=_drain(
            services,
            _older(retention.purge_received_events, policy.received_events, now),
        ),
        instances=_drain(services, _instance_trees(policy, now)),
        finished_jobs=_drain(
            services, _older(retention.purge_finished_jobs, policy.finished_jobs, now)
        ),
        notifications=_drain(
            services, _older(retention.purge_notifications, policy.notifications, now)
        ),
        failed_tokens=_drain(
            services, _older(retention.purge_failed_tokens, policy.failed_tokens, now)
        ),
        start_keys=_drain(
            services,
            _older(
                retention.purge_start_keys, services.settings.idempotency_window, now
            ),
        ),
    )
    if purged.total:
        logger.info("retention purged", extra={"purged": purged.total})
    return purged


Batch = Callable[[Connection, int], int]
"""Deletes up to a number of rows in the given transaction; returns how many it deleted."""


def _older(
    delete: Callable[..., int], period: timedelta | None, now: datetime
) -> Batch | None:
    """A batch deleting rows older than `period` (None: nothing, the kind is kept forever)."""
    if period is None:
        return None
    before = now - period

    def batch(conn: Connection, limit: int) -> int:
        return int(delete(conn, before=before, limit=limit))

    return batch


def _instance_trees(policy: Retention, now: datetime) -> Batch | None:
    if policy.ended_instances is None and policy.failed_instances is None:
        return None
    ended_before = now - policy.ended_instances if policy.ended_instances else None
    failed_before = now - policy.failed_instances if policy.failed_instances else None

    def batch(conn: Connection, limit: int) -> int:
        return retention.purge_instance_trees(
            conn, ended_before=ended_before, failed_before=failed_before, limit=limit
        )

    return batch


def _drain(services: Services, batch: Batch | None) -> int:
    """Run `batch` in its own transactions until it deletes less than a full batch."""
    if batch is None:
        return 0
    deleted = 0
    while deleted < MOST_PER_TICK:
        with db.transaction(services.pool) as conn:
            count = batch(conn, BATCH)
        deleted += count
        if count < BATCH:
            break
    return deleted
