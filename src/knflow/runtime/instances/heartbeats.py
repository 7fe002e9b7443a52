"""The heartbeat of a call in flight: its claim renewed every third of the lease while it runs.

A claim is short (`claims`), so that a dead executor's call is taken over within seconds; a
live executor keeps its claim however long the call takes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from knflow.errors import UnavailableError
from knflow.runtime.instances import claims
from knflow.runtime.instances.work import PendingCall
from knflow.runtime.services import Services
from knflow.store import db, instances

logger = logging.getLogger(__name__)


@contextmanager
def renewed(services: Services, call: PendingCall) -> Iterator[None]:
    """Keep the claim on `call` alive while the block runs (a renewal every third of the lease).

    A call shorter than a third of the lease never renews. A renewal that finds the claim
    lost (another executor took it) stops renewing; the call goes on, and whichever result
    comes second is ignored by the engine. The process's one heartbeat thread renews.
    """
    if call.asynchronous or call.claimed_until is None:
        yield
        return
    claim = _Claim(services=services, call=call, held_until=call.claimed_until)
    period = services.settings.claim_lease.total_seconds() / 3
    with services.heartbeat.beating(claim.renew, every=period):
        yield


@dataclass(slots=True, kw_only=True)
class _Claim:
    """The claim of one call in flight, as last renewed."""

    services: Services
    call: PendingCall
    held_until: datetime

    def renew(self) -> bool:
        """Extend the claim by a lease; False once it was lost (or the call's result is in).

        An unreachable database keeps the claim's heartbeat going: the next beat tries again.
        """
        services, call = self.services, self.call
        until = claims.claim_deadline(services.settings, services.clock())
        try:
            with db.transaction(services.pool) as conn:
                kept = instances.renew_call_claim(
                    conn,
                    call.instance_id,
                    thread_id=call.thread_id,
                    key=call.key,
                    held_until=self.held_until,
                    claimed_until=until,
                )
        except UnavailableError as error:
            logger.warning("call claim not renewed", extra={"reason": str(error)})
            return True
        if not kept:
            logger.warning("call claim lost", extra={"instance_id": call.instance_id})
            return False
        self.held_until = until
        return True
