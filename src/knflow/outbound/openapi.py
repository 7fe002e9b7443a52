"""OpenAPI (`rest`) functions: find `<file>#<operationId>` and build its HTTP request.

OpenAPI 3 and Swagger 2 documents are read with their local `$ref`s (`#/...`).
Arguments are placed by parameter name: path, query, header and cookie parameters (and
Swagger `formData`) take the argument of their name, serialized per `style`/`explode`
(Swagger: `collectionFormat`). The body is the argument named like the Swagger body
parameter, else an argument named `body`, else the remaining arguments (all of them when
no parameter matched; a non-object `arguments` is the body as is). A body is sent when
the operation declares one, or for POST, PUT and PATCH when arguments are left over.
The server URL resolution is described in `knflow.outbound.functions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, unquote, urlencode, urljoin, urlsplit

from knflow.config import Settings
from knflow.outbound import function_errors, function_http, openapi_values
from knflow.outbound.function_http import FunctionRequest
from knflow.workflow.model import Json

if TYPE_CHECKING:
    from knflow.outbound.functions import FunctionCall

HTTP_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch")
FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"
DOCUMENT_SUFFIXES: Final = (".json", ".yaml", ".yml")
BODY_ARGUMENT: Final = "body"
BODYLESS_METHODS: Final = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
"""Methods that get no body unless the operation declares one."""
MAX_REF_DEPTH: Final = 32


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    """An operation found in an OpenAPI document, its `$ref`s resolved."""

    method: str
    """Upper-case HTTP method."""
    path: str
    """Path template (`/pets/{petId}`)."""
    spec: Mapping[str, Json]
    """The operation object."""
    parameters: tuple[Mapping[str, Json], ...]
    """Path-level and operation-level parameters, the latter winning."""
    servers: tuple[Mapping[str, Json], ...]
    """Servers of the operation, else of its path, else of the document."""
    request_body: Mapping[str, Json] | None
    """The OpenAPI 3 request body, when the operation declares one."""
    consumes: tuple[str, ...]
    """Swagger 2 media types the operation accepts."""


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
    operation = find_operation(document, operation_id, function_name=call.function_name)
    if operation is None:
        raise function_errors.invalid_call(
            call.function_name,
            f"operation '{operation_id}' is not in openapi document '{file}'",
        )
    placed = _place(call, document, operation)
    body, content_type = _body(document, operation, call.arguments, placed)
    base = _base_url(settings, call.function_name, file, document, operation)
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


def find_operation(
    document: Mapping[str, Json], operation_id: str, *, function_name: str
) -> Operation | None:
    """Find the operation with `operation_id`; None when there is none."""
    for path, raw_item in (document.get("paths") or {}).items():
        item = resolve(document, raw_item, function_name=function_name)
        for method in HTTP_METHODS:
            spec = resolve(document, item.get(method), function_name=function_name)
            if isinstance(spec, dict) and spec.get("operationId") == operation_id:
                return _operation(
                    document, method, str(path), item, spec, function_name
                )
    return None


def resolve(document: Mapping[str, Json], node: Json, *, function_name: str) -> Json:
    """Follow local `$ref`s (`#/components/...`) until a plain node is reached.

    Raises:
        ActionError: the reference is external, dangling or circular (permanent).
    """
    for _ in range(MAX_REF_DEPTH):
        if not isinstance(node, dict) or "$ref" not in node:
            return node
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise function_errors.invalid_call(
                function_name, f"reference '{ref}' is not local to the document"
            )
        node = _pointer(document, ref[1:], function_name)
    raise function_errors.invalid_call(function_name, "openapi references loop")


def _operation(
    document: Mapping[str, Json],
    method: str,
    path: str,
    item: Mapping[str, Json],
    spec: Mapping[str, Json],
    function_name: str,
) -> Operation:
    request_body = resolve(
        document, spec.get("requestBody"), function_name=function_name
    )
    servers = spec.get("servers") or item.get("servers") or document.get("servers")
    return Operation(
        method=method.upper(),
        path=path,
        spec=spec,
        parameters=_parameters(document, item, spec, function_name),
        servers=tuple(servers or ()),
        request_body=request_body if isinstance(request_body, dict) else None,
        consumes=tuple(spec.get("consumes") or document.get("consumes") or ()),
    )


def _document(call: FunctionCall, file: str) -> Mapping[str, Json]:
    document = call.resources.get(file)
    if not isinstance(document, dict):
        raise function_errors.invalid_call(
            call.function_name, f"openapi document '{file}' is not loaded"
        )
    return document


def _pointer(document: Mapping[str, Json], pointer: str, function_name: str) -> Json:
    node: Json = document
    for token in pointer.split("/")[1:] if pointer else ():
        key = unquote(token).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            raise function_errors.invalid_call(
                function_name, f"reference '#{pointer}' does not resolve"
            )
    return node


def _parameters(
    document: Mapping[str, Json],
    item: Mapping[str, Json],
    spec: Mapping[str, Json],
    function_name: str,
) -> tuple[Mapping[str, Json], ...]:
    merged: dict[tuple[str, str], Mapping[str, Json]] = {}
    for raw in (*(item.get("parameters") or ()), *(spec.get("parameters") or ())):
        parameter = resolve(document, raw, function_name=function_name)
        if isinstance(parameter, dict) and parameter.get("name"):
            merged[(str(parameter["name"]), str(parameter.get("in")))] = parameter
    return tuple(merged.values())


def _place(
    call: FunctionCall, document: Mapping[str, Json], operation: Operation
) -> _Placed:
    """Move arguments into path, query, headers and form, by parameter name."""
    swagger = openapi_values.is_swagger(document)
    arguments = dict(call.arguments) if isinstance(call.arguments, dict) else {}
    placed = _Placed(path=operation.path)
    path_values: dict[str, str] = {}
    cookies: list[str] = []
    for parameter in operation.parameters:
        name, location = str(parameter["name"]), parameter.get("in")
        if location == "body" or name not in arguments:
            continue
        value = arguments.pop(name)
        if value is None:
            continue
        if location == "path":
            path_values[name] = openapi_values.simple(value, parameter)
        elif location == "query":
            placed.query.extend(openapi_values.query(name, value, parameter, swagger))
        elif location == "header":
            placed.headers[name] = openapi_values.simple(value, parameter)
        elif location == "cookie":
            cookies.append(f"{name}={quote(openapi_values.simple(value, parameter))}")
        elif location == "formData":
            placed.form.extend(openapi_values.query(name, value, parameter, swagger))
        else:
            arguments[name] = value
    if cookies:
        placed.headers["cookie"] = "; ".join(cookies)
    placed.path = openapi_values.fill_path(
        call.function_name, operation.path, path_values, arguments
    )
    placed.rest = arguments
    return placed


def _body(
    document: Mapping[str, Json],
    operation: Operation,
    arguments: Json,
    placed: _Placed,
) -> tuple[bytes | None, str | None]:
    """Encode the body and return it with its content type, or `(None, None)`."""
    declared = openapi_values.body_media_type(
        document,
        operation.parameters,
        consumes=list(operation.consumes),
        request_body=operation.request_body,
    )
    if placed.form or declared == FORM_CONTENT_TYPE:
        pairs = placed.form or openapi_values.form_pairs(placed.rest)
        return urlencode(pairs).encode(), FORM_CONTENT_TYPE
    value = _body_value(operation, arguments, placed.rest, declared is not None)
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
    operation: Operation, arguments: Json, rest: dict[str, Json], declared: bool
) -> Json:
    if not isinstance(arguments, dict):
        return arguments
    body_parameter = next(
        (str(p["name"]) for p in operation.parameters if p.get("in") == "body"), None
    )
    if body_parameter is not None and body_parameter in rest:
        return rest[body_parameter]
    if declared and BODY_ARGUMENT in rest:
        return rest[BODY_ARGUMENT]
    return rest or None


def _base_url(
    settings: Settings,
    function_name: str,
    file: str,
    document: Mapping[str, Json],
    operation: Operation,
) -> str:
    configured = function_http.configured_url(settings, function_name, file_stem(file))
    if configured:
        return configured
    url = openapi_values.server_url(document, operation.servers)
    if url is not None and not urlsplit(url).scheme and urlsplit(file).scheme:
        url = urljoin(file, url)
    if url is None or not urlsplit(url).scheme:
        raise function_errors.invalid_call(
            function_name,
            f"openapi document '{file}' has no absolute server URL and "
            + function_http.missing_url_reason(function_name),
        )
    return url
