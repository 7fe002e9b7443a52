"""GraphQL output types of the Kogito Data Index schema, over the projection's rows.

Computed fields follow the Data Index: `serviceUrl` (the endpoint without
`/<processId>`), `executionSummary` (its exact lines), `parentProcessInstance`,
`childProcessInstances`, `definition`, `source`, `nodeDefinitions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from knflow.graphql.columns import Selection, columns_of, selection_of
from knflow.graphql.context import RequestContext
from knflow.graphql.inputs import (
    CancelType,
    JobStatus,
    MilestoneStatus,
    ProcessInstanceState,
)
from knflow.graphql.summary import execution_summary
from knflow.store.index import (
    IndexedDefinition,
    IndexedInstance,
    IndexedJob,
    IndexedNode,
)

Ctx = Info[RequestContext, None]


@strawberry.type
class NodeMetadata:
    UniqueId: str
    state: str | None = None
    branch: str | None = None
    action: str | None = None


@strawberry.type
class Node:
    id: str
    metadata: NodeMetadata
    name: str
    type: str
    uniqueId: str


@strawberry.type
class Milestone:
    id: str
    name: str
    status: MilestoneStatus


@strawberry.type
class TimerInstance:
    timerId: str
    processId: str
    processInstanceId: str
    nodeInstanceId: str | None = None
    description: str | None = None


@strawberry.type
class ProcessInstanceError:
    nodeDefinitionId: str
    nodeInstanceId: str | None = None
    message: str | None = None


@strawberry.type
class NodeInstance:
    # Plain attributes, set once from the row: strawberry resolves them without a
    # resolver call per field (a third of a list query's time, bench/data_index_q5.py).
    id: str
    name: str
    type: str
    enter: datetime
    exit: datetime | None
    definitionId: str
    nodeId: str
    slaDueDate: datetime | None
    retrigger: bool | None
    errorMessage: str | None
    cancelType: CancelType | None
    inputArgs: JSON | None
    outputArgs: JSON | None

    @classmethod
    def of(cls, row: IndexedNode) -> NodeInstance:
        """Build the node instance of a projection row."""
        return cls(
            id=row.id,
            name=row.name or "",
            type=row.type or "",
            enter=row.enter,  # type: ignore[arg-type]
            exit=row.exit,
            definitionId=row.definition_id or "",
            nodeId=row.node_id or "",
            slaDueDate=row.sla_due_date,
            retrigger=row.retrigger,
            errorMessage=row.error_message,
            cancelType=CancelType(row.cancel_type) if row.cancel_type else None,
            inputArgs=row.input_args,
            outputArgs=row.output_args,
        )


@strawberry.type
class ProcessDefinition:
    row: strawberry.Private[IndexedDefinition]

    @strawberry.field
    def id(self) -> str:
        return self.row.id

    @strawberry.field
    def name(self) -> str | None:
        return self.row.name

    @strawberry.field
    def version(self) -> str | None:
        return self.row.version

    @strawberry.field
    def nodes(self) -> list[Node] | None:
        return to_nodes(self.row.nodes)

    @strawberry.field
    def source(self) -> str | None:
        return self.row.source

    @strawberry.field
    def addons(self) -> list[str] | None:
        return list(self.row.addons or [])

    @strawberry.field
    def roles(self) -> list[str] | None:
        return list(self.row.roles or [])

    @strawberry.field
    def type(self) -> str | None:
        return self.row.type

    @strawberry.field
    def endpoint(self) -> str | None:
        return self.row.endpoint

    @strawberry.field
    def serviceUrl(self) -> str | None:
        return self.row.service_url

    @strawberry.field
    def description(self) -> str | None:
        return self.row.description

    @strawberry.field
    def annotations(self) -> list[str | None] | None:
        return list(self.row.annotations or [])

    @strawberry.field
    def metadata(self) -> JSON | None:
        return self.row.metadata  # type: ignore[no-any-return]


@strawberry.type
class ProcessInstance:
    row: strawberry.Private[IndexedInstance]
    # Plain attributes, set once from the row (see NodeInstance); only the fields that
    # load related rows have resolvers.
    id: str
    processId: str
    version: str | None
    processName: str | None
    parentProcessInstanceId: str | None
    rootProcessInstanceId: str | None
    rootProcessId: str | None
    roles: list[str] | None
    state: ProcessInstanceState | None
    endpoint: str
    serviceUrl: str | None
    milestones: list[Milestone] | None
    variables: JSON | None
    start: datetime | None
    end: datetime | None
    error: ProcessInstanceError | None
    addons: list[str] | None
    lastUpdate: datetime
    businessKey: str | None
    diagram: str | None
    identity: str | None
    createdBy: str | None
    updatedBy: str | None
    slaDueDate: datetime | None
    timers: list[TimerInstance | None] | None
    cloudEventId: str | None
    cloudEventSource: str | None
    # Loaded for the whole page when the query selects them (`instances_of`), so that
    # they too are plain attributes: a resolver call per instance cost more than the
    # batched query behind it.
    nodes: list[NodeInstance] | None
    executionSummary: list[str | None] | None
    parentProcessInstance: ProcessInstance | None

    @classmethod
    def of(
        cls,
        row: IndexedInstance,
        nodes: Sequence[IndexedNode] | None = None,
        *,
        summary: bool = False,
        parent: ProcessInstance | None = None,
    ) -> ProcessInstance:
        """Build the instance of a projection row (read with any subset of columns).

        `nodes` are its entered nodes, when the query selects `nodes` or (`summary`)
        `executionSummary`; the other is left None, as it is not selected. `parent`
        is its parent instance, built for what the query selects on it.
        """
        return cls(
            row=row,
            parentProcessInstance=parent,
            nodes=None if nodes is None else [NodeInstance.of(n) for n in nodes],
            executionSummary=(
                list(execution_summary(row, nodes or ())) if summary else None
            ),
            id=row.id,
            processId=row.process_id,
            version=row.version,
            processName=row.process_name,
            parentProcessInstanceId=row.parent_process_instance_id,
            rootProcessInstanceId=row.root_process_instance_id,
            rootProcessId=row.root_process_id,
            roles=list(row.roles or []),
            state=None if row.state is None else ProcessInstanceState(row.state),
            endpoint=row.endpoint,
            serviceUrl=row.service_url,
            milestones=[],
            variables=row.variables,
            start=row.start,
            end=row.end,
            error=_error_of(row),
            addons=list(row.addons or []),
            lastUpdate=row.last_update,
            businessKey=row.business_key,
            diagram=None,
            identity=row.identity,
            createdBy=row.created_by,
            updatedBy=row.updated_by,
            slaDueDate=row.sla_due_date,
            timers=None,
            cloudEventId=row.cloud_event_id,
            cloudEventSource=row.cloud_event_source,
        )

    @strawberry.field
    def childProcessInstances(self, info: Ctx) -> list[ProcessInstance] | None:
        children = info.context.children(self.row.id, columns_of(info))
        return instances_of(info, children)

    @strawberry.field
    def nodeDefinitions(self, info: Ctx) -> list[Node] | None:
        found = info.context.definition(self.row.process_id, self.row.version)
        return None if found is None else to_nodes(found.nodes)

    @strawberry.field
    def source(self, info: Ctx) -> str | None:
        found = info.context.definition(self.row.process_id, self.row.version)
        return None if found is None else found.source

    @strawberry.field
    def definition(self, info: Ctx) -> ProcessDefinition | None:
        found = info.context.definition(self.row.process_id, self.row.version)
        return None if found is None else ProcessDefinition(row=found)


def instances_of(info: Ctx, rows: Sequence[IndexedInstance]) -> list[ProcessInstance]:
    """Build the instances the current field returns, with what its selection needs."""
    return built_instances(info.context, rows, selection_of(info))


def built_instances(
    context: RequestContext, rows: Sequence[IndexedInstance], selected: Selection
) -> list[ProcessInstance]:
    """Build `rows` with the nodes, summary and parent `selected` asks for.

    Nodes and parents are read for all the request's instances at once, and only
    when selected: `nodes` or `executionSummary`, `parentProcessInstance`.
    """
    return [
        ProcessInstance.of(
            row,
            context.nodes(row.id) if selected.reads_nodes else None,
            summary=selected.shows_summary,
            parent=_parent(context, row, selected.parent),
        )
        for row in rows
    ]


def _parent(
    context: RequestContext, row: IndexedInstance, selected: Selection | None
) -> ProcessInstance | None:
    if selected is None:
        return None
    parent = context.parent(row, selected.columns)
    return None if parent is None else built_instances(context, [parent], selected)[0]


def _error_of(row: IndexedInstance) -> ProcessInstanceError | None:
    if not row.has_error:
        return None
    return ProcessInstanceError(
        nodeDefinitionId=row.error_node_definition_id or "",
        nodeInstanceId=row.error_node_instance_id,
        message=row.error_message,
    )


@strawberry.type
class Job:
    row: strawberry.Private[IndexedJob]

    @strawberry.field
    def id(self) -> str:
        return self.row.id

    @strawberry.field
    def processId(self) -> str | None:
        return self.row.process_id

    @strawberry.field
    def processInstanceId(self) -> str | None:
        return self.row.process_instance_id

    @strawberry.field
    def nodeInstanceId(self) -> str | None:
        return self.row.node_instance_id

    @strawberry.field
    def rootProcessInstanceId(self) -> str | None:
        return self.row.root_process_instance_id

    @strawberry.field
    def rootProcessId(self) -> str | None:
        return self.row.root_process_id

    @strawberry.field
    def status(self) -> JobStatus:
        return JobStatus(self.row.status)

    @strawberry.field
    def expirationTime(self) -> datetime | None:
        return self.row.expiration_time

    @strawberry.field
    def priority(self) -> int | None:
        return self.row.priority

    @strawberry.field
    def callbackEndpoint(self) -> str | None:
        return self.row.callback_endpoint

    @strawberry.field
    def repeatInterval(self) -> int | None:
        return self.row.repeat_interval

    @strawberry.field
    def repeatLimit(self) -> int | None:
        return self.row.repeat_limit

    @strawberry.field
    def scheduledId(self) -> str | None:
        return self.row.scheduled_id

    @strawberry.field
    def retries(self) -> int | None:
        return self.row.retries

    @strawberry.field
    def lastUpdate(self) -> datetime | None:
        return self.row.last_update

    @strawberry.field
    def executionCounter(self) -> int | None:
        return self.row.execution_counter

    @strawberry.field
    def endpoint(self) -> str | None:
        return self.row.endpoint

    @strawberry.field
    def exceptionMessage(self) -> str | None:
        return self.row.exception_message

    @strawberry.field
    def exceptionDetails(self) -> str | None:
        return self.row.exception_details


def to_nodes(raw: Any) -> list[Node]:
    """Turn stored definition nodes (JSON objects) into `Node` values."""
    nodes = []
    for item in raw or []:
        if not isinstance(item, dict):
            continue
        raw_meta = item.get("metadata")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        unique = str(item.get("uniqueId") or meta.get("UniqueId") or item.get("id"))
        nodes.append(
            Node(
                id=str(item.get("id") or unique),
                name=str(item.get("name") or ""),
                type=str(item.get("type") or ""),
                uniqueId=unique,
                metadata=NodeMetadata(
                    UniqueId=str(meta.get("UniqueId") or unique),
                    state=_text(meta.get("state")),
                    branch=_text(meta.get("branch")),
                    action=_text(meta.get("action")),
                ),
            )
        )
    return nodes


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
