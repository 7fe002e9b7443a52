"""SonataFlow's dialect rewritten into 0.8 form (`workflow.dialect.to_canonical`)."""

from __future__ import annotations

from typing import Any

import pytest

from knflow.workflow.dialect import to_canonical

INJECT: dict[str, Any] = {"name": "s", "type": "inject", "data": {}}


def _workflow(**fields: Any) -> dict[str, Any]:
    return {"id": "w", "states": [{**INJECT, "end": True}], **fields}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            _workflow(states=[{**INJECT, "end": {"terminate": "true"}}]),
            _workflow(states=[{**INJECT, "end": {"terminate": True}}]),
        ),
        (
            _workflow(states=[{**INJECT, "end": "true"}]),
            _workflow(states=[{**INJECT, "end": True}]),
        ),
        (
            _workflow(events=[{"name": "e", "type": "t", "dataOnly": "false"}]),
            _workflow(events=[{"name": "e", "type": "t", "dataOnly": False}]),
        ),
        (
            _workflow(events=[{"name": "e", "type": "t", "source": None}]),
            _workflow(events=[{"name": "e", "type": "t"}]),
        ),
        (_workflow(version=1.0), _workflow(version="1.0")),
        (
            {"key": "k", "states": [{**INJECT, "end": True}]},
            {"key": "k", "states": [{**INJECT, "end": True}]},
        ),
        (_workflow(key="k"), _workflow()),
        (
            _workflow(
                functions=[{"name": "f", "metadata": {"failOnStatusCode": False}}]
            ),
            _workflow(
                functions=[{"name": "f", "metadata": {"failOnStatusCode": "false"}}]
            ),
        ),
    ],
    ids=[
        "string-terminate",
        "string-end",
        "string-data-only",
        "empty-event-source",
        "numeric-version",
        "key-alone-stays",
        "id-and-key",
        "typed-metadata",
    ],
)
def test_sonataflow_spellings_become_0_8_form(
    document: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert to_canonical(document) == expected


def test_user_data_is_never_rewritten() -> None:
    data = {"end": "true", "exclusive": "false"}
    document = _workflow(states=[{**INJECT, "data": data, "end": True}])

    assert to_canonical(document)["states"][0]["data"] == data


def test_a_constant_timeout_is_resolved() -> None:
    document = _workflow(
        constants={"duration": "PT5S"},
        states=[
            {**INJECT, "end": True, "timeouts": {"eventTimeout": "$CONST.duration"}}
        ],
    )

    assert to_canonical(document)["states"][0]["timeouts"] == {"eventTimeout": "PT5S"}


def test_an_inline_function_reference_declares_a_custom_function() -> None:
    state = {
        "name": "s",
        "type": "operation",
        "actions": [{"functionRef": "ansible:doSomething"}],
        "end": True,
    }

    functions = to_canonical(_workflow(states=[state]))["functions"]

    assert functions == [
        {
            "name": "ansible:doSomething",
            "type": "custom",
            "operation": "ansible:doSomething",
        }
    ]


def test_the_input_document_is_left_unchanged() -> None:
    document = _workflow(states=[{**INJECT, "end": {"terminate": "true"}}])

    to_canonical(document)

    assert document["states"][0]["end"] == {"terminate": "true"}
