"""Parsing incoming Kogito events into typed changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from knflow.errors import InputError
from knflow.events import kogito_ingest
from knflow.events.codec import Event
from knflow.events.kogito_ingest import (
    ErrorChange,
    JobChange,
    NodeChange,
    StateChange,
    VariableChange,
)

NOW = datetime(2024, 5, 1, tzinfo=UTC)


def parse(
    event_type: str, data: object, **extensions: str
) -> list[kogito_ingest.Change]:
    event = Event(
        id="e",
        source="http://rt/greet",
        type=event_type,
        data=data,
        extensions=extensions,
    )
    return kogito_ingest.parse_event(event, received_at=NOW)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1698332756677, datetime(2023, 10, 26, 15, 5, 56, 677000, tzinfo=UTC)),
        ("1698332756677", datetime(2023, 10, 26, 15, 5, 56, 677000, tzinfo=UTC)),
        (
            "2022-03-18T15:32:21.887+10:00",
            datetime(2022, 3, 18, 5, 32, 21, 887000, tzinfo=UTC),
        ),
        ("2022-03-18T05:32:21Z", datetime(2022, 3, 18, 5, 32, 21, tzinfo=UTC)),
        ("2022-03-18T05:32:21", datetime(2022, 3, 18, 5, 32, 21, tzinfo=UTC)),
        ("", None),
        (None, None),
    ],
)
def test_dates_are_iso_text_or_epoch_millis(
    value: object, expected: datetime | None
) -> None:
    assert kogito_ingest.parse_date(value) == expected


def test_a_bad_date_is_an_input_error() -> None:
    with pytest.raises(InputError, match="not ISO-8601"):
        kogito_ingest.parse_date("yesterday")


def test_a_state_event_takes_ids_from_the_envelope_when_the_body_lacks_them() -> None:
    [change] = parse(
        "ProcessInstanceStateDataEvent",
        {"eventType": 1},
        kogitoprocinstanceid="i-1",
        kogitoprocid="greet",
        kogitoprocist="1",
    )

    assert isinstance(change, StateChange)
    assert (change.ref.instance_id, change.ref.process_id, change.state) == (
        "i-1",
        "greet",
        1,
    )
    assert change.ref.at == NOW
    assert change.endpoint == "http://rt/greet"


def test_blank_ids_count_as_missing() -> None:
    [change] = parse(
        "ProcessInstanceStateDataEvent",
        {"processInstanceId": "i-1", "processId": "p", "parentInstanceId": " "},
    )

    assert isinstance(change, StateChange)
    assert change.parent_instance_id is None


def test_an_event_without_instance_is_refused() -> None:
    with pytest.raises(InputError, match="does not name its process instance"):
        parse("ProcessInstanceNodeDataEvent", {"nodeInstanceId": "n"})


def test_node_variable_and_error_events() -> None:
    ids = {"processInstanceId": "i-1", "processId": "p"}

    node, variable, error = (
        parse(
            "ProcessInstanceNodeDataEvent",
            {
                **ids,
                "nodeInstanceId": "n-1",
                "eventType": 2,
                "nodeName": "A",
                "retrigger": True,
            },
        )[0],
        parse(
            "ProcessInstanceVariableDataEvent",
            {**ids, "variableValue": 3},
            kogitovariablename="x.y",
        )[0],
        parse(
            "ProcessInstanceErrorDataEvent",
            {**ids, "nodeDefinitionId": "A", "errorMessage": "boom"},
        )[0],
    )

    assert isinstance(node, NodeChange)
    assert node.retrigger
    assert node.event_type == 2
    assert isinstance(variable, VariableChange)
    assert variable.name == "x.y"
    assert isinstance(error, ErrorChange)
    assert error.message == "boom"


def test_a_grouped_event_yields_every_inner_change() -> None:
    inner = {
        "specversion": "1.0",
        "id": "a",
        "source": "/s",
        "type": "ProcessInstanceVariableDataEvent",
        "data": {"processInstanceId": "i", "processId": "p", "variableName": "v"},
    }

    changes = parse("MultipleProcessInstanceDataEvent", [inner, {**inner, "id": "b"}])

    assert len(changes) == 2


def test_a_job_event_needs_a_known_status() -> None:
    with pytest.raises(InputError, match="unknown status"):
        parse("JobEvent", {"id": "j", "status": "LOST"})


def test_a_job_event_is_typed() -> None:
    [change] = parse(
        "JobEvent",
        {"id": "j", "status": "RETRY", "retries": "2", "expirationTime": 1698332756677},
    )

    assert isinstance(change, JobChange)
    assert change.fields["retries"] == 2
    assert change.fields["expirationTime"] == datetime(
        2023, 10, 26, 15, 5, 56, 677000, tzinfo=UTC
    )
    assert change.last_update == NOW


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(InputError, match="not a Data Index event type"):
        parse("com.example.other", {})
