"""OpenAPI (`rest`) functions: build the HTTP request of `<file>#<operationId>`.

Arguments are placed by parameter name: path, query, header and cookie parameters (and
Swagger `formData`) take the argument of their name; `{name}` placeholders without a
declared parameter take the same-named argument too. The body is then, in order: the
argument named like the Swagger body parameter; an argument named `body` when it is the
only one left and the body schema has no `body` property; the remaining arguments (all
of them when no parameter matched); a non-object `arguments` as is. A body is sent when
the operation declares one (`{}` when it is required and nothing is left), or for POST,
PUT and PATCH when arguments are left over. Server URL resolution is described in
`knflow.outbound.functions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, urlencode, urljoin, urlsplit

from knflow.config import Settings
from knflow.outbound import (
    function_errors,
    function_http,
    openapi_documents,
    openapi_values,
)
from knflow.outbound.function_http import FunctionRequest
from knflow.outbound.openapi_documents import Operation
from knflow.workflow.model import Json

if TYPE_CHECKING:
    from knflow.outbound.function_call import FunctionCall

DOCUMENT_SUFFIXES: Final = (".json", ".yaml", ".yml")
BODY_ARGUMENT: Final = "body"
BODYLESS_METHODS: Final = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
"""Methods that get no body unless the operation declares one."""


@dataclass(slots=True, kw_only=True)
class _Placed:
    """Arguments placed into the request, and what is left for the body."""

    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    form: list[tuple[str, str]] = field(default_factory=list)
    rest: dict[str, Json] = field(default_factory=dict)


def build_request(settings: Settings, call: FunctionCall) -> FunctionRequest:
    """Build the request of an OpenAPI function call.

    Raises:
        ActionError: the document or operation is missing, a path parameter has no
            argument, or no absolute server URL is known (permanent).
    """
    file, operation_id = split_operation(call.function_name, call.operation)
    document = _document(call, file)
    operation = openapi_documents.find_operation(
        document, operation_id, function_name=call.function_name
    )
    if operation is None:
        raise function_errors.invalid_call(
            call.function_name,
            f"operation '{operation_id}' is not in openapi document '{file}'",
        )
    placed = _place(call, operation)
    body, content_type = _body(document, operation, placed, call=call)
    base = _base_url(settings, call, file, document=document, operation=operation)
    return FunctionRequest(
        method=operation.method,
        url=base.rstrip("/") + placed.path,
        query=tuple(placed.query),
        headers=placed.headers,
        body=body,
        content_type=content_type,
    )


def split_operation(function_name: str, operation: str) -> tuple[str, str]:
    """Split `<file>#<operationId>`.

    Raises:
        ActionError: the operation is not of that form (permanent).
    """
    file, _, operation_id = operation.strip().rpartition("#")
    if not file or not operation_id:
        raise function_errors.invalid_call(
            function_name,
            f"operation '{operation}' is not of the form '<file>#<operationId>'",
        )
    return file, operation_id


def file_stem(file: str) -> str:
    """Return the configuration key of a document: its file name without the suffix."""
    name = PurePosixPath(urlsplit(file).path).name
    for suffix in DOCUMENT_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _document(call: FunctionCall, file: str) -> Mapping[str, Json]:
    document = call.resources.get(file)
    if not isinstance(document, dict):
        raise function_errors.invalid_call(
            call.function_name, f"openapi document '{file}' is not loaded"
        )
    return document


def _place(call: FunctionCall, operation: Operation) -> _Placed:
    """Move arguments into path, query, headers and form, by parameter name."""
    serialize = (
        openapi_values.swagger_query if operation.swagger else openapi_values.query
    )
    arguments = dict(call.arguments) if isinstance(call.arguments, dict) else {}
    placed = _Placed(path=operation.path)
    path_values: dict[str, str] = {}
    cookies: list[str] = []
    for parameter in operation.parameters:
        name, location = str(parameter["name"]), parameter.get("in")
        if location not in ("path", "query", "header", "cookie", "formData"):
            continue
        value = arguments.pop(name, None)
        if value is None:
            continue
        if location == "path":
            path_values[name] = openapi_values.simple(value, parameter)
        elif location == "query":
            placed.query.extend(serialize(name, value, parameter))
        elif location == "header":
            placed.headers[name] = openapi_values.simple(value, parameter)
        elif location == "cookie":
            cookies.append(f"{name}={quote(openapi_values.simple(value, parameter))}")
        else:
            placed.form.extend(serialize(name, value, parameter))
    if cookies:
        placed.headers["cookie"] = "; ".join(cookies)
    placed.path = openapi_values.fill_path(
        operation.path, path_values, arguments, function_name=call.function_name
    )
    placed.rest = arguments
    return placed


def _body(
    document: Mapping[str, Json],
    operation: Operation,
    placed: _Placed,
    *,
    call: FunctionCall,
) -> tuple[bytes | None, str | None]:
    """Encode the body and return it with its content type, or `(None, None)`."""
    declared = openapi_values.body_media_type(operation)
    if placed.form or declared == openapi_values.FORM_CONTENT_TYPE:
        pairs = placed.form or openapi_values.form_pairs(placed.rest)
        return urlencode(pairs).encode(), openapi_values.FORM_CONTENT_TYPE
    value = _body_value(document, operation, placed.rest, call=call)
    if declared is None and (value is None or operation.method in BODYLESS_METHODS):
        return None, None
    if value is None:
        if not (operation.request_body or {}).get("required"):
            return None, None
        value = {}
    media_type = declared or function_http.JSON_CONTENT_TYPE
    if media_type.startswith("text/") and isinstance(value, str):
        return value.encode(), media_type
    return function_http.json_body(value), media_type


def _body_value(
    document: Mapping[str, Json],
    operation: Operation,
    rest: dict[str, Json],
    *,
    call: FunctionCall,
) -> Json:
    if not isinstance(call.arguments, dict):
        return call.arguments
    body_parameter = next(
        (str(p["name"]) for p in operation.parameters if p.get("in") == "body"), None
    )
    if body_parameter is not None and body_parameter in rest:
        return rest[body_parameter]
    if set(rest) == {BODY_ARGUMENT} and BODY_ARGUMENT not in (
        openapi_documents.body_properties(
            document, operation, function_name=call.function_name
        )
    ):
        return rest[BODY_ARGUMENT]
    return rest or None


def _base_url(
    settings: Settings,
    call: FunctionCall,
    file: str,
    *,
    document: Mapping[str, Json],
    operation: Operation,
) -> str:
    configured = function_http.configured_url(
        settings, call.function_name, file_stem(file)
    )
    if configured:
        return configured
    url = openapi_documents.server_url(document, operation)
    if url is not None and not urlsplit(url).scheme and urlsplit(file).scheme:
        url = urljoin(file, url)
    if url is None or not urlsplit(url).scheme:
        raise function_errors.invalid_call(
            call.function_name,
            f"openapi document '{file}' has no absolute server URL and "
            + function_http.missing_url_reason(call.function_name),
        )
    return url
