"""Retry policies (SW 0.8 "Retry Definition"), which SonataFlow never implemented.

An action that fails is retried when the workflow says so: with `autoRetries: false` (the
default) only for errors listed in its `retryableErrors`; with `autoRetries: true` for every error
except those in `nonRetryableErrors`. The wait before retry *n* (1-based) is
`delay + (n-1)·increment`, or `delay·multiplier^(n-1)`, plus or minus jitter, capped by
`maxDelay` (applied last, as the spec's worked example shows). `maxAttempts` counts retries.

The engine is pure, so jitter is not random: it is derived from the instance id, the action and
the attempt number, which spreads retries of different instances and repeats exactly on replay.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Final

from knflow.engine.failures import matches
from knflow.engine.outcome import Failure
from knflow.workflow.model import Action, Definition, Json
from knflow.workflow.parsing import parse_duration

DEFAULT_POLICY: Final[Mapping[str, Json]] = {
    "delay": "PT1S",
    "multiplier": 2,
    "maxAttempts": 5,
    "maxDelay": "PT1M",
}
"""Used by `autoRetries` actions without `retryRef` (the spec leaves the default to the runtime)."""


def retry_delay(
    definition: Definition, action: Action, failure: Failure, *, attempt: int, seed: str
) -> timedelta | None:
    """Return how long to wait before retry number `attempt`, or None when the action must not retry."""
    policy = _policy(definition, action, failure)
    if policy is None or attempt > _max_attempts(policy):
        return None
    return delay_for(policy, attempt, seed=seed)


def delay_for(policy: Mapping[str, Json], attempt: int, *, seed: str = "") -> timedelta:
    """Return the wait before retry `attempt` (1-based) under `policy`."""
    delay = _duration(policy.get("delay")) or timedelta(0)
    if policy.get("increment"):
        delay += (_duration(policy["increment"]) or timedelta(0)) * (attempt - 1)
    if policy.get("multiplier") is not None:
        delay *= float(policy["multiplier"]) ** (attempt - 1)
    delay += _jitter(policy.get("jitter"), delay, seed=f"{seed}/{attempt}")
    max_delay = _duration(policy.get("maxDelay"))
    if max_delay is not None:
        delay = min(delay, max_delay)
    return max(delay, timedelta(0))


def _policy(
    definition: Definition, action: Action, failure: Failure
) -> Mapping[str, Json] | None:
    listed = _matches_any(definition, action.retryable_errors, failure)
    excluded = _matches_any(definition, action.non_retryable_errors, failure)
    if definition.auto_retries:
        if excluded:
            return None
    elif not listed:
        return None
    if action.retry_ref:
        return definition.retries.get(action.retry_ref)
    return DEFAULT_POLICY


def _matches_any(
    definition: Definition, names: tuple[str, ...], failure: Failure
) -> bool:
    return any(
        name in definition.errors and matches(definition.errors[name], failure)
        for name in names
    )


def _max_attempts(policy: Mapping[str, Json]) -> int:
    return int(policy.get("maxAttempts", 0) or 0)


def _duration(value: Json) -> timedelta | None:
    if value in (None, ""):
        return None
    return parse_duration(str(value))


def _jitter(jitter: Json, delay: timedelta, *, seed: str) -> timedelta:
    """Absolute (ISO duration) or relative (0..1 of the delay) jitter, spread over [-j, +j]."""
    if jitter in (None, "", 0):
        return timedelta(0)
    spread = _duration(jitter) if isinstance(jitter, str) else delay * float(jitter)
    if spread is None:
        return timedelta(0)
    unit = (
        int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest()[:8], "big") / 2**64
    )
    return spread * (2 * unit - 1)
