"""GraphQL enums and input types of the Kogito Data Index schema, with its exact names.

The Backstage Orchestrator plugin introspects `ProcessInstanceArgument` and
`ProcessDefinitionArgument` and relies on the argument type names (`IdArgument`,
`StringArgument`, `DateArgument`, `ProcessInstanceStateArgument`). Python attribute
names are the GraphQL names (the schema does not convert case); keywords get a `_`.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON


@strawberry.enum
class ProcessInstanceState(Enum):
    PENDING = 0
    ACTIVE = 1
    COMPLETED = 2
    ABORTED = 3
    SUSPENDED = 4
    ERROR = 5


@strawberry.enum
class OrderBy(Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.enum
class JobStatus(Enum):
    ERROR = "ERROR"
    RUNNING = "RUNNING"
    EXECUTED = "EXECUTED"
    SCHEDULED = "SCHEDULED"
    RETRY = "RETRY"
    CANCELED = "CANCELED"


@strawberry.enum
class MilestoneStatus(Enum):
    AVAILABLE = "AVAILABLE"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"


@strawberry.enum
class CancelType(Enum):
    ABORTED = "ABORTED"
    SKIPPED = "SKIPPED"
    OBSOLETE = "OBSOLETE"
    ERROR = "ERROR"


@strawberry.input
class IdArgument:
    in_: list[str] | None = strawberry.field(name="in", default=strawberry.UNSET)
    equal: str | None = strawberry.UNSET
    isNull: bool | None = strawberry.UNSET


@strawberry.input
class StringArgument:
    in_: list[str] | None = strawberry.field(name="in", default=strawberry.UNSET)
    like: str | None = strawberry.UNSET
    isNull: bool | None = strawberry.UNSET
    equal: str | None = strawberry.UNSET


@strawberry.input
class StringArrayArgument:
    contains: str | None = strawberry.UNSET
    containsAll: list[str] | None = strawberry.UNSET
    containsAny: list[str] | None = strawberry.UNSET
    isNull: bool | None = strawberry.UNSET


@strawberry.input
class BooleanArgument:
    isNull: bool | None = strawberry.UNSET
    equal: bool | None = strawberry.UNSET


@strawberry.input
class NumericRange:
    from_: int = strawberry.field(name="from")
    to: int


@strawberry.input
class NumericArgument:
    in_: list[int] | None = strawberry.field(name="in", default=strawberry.UNSET)
    isNull: bool | None = strawberry.UNSET
    equal: int | None = strawberry.UNSET
    greaterThan: int | None = strawberry.UNSET
    greaterThanEqual: int | None = strawberry.UNSET
    lessThan: int | None = strawberry.UNSET
    lessThanEqual: int | None = strawberry.UNSET
    between: NumericRange | None = strawberry.UNSET


@strawberry.input
class DateRange:
    from_: datetime = strawberry.field(name="from")
    to: datetime


@strawberry.input
class DateArgument:
    isNull: bool | None = strawberry.UNSET
    equal: datetime | None = strawberry.UNSET
    greaterThan: datetime | None = strawberry.UNSET
    greaterThanEqual: datetime | None = strawberry.UNSET
    lessThan: datetime | None = strawberry.UNSET
    lessThanEqual: datetime | None = strawberry.UNSET
    between: DateRange | None = strawberry.UNSET


@strawberry.input
class ProcessInstanceStateArgument:
    equal: ProcessInstanceState | None = strawberry.UNSET
    in_: list[ProcessInstanceState | None] | None = strawberry.field(
        name="in", default=strawberry.UNSET
    )


@strawberry.input
class JobStatusArgument:
    equal: JobStatus | None = strawberry.UNSET
    in_: list[JobStatus | None] | None = strawberry.field(
        name="in", default=strawberry.UNSET
    )


@strawberry.input
class MilestoneStatusArgument:
    equal: MilestoneStatus | None = strawberry.UNSET
    in_: list[MilestoneStatus | None] | None = strawberry.field(
        name="in", default=strawberry.UNSET
    )


@strawberry.input
class ProcessInstanceErrorArgument:
    nodeDefinitionId: StringArgument | None = strawberry.UNSET
    message: StringArgument | None = strawberry.UNSET


@strawberry.input
class NodeInstanceArgument:
    and_: list[NodeInstanceArgument] | None = strawberry.field(
        name="and", default=strawberry.UNSET
    )
    or_: list[NodeInstanceArgument] | None = strawberry.field(
        name="or", default=strawberry.UNSET
    )
    not_: NodeInstanceArgument | None = strawberry.field(
        name="not", default=strawberry.UNSET
    )
    id: IdArgument | None = strawberry.UNSET
    name: StringArgument | None = strawberry.UNSET
    definitionId: StringArgument | None = strawberry.UNSET
    nodeId: StringArgument | None = strawberry.UNSET
    type: StringArgument | None = strawberry.UNSET
    enter: DateArgument | None = strawberry.UNSET
    exit: DateArgument | None = strawberry.UNSET
    errorMessage: StringArgument | None = strawberry.UNSET
    retrigger: BooleanArgument | None = strawberry.UNSET
    slaDueDate: DateArgument | None = strawberry.UNSET
    inputArgs: JSON | None = strawberry.UNSET
    outputArgs: JSON | None = strawberry.UNSET


@strawberry.input
class NodeInstanceArrayArgument:
    contains: NodeInstanceArgument | None = strawberry.UNSET
    containsAll: list[NodeInstanceArgument] | None = strawberry.UNSET
    containsAny: list[NodeInstanceArgument] | None = strawberry.UNSET
    isNull: bool | None = strawberry.UNSET
    and_: list[NodeInstanceArrayArgument] | None = strawberry.field(
        name="and", default=strawberry.UNSET
    )
    or_: list[NodeInstanceArrayArgument] | None = strawberry.field(
        name="or", default=strawberry.UNSET
    )
    not_: NodeInstanceArrayArgument | None = strawberry.field(
        name="not", default=strawberry.UNSET
    )
    id: IdArgument | None = strawberry.UNSET
    name: StringArgument | None = strawberry.UNSET
    definitionId: StringArgument | None = strawberry.UNSET
    nodeId: StringArgument | None = strawberry.UNSET
    type: StringArgument | None = strawberry.UNSET
    enter: DateArgument | None = strawberry.UNSET
    exit: DateArgument | None = strawberry.UNSET
    errorMessage: StringArgument | None = strawberry.UNSET
    retrigger: BooleanArgument | None = strawberry.UNSET
    slaDueDate: DateArgument | None = strawberry.UNSET


@strawberry.input
class MilestoneArgument:
    id: IdArgument | None = strawberry.UNSET
    name: StringArgument | None = strawberry.UNSET
    status: MilestoneStatusArgument | None = strawberry.UNSET


@strawberry.input
class MilestoneArrayArgument:
    contains: MilestoneArgument | None = strawberry.UNSET
    containsAll: list[MilestoneArgument] | None = strawberry.UNSET
    containsAny: list[MilestoneArgument] | None = strawberry.UNSET
    isNull: bool | None = strawberry.UNSET
    and_: list[MilestoneArrayArgument] | None = strawberry.field(
        name="and", default=strawberry.UNSET
    )
    or_: list[MilestoneArrayArgument] | None = strawberry.field(
        name="or", default=strawberry.UNSET
    )
    not_: MilestoneArrayArgument | None = strawberry.field(
        name="not", default=strawberry.UNSET
    )
    id: IdArgument | None = strawberry.UNSET
    name: StringArgument | None = strawberry.UNSET
    status: MilestoneStatusArgument | None = strawberry.UNSET


@strawberry.input
class ProcessDefinitionArgument:
    and_: list[ProcessDefinitionArgument] | None = strawberry.field(
        name="and", default=strawberry.UNSET
    )
    or_: list[ProcessDefinitionArgument] | None = strawberry.field(
        name="or", default=strawberry.UNSET
    )
    not_: ProcessDefinitionArgument | None = strawberry.field(
        name="not", default=strawberry.UNSET
    )
    id: StringArgument | None = strawberry.UNSET
    name: StringArgument | None = strawberry.UNSET
    version: StringArgument | None = strawberry.UNSET
    annotations: StringArrayArgument | None = strawberry.UNSET
    roles: StringArrayArgument | None = strawberry.UNSET
    serviceUrl: StringArgument | None = strawberry.UNSET
    description: StringArgument | None = strawberry.UNSET
    type: StringArgument | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET


@strawberry.input
class ProcessInstanceArgument:
    and_: list[ProcessInstanceArgument] | None = strawberry.field(
        name="and", default=strawberry.UNSET
    )
    or_: list[ProcessInstanceArgument] | None = strawberry.field(
        name="or", default=strawberry.UNSET
    )
    not_: ProcessInstanceArgument | None = strawberry.field(
        name="not", default=strawberry.UNSET
    )
    id: IdArgument | None = strawberry.UNSET
    processId: StringArgument | None = strawberry.UNSET
    processName: StringArgument | None = strawberry.UNSET
    parentProcessInstanceId: IdArgument | None = strawberry.UNSET
    rootProcessInstanceId: IdArgument | None = strawberry.UNSET
    rootProcessId: StringArgument | None = strawberry.UNSET
    state: ProcessInstanceStateArgument | None = strawberry.UNSET
    error: ProcessInstanceErrorArgument | None = strawberry.UNSET
    nodes: NodeInstanceArrayArgument | None = strawberry.UNSET
    milestones: MilestoneArrayArgument | None = strawberry.UNSET
    endpoint: StringArgument | None = strawberry.UNSET
    roles: StringArrayArgument | None = strawberry.UNSET
    start: DateArgument | None = strawberry.UNSET
    end: DateArgument | None = strawberry.UNSET
    addons: StringArrayArgument | None = strawberry.UNSET
    lastUpdate: DateArgument | None = strawberry.UNSET
    businessKey: StringArgument | None = strawberry.UNSET
    createdBy: StringArgument | None = strawberry.UNSET
    updatedBy: StringArgument | None = strawberry.UNSET
    definition: ProcessDefinitionArgument | None = strawberry.UNSET
    slaDueDate: DateArgument | None = strawberry.UNSET
    cloudEventId: StringArgument | None = strawberry.UNSET
    cloudEventSource: StringArgument | None = strawberry.UNSET
    variables: JSON | None = strawberry.UNSET


@strawberry.input
class JobArgument:
    and_: list[JobArgument] | None = strawberry.field(
        name="and", default=strawberry.UNSET
    )
    or_: list[JobArgument] | None = strawberry.field(
        name="or", default=strawberry.UNSET
    )
    not_: JobArgument | None = strawberry.field(name="not", default=strawberry.UNSET)
    id: IdArgument | None = strawberry.UNSET
    processId: StringArgument | None = strawberry.UNSET
    processInstanceId: IdArgument | None = strawberry.UNSET
    nodeInstanceId: IdArgument | None = strawberry.UNSET
    rootProcessInstanceId: IdArgument | None = strawberry.UNSET
    rootProcessId: StringArgument | None = strawberry.UNSET
    status: JobStatusArgument | None = strawberry.UNSET
    expirationTime: DateArgument | None = strawberry.UNSET
    priority: NumericArgument | None = strawberry.UNSET
    scheduledId: IdArgument | None = strawberry.UNSET
    lastUpdate: DateArgument | None = strawberry.UNSET
    exceptionMessage: StringArgument | None = strawberry.UNSET


@strawberry.input
class ProcessInstanceErrorOrderBy:
    nodeDefinitionId: OrderBy | None = strawberry.UNSET
    message: OrderBy | None = strawberry.UNSET


@strawberry.input
class ProcessInstanceOrderBy:
    processId: OrderBy | None = strawberry.UNSET
    processName: OrderBy | None = strawberry.UNSET
    rootProcessId: OrderBy | None = strawberry.UNSET
    state: OrderBy | None = strawberry.UNSET
    start: OrderBy | None = strawberry.UNSET
    end: OrderBy | None = strawberry.UNSET
    error: ProcessInstanceErrorOrderBy | None = strawberry.UNSET
    lastUpdate: OrderBy | None = strawberry.UNSET
    businessKey: OrderBy | None = strawberry.UNSET
    createdBy: OrderBy | None = strawberry.UNSET
    updatedBy: OrderBy | None = strawberry.UNSET


@strawberry.input
class ProcessDefinitionOrderBy:
    id: OrderBy | None = strawberry.UNSET
    name: OrderBy | None = strawberry.UNSET
    version: OrderBy | None = strawberry.UNSET


@strawberry.input
class JobOrderBy:
    processId: OrderBy | None = strawberry.UNSET
    rootProcessId: OrderBy | None = strawberry.UNSET
    status: OrderBy | None = strawberry.UNSET
    expirationTime: OrderBy | None = strawberry.UNSET
    priority: OrderBy | None = strawberry.UNSET
    retries: OrderBy | None = strawberry.UNSET
    lastUpdate: OrderBy | None = strawberry.UNSET
    executionCounter: OrderBy | None = strawberry.UNSET
    exceptionMessage: OrderBy | None = strawberry.UNSET


@strawberry.input
class Pagination:
    limit: int | None = strawberry.UNSET
    offset: int | None = strawberry.UNSET
