"""The Kogito event builders: envelope, bodies and deterministic ids."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from knflow.events import codec, kogito, types

T0 = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
FACTS = kogito.InstanceFacts(
    instance_id="i-1",
    workflow_id="greet",
    workflow_version="1.0",
    workflow_name="Greeting",
    endpoint="http://runtime:8080/greet",
    status="ACTIVE",
    start=T0,
    business_key="bk",
    identity="user:default/ann",
)
NODE = kogito.NodeFacts(
    node_instance_id="n-1",
    node_definition_id="3",
    node_name="GreetPerson",
    node_type="CompositeContextNode",
    enter=T0,
)


def test_state_event_carries_the_kogito_envelope() -> None:
    event = kogito.state_event(FACTS, event_type=1, at=T0, seq="1")

    assert event.type == types.PROCESS_INSTANCE_STATE
    assert event.source == "http://runtime:8080/greet"
    assert event.extensions["kogitoprocinstanceid"] == "i-1"
    assert event.extensions["kogitoprocid"] == "greet"
    assert event.extensions["kogitoprocversion"] == "1.0"
    assert event.extensions["kogitoprocist"] == "1"
    assert event.extensions["kogitoproctype"] == "SW"
    assert event.extensions["kogitobusinesskey"] == "bk"
    assert event.extensions["partitionkey"] == "i-1"
    assert "kogitoparentprociid" not in event.extensions


def test_state_event_body_has_the_runtime_fields() -> None:
    done = kogito.InstanceFacts(**{**_facts_fields(), "status": "COMPLETED"})

    data = kogito.state_event(done, event_type=2, at=T0, seq="9").data

    assert data["eventType"] == 2
    assert data["state"] == 2
    assert data["eventDate"] == "2024-05-01T10:00:00.123456Z"  # microseconds kept
    assert data["processInstanceId"] == "i-1"
    assert data["processName"] == "Greeting"
    assert data["processType"] == "SW"
    assert data["eventUser"] == "user:default/ann"


def test_started_event_always_says_active() -> None:
    errored = kogito.InstanceFacts(**{**_facts_fields(), "status": "ERROR"})

    event = kogito.state_event(errored, event_type=1, at=T0, seq="1")

    assert event.data["state"] == 1
    assert event.extensions["kogitoprocist"] == "1"


def test_event_ids_are_deterministic_per_instance_kind_and_seq() -> None:
    first = kogito.state_event(FACTS, event_type=1, at=T0, seq="1")
    again = kogito.state_event(FACTS, event_type=1, at=datetime.now(UTC), seq="1")
    other = kogito.state_event(FACTS, event_type=1, at=T0, seq="2")

    assert first.id == again.id
    assert first.id != other.id


def test_node_event_body_names_the_node() -> None:
    data = kogito.node_event(FACTS, NODE, event_type=2, at=T0, seq="4").data

    assert data["eventType"] == 2
    assert data["nodeInstanceId"] == "n-1"
    assert data["nodeDefinitionId"] == "3"
    assert data["nodeName"] == "GreetPerson"
    assert data["nodeType"] == "CompositeContextNode"


def test_node_event_says_whether_the_node_runs_again_after_a_retrigger() -> None:
    again = dataclasses.replace(NODE, retrigger=True)

    first = kogito.node_event(FACTS, NODE, event_type=1, at=T0, seq="4").data
    retriggered = kogito.node_event(FACTS, again, event_type=1, at=T0, seq="5").data

    assert (first["retrigger"], retriggered["retrigger"]) == (False, True)


def test_node_enter_and_exit_have_different_ids() -> None:
    enter = kogito.node_event(FACTS, NODE, event_type=1, at=T0, seq="4")
    leave = kogito.node_event(FACTS, NODE, event_type=2, at=T0, seq="4")

    assert enter.id != leave.id


def test_variable_event_names_the_variable_twice() -> None:
    event = kogito.variable_event(FACTS, "workflowdata", {"a": 1}, at=T0, seq="2")

    assert event.extensions["kogitovariablename"] == "workflowdata"
    assert event.data["variableName"] == "workflowdata"
    assert event.data["variableValue"] == {"a": 1}


def test_error_event_body() -> None:
    event = kogito.error_event(
        FACTS,
        node_definition_id="3",
        node_instance_id="n-1",
        message="boom",
        at=T0,
        seq="7",
    )

    assert event.type == types.PROCESS_INSTANCE_ERROR
    assert event.data["errorMessage"] == "boom"
    assert event.data["nodeInstanceId"] == "n-1"


def test_definition_event_id_follows_the_content_and_the_moment() -> None:
    first = _definition(source_text="id: greet")
    same = _definition(source_text="id: greet")
    changed = _definition(source_text="id: greet\n")
    later = _definition(source_text="id: greet", at=T0 + timedelta(seconds=1))

    assert first.id == same.id
    assert len({first.id, changed.id, later.id}) == 3
    assert first.data["endpoint"] == first.source == "http://runtime:8080/greet"
    assert first.extensions["kogitoprocid"] == "greet"


def test_built_events_survive_the_binary_codec() -> None:
    event = kogito.variable_event(FACTS, "workflowdata", {"a": 1}, at=T0, seq="2")

    headers, body = codec.to_binary_http(event)
    decoded = codec.from_http(headers, body)

    assert decoded.id == event.id
    assert decoded.extensions == event.extensions
    assert decoded.data == event.data


@pytest.mark.parametrize(
    ("status", "number"),
    [
        ("PENDING", 0),
        ("ACTIVE", 1),
        ("COMPLETED", 2),
        ("ABORTED", 3),
        ("SUSPENDED", 4),
        ("ERROR", 5),
    ],
)
def test_state_numbers_follow_the_data_index_ordinals(status: str, number: int) -> None:
    assert kogito.state_number(status) == number


def _facts_fields() -> dict[str, object]:
    return {name: getattr(FACTS, name) for name in kogito.InstanceFacts.__slots__}


def _definition(*, source_text: str, at: datetime = T0) -> codec.Event:
    return kogito.definition_event(
        workflow_id="greet",
        version="1.0",
        name="Greeting",
        description=None,
        annotations=["a"],
        endpoint="http://runtime:8080/greet",
        source_text=source_text,
        metadata={"status": "available"},
        nodes=[{"id": "1", "name": "Start", "type": "StartNode", "uniqueId": "1"}],
        at=at,
    )


@pytest.mark.parametrize(
    ("moment", "printed"),
    [
        (
            datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
            "2024-05-06T07:08:09.123456Z",
        ),
        (datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC), "2024-05-06T07:08:09.000000Z"),
        (
            datetime(2024, 5, 6, 1, 0, 0, 7, tzinfo=timezone(timedelta(hours=2))),
            "2024-05-05T23:00:00.000007Z",
        ),
    ],
)
def test_an_event_date_keeps_microseconds_in_utc(
    moment: datetime, printed: str
) -> None:
    assert kogito.event_date(moment) == printed
