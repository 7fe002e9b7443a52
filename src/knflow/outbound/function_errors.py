"""Failure kinds of workflow function calls and the Java class names they stand for.

SonataFlow matches `errors[].code` against exception class names (with `instanceof`
along the cause chain), HTTP statuses and message regexes. knflow names each failure
with the Java class SonataFlow would raise, so that workflows written for SonataFlow
keep working; `kind_names` lists the names a kind also answers to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from knflow.errors import ActionError

HTTP_KIND_PREFIX: Final = "HTTP:"
"""Prefix of the kind of an HTTP error answer: `HTTP:404`."""
CONNECT: Final = "java.net.ConnectException"
"""The service refused the connection or could not be reached."""
UNKNOWN_HOST: Final = "java.net.UnknownHostException"
"""The service's host name does not resolve."""
TIMEOUT: Final = "java.net.SocketTimeoutException"
"""Connecting, sending or reading took longer than the action timeout."""
IO: Final = "java.io.IOException"
"""The connection broke in another way (reset, malformed answer)."""
ILLEGAL_ARGUMENT: Final = "java.lang.IllegalArgumentException"
"""The call cannot be built: bad operation, missing argument, unknown base URL."""
UNSUPPORTED: Final = "java.lang.UnsupportedOperationException"
"""The function type or custom operation is not supported by knflow."""

_RUNTIME: Final = (
    "java.lang.RuntimeException",
    "java.lang.Exception",
    "java.lang.Throwable",
)
_CHECKED_IO: Final = (IO, "java.lang.Exception", "java.lang.Throwable")
_ANCESTORS: Final[Mapping[str, tuple[str, ...]]] = {
    CONNECT: ("java.net.SocketException", *_CHECKED_IO),
    UNKNOWN_HOST: _CHECKED_IO,
    TIMEOUT: ("java.io.InterruptedIOException", *_CHECKED_IO),
    IO: _CHECKED_IO[1:],
    ILLEGAL_ARGUMENT: _RUNTIME,
    UNSUPPORTED: _RUNTIME,
}


def kind_names(kind: str) -> tuple[str, ...]:
    """Return `kind` followed by every Java superclass name it matches.

    An HTTP kind (`HTTP:404`) counts as a `java.lang.RuntimeException`, as SonataFlow's
    REST work item error does.
    """
    if kind.startswith(HTTP_KIND_PREFIX):
        return (kind, *_RUNTIME)
    return (kind, *_ANCESTORS.get(kind, ()))


def invalid_call(function_name: str, reason: str) -> ActionError:
    """Build the permanent error of a call that cannot be made as written."""
    return ActionError(
        f"function '{function_name}' cannot be called: {reason}",
        kind=ILLEGAL_ARGUMENT,
        retryable=False,
    )


def unsupported_call(function_name: str, reason: str) -> ActionError:
    """Build the permanent error of a call of a type knflow does not support."""
    return ActionError(
        f"function '{function_name}' is not supported: {reason}",
        kind=UNSUPPORTED,
        retryable=False,
    )
