"""The reconcile job-trigger runs on each tick: what makes "events are hints" true.

It runs the sweep every process also runs when asked (`instances.recovery`): stalled instances
get their step event again and unsent outbox rows are published; it also starts queued
instances a raised limit freed and purges what is past retention (`job_trigger.retention`,
expired start keys included). Timers whose time passed while nothing ran are fired by
`job_trigger.fire_due`, which runs on every wake. The tick is the safety net behind the
processes' own sweeps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from knflow.runtime.instances import publishing, queueing, recovery, transaction
from knflow.runtime.instances.work import CallPolicy
from knflow.runtime.job_trigger import retention
from knflow.runtime.services import Services

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconciled:
    """What one reconcile did."""

    published: int
    """Outbox rows published."""
    redriven: int
    """Step events re-sent."""
    purged: int = 0
    """Rows the retention policy deleted."""


def run(services: Services) -> Reconciled:
    """Start freed queued instances, re-drive stalled ones, publish stuck rows, purge."""
    start_queued(services)
    redriven = redrive_stalled(services)
    published = publishing.publish_due(services)
    purged = retention.purge(services).total
    if redriven or published:
        logger.info("reconciled", extra={"redriven": redriven, "published": published})
    return Reconciled(published=published, redriven=redriven, purged=purged)


def start_queued(services: Services) -> int:
    """Offer each workflow with queued instances its free slots; return how many started.

    Ending instances start the queue in their own unit of work; this catches what a raised
    limit (`KNFLOW_MAX_ACTIVE_INSTANCES`) or a re-registered workflow freed.
    """
    with transaction.unit_of_work(services, calls=CallPolicy.HAND_OVER) as work:
        workflow_ids = queueing.queued_workflows(work)
    started = 0
    for workflow_id in workflow_ids:
        with transaction.unit_of_work(services, calls=CallPolicy.HAND_OVER) as work:
            started += queueing.start_queued(work, workflow_id)
        publishing.publish(services, work.after_commit.outgoing)
    return started


def redrive_stalled(services: Services) -> int:
    """Queue a fresh step event for each runnable thread of each stalled instance."""
    return recovery.redrive_stalled(services).queued
