"""Which `onErrors` handler catches a failure: error codes matched as SonataFlow matches them.

An error definition's `code` matches a failure when it is an HTTP status (`"404"` or
`"HTTP:404"`: the part after the last colon) equal to the failure's status, when it equals the
failure's kind name (`ExpressionError`, `java.net.ConnectException`, ...), or when, read as a
regular expression, it is found in the failure's message (`"(?i)odd"`). A Java superclass
of the kind (`java.io.IOException` of a refused connection) matches too, and the root Java
exception classes (`java.lang.Exception`) catch every failure, as they do in SonataFlow.
"""

from __future__ import annotations

import re
from typing import Final

from knflow.engine.outcome import Failure
from knflow.workflow.model import Definition, ErrorDef, ErrorHandler, State

JAVA_ROOT_EXCEPTIONS: Final = frozenset({"java.lang.Throwable", "java.lang.Exception"})
"""Codes that catch every failure: in SonataFlow every failure is such an exception."""


def find_handler(
    definition: Definition, state: State, failure: Failure
) -> ErrorHandler | None:
    """Return the first handler of `state` whose errors match `failure`, if any.

    A handler naming the failure's exact kind wins over an earlier one that catches it
    through a superclass (`TimedOut` before `java.lang.Exception`), as in SonataFlow.
    """
    for test in (_names_exactly, matches):
        for handler in state.on_errors:
            for name in handler.error_refs:
                error_def = definition.errors.get(name)
                if error_def is not None and test(error_def, failure):
                    return handler
    return None


def _names_exactly(error_def: ErrorDef, failure: Failure) -> bool:
    return (error_def.code or "").strip() == failure.kind


def matches(error_def: ErrorDef, failure: Failure) -> bool:
    """Tell whether the error definition's `code` designates `failure`."""
    code = (error_def.code or "").strip()
    if not code:
        return False
    status_part = code.rsplit(":", 1)[-1].strip()
    if status_part.isdigit() and (code.isdigit() or code.upper().startswith("HTTP")):
        return failure.status is not None and int(status_part) == failure.status
    if code == failure.kind or failure.kind.endswith("." + code):
        return True
    if code in failure.ancestors or code in JAVA_ROOT_EXCEPTIONS:
        return True
    try:
        return re.search(code, failure.message) is not None
    except re.error:
        return code in failure.message
