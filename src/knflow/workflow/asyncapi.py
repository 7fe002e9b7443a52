"""AsyncAPI functions: which channel an `asyncapi` operation sends to or receives from.

SonataFlow turns an `asyncapi` function into a message node: a `send` operation publishes
the action's arguments on the operation's channel, a `receive` operation waits for a message
on it. knflow publishes and awaits CloudEvents whose type is the channel's address (the
broker routes by type). Pure: the documents come loaded with the workflow source.
"""

from __future__ import annotations

from collections.abc import Mapping

from knflow.workflow.model import AsyncAction, AsyncOperation, Json


def operations_of(
    functions: Mapping[str, tuple[str, str]], resources: Mapping[str, Json]
) -> dict[str, AsyncOperation]:
    """Return the operation of each `asyncapi` function that its document defines.

    `functions` maps function names to (type, operation); others than `asyncapi` and
    operations their document lacks are left out (validation reports the latter).
    """
    found: dict[str, AsyncOperation] = {}
    for name, (kind, operation) in functions.items():
        document_name, _, operation_id = operation.rpartition("#")
        if kind != "asyncapi" or not document_name:
            continue
        resolved = find_operation(resources.get(document_name), operation_id)
        if resolved is not None:
            found[name] = resolved
    return found


def received_channels(
    document: Mapping[str, Json], resources: Mapping[str, Json]
) -> list[str]:
    """Return the channels the document's `asyncapi` functions wait on (event types).

    Routing needs them beside the consumed event definitions: a message on such a
    channel wakes an instance as a consumed event does.
    """
    functions = document.get("functions")
    declared = {
        str(f["name"]): (str(f.get("type", "rest")), str(f.get("operation", "")))
        for f in (functions if isinstance(functions, list) else [])
        if isinstance(f, dict) and "name" in f
    }
    operations = operations_of(declared, resources)
    return [
        operation.channel
        for operation in operations.values()
        if operation.action is AsyncAction.RECEIVE
    ]


def find_operation(document: Json, operation_id: str) -> AsyncOperation | None:
    """Find `operation_id` in an AsyncAPI 3 (`operations`) or 2 (`channels`) document."""
    if not isinstance(document, dict):
        return None
    operations = document.get("operations")
    if isinstance(operations, dict):
        return _operation_v3(document, operations.get(operation_id))
    return _operation_v2(document, operation_id)


def _operation_v3(document: dict[str, Json], operation: Json) -> AsyncOperation | None:
    if not isinstance(operation, dict) or operation.get("action") not in (
        "send",
        "receive",
    ):
        return None
    channel = operation.get("channel")
    reference = channel.get("$ref") if isinstance(channel, dict) else None
    if not isinstance(reference, str) or "/" not in reference:
        return None
    channel_id = reference.rsplit("/", 1)[1]
    channels = document.get("channels")
    found = channels.get(channel_id) if isinstance(channels, dict) else None
    if not isinstance(found, dict):
        return None
    address = found.get("address")
    return AsyncOperation(
        action=AsyncAction(str(operation["action"])),
        channel=address if isinstance(address, str) and address else channel_id,
    )


def _operation_v2(
    document: dict[str, Json], operation_id: str
) -> AsyncOperation | None:
    # AsyncAPI 2: SonataFlow reads a channel's `publish` operation as the workflow
    # publishing and its `subscribe` operation as the workflow waiting.
    channels = document.get("channels")
    for name, channel in (channels if isinstance(channels, dict) else {}).items():
        if not isinstance(channel, dict):
            continue
        for key, action in (
            ("publish", AsyncAction.SEND),
            ("subscribe", AsyncAction.RECEIVE),
        ):
            operation = channel.get(key)
            if (
                isinstance(operation, dict)
                and operation.get("operationId") == operation_id
            ):
                return AsyncOperation(action=action, channel=str(name))
    return None
