"""The Data Index GraphQL schema: queries, counts and mutations, built once per process.

Type, field and argument names are the Kogito Data Index's (basic, count and json
schemas plus the mutations); the Backstage Orchestrator plugin depends on them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache, lru_cache, partial
from typing import Any, Final

import strawberry
from graphql.execution.middleware import MiddlewareManager
from strawberry.execution import optimized_is_awaitable
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import (
    StrawberryGraphQLCoreExecutionContext,
    _coerce_error,
    validate_document,
)
from strawberry.types import ExecutionContext, ExecutionResult, Info
from strawberry.types.graphql import OperationType
from strawberry.utils.operation import get_first_operation, get_operation_type

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    parse,
    specified_rules,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from knflow import json_limits
from knflow.errors import KnflowError, NotFoundError
from knflow.graphql import filters, limits, scalars
from knflow.graphql.columns import selection_of
from knflow.graphql.context import RequestContext
from knflow.graphql.execution import PlainFieldExecutor
from knflow.graphql.inputs import (
    JobArgument,
    JobOrderBy,
    Pagination,
    ProcessDefinitionArgument,
    ProcessDefinitionOrderBy,
    ProcessInstanceArgument,
    ProcessInstanceOrderBy,
)
from knflow.graphql.types import (
    Job,
    ProcessDefinition,
    ProcessInstance,
    built_instances,
)
from knflow.memo import Memo
from knflow.outbound import management
from knflow.store import db, index, index_query
from knflow.store.index import IndexedInstance

logger = logging.getLogger(__name__)

_ID_LIMITS: Final = json_limits.JsonLimits()
CACHED_DOCUMENTS: Final = 256
"""Parsed and validated query texts kept per process."""

Ctx = Info[RequestContext, None]


@strawberry.type
class Query:
    """The read side of the Data Index."""

    @strawberry.field
    def ProcessDefinitions(
        self,
        info: Ctx,
        where: ProcessDefinitionArgument | None = None,
        orderBy: ProcessDefinitionOrderBy | None = None,
        pagination: Pagination | None = None,
    ) -> list[ProcessDefinition | None] | None:
        query = filters.to_query(where, orderBy, pagination)
        rows = index_query.select_definitions(
            info.context.conn,
            query.condition,
            query.order,
            limit=query.limit,
            offset=query.offset,
        )
        return [ProcessDefinition(row=row) for row in rows]

    @strawberry.field
    def ProcessInstances(
        self,
        info: Ctx,
        where: ProcessInstanceArgument | None = None,
        orderBy: ProcessInstanceOrderBy | None = None,
        pagination: Pagination | None = None,
    ) -> list[ProcessInstance | None] | None:
        query = filters.to_query(where, orderBy, pagination)
        selected = selection_of(info)
        page = index_query.select_instance_page(
            info.context.conn,
            query.condition,
            query.order,
            limit=query.limit,
            offset=query.offset,
            columns=selected.columns,
            with_nodes=selected.reads_nodes,
        )
        rows = info.context.register(page.instances, page.nodes)
        return [*built_instances(info.context, rows, selected)]

    @strawberry.field
    def Jobs(
        self,
        info: Ctx,
        where: JobArgument | None = None,
        orderBy: JobOrderBy | None = None,
        pagination: Pagination | None = None,
    ) -> list[Job | None] | None:
        query = filters.to_query(where, orderBy, pagination)
        rows = index_query.select_jobs(
            info.context.conn,
            query.condition,
            query.order,
            limit=query.limit,
            offset=query.offset,
        )
        return [Job(row=row) for row in rows]

    @strawberry.field
    def CountProcessInstances(
        self, info: Ctx, where: ProcessInstanceArgument | None = None
    ) -> int | None:
        condition = filters.to_condition(where)
        return index_query.count(info.context.conn, "instances", condition)

    @strawberry.field
    def CountProcessDefinitions(
        self, info: Ctx, where: ProcessDefinitionArgument | None = None
    ) -> int | None:
        condition = filters.to_condition(where)
        return index_query.count(info.context.conn, "definitions", condition)

    @strawberry.field
    def CountJobs(self, info: Ctx, where: JobArgument | None = None) -> int | None:
        return index_query.count(info.context.conn, "jobs", filters.to_condition(where))


@strawberry.type
class Mutation:
    """Management actions, forwarded to the runtime and the jobs API."""

    @strawberry.mutation
    def ProcessInstanceAbort(self, info: Ctx, id: str | None = None) -> str | None:
        row = _instance(info, id)
        return management.abort_instance(
            *_runtime(info), row.process_id, row.id, credentials=_credentials(info)
        )

    @strawberry.mutation
    def ProcessInstanceRetry(self, info: Ctx, id: str | None = None) -> str | None:
        row = _instance(info, id)
        return management.retrigger_instance(
            *_runtime(info), row.process_id, row.id, credentials=_credentials(info)
        )

    @strawberry.mutation
    def ProcessInstanceRerun(self, info: Ctx, id: str | None = None) -> str | None:
        """Start an ended instance anew from its input (knflow's, not Kogito's)."""
        row = _instance(info, id)
        return management.rerun_instance(
            *_runtime(info), row.process_id, row.id, credentials=_credentials(info)
        )

    @strawberry.mutation
    def ProcessInstancesRetrigger(
        self,
        info: Ctx,
        processId: str,
        failedAfter: datetime | None = None,
        failedBefore: datetime | None = None,
        limit: int | None = None,
    ) -> str | None:
        """Retrigger a workflow's failed instances in a range (knflow's, not Kogito's)."""
        _check_id(processId)
        asked: dict[str, object] = {
            "failedAfter": failedAfter.isoformat() if failedAfter else None,
            "failedBefore": failedBefore.isoformat() if failedBefore else None,
            "limit": limit,
        }
        body = json.dumps({k: v for k, v in asked.items() if v is not None})
        return management.retrigger_failed(
            *_runtime(info), processId, body=body, credentials=_credentials(info)
        )

    @strawberry.mutation
    def ProcessInstanceSkip(self, info: Ctx, id: str | None = None) -> str | None:
        row = _instance(info, id)
        return management.skip_instance(
            *_runtime(info), row.process_id, row.id, credentials=_credentials(info)
        )

    @strawberry.mutation
    def ProcessInstanceUpdateVariables(
        self, info: Ctx, id: str | None = None, variables: str | None = None
    ) -> str | None:
        row = _instance(info, id)
        return management.update_variables(
            *_runtime(info),
            row.process_id,
            row.id,
            variables=variables or "{}",
            credentials=_credentials(info),
        )

    @strawberry.mutation
    def NodeInstanceTrigger(
        self, info: Ctx, id: str | None = None, nodeId: str | None = None
    ) -> str | None:
        row = _instance(info, id)
        return management.trigger_node(
            *_runtime(info),
            row.process_id,
            row.id,
            node_id=nodeId or "",
            credentials=_credentials(info),
        )

    @strawberry.mutation
    def NodeInstanceRetrigger(
        self, info: Ctx, id: str | None = None, nodeInstanceId: str | None = None
    ) -> str | None:
        row = _instance(info, id)
        return management.retrigger_node(
            *_runtime(info),
            row.process_id,
            row.id,
            node_instance_id=nodeInstanceId or "",
            credentials=_credentials(info),
        )

    @strawberry.mutation
    def NodeInstanceCancel(
        self, info: Ctx, id: str | None = None, nodeInstanceId: str | None = None
    ) -> str | None:
        row = _instance(info, id)
        return management.cancel_node(
            *_runtime(info),
            row.process_id,
            row.id,
            node_instance_id=nodeInstanceId or "",
            credentials=_credentials(info),
        )

    @strawberry.mutation
    def JobCancel(self, info: Ctx, id: str | None = None) -> str | None:
        services = info.context.services
        job_id = _job_id(info, id)
        return management.cancel_job(
            services.http,
            services.settings.jobs_url,
            job_id,
            credentials=_credentials(info),
        )

    @strawberry.mutation
    def JobReschedule(
        self, info: Ctx, id: str | None = None, data: str | None = None
    ) -> str | None:
        services = info.context.services
        job_id = _job_id(info, id)
        return management.reschedule_job(
            services.http,
            services.settings.jobs_url,
            job_id,
            data=data or "{}",
            credentials=_credentials(info),
        )


class DataIndexSchema(strawberry.Schema):
    """The schema, logging resolver failures once and without foreign text.

    `limits_rule` and `max_tokens` bound every document (see `CachedDocuments`).
    """

    def __init__(
        self,
        *,
        limits_rule: type[ASTValidationRule],
        max_tokens: int,
        **options: Any,
    ) -> None:
        super().__init__(
            extensions=[partial(CachedDocuments, limits_rule, max_tokens)], **options
        )
        self._limits_rule = limits_rule
        self._max_tokens = max_tokens

    def execute_valid(
        self,
        query: str,
        variable_values: dict[str, Any] | None,
        context_value: Any,
        operation_name: str | None,
    ) -> ExecutionResult:
        """`execute_sync`, minus its per-request set-up for a document that is valid.

        strawberry builds an execution context, the extensions and their runner, a
        middleware manager and the hooks of each phase for every request (~0.1 ms of
        the plugin's list query, as long as its SQL). For a text that parses and
        validates (both cached per process) into a query or a mutation, this runs
        graphql-core's `execute` itself as `execute_sync` would: the same arguments,
        operation name, executor class and error processing; the one extension,
        `CachedDocuments`, only sets what is read here. Anything else (a syntax or
        validation error, an operation it cannot find) goes through `execute_sync`.
        """
        operation = _runnable(query, self._max_tokens, operation_name)
        if operation is None or _validation_errors(
            self._schema,
            query,
            _parsed(query, self._max_tokens),
            (*specified_rules, self._limits_rule),
        ):
            return self.execute_sync(
                query,
                variable_values=variable_values,
                context_value=context_value,
                operation_name=operation_name,
            )
        try:
            result = self._get_execute_function()(
                self._schema,
                _parsed(query, self._max_tokens),
                root_value=None,
                middleware=MiddlewareManager(),
                variable_values=variable_values,
                operation_name=operation.name,
                context_value=context_value,
                is_awaitable=optimized_is_awaitable,
                executor_class=self.execution_context_class,
                operation_extensions=None,
                is_async_iterable=_never,
            )
            if not isinstance(result, GraphQLExecutionResult):
                raise RuntimeError(
                    "GraphQL execution failed to complete synchronously."
                )
        except Exception as error:  # noqa: BLE001 - as execute_sync: the error is the answer
            errors = [_coerce_error(error)]
            self._process_errors(errors)
            return ExecutionResult(data=None, errors=errors)
        if result.errors:
            self._process_errors(result.errors)
        return ExecutionResult(data=result.data, errors=result.errors)

    def process_errors(
        self,
        errors: list[GraphQLError],
        execution_context: ExecutionContext | None = None,
    ) -> None:
        """Log each error: ours as warnings, anything else with its traceback."""
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, KnflowError):
                logger.warning(
                    "graphql request refused", extra={"reason": error.message}
                )
            elif db.as_knflow_error(original) is not None:
                logger.warning(
                    "graphql request refused",
                    extra={"reason": str(db.as_knflow_error(original))},
                )
            else:
                logger.error("graphql resolver failed", exc_info=original)


class Executor(StrEnum):
    """Which graphql-core executor runs an operation once it is validated."""

    PLAIN_FIELDS = "PLAIN_FIELDS"
    """`execution.PlainFieldExecutor`, the one requests use."""
    GRAPHQL_CORE = "GRAPHQL_CORE"
    """Strawberry's own, field by field: the reference the fast one is compared with."""


_EXECUTOR_CLASSES: Final = {
    Executor.PLAIN_FIELDS: PlainFieldExecutor,
    Executor.GRAPHQL_CORE: StrawberryGraphQLCoreExecutionContext,
}


@cache
def schema(
    query_limits: limits.QueryLimits,
    max_tokens: int,
    executor: Executor = Executor.PLAIN_FIELDS,
) -> DataIndexSchema:
    """Return the schema for these limits, built on first use (never at import).

    A process has one set of limits, so this builds once per process.
    """
    return DataIndexSchema(
        query=Query,
        mutation=Mutation,
        execution_context_class=_EXECUTOR_CLASSES[executor],
        config=StrawberryConfig(
            auto_camel_case=False, scalar_map={datetime: scalars.definition()}
        ),
        # One rule class per limits: a new class per request would defeat the
        # validation cache, which is keyed by the rules.
        limits_rule=limits.rule(query_limits),
        max_tokens=max_tokens,
    )


@lru_cache(maxsize=CACHED_DOCUMENTS)
def _parsed(query: str, max_tokens: int) -> DocumentNode:
    """Parse a query text, refusing one of more than `max_tokens` tokens.

    Raises:
        GraphQLSyntaxError: not GraphQL, or too many tokens.
    """
    return parse(query, max_tokens=max_tokens)


ValidationKey = tuple[str, tuple[Any, ...]]
_VALIDATED: Final[Memo[ValidationKey, list[GraphQLError]]] = Memo(CACHED_DOCUMENTS)


def _validation_errors(
    schema: GraphQLSchema,
    query: str,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
) -> list[GraphQLError]:
    """The errors of `document` (parsed from `query`), validated once per text, schema
    and rules."""
    key = (query, (schema, *rules))
    errors = _VALIDATED.get(key)
    if errors is None:
        errors = validate_document(schema, document, rules)
        _VALIDATED.put(key, errors)
    return errors


@dataclass(frozen=True, slots=True)
class _Operation:
    """The operation of a document `execute_sync` would run."""

    name: str | None
    """The name strawberry hands graphql-core: the one asked for, else the first
    operation's (so a document of several runs its first, not graphql-core's error)."""


def _runnable(
    query: str, max_tokens: int, operation_name: str | None
) -> _Operation | None:
    """The query or mutation of a text that parses, or None (`execute_sync` answers)."""
    try:
        document = _parsed(query, max_tokens)
    except Exception:  # noqa: BLE001 - a syntax error, or any other: execute_sync's to answer
        return None
    name = operation_name
    if name is None:
        first = get_first_operation(document)
        name = first.name.value if first is not None and first.name else None
    try:
        kind = get_operation_type(document, name)
    except RuntimeError:  # no such operation: execute_sync raises it
        return None
    if kind not in (OperationType.QUERY, OperationType.MUTATION):
        return None
    return _Operation(name)


def _never(_value: Any) -> bool:
    """graphql-core's `is_async_iterable` for synchronous execution, as strawberry's."""
    return False


class CachedDocuments(SchemaExtension):
    """Parse (within the token limit) and validate (with the query limits' rule) each
    query text once per process.

    The plugin repeats a handful of query texts; parsing and validating them again on
    every request was 40% of the list query's time. strawberry's own `ValidationCache`
    keys on the parsed document, whose hash walks the whole tree on every request; the
    text it was parsed from determines it and hashes in one go. One extension instead
    of strawberry's four (token limiter, added rules, parser and validation caches),
    whose hooks were set up on every request.
    """

    def __init__(self, rule: type[ASTValidationRule], max_tokens: int) -> None:
        super().__init__()
        self._rule = rule
        self._max_tokens = max_tokens

    def on_parse(self) -> Iterator[None]:
        """Set the document of the text (a syntax error is the request's answer)."""
        context = self.execution_context
        if context.query is not None:
            context.graphql_document = _parsed(context.query, self._max_tokens)
        yield

    def on_validate(self) -> Iterator[None]:
        """Set the errors of the document, validated once per text, schema and rules."""
        context = self.execution_context
        query = context.query
        if query is None or context.graphql_document is None:
            yield
            return
        context.pre_execution_errors = _validation_errors(
            context.schema._schema,
            query,
            context.graphql_document,
            (*context.validation_rules, self._rule),
        )
        yield


def _instance(info: Ctx, instance_id: str | None) -> IndexedInstance:
    _check_id(instance_id)
    rows = index.instances_by_ids(info.context.conn, [instance_id or ""])
    if not rows:
        raise NotFoundError(f"process instance '{instance_id}' is not indexed")
    return rows[0]


def _job_id(info: Ctx, job_id: str | None) -> str:
    if not job_id:
        raise NotFoundError("job id is missing")
    _check_id(job_id)
    return job_id


def _credentials(info: Ctx) -> Mapping[str, str]:
    """The caller's own tokens: the runtime and the jobs API authorize the caller, not us."""
    return info.context.credentials


def _check_id(value: str | None) -> None:
    """Refuse an id no stored row can have (a NUL character, an unpaired surrogate).

    Raises:
        InputError: naming the reason.
    """
    json_limits.check(value, limits=_ID_LIMITS, what="the 'id' argument", depth=0)


def _runtime(info: Ctx) -> tuple[Any, str]:
    services = info.context.services
    return services.http, services.settings.runtime_url
