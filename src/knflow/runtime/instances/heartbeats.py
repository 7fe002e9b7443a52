"""The heartbeat of a call in flight: its claim renewed every third of the lease while it runs.

A claim is short (`claims`), so that a dead executor's call is taken over within seconds; a
live executor keeps its claim however long the call takes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from knflow.errors import UnavailableError
from knflow.runtime.instances import claims
from knflow.runtime.instances.work import PendingCall
from knflow.runtime.services import Services
from knflow.store import db, instances

logger = logging.getLogger(__name__)


@contextmanager
def renewed(services: Services, call: PendingCall) -> Iterator[None]:
    """Keep the claim on `call` alive while the block runs (a heartbeat every third of the lease).

    A call shorter than a third of the lease never renews. A renewal that finds the claim
    lost (another executor took it) stops the heartbeat; the call goes on, and whichever
    result comes second is ignored by the engine.
    """
    if call.asynchronous or call.claimed_until is None:
        yield
        return
    stop = threading.Event()
    beat = threading.Thread(
        target=_heartbeat,
        args=(services, call, call.claimed_until, stop),
        name="knflow-claim-heartbeat",
        daemon=True,
    )
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join()


def _heartbeat(
    services: Services, call: PendingCall, held_until: datetime, stop: threading.Event
) -> None:
    period = services.settings.claim_lease.total_seconds() / 3
    while not stop.wait(period):
        until = claims.claim_deadline(services.settings, services.clock())
        try:
            with db.transaction(services.pool) as conn:
                kept = instances.renew_call_claim(
                    conn,
                    call.instance_id,
                    thread_id=call.thread_id,
                    key=call.key,
                    held_until=held_until,
                    claimed_until=until,
                )
        except UnavailableError as error:
            logger.warning("call claim not renewed", extra={"reason": str(error)})
            continue
        if not kept:
            logger.warning("call claim lost", extra={"instance_id": call.instance_id})
            return
        held_until = until
