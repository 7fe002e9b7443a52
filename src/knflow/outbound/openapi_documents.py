"""Reading OpenAPI 3 and Swagger 2 documents: operations by id, local `$ref`s, servers.

Only references inside the document (`#/...`) are followed; the loader that fetched the
document beside the workflow is expected to have inlined anything else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

from knflow.outbound import function_errors
from knflow.workflow import references
from knflow.workflow.model import Json

HTTP_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch")
MAX_REF_DEPTH: Final = 32
JSON_MARK: Final = "json"

_PLACEHOLDER: Final = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    """An operation found in a document, its `$ref`s resolved."""

    method: str
    """Upper-case HTTP method."""
    path: str
    """Path template (`/pets/{petId}`)."""
    parameters: tuple[Mapping[str, Json], ...]
    """Path-level and operation-level parameters, the latter winning."""
    servers: tuple[Mapping[str, Json], ...]
    """OpenAPI 3 servers of the operation, else of its path, else of the document."""
    request_body: Mapping[str, Json] | None
    """The OpenAPI 3 request body, when the operation declares one."""
    consumes: tuple[str, ...]
    """Swagger 2 media types the operation accepts."""
    swagger: bool
    """The document is Swagger 2 (`collectionFormat`, `in: body`, `host`)."""


def find_operation(
    document: Mapping[str, Json], operation_id: str, *, function_name: str
) -> Operation | None:
    """Find the operation with `operation_id`; None when there is none.

    Raises:
        ActionError: a reference on the way is external, dangling or circular.
    """
    # SonataFlow matches ids by the Java method name it derives (`reverse,` is `reverse`).
    wanted = references.find_operation_id(document, operation_id, strict=False)
    for path, raw_item in (document.get("paths") or {}).items():
        item = resolve(document, raw_item, function_name=function_name)
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            spec = resolve(document, item.get(method), function_name=function_name)
            if isinstance(spec, dict) and spec.get("operationId") == wanted:
                return _operation(
                    document,
                    item,
                    spec,
                    method=method,
                    path=str(path),
                    function_name=function_name,
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


def is_swagger(document: Mapping[str, Json]) -> bool:
    """Tell a Swagger 2 document from an OpenAPI 3 one."""
    return str(document.get("swagger", "")).startswith("2")


def server_url(document: Mapping[str, Json], operation: Operation) -> str | None:
    """Return the server URL with variables at their defaults; it may be relative."""
    if operation.swagger:
        return _swagger_url(document)
    servers = operation.servers
    if not servers or not isinstance(servers[0], dict) or not servers[0].get("url"):
        return None
    variables = servers[0].get("variables") or {}
    return _PLACEHOLDER.sub(
        lambda m: str((variables.get(m.group(1)) or {}).get("default", m.group(0))),
        str(servers[0]["url"]),
    )


def body_properties(
    document: Mapping[str, Json], operation: Operation, *, function_name: str
) -> frozenset[str]:
    """Return the property names of the operation's JSON body schema, if it has any."""
    schema: Json = None
    if operation.swagger:
        body = [p for p in operation.parameters if p.get("in") == "body"]
        schema = body[0].get("schema") if body else None
    elif operation.request_body is not None:
        content = operation.request_body.get("content") or {}
        media = [m for m in content if JSON_MARK in str(m).lower()]
        schema = (content[media[0]] or {}).get("schema") if media else None
    schema = resolve(document, schema, function_name=function_name)
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return frozenset(properties) if isinstance(properties, dict) else frozenset()


def _operation(
    document: Mapping[str, Json],
    item: Mapping[str, Json],
    spec: Mapping[str, Json],
    *,
    method: str,
    path: str,
    function_name: str,
) -> Operation:
    request_body = resolve(
        document, spec.get("requestBody"), function_name=function_name
    )
    servers = spec.get("servers") or item.get("servers") or document.get("servers")
    return Operation(
        method=method.upper(),
        path=path,
        parameters=_parameters(document, item, spec, function_name=function_name),
        servers=tuple(servers or ()),
        request_body=request_body if isinstance(request_body, dict) else None,
        consumes=tuple(spec.get("consumes") or document.get("consumes") or ()),
        swagger=is_swagger(document),
    )


def _parameters(
    document: Mapping[str, Json],
    item: Mapping[str, Json],
    spec: Mapping[str, Json],
    *,
    function_name: str,
) -> tuple[Mapping[str, Json], ...]:
    merged: dict[tuple[str, str], Mapping[str, Json]] = {}
    for raw in (*(item.get("parameters") or ()), *(spec.get("parameters") or ())):
        parameter = resolve(document, raw, function_name=function_name)
        if isinstance(parameter, dict) and parameter.get("name"):
            merged[(str(parameter["name"]), str(parameter.get("in")))] = parameter
    return tuple(merged.values())


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


def _swagger_url(document: Mapping[str, Json]) -> str | None:
    host = document.get("host")
    base_path = str(document.get("basePath") or "")
    if not host:
        return base_path or None
    schemes = [str(s) for s in document.get("schemes") or ()]
    scheme = "https" if "https" in schemes else (schemes[0] if schemes else "http")
    return f"{scheme}://{host}{base_path}"
