"""Shapes of the parts a Serverless Workflow 0.8 document is built from.

Timeouts, the top-level definitions (functions, events, errors, retries, auth), filters,
transitions, ends and actions, as the 0.8 JSON schema describes them; `structure.py`
assembles them into states and the workflow. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from knflow.workflow.model import Json
from knflow.workflow.shapes import (
    ObjectShape,
    Shape,
    Walk,
    anything_of,
    array,
    boolean,
    choice,
    either,
    exactly_one,
    number_or_string,
    string,
    string_map,
)

NAME: Final = string(min_length=1)
TEXT: Final = string()
METADATA: Final = string_map()
INVOKE: Final = choice("sync", "async")
DURATION: Final = string(min_length=1)
STRINGS: Final = array(TEXT, min_items=1)


WORKFLOW_EXEC_TIMEOUT: Final = either(
    ("string", DURATION),
    (
        "object",
        ObjectShape(
            what="a workflowExecTimeout",
            fields={"duration": DURATION, "interrupt": boolean(), "runBefore": NAME},
            required=("duration",),
        ),
    ),
    expected="a duration or a workflowExecTimeout object",
)
STATE_EXEC_TIMEOUT: Final = either(
    ("string", DURATION),
    (
        "object",
        ObjectShape(
            what="a stateExecTimeout",
            fields={"single": DURATION, "total": DURATION},
            required=("total",),
        ),
    ),
    expected="a duration or a stateExecTimeout object",
)
TIMEOUTS: Final = either(
    ("string", TEXT),
    (
        "object",
        ObjectShape(
            what="the workflow timeouts",
            fields={
                "workflowExecTimeout": WORKFLOW_EXEC_TIMEOUT,
                "stateExecTimeout": STATE_EXEC_TIMEOUT,
                "actionExecTimeout": DURATION,
                "branchExecTimeout": DURATION,
                "eventTimeout": DURATION,
            },
        ),
    ),
    expected="a file name or a timeouts object",
)


def state_timeouts(*names: str) -> Shape:
    """Describe a state's or branch's `timeouts` object with the given known keys."""
    # SW 0.8 schema: state and branch `timeouts` objects list their keys but do not
    # set `additionalProperties: false`, so other keys pass (ignored) in both modes.
    known = {
        "stateExecTimeout": STATE_EXEC_TIMEOUT,
        "actionExecTimeout": DURATION,
        "branchExecTimeout": DURATION,
        "eventTimeout": DURATION,
    }
    return ObjectShape(
        what="the timeouts",
        fields={name: known[name] for name in names},
        closed=False,
    )


FUNCTION: Final = ObjectShape(
    what="a function definition",
    fields={
        "name": NAME,
        "operation": NAME,
        "type": choice(
            "rest", "asyncapi", "rpc", "graphql", "odata", "expression", "custom"
        ),
        "authRef": NAME,
        "metadata": METADATA,
    },
    required=("name", "operation"),
)


def _event_required(value: Mapping[str, Json], pointer: str, walk: Walk) -> None:
    # SW 0.8 events.json: `source` is required unless the event is not consumed; an
    # absent `kind` means consumed.
    # SonataFlow routes consumed events by `type` alone and needs no `source`.
    if not walk.strict:
        return
    if value.get("kind", "consumed") == "consumed" and "source" not in value:
        walk.report(pointer, "a consumed event definition needs the property 'source'")


EVENT: Final = ObjectShape(
    what="an event definition",
    fields={
        "name": NAME,
        "source": TEXT,
        "type": TEXT,
        "kind": choice("consumed", "produced"),
        "correlation": array(
            ObjectShape(
                what="a correlation definition",
                fields={"contextAttributeName": NAME, "contextAttributeValue": NAME},
                required=("contextAttributeName",),
            ),
            min_items=1,
        ),
        "dataOnly": boolean(),
        "metadata": METADATA,
    },
    required=("name", "type"),
    rules=(_event_required,),
)
ERROR: Final = ObjectShape(
    what="an error definition",
    fields={"name": NAME, "code": NAME},
    required=("name",),
)
RETRY: Final = ObjectShape(
    what="a retry definition",
    fields={
        "name": NAME,
        "delay": TEXT,
        "maxDelay": TEXT,
        "increment": TEXT,
        "multiplier": number_or_string(minimum=0, multiple_of=0.01, min_length=1),
        "maxAttempts": number_or_string(minimum=1),
        "jitter": number_or_string(minimum=0, maximum=1),
    },
    required=("name", "maxAttempts"),
)
_BASIC_AUTH: Final = ObjectShape(
    what="basic auth properties",
    fields={"username": NAME, "password": NAME, "metadata": METADATA},
    required=("username", "password"),
)
_BEARER_AUTH: Final = ObjectShape(
    what="bearer auth properties",
    fields={"token": NAME, "metadata": METADATA},
    required=("token",),
)
_OAUTH2_AUTH: Final = ObjectShape(
    what="oauth2 auth properties",
    fields={
        "authority": NAME,
        "grantType": choice("password", "clientCredentials", "tokenExchange"),
        "clientId": NAME,
        "clientSecret": NAME,
        "scopes": STRINGS,
        "username": NAME,
        "password": NAME,
        "audiences": STRINGS,
        "subjectToken": NAME,
        "requestedSubject": NAME,
        "requestedIssuer": NAME,
        "metadata": METADATA,
    },
    required=("grantType", "clientId"),
    closed=False,
)


def _auth_properties(value: Json, pointer: str, walk: Walk) -> None:
    # SW 0.8 auth.json: a string, or one of three property sets; the sets exclude each
    # other, so the keys present tell which one the author meant.
    if isinstance(value, str):
        return
    if not isinstance(value, dict):
        walk.report(pointer, "expected a string or an object of auth properties")
        return
    if "grantType" in value or "clientId" in value:
        _OAUTH2_AUTH(value, pointer, walk)
    elif "token" in value:
        _BEARER_AUTH(value, pointer, walk)
    elif "username" in value or "password" in value:
        _BASIC_AUTH(value, pointer, walk)
    else:
        walk.report(
            pointer,
            "auth properties need 'username' and 'password', 'token', "
            "or 'grantType' and 'clientId'",
        )


AUTH: Final = ObjectShape(
    what="an auth definition",
    fields={
        "name": NAME,
        "scheme": choice("basic", "bearer", "oauth2"),
        "properties": _auth_properties,
    },
    required=("name", "properties"),
    closed=False,
)


def file_or_list(item: Shape, what: str) -> Shape:
    """Describe a top-level section given as a file name or as a list of `item`."""
    return either(
        ("string", TEXT),
        ("array", array(item, min_items=1)),
        expected=f"a file name or a list of {what}",
    )


STATE_DATA_FILTER: Final = ObjectShape(
    what="a stateDataFilter", fields={"input": TEXT, "output": TEXT}
)
EVENT_DATA_FILTER: Final = ObjectShape(
    what="an eventDataFilter",
    fields={"useData": boolean(), "data": TEXT, "toStateData": TEXT},
)
ACTION_DATA_FILTER: Final = ObjectShape(
    what="an actionDataFilter",
    fields={
        "fromStateData": TEXT,
        "useResults": boolean(),
        "results": TEXT,
        "toStateData": TEXT,
    },
)
PRODUCE_EVENT: Final = ObjectShape(
    what="a produced event",
    fields={
        "eventRef": TEXT,
        "data": anything_of("string", "object"),
        "contextAttributes": string_map(),
    },
    required=("eventRef",),
)
PRODUCE_EVENTS: Final = array(PRODUCE_EVENT)
TRANSITION: Final = either(
    ("string", NAME),
    (
        "object",
        ObjectShape(
            what="a transition",
            fields={
                "nextState": NAME,
                "produceEvents": PRODUCE_EVENTS,
                "compensate": boolean(),
            },
            required=("nextState",),
        ),
    ),
    expected="a state name or a transition object",
)
_CONTINUE_AS: Final = either(
    ("string", NAME),
    (
        "object",
        ObjectShape(
            what="a continueAs",
            fields={
                "workflowId": TEXT,
                "version": NAME,
                "data": anything_of("string", "object"),
                "workflowExecTimeout": WORKFLOW_EXEC_TIMEOUT,
            },
            required=("workflowId",),
            closed=False,
        ),
    ),
    expected="a workflow id or a continueAs object",
)
END: Final = either(
    ("boolean", boolean()),
    (
        "object",
        ObjectShape(
            what="an end",
            fields={
                "terminate": boolean(),
                "produceEvents": PRODUCE_EVENTS,
                "compensate": boolean(),
                "continueAs": _CONTINUE_AS,
            },
        ),
    ),
    expected="a boolean or an end object",
)
ON_ERROR: Final = ObjectShape(
    what="an error handler",
    fields={
        "errorRef": NAME,
        "errorRefs": STRINGS,
        "transition": TRANSITION,
        "end": END,
    },
    rules=(
        exactly_one("errorRef", "errorRefs", what="an error handler"),
        exactly_one("transition", "end", what="an error handler"),
    ),
)
ON_ERRORS: Final = array(ON_ERROR)


_FUNCTION_REF: Final = either(
    ("string", NAME),
    (
        "object",
        ObjectShape(
            what="a functionRef",
            fields={
                "refName": TEXT,
                "arguments": anything_of("object"),
                "selectionSet": TEXT,
                "invoke": INVOKE,
            },
            required=("refName",),
            # SonataFlow: `arguments` may be one jq expression building the object or
            # a list (positional arguments of a Java service), and an extra `name` key
            # is ignored.
            lenient_fields={
                "arguments": anything_of("object", "string", "array"),
                "name": TEXT,
            },
        ),
    ),
    expected="a function name or a functionRef object",
)
_EVENT_REF: Final = ObjectShape(
    what="an eventRef",
    fields={
        "triggerEventRef": TEXT,
        "resultEventRef": TEXT,
        "resultEventTimeout": TEXT,
        "data": anything_of("string", "object"),
        "contextAttributes": string_map(),
        "invoke": INVOKE,
    },
    required=("triggerEventRef", "resultEventRef"),
    # SonataFlow ignores `resultEventRef` and sends users to the callback state.
    lenient_optional=("resultEventRef",),
)
_SUB_FLOW_REF: Final = either(
    ("string", NAME),
    (
        "object",
        ObjectShape(
            what="a subFlowRef",
            fields={
                "workflowId": TEXT,
                "version": NAME,
                "onParentComplete": choice("continue", "terminate"),
                "invoke": INVOKE,
            },
            required=("workflowId",),
            closed=False,
        ),
    ),
    expected="a workflow id or a subFlowRef object",
)


def _sleep_rule(value: Mapping[str, Json], pointer: str, walk: Walk) -> None:
    # SW 0.8 schema: `oneOf` [before], [after], [before, after] matches twice when both
    # are given, so the schema refuses both together; SonataFlow runs both.
    present = [name for name in ("before", "after") if name in value]
    if not present:
        walk.report(pointer, "an action sleep needs 'before' or 'after'")
    elif len(present) == 2 and walk.strict:
        walk.report(
            pointer,
            "an action sleep has 'before' and 'after'; the 0.8 schema takes only one",
        )


ACTION: Final = ObjectShape(
    what="an action",
    fields={
        "id": TEXT,
        "name": TEXT,
        "functionRef": _FUNCTION_REF,
        "eventRef": _EVENT_REF,
        "subFlowRef": _SUB_FLOW_REF,
        "sleep": ObjectShape(
            what="an action sleep",
            fields={"before": TEXT, "after": TEXT},
            closed=False,
            rules=(_sleep_rule,),
        ),
        "retryRef": TEXT,
        "nonRetryableErrors": STRINGS,
        "retryableErrors": STRINGS,
        "actionDataFilter": ACTION_DATA_FILTER,
        "condition": NAME,
    },
    rules=(exactly_one("functionRef", "eventRef", "subFlowRef", what="an action"),),
)
ACTIONS: Final = array(ACTION)
