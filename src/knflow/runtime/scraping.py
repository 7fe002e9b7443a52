"""What a `/metrics` scrape reads at scrape time: the database's backlogs and this process's pool.

Nothing is computed in the background: a function scaled to zero is not scraped, and a scrape
goes to the pod directly (not through Knative's activator), so it never keeps one running.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from knflow import metrics
from knflow.errors import UnavailableError
from knflow.metrics import PoolUsage, Snapshot
from knflow.runtime.services import Services
from knflow.store import db, jobs, outbox

logger = logging.getLogger(__name__)


def scrape(services: Services) -> bytes:
    """Render this process's series and the database's backlogs (Prometheus text format).

    A database that does not answer leaves its gauges out; the counted series still render.
    """
    try:
        snapshot = take_snapshot(services)
    except UnavailableError:
        logger.debug("metrics scraped without the database gauges")
        snapshot = None
    return metrics.render(
        services.metrics,
        snapshot,
        multiprocess_dir=services.settings.metrics_multiprocess_dir,
    )


def take_snapshot(services: Services) -> Snapshot:
    """Read the outbox and timer backlogs and the pool's usage, now.

    Raises:
        UnavailableError: the database did not answer.
    """
    now = services.clock()
    with db.transaction(services.pool) as conn:
        unsent = outbox.unsent_backlog(conn)
        overdue = jobs.overdue_backlog(conn, now=now)
    return Snapshot(
        outbox_unsent=unsent.count,
        outbox_oldest_unsent=None
        if unsent.oldest_at is None
        else now - unsent.oldest_at,
        jobs_overdue=overdue.count,
        jobs_oldest_overdue=None
        if overdue.oldest_at is None
        else now - overdue.oldest_at,
        pool=pool_usage(services.pool),
    )


def pool_usage(pool: db.Pool) -> PoolUsage:
    """Return what the pool holds and how its requests fared since it opened.

    Here rather than in `store.db`: the readiness probe opens the pool, and a cold start
    should not import prometheus_client for it.
    """
    stats = pool.get_stats()
    return PoolUsage(
        size=stats.get("pool_size", 0),
        available=stats.get("pool_available", 0),
        max_size=stats.get("pool_max", pool.max_size),
        waiting=stats.get("requests_waiting", 0),
        requests=stats.get("requests_num", 0),
        wait=timedelta(milliseconds=stats.get("requests_wait_ms", 0)),
        errors=stats.get("requests_errors", 0),
    )
