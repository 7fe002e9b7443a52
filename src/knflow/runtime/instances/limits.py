"""Which flow-control limits apply: the deployment's overrides first, then the definition's.

Kept apart from `queueing` so that `commit` can ask whether an ending instance frees a slot
without importing the code that starts queued instances (which commits through it).
"""

from __future__ import annotations

from knflow.config import Settings
from knflow.runtime.catalog import LoadedDefinition
from knflow.runtime.instances.work import StartQueued, UnitOfWork
from knflow.workflow import flow_limits
from knflow.workflow.model import FunctionDef


def max_active(settings: Settings, loaded: LoadedDefinition) -> int | None:
    """Return the workflow's active-instance limit (`KNFLOW_MAX_ACTIVE_INSTANCES` first)."""
    configured = settings.flow_control.max_active.get(loaded.definition.workflow_id)
    if configured is not None:
        return configured
    return flow_limits.max_active(loaded.definition)


def call_rate(
    settings: Settings, workflow_id: str, function_def: FunctionDef
) -> tuple[str, float] | None:
    """Return the rate-limit key and calls per second of a function, None when unlimited.

    `KNFLOW_CALL_RATE_LIMITS` names keys; it limits a key no definition declares, too.
    """
    key = flow_limits.rate_key(workflow_id, function_def)
    configured = settings.flow_control.calls_per_second.get(key)
    if configured is not None:
        return key, configured
    declared = flow_limits.calls_per_second(function_def)
    return None if declared is None else (key, declared)


def free_slot(work: UnitOfWork, loaded: LoadedDefinition) -> None:
    """Start queued instances later in this unit of work, after one of `loaded` ended."""
    if max_active(work.services.settings, loaded) is None:
        return
    work.consequences.append(StartQueued(workflow_id=loaded.definition.workflow_id))
