"""Which `onErrors` handler catches a failure: error codes matched as SonataFlow matches them.

An error definition's `code` matches a failure when it is an HTTP status (`"404"` or
`"HTTP:404"`: the part after the last colon) equal to the failure's status, when it equals the
failure's kind name (`ExpressionError`, `java.net.ConnectException`, ...), or when, read as a
regular expression, it is found in the failure's message (`"(?i)odd"`).
"""

from __future__ import annotations

import re

from knflow.engine.outcome import Failure
from knflow.workflow.model import Definition, ErrorDef, ErrorHandler, State


def find_handler(
    definition: Definition, state: State, failure: Failure
) -> ErrorHandler | None:
    """Return the first handler of `state` whose errors match `failure`, if any."""
    for handler in state.on_errors:
        for name in handler.error_refs:
            error_def = definition.errors.get(name)
            if error_def is not None and matches(error_def, failure):
                return handler
    return None


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
    try:
        return re.search(code, failure.message) is not None
    except re.error:
        return code in failure.message
