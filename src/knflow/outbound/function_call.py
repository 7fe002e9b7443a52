"""One call of a workflow function, as the runtime asks for it and each function type reads it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from knflow.workflow.model import Json


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionCall:
    """One call of a workflow function, with its arguments already evaluated."""

    function_name: str
    """The function definition's `name`."""
    function_type: str
    """`rest` (OpenAPI), `custom`, `asyncapi`, `rpc`, `graphql` or `odata`."""
    operation: str
    """The definition's `operation`, as written."""
    arguments: Json
    """Evaluated arguments: an object, or any JSON for custom types."""
    resources: Mapping[str, Json] = field(default_factory=dict)
    """OpenAPI documents keyed by the file part of `operation`, as written."""
    instance_id: str
    """The calling instance (CloudEvent ids derive from it)."""
    workflow_id: str
    """The calling instance's workflow."""
    forward_headers: Mapping[str, str] = field(default_factory=dict)
    """Headers sent with the call: the instance's kept tokens the function asks for."""
    timeout: timedelta | None = None
    """`actionExecTimeout` when set; `Settings.action_timeout` otherwise."""
