"""SonataFlow's `rest:<method>:<path or URI>` custom function, as an HTTP request.

`{name}` placeholders in the path or query are filled from the argument of that name
(removed from the body); `HEADER_x` arguments become header `x`, `QUERY_x` arguments
query parameter `x`; the other arguments form the JSON body, or the query of a GET. A
path is resolved against the function's configured base URL; a full URI is used as is.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from knflow.config import Settings
from knflow.outbound import function_errors, function_http
from knflow.outbound.function_http import FunctionRequest
from knflow.workflow.model import Json

if TYPE_CHECKING:
    from knflow.outbound.function_call import FunctionCall

METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})
HEADER_PREFIX: Final = "HEADER_"
QUERY_PREFIX: Final = "QUERY_"
QUERY_METHODS: Final = frozenset({"GET", "HEAD"})
"""Methods whose plain arguments go to the query string instead of a body."""
BODYLESS_UNLESS_GIVEN: Final = frozenset({"DELETE"})
"""Methods that get a body only when arguments are left for one."""

_PLACEHOLDER: Final = re.compile(r"\{([^{}]+)\}")


def build_request(settings: Settings, call: FunctionCall) -> FunctionRequest:
    """Build the request of a `rest:` custom function call.

    Raises:
        ActionError: the operation is malformed, a placeholder has no argument, or a
            path has no configured base URL (permanent).
    """
    method, target = parse_operation(call.function_name, call.operation)
    arguments = dict(call.arguments) if isinstance(call.arguments, dict) else {}
    filled = _fill_placeholders(call.function_name, target, arguments)
    url, query = _split_query(_absolute(settings, call.function_name, filled))
    headers, extra_query, rest = _pick_prefixed(arguments)
    query = (*query, *extra_query)
    if method in QUERY_METHODS:
        return FunctionRequest(
            method=method, url=url, query=(*query, *_as_query(rest)), headers=headers
        )
    body = rest if isinstance(call.arguments, dict) else call.arguments
    if method in BODYLESS_UNLESS_GIVEN and not rest:
        return FunctionRequest(method=method, url=url, query=query, headers=headers)
    return FunctionRequest(
        method=method,
        url=url,
        query=query,
        headers=headers,
        body=function_http.json_body({} if body is None else body),
        content_type=function_http.JSON_CONTENT_TYPE,
    )


def parse_operation(function_name: str, operation: str) -> tuple[str, str]:
    """Split `rest:<method>:<target>` into the upper-case method and the target.

    Raises:
        ActionError: the operation is not of that form (permanent).
    """
    prefix, _, remainder = operation.partition(":")
    method, _, target = remainder.partition(":")
    method = method.strip().upper()
    target = target.strip()
    if prefix.strip().lower() != "rest" or method not in METHODS or not target:
        raise function_errors.invalid_call(
            function_name,
            f"operation '{operation}' is not of the form "
            "'rest:<get|post|put|patch|delete>:<path or URI>'",
        )
    return method, target


def _fill_placeholders(
    function_name: str, target: str, arguments: dict[str, Json]
) -> str:
    """Replace each `{name}` with its argument, consuming the argument."""
    names = _PLACEHOLDER.findall(target)
    missing = [name for name in names if arguments.get(name) is None]
    if missing:
        raise function_errors.invalid_call(
            function_name,
            f"no argument for placeholder(s) {', '.join(missing)} of '{target}'",
        )
    values = {name: function_http.to_text(arguments[name]) for name in names}
    for name in names:
        arguments.pop(name, None)
    return _PLACEHOLDER.sub(lambda m: quote(values[m.group(1)], safe=""), target)


def _absolute(settings: Settings, function_name: str, target: str) -> str:
    if urlsplit(target).scheme:
        return target
    base = function_http.configured_url(settings, function_name)
    if base is None:
        raise function_errors.invalid_call(
            function_name, function_http.missing_url_reason(function_name)
        )
    return base.rstrip("/") + "/" + target.lstrip("/")


def _split_query(url: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    parts = urlsplit(url)
    query = tuple(parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit(parts._replace(query="", fragment="")), query


def _pick_prefixed(
    arguments: dict[str, Json],
) -> tuple[dict[str, str], tuple[tuple[str, str], ...], dict[str, Json]]:
    """Split arguments into headers, query parameters and the rest."""
    headers: dict[str, str] = {}
    query: list[tuple[str, str]] = []
    rest: dict[str, Json] = {}
    for name, value in arguments.items():
        if name.startswith(HEADER_PREFIX) and value is not None:
            headers[name[len(HEADER_PREFIX) :]] = function_http.to_text(value)
        elif name.startswith(QUERY_PREFIX):
            query.extend(_as_query({name[len(QUERY_PREFIX) :]: value}))
        else:
            rest[name] = value
    return headers, tuple(query), rest


def _as_query(arguments: dict[str, Json]) -> tuple[tuple[str, str], ...]:
    """Render arguments as query parameters; lists repeat the name, None is left out."""
    pairs: list[tuple[str, str]] = []
    for name, value in arguments.items():
        values = value if isinstance(value, list) else [value]
        pairs.extend((name, function_http.to_text(v)) for v in values if v is not None)
    return tuple(pairs)
