"""GraphQL over HTTP: the handlers of `/graphql` (GET and POST), routed by `graphql.routes`.

Answers as the Data Index (graphql-java on Vert.x) does: 200 with `data` and
`errors`, each error carrying `extensions.classification` (`InvalidSyntax`,
`ValidationError`, `DataFetchingException`); the plugin keeps partial data only for
`DataFetchingException`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from graphql import GraphQLError, GraphQLSyntaxError, OperationType, parse
from knflow import json_limits
from knflow.config import Settings
from knflow.errors import InputError, KnflowError
from knflow.graphql.context import RequestContext
from knflow.graphql.limits import QueryLimits
from knflow.graphql.schema import DataIndexSchema, Executor, schema
from knflow.runtime.services import Services
from knflow.runtime.web import Request, Response
from knflow.store import db

CREDENTIAL_HEADERS: Final = ("authorization", "x-authorization-backstage")
_HIDDEN_MESSAGE: Final = "internal error while fetching data; see the function's log"


def handle_post(services: Services, request: Request) -> Response:
    """Execute a POSTed operation (JSON body, or an `application/graphql` body)."""
    credentials = caller_credentials(request)
    if request.headers.get("content-type", "").startswith("application/graphql"):
        return execute(
            services,
            request.body.decode("utf-8"),
            None,
            None,
            credentials=credentials,
        )
    body = request.json(empty={})
    if not isinstance(body, dict):
        raise InputError("the GraphQL request body must be a JSON object")
    variables = body.get("variables")
    return execute(
        services,
        body.get("query"),
        _variables(variables),
        body.get("operationName"),
        credentials=credentials,
    )


def handle_get(services: Services, request: Request) -> Response:
    """Execute a query sent as `?query=...&variables=...&operationName=...`."""
    raw = request.query.get("variables")
    variables = (
        json_limits.decode(
            raw, limits=request.json_limits, what="the 'variables' parameter"
        )
        if raw
        else None
    )
    return execute(
        services,
        request.query.get("query"),
        _variables(variables),
        request.query.get("operationName"),
        allow_mutation=False,
    )


def execute(
    services: Services,
    query: Any,
    variables: dict[str, Any] | None,
    operation_name: Any,
    *,
    allow_mutation: bool = True,
    credentials: Mapping[str, str] | None = None,
    executor: Executor = Executor.PLAIN_FIELDS,
) -> Response:
    """Run one GraphQL operation, each statement bounded by the statement timeout.

    `executor` is for the test that compares the fast executor with graphql-core's
    (run by strawberry's `execute_sync` all the way, as the reference).

    Raises:
        InputError: no query text.
    """
    if not isinstance(query, str) or not query.strip():
        raise InputError("a GraphQL request needs a 'query'")
    if not allow_mutation and _is_mutation(query, operation_name):
        return Response(status=405, body={"message": "send mutations with POST"})
    settings = services.settings
    with db.bounded_reads(services.pool, settings.statement_timeout) as conn:
        context = RequestContext(
            services=services, conn=conn, credentials=credentials or {}
        )
        name = operation_name if isinstance(operation_name, str) else None
        graphql_schema = _schema(settings, executor)
        result = (
            graphql_schema.execute_valid(query, variables, context, name)
            if executor is Executor.PLAIN_FIELDS
            else graphql_schema.execute_sync(
                query,
                variable_values=variables,
                context_value=context,
                operation_name=name,
            )
        )
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [format_error(error) for error in result.errors]
    if result.data is not None or not result.errors:
        body["data"] = result.data
    return Response(body=body)


def format_error(error: GraphQLError) -> dict[str, Any]:
    """Render an error with the graphql-java `classification` the plugin reads.

    Messages of our own errors (and of database failures the request caused, such as
    the statement timeout) are kept; any other failure's text is hidden.
    """
    formatted: dict[str, Any] = dict(error.formatted)
    original = error.original_error
    if isinstance(error, GraphQLSyntaxError):
        classification = "InvalidSyntax"
        formatted["message"] = _syntax_message(error)
    elif original is None:
        classification = "ValidationError"
    else:
        classification = "DataFetchingException"
        known = original if isinstance(original, KnflowError) else None
        known = known or db.as_knflow_error(original)
        formatted["message"] = _HIDDEN_MESSAGE if known is None else str(known)
    formatted["extensions"] = {
        **(formatted.get("extensions") or {}),
        "classification": classification,
    }
    return formatted


def caller_credentials(request: Request) -> dict[str, str]:
    """The caller's tokens, when it sent any, for the calls its mutations make."""
    return {
        name: request.headers[name]
        for name in CREDENTIAL_HEADERS
        if request.headers.get(name)
    }


def _schema(settings: Settings, executor: Executor) -> DataIndexSchema:
    query_limits = QueryLimits(
        max_depth=settings.graphql_max_depth,
        max_aliases=settings.graphql_max_aliases,
        max_cost=settings.graphql_max_cost,
    )
    return schema(query_limits, settings.graphql_max_tokens, executor)


def _syntax_message(error: GraphQLSyntaxError) -> str:
    """The parser's message, naming the setting when the token limit stopped it."""
    message = error.message
    if "tokens" in message:
        return f"{message} (KNFLOW_GRAPHQL_MAX_TOKENS)"
    return message


def _variables(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InputError("GraphQL 'variables' must be a JSON object")
    return value


def _is_mutation(query: str, operation_name: Any) -> bool:
    try:
        document = parse(query)
    except GraphQLError:
        return False
    for definition in document.definitions:
        operation = getattr(definition, "operation", None)
        name = getattr(getattr(definition, "name", None), "value", None)
        if operation is OperationType.MUTATION and operation_name in (None, name):
            return True
    return False
