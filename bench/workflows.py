"""The workflow definitions the suite runs, built for the echo service's URL of the run.

Every call is a SonataFlow `rest:` custom function to the echo service, so knflow and the
anchors make the same HTTP request to the same server.
"""

from __future__ import annotations

from typing import Any

Definition = dict[str, Any]


def chain(count: int, echo_url: str) -> Definition:
    """`count` operation states in a row, each one `rest:` call carrying `.n` forward."""
    states = [
        {
            "name": f"s{i}",
            "type": "operation",
            "actions": [_echo_action(".n")],
            **({"transition": f"s{i + 1}"} if i + 1 < count else {"end": True}),
        }
        for i in range(count)
    ]
    return _definition(f"chain{count}", echo_url, states)


def foreach(echo_url: str) -> Definition:
    """One sequential foreach state calling the echo service once per item of `.items`."""
    state = {
        "name": "each",
        "type": "foreach",
        "inputCollection": ".items",
        "iterationParam": "item",
        "outputCollection": ".results",
        "mode": "sequential",
        "actions": [_echo_action("$item")],
        "end": True,
    }
    return _definition("foreach", echo_url, [state])


def sleeper(duration: str) -> Definition:
    """One `sleep` state, then an inject: a pure workflow whose only wait is a timer."""
    states = [
        {"name": "nap", "type": "sleep", "duration": duration, "transition": "done"},
        {"name": "done", "type": "inject", "data": {"rested": True}, "end": True},
    ]
    return {
        "id": "sleeper",
        "version": "1.0",
        "specVersion": "0.8",
        "start": "nap",
        "states": states,
    }


def pure_three() -> Definition:
    """Three pure states (inject, switch, inject): no call, no wait."""
    states = [
        {
            "name": "hello",
            "type": "inject",
            "data": {"greeting": "hello"},
            "transition": "pick",
        },
        {
            "name": "pick",
            "type": "switch",
            "dataConditions": [
                {"condition": '.greeting == "hello"', "transition": "done"}
            ],
            "defaultCondition": {"transition": "done"},
        },
        {"name": "done", "type": "inject", "data": {"done": True}, "end": True},
    ]
    return {
        "id": "pure3",
        "version": "1.0",
        "specVersion": "0.8",
        "start": "hello",
        "states": states,
    }


def _echo_action(argument: str) -> dict[str, Any]:
    return {
        "functionRef": {"refName": "echo", "arguments": {"n": argument}},
        "actionDataFilter": {"results": ".n", "toStateData": ".n"},
    }


def _definition(
    workflow_id: str, echo_url: str, states: list[dict[str, Any]]
) -> Definition:
    return {
        "id": workflow_id,
        "version": "1.0",
        "specVersion": "0.8",
        "start": states[0]["name"],
        "functions": [
            {
                "name": "echo",
                "type": "custom",
                "operation": f"rest:post:{echo_url}/step",
            }
        ],
        "states": states,
    }
