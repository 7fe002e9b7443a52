"""Parsing a validated workflow document into the model, and ISO 8601 durations.

The document has its external parts already inlined by `loading` and has passed
`validation`; parsing trusts its structure and only shapes it into `model` values.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Final

import isodate

from knflow.errors import DefinitionError, Problem
from knflow.workflow import asyncapi, dialect
from knflow.workflow.loading import WorkflowSource
from knflow.workflow.model import (
    DEFAULT_VERSION,
    Action,
    Branch,
    Condition,
    Definition,
    End,
    ErrorDef,
    ErrorHandler,
    EventDef,
    FunctionDef,
    FunctionRef,
    Json,
    OnEvents,
    State,
    StateType,
    SubFlowRef,
    Transition,
)

_MISPLACED_DAYS: Final = re.compile(r"^PT((?:\d+(?:\.\d+)?[WD])+)(.*)$")


def parse_definition(
    document: Mapping[str, Json], *, lenient: bool = True
) -> Definition:
    """Build a `Definition` from a validated document with its external parts inlined.

    The document is read in 0.8 form: SonataFlow's spellings are rewritten first.
    """
    document = dialect.to_canonical(dict(document))
    states = tuple(
        _parse_state(raw, index)
        for index, raw in enumerate(document.get("states") or ())
    )
    start = document.get("start")
    start_name = start.get("stateName") if isinstance(start, dict) else start
    schedule = start.get("schedule") if isinstance(start, dict) else None
    return Definition(
        workflow_id=str(document.get("id") or document.get("key")),
        version=str(document.get("version") or DEFAULT_VERSION),
        name=str(document.get("name") or document.get("id") or document.get("key")),
        description=document.get("description"),
        start=start_name or (states[0].name if states else ""),
        states={state.name: state for state in states},
        functions={
            f["name"]: _parse_function(f)
            for f in _entries(document.get("functions"), "functions")
        },
        events={
            e["name"]: _parse_event(e)
            for e in _entries(document.get("events"), "events")
        },
        errors={
            e["name"]: ErrorDef(name=e["name"], code=_optional_str(e.get("code")))
            for e in _entries(document.get("errors"), "errors")
        },
        retries={r["name"]: r for r in _entries(document.get("retries"), "retries")},
        constants=document.get("constants"),
        secrets=tuple(document.get("secrets") or ())
        if isinstance(document.get("secrets"), list)
        else (),
        timeouts=_mapping(document.get("timeouts")),
        annotations=tuple(document.get("annotations") or ()),
        metadata=document.get("metadata") or {},
        expression_lang=document.get("expressionLang") or "jq",
        start_schedule=schedule,
        keep_active=bool(document.get("keepActive", False)),
        auto_retries=bool(document.get("autoRetries", False)),
        lenient=lenient,
        document=document,
    )


def parse_source(source: WorkflowSource) -> Definition:
    """Build the `Definition` of a validated source, with what its resources say.

    That is the channels of its `asyncapi` functions and, when enforced, its output schema.
    """
    definition = parse_definition(source.document)
    functions = {
        name: (function.type, function.operation)
        for name, function in definition.functions.items()
    }
    enforced = source.output_schema is not None and source.fail_on_output_validation
    return dataclasses.replace(
        definition,
        async_operations=asyncapi.operations_of(functions, source.resources),
        output_schema=source.output_schema if enforced else None,
    )


def parse_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration (`PT15M`, `P2DT3H`); months and years are refused.

    Days and weeks written after the `T` (`PT30D`, `PT2W`, as the spec's own examples 21 and
    24 do) are read as if written before it.

    Raises:
        DefinitionError: the text is not a day-time duration.
    """
    misplaced = _MISPLACED_DAYS.match(text) if isinstance(text, str) else None
    if misplaced:
        text = (
            "P"
            + misplaced.group(1)
            + ("T" + misplaced.group(2) if misplaced.group(2) else "")
        )
    try:
        parsed = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError, TypeError) as error:
        reason = f"'{text}' is not an ISO 8601 duration (for example PT30S or P1DT2H)"
        raise DefinitionError([Problem(pointer="", reason=reason)]) from error
    if not isinstance(parsed, timedelta):
        reason = f"duration '{text}' uses months or years; use days instead"
        raise DefinitionError([Problem(pointer="", reason=reason)])
    return parsed


def _entries(value: Json, key: str) -> list[Mapping[str, Json]]:
    """Definitions given inline as a list, or as `{key: [...]}` from an inlined file."""
    if isinstance(value, dict):
        value = value.get(key, [])
    return [
        entry for entry in value or () if isinstance(entry, dict) and "name" in entry
    ]


def _mapping(value: Json) -> Mapping[str, Json]:
    return value if isinstance(value, dict) else {}


def _optional_str(value: Json) -> str | None:
    return None if value is None else str(value)


def _parse_function(raw: Mapping[str, Json]) -> FunctionDef:
    return FunctionDef(
        name=raw["name"],
        operation=str(raw.get("operation", "")),
        type=raw.get("type", "rest"),
        metadata=raw.get("metadata") or {},
    )


def _parse_event(raw: Mapping[str, Json]) -> EventDef:
    return EventDef(
        name=raw["name"],
        type=str(raw.get("type", "")),
        source=raw.get("source"),
        kind=raw.get("kind", "consumed"),
        correlation=tuple(raw.get("correlation") or ()),
        data_only=bool(raw.get("dataOnly", True)),
    )


def _parse_state(raw: Mapping[str, Json], index: int) -> State:
    kind = StateType(raw["type"])
    timeouts = dict(raw.get("timeouts") or {})
    if (
        "eventTimeout" in raw
    ):  # spec example 08 puts it at state level; SonataFlow accepts it
        timeouts.setdefault("eventTimeout", raw["eventTimeout"])
    return State(
        name=raw["name"],
        type=kind,
        index=index,
        transition=_parse_transition(raw.get("transition")),
        end=_parse_end(raw.get("end")),
        on_errors=tuple(_parse_error_handler(h) for h in raw.get("onErrors") or ()),
        state_data_filter=raw.get("stateDataFilter"),
        compensated_by=raw.get("compensatedBy"),
        used_for_compensation=bool(raw.get("usedForCompensation", False)),
        metadata=raw.get("metadata") or {},
        timeouts=timeouts,
        actions=tuple(_parse_action(a) for a in raw.get("actions") or ()),
        action_mode=raw.get("actionMode", "sequential"),
        data=raw.get("data"),
        data_conditions=tuple(
            _parse_condition(c) for c in raw.get("dataConditions") or ()
        ),
        event_conditions=tuple(
            _parse_condition(c) for c in raw.get("eventConditions") or ()
        ),
        default_condition=_parse_condition(raw["defaultCondition"])
        if raw.get("defaultCondition")
        else None,
        branches=tuple(
            _parse_branch(b, i) for i, b in enumerate(raw.get("branches") or ())
        ),
        completion_type=raw.get("completionType", "allOf"),
        num_completed=raw.get("numCompleted"),
        input_collection=raw.get("inputCollection"),
        output_collection=raw.get("outputCollection"),
        iteration_param=raw.get("iterationParam"),
        batch_size=raw.get("batchSize"),
        mode=raw.get("mode", "parallel"),
        duration=parse_duration(raw["duration"])
        if kind is StateType.SLEEP and raw.get("duration")
        else None,
        on_events=tuple(_parse_on_events(o) for o in raw.get("onEvents") or ()),
        exclusive=bool(raw.get("exclusive", True)),
        action=_parse_action(raw["action"])
        if isinstance(raw.get("action"), dict)
        else None,
        event_ref=raw.get("eventRef") if isinstance(raw.get("eventRef"), str) else None,
        event_data_filter=raw.get("eventDataFilter"),
    )


def _parse_transition(raw: Json) -> Transition | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return Transition(next_state=raw)
    return Transition(
        next_state=raw["nextState"],
        produce_events=tuple(raw.get("produceEvents") or ()),
        compensate=bool(raw.get("compensate", False)),
    )


def _parse_end(raw: Json) -> End | None:
    if raw is None or raw is False:
        return None
    if raw is True:
        return End()
    return End(
        terminate=bool(raw.get("terminate", False)),
        produce_events=tuple(raw.get("produceEvents") or ()),
        compensate=bool(raw.get("compensate", False)),
        continue_as=raw.get("continueAs"),
    )


def _parse_error_handler(raw: Mapping[str, Json]) -> ErrorHandler:
    refs = tuple(raw.get("errorRefs") or ()) or (
        (raw["errorRef"],) if raw.get("errorRef") else ()
    )
    return ErrorHandler(
        error_refs=refs,
        transition=_parse_transition(raw.get("transition")),
        end=_parse_end(raw.get("end")),
    )


def _parse_condition(raw: Mapping[str, Json]) -> Condition:
    return Condition(
        name=raw.get("name"),
        condition=raw.get("condition"),
        event_ref=raw.get("eventRef"),
        event_data_filter=raw.get("eventDataFilter"),
        transition=_parse_transition(raw.get("transition")),
        end=_parse_end(raw.get("end")),
    )


def _parse_branch(raw: Mapping[str, Json], index: int) -> Branch:
    return Branch(
        name=raw.get("name") or f"branch{index}",
        actions=tuple(_parse_action(a) for a in raw.get("actions") or ()),
        timeouts=raw.get("timeouts") or {},
    )


def _parse_on_events(raw: Mapping[str, Json]) -> OnEvents:
    return OnEvents(
        event_refs=tuple(raw.get("eventRefs") or ()),
        action_mode=raw.get("actionMode", "sequential"),
        actions=tuple(_parse_action(a) for a in raw.get("actions") or ()),
        event_data_filter=raw.get("eventDataFilter"),
    )


def _parse_action(raw: Mapping[str, Json]) -> Action:
    sleep = raw.get("sleep") or {}
    return Action(
        name=raw.get("name"),
        function_ref=_parse_function_ref(raw.get("functionRef")),
        event_ref=raw.get("eventRef"),
        sub_flow_ref=_parse_sub_flow_ref(raw.get("subFlowRef")),
        action_data_filter=raw.get("actionDataFilter"),
        condition=raw.get("condition"),
        sleep_before=parse_duration(sleep["before"]) if sleep.get("before") else None,
        sleep_after=parse_duration(sleep["after"]) if sleep.get("after") else None,
        retry_ref=raw.get("retryRef"),
        retryable_errors=tuple(raw.get("retryableErrors") or ()),
        non_retryable_errors=tuple(raw.get("nonRetryableErrors") or ()),
    )


def _parse_function_ref(raw: Json) -> FunctionRef | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return FunctionRef(ref_name=raw)
    return FunctionRef(
        ref_name=raw["refName"],
        arguments=raw.get("arguments"),
        invoke=raw.get("invoke", "sync"),
    )


def _parse_sub_flow_ref(raw: Json) -> SubFlowRef | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return SubFlowRef(workflow_id=raw)
    return SubFlowRef(
        workflow_id=raw["workflowId"],
        version=raw.get("version"),
        invoke=raw.get("invoke", "sync"),
        on_parent_complete=raw.get("onParentComplete", "terminate"),
    )
