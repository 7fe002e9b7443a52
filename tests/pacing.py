"""What a call-rate limit guarantees, as its callee sees it: no call before its turn.

Turns of a bucket come `1/rate` apart (a token bucket of burst 1, `store.flow_control`),
and a call leaves at its turn or later: how much later depends on the load of the
machine, without bound. So the arrivals taken in time order each come no earlier than
their rank's turn counted from when the calls were first made, however late some are;
a check on the spread of the arrivals (first to last, or the most within a second)
would assume lateness is bounded, and fails on a loaded machine without any error in
the limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

CLOCK_SLACK: Final = 0.01
"""Seconds between the database's clock, which sets the turns, and the test's."""


def assert_no_call_before_its_turn(
    arrivals: Sequence[float], started: float, rate: float
) -> None:
    """Assert the k-th arrival (from 0, wall-clock seconds) came `k / rate` or more after
    `started`, the wall-clock time before the first call was made."""
    for rank, arrival in enumerate(sorted(arrivals)):
        earliest = started + rank / rate - CLOCK_SLACK
        assert arrival >= earliest, (
            f"call {rank + 1} of {len(arrivals)} arrived {earliest - arrival:.3f} s"
            f" before its turn at {rate} a second"
        )
