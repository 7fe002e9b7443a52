"""The exception hierarchy of knflow.

```
KnflowError              base; never raised itself
├── DefinitionError      invalid workflow document; carries every problem with its JSON pointer
├── InputError           malformed event or request, unknown event type
├── ExpressionError      a jq expression failed on instance data
├── NotFoundError        definition or instance does not exist
├── ConflictError        the request contradicts stored state
│   └── DefinitionChangedError  a workflow was registered again since this process read it
├── ActionError          a called service failed; `retryable` comes from its answer
├── UnavailableError     database or network unreachable, or a timeout
├── AuthenticationError  no valid token where one is required (401)
└── ForbiddenError       the caller's identity lacks a permission (403)
```

Each class says whether a retry can help (`retryable`); `serving` maps that to a status code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class KnflowError(Exception):
    """Base of every error knflow raises on purpose."""

    retryable: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a workflow document."""

    pointer: str
    """JSON pointer into the document, `""` for the document itself."""
    reason: str
    """One lowercase sentence saying what is wrong and, where it helps, what to do."""

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.reason}"


class DefinitionError(KnflowError):
    """A workflow document is invalid; `problems` lists every problem found."""

    def __init__(self, problems: list[Problem], *, source: str = "") -> None:
        self.problems = problems
        self.source = source
        where = f"{source}: " if source else ""
        listed = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{where}invalid workflow definition: {listed}{more}")


class InputError(KnflowError):
    """A request or event is malformed, or its data violates a schema.

    `problems` lists every violation found (`"<pointer>: <reason>"`), when there are
    several, for callers that show them one per line.
    """

    def __init__(
        self,
        message: str,
        *,
        details: str | None = None,
        problems: tuple[str, ...] = (),
    ) -> None:
        self.details = details
        self.problems = problems
        super().__init__(message)


class ExpressionError(KnflowError):
    """A workflow expression failed to compile or to evaluate."""

    def __init__(self, message: str, *, expression: str) -> None:
        self.expression = expression
        self.reason = message
        super().__init__(f"expression '{expression}' failed: {message}")


class NotFoundError(KnflowError):
    """A definition, instance or job does not exist."""


class ConflictError(KnflowError):
    """The request contradicts stored state (wrong status, same id with other content)."""


class DefinitionChangedError(ConflictError):
    """A workflow was registered again (or withdrawn) since this process read it.

    Raised by the commit of a start made on this process's copy of the definition; the
    start reads the definition and runs again.
    """

    retryable = True


class ActionError(KnflowError):
    """A called service or function failed.

    `status` is the HTTP status when there was an answer; `kind` names the failure class
    (for `errors[].code` matching, as SonataFlow matches exception class names).
    """

    retryable: bool = False  # type: ignore[misc]

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        kind: str = "ActionError",
        retryable: bool = False,
    ) -> None:
        self.status = status
        self.kind = kind
        self.retryable = retryable
        super().__init__(message)


class UnavailableError(KnflowError):
    """The database or a network peer could not be reached in time."""

    retryable: ClassVar[bool] = True


class AuthenticationError(KnflowError):
    """A token is missing, malformed, expired, or not signed by a trusted issuer.

    The message says what to send; it never repeats the token.
    """


class ForbiddenError(KnflowError):
    """The authenticated caller lacks the permission a request needs."""

    def __init__(self, *, subject: str, permission: str, workflow_id: str) -> None:
        self.subject = subject
        self.permission = permission
        self.workflow_id = workflow_id
        super().__init__(
            f"'{subject}' lacks permission '{permission}' on workflow '{workflow_id}'"
        )
