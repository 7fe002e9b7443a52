"""SonataFlow's event integration tests (EventFlowIT, callbacks, switches, correlation).

SonataFlow's ITs post their CloudEvents to the application or to Kafka topics; here they go
to the development broker, and the events the workflows produce are read from the outbox.
"""

from __future__ import annotations

import uuid

import pytest

from tests.conformance.conftest import GENERATE_ERROR_QUERY, SUCCESSFUL_QUERY
from tests.conformance.rest_stack import RestStack
from tests.waiting import eventually


def _injected(event_type: str) -> dict[str, str]:
    """The data AssuredTestUtils.buildCloudEvent sends with each event."""
    return {event_type: "This has been injected by the event"}


@pytest.mark.parametrize(
    ("workflow_id", "event_types"),
    [
        ("nonStartMultipleEvent", ["quiet", "never"]),
        ("nonStartMultipleEventTimeout", ["eventTimeout1", "eventTimeout2"]),
        ("nonStartMultipleEventTimeoutExclusive", []),
        ("nonStartMultipleEventExclusive", ["event1Exclusive"]),
        ("nonStartMultipleEventExclusive", ["event2Exclusive"]),
        ("nonStartMultipleEventExclusive", ["event3Exclusive"]),
    ],
    ids=[
        "testNotStartingMultipleEvent",
        "testNotStartingMultipleEventTimeout",
        "testNotStartingMultipleEventTimeoutExclusive",
        "testNotStartingMultipleEventExclusive1",
        "testNotStartingMultipleEventExclusive2",
        "testNotStartingMultipleEventExclusive3",
    ],
)
def test_waiting_instance_ends_after_its_events(
    sonataflow: RestStack, workflow_id: str, event_types: list[str]
) -> None:
    """EventFlowIT: the instance ends within 15 s of the events (or of its timeout)."""
    instance_id = sonataflow.start(workflow_id)
    assert sonataflow.is_active(workflow_id, instance_id)

    for event_type in event_types:
        sonataflow.send(event_type, _injected(event_type), kogitoprocrefid=instance_id)

    assert sonataflow.ended(workflow_id, instance_id, timeout=15) == "COMPLETED"


def test_event_reaches_the_instance_of_its_business_key(sonataflow: RestStack) -> None:
    """EventFlowIT.testNotStartingEvent: correlated by `kogitobusinesskey`."""
    instance_id = sonataflow.start("nonStartEvent", businessKey="manolo")

    sonataflow.send("move", _injected("move"), kogitobusinesskey="manolo")

    assert sonataflow.ended("nonStartEvent", instance_id, timeout=15) == "COMPLETED"


def test_workflow_timeout_ends_a_waiting_instance(sonataflow: RestStack) -> None:
    """EventFlowIT.testNotStartingEventWorkflowTimeout: gone within 5 s."""
    instance_id = sonataflow.start("nonStartMultipleEventWorkflowTimeout")

    assert sonataflow.ended(
        "nonStartMultipleEventWorkflowTimeout", instance_id, timeout=5
    )


def test_one_of_two_awaited_events_is_not_enough(sonataflow: RestStack) -> None:
    """EventFlowIT.testNotStartingMultipleEventRainy."""
    instance_id = sonataflow.start("nonStartMultipleEvent")

    event_id = sonataflow.send("quiet", _injected("quiet"), kogitoprocrefid=instance_id)
    sonataflow.wait_received(event_id)
    assert sonataflow.is_active("nonStartMultipleEvent", instance_id)
    sonataflow.send("never", _injected("never"), kogitoprocrefid=instance_id)

    assert sonataflow.ended("nonStartMultipleEvent", instance_id) == "COMPLETED"


def test_event_for_another_instance_is_not_taken(sonataflow: RestStack) -> None:
    """EventFlowIT.testWrongProcessIdNotProcessedRainy."""
    instance_id = sonataflow.start("nonStartEvent")

    event_id = sonataflow.send(
        "move", _injected("move"), kogitoprocrefid=str(uuid.uuid4())
    )
    sonataflow.wait_received(event_id)

    assert sonataflow.is_active("nonStartEvent", instance_id)


def test_a_starting_event_with_a_state_filter_is_accepted(
    sonataflow: RestStack,
) -> None:
    """EventFlowIT.testStartingEventWithToStateFilter: GreetCustomer starts and ends."""
    event_id = sonataflow.send("customer-arrival-type", {"customer": {"name": "pepe"}})
    sonataflow.wait_received(event_id)

    # The start commits with the event; the instance completes after its calls.
    eventually(lambda: sonataflow.ended_instances("GreetCustomer"), lambda n: n == 1)


@pytest.mark.parametrize(
    "workflow_id",
    [
        "callback_state",
        "callback_state_timeouts",
        "callback_state_with_timeouts_error_handler",
    ],
)
def test_callback_answer_completes_the_instance(
    sonataflow: RestStack, workflow_id: str
) -> None:
    """Callback*IT.callbackState*Successful: the callback event ends the instance."""
    event_type = (
        "callback_state_event_type"
        if workflow_id == "callback_state"
        else "callback_state_timeouts_event_type"
    )
    instance_id = sonataflow.start(workflow_id, {"query": SUCCESSFUL_QUERY})
    assert sonataflow.is_active(workflow_id, instance_id)

    sonataflow.send(event_type, {"answer": "ANSWER"}, kogitoprocrefid=instance_id)

    assert sonataflow.ended(workflow_id, instance_id) == "COMPLETED"


@pytest.mark.parametrize(
    "workflow_id",
    [
        "callback_state",
        "callback_state_timeouts",
        "callback_state_with_timeouts_error_handler",
    ],
)
def test_callback_action_failure_is_handled(
    sonataflow: RestStack, workflow_id: str
) -> None:
    """Callback*IT.callbackStateWithError: the error path ends in FinalizeWithError."""
    answer = sonataflow.post(
        f"/{workflow_id}", {"workflowdata": {"query": GENERATE_ERROR_QUERY}}
    )

    assert answer.status_code == 201, answer.text
    assert answer.json()["workflowdata"]["lastExecutedState"] == "FinalizeWithError"
    assert not sonataflow.is_active(workflow_id, answer.json()["id"])


def test_callback_timeout_moves_on(sonataflow: RestStack) -> None:
    """CallbackStateTimeoutsIT.callbackStateTimeoutsExceeded: finished within 10 s."""
    instance_id = sonataflow.start(
        "callback_state_timeouts", {"query": SUCCESSFUL_QUERY}
    )

    assert (
        sonataflow.ended("callback_state_timeouts", instance_id, timeout=10)
        == "COMPLETED"
    )


@pytest.mark.parametrize(
    ("suffix", "event_type", "decision"),
    [
        ("transition", "visa_approved_in_transition", "Approved"),
        ("transition", "visa_denied_in_transition", "Denied"),
        ("transition2", "visa_approved_in_transition2", "Approved"),
        ("transition2", "visa_denied_in_transition2", "Denied"),
        ("end", "visa_approved_in_condition_end", "Approved"),
        ("end", "visa_denied_in_condition_end", "Denied"),
    ],
)
def test_event_switch_publishes_the_decision_of_its_event(
    sonataflow: RestStack, suffix: str, event_type: str, decision: str
) -> None:
    """SwitchStateEventConditionBasedIT ...Approved / ...Denied."""
    workflow_id = f"switch_state_event_condition_timeouts_{suffix}"
    result_type = (
        f"process_result_event_{suffix}"
        if suffix != "end"
        else "process_result_event_condition_end"
    )
    instance_id = sonataflow.start(workflow_id, "")

    sonataflow.send(event_type, {}, kogitoprocrefid=instance_id)

    assert sonataflow.ended(workflow_id, instance_id) == "COMPLETED"
    event = sonataflow.published(result_type, instance_id=instance_id)
    assert event["kogitoprocinstanceid"] == instance_id
    assert event["data"]["decision"] == decision


@pytest.mark.parametrize(
    ("suffix", "result_type", "decision"),
    [
        ("transition", "process_result_event_transition", "NoDecision"),
        ("transition2", "process_result_event_transition2", "Denied"),
        ("end", "process_result_event_condition_end", None),
    ],
)
def test_event_switch_publishes_its_default_at_the_timeout(
    sonataflow: RestStack, suffix: str, result_type: str, decision: str | None
) -> None:
    """SwitchStateEventConditionBasedIT ...TimeoutsExceeded."""
    workflow_id = f"switch_state_event_condition_timeouts_{suffix}"
    instance_id = sonataflow.start(workflow_id, "")

    assert sonataflow.ended(workflow_id, instance_id) == "COMPLETED"
    event = sonataflow.published(result_type, instance_id=instance_id)
    if decision is None:
        assert event["data"]
    else:
        assert event["data"]["decision"] == decision


def test_a_start_event_produces_the_exit_event(sonataflow: RestStack) -> None:
    """SwitchStateEventConditionBasedIT.helloWorldEvent."""
    sonataflow.send("start_event", {"name": "Javierito"})

    event = sonataflow.published("exit_event")

    assert event["data"]["originalMessage"]["name"] == "Javierito"


def test_timers_of_several_instances_all_fire(sonataflow: RestStack) -> None:
    """MultipleTimerInstancesIT.eventStateTimeouts: three instances, three timeouts."""
    workflow_id = "multiple_timer_instances_event_state_timeouts"
    started = [sonataflow.start(workflow_id, "") for _ in range(3)]

    for instance_id in started:
        assert sonataflow.ended(workflow_id, instance_id, timeout=60) == "COMPLETED"


@pytest.mark.parametrize(
    "start_from",
    [{}, {"kogitoprocstartfromnode": "printWaitMessage"}],
    ids=["correlationEventTestDefault", "correlationEventStartFromNodeTest"],
)
def test_correlated_events_start_and_finish_an_instance(
    sonataflow: RestStack, start_from: dict[str, str]
) -> None:
    """CorrelationIT: both events carry the same `userid`."""
    user = str(uuid.uuid4())
    sonataflow.send(
        "correlation_start_event_type",
        {"message": "Starting workflow"},
        userid=user,
        **start_from,
    )
    instance_id = eventually(
        lambda: sonataflow.correlated("correlation", "userid", user),
        lambda found: found is not None,
    )

    sonataflow.send("correlation_event_type", {"message": "Hello"}, userid=user)

    assert sonataflow.ended("correlation", instance_id) == "COMPLETED"


def test_async_api_send_publishes_on_its_channel(sonataflow: RestStack) -> None:
    """AsyncAPIIT.testPublisher: an event on channel `wait` names the instance."""
    answer = sonataflow.post("/asyncEventPublisher", {"workflowdata": {}})
    assert answer.status_code == 201, answer.text
    instance_id = answer.json()["id"]

    event = sonataflow.published("wait", instance_id=instance_id)

    assert event["kogitoprocinstanceid"] == instance_id


def test_async_api_receive_waits_for_a_message(sonataflow: RestStack) -> None:
    """AsyncAPIIT.testConsumer: a message on channel `wait` ends it within 10 s."""
    instance_id = sonataflow.start("asyncEventConsumer")

    sonataflow.send("wait", _injected("wait"), kogitoprocrefid=instance_id)

    assert sonataflow.ended("asyncEventConsumer", instance_id, timeout=10)


def test_event_timeout_is_an_error_its_handler_publishes(sonataflow: RestStack) -> None:
    """EventTimedoutIT.testTimedout: `timeoutError` is published for the instance."""
    instance_id = sonataflow.start("eventTimedout")

    event = sonataflow.published("timeoutError", instance_id=instance_id)

    assert event["kogitoprocinstanceid"] == instance_id


def test_callback_handler_publishes_success(sonataflow: RestStack) -> None:
    """CallbackStateWithTimeoutsErrorHandlerIT.callbackStateTimeoutsSuccessful."""
    workflow_id = "callback_state_with_timeouts_error_handler"
    instance_id = sonataflow.start(workflow_id, {"query": SUCCESSFUL_QUERY})

    sonataflow.send(
        "callback_state_timeouts_event_type",
        {"answer": "ANSWER"},
        kogitoprocrefid=instance_id,
    )

    assert sonataflow.published("success", instance_id=instance_id)


def test_callback_timeout_is_an_error_its_handler_publishes(
    sonataflow: RestStack,
) -> None:
    """CallbackStateWithTimeoutsErrorHandlerIT.callbackStateTimeoutsExceeded."""
    workflow_id = "callback_state_with_timeouts_error_handler"
    instance_id = sonataflow.start(workflow_id, {"query": SUCCESSFUL_QUERY})

    assert sonataflow.ended(workflow_id, instance_id, timeout=10) == "COMPLETED"
    assert sonataflow.published("timeoutCallbackError", instance_id=instance_id)


def test_callback_failure_handler_publishes_the_error(sonataflow: RestStack) -> None:
    """CallbackStateWithTimeoutsErrorHandlerIT.callbackStateWithError."""
    answer = sonataflow.post(
        "/callback_state_with_timeouts_error_handler",
        {"workflowdata": {"query": GENERATE_ERROR_QUERY}},
    )
    assert answer.status_code == 201, answer.text

    assert sonataflow.published("error", instance_id=answer.json()["id"])


def test_every_definition_is_announced(sonataflow: RestStack) -> None:
    """WorkflowEventIT.testWorkflowDefinitionsEvents: one definition event per workflow."""
    listed = sonataflow.call("GET", "/management/processes").json()

    announced = sonataflow.announced_definitions()

    assert set(listed) <= announced
