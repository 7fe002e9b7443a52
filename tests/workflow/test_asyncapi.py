"""Channels of `asyncapi` functions (`workflow.asyncapi`)."""

from __future__ import annotations

from typing import Any

from knflow.workflow import asyncapi
from knflow.workflow.model import AsyncAction, AsyncOperation

V3: dict[str, Any] = {
    "asyncapi": "3.0.0",
    "channels": {"out": {"address": "results"}, "in": {}},
    "operations": {
        "publish": {"action": "send", "channel": {"$ref": "#/channels/out"}},
        "wait": {"action": "receive", "channel": {"$ref": "#/channels/in"}},
    },
}
V2: dict[str, Any] = {
    "asyncapi": "2.6.0",
    "channels": {"orders": {"subscribe": {"operationId": "takeOrder"}}},
}


def test_a_v3_send_operation_publishes_on_the_channel_address() -> None:
    assert asyncapi.find_operation(V3, "publish") == AsyncOperation(
        action=AsyncAction.SEND, channel="results"
    )


def test_a_channel_without_address_is_named_by_its_key() -> None:
    assert asyncapi.find_operation(V3, "wait") == AsyncOperation(
        action=AsyncAction.RECEIVE, channel="in"
    )


def test_a_v2_subscribe_operation_waits_on_its_channel() -> None:
    assert asyncapi.find_operation(V2, "takeOrder") == AsyncOperation(
        action=AsyncAction.RECEIVE, channel="orders"
    )


def test_an_unknown_operation_is_none() -> None:
    assert asyncapi.find_operation(V3, "nothing") is None


def test_routing_learns_the_channels_a_workflow_waits_on() -> None:
    document = {
        "functions": [
            {"name": "p", "type": "asyncapi", "operation": "api.yaml#publish"},
            {"name": "w", "type": "asyncapi", "operation": "api.yaml#wait"},
            {"name": "r", "operation": "api.yaml#wait"},
        ]
    }

    assert asyncapi.received_channels(document, {"api.yaml": V3}) == ["in"]
