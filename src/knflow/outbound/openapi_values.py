"""How OpenAPI parameters and bodies turn argument values into HTTP text.

Serialization follows OpenAPI 3 `style`/`explode` (defaults: `form` exploded for query
and cookie, `simple` for path and header) and Swagger 2 `collectionFormat` (default
`csv`). Pure functions; `openapi` decides what goes where.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import quote

from knflow.outbound import function_errors, function_http
from knflow.outbound.openapi_documents import JSON_MARK, Operation
from knflow.workflow.model import Json

FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"
SWAGGER_SEPARATORS: Final = {"csv": ",", "ssv": " ", "tsv": "\t", "pipes": "|"}
STYLE_SEPARATORS: Final = {"spaceDelimited": " ", "pipeDelimited": "|"}

_PLACEHOLDER: Final = re.compile(r"\{([^{}]+)\}")


def simple(value: Json, parameter: Mapping[str, Json]) -> str:
    """Serialize a path or header value (`simple` style; Swagger `collectionFormat`)."""
    separator = SWAGGER_SEPARATORS.get(str(parameter.get("collectionFormat")), ",")
    if isinstance(value, list):
        return separator.join(function_http.to_text(v) for v in value)
    if isinstance(value, dict):
        joiner = "=" if parameter.get("explode") else ","
        return ",".join(
            f"{k}{joiner}{function_http.to_text(v)}" for k, v in value.items()
        )
    return function_http.to_text(value)


def query(
    name: str, value: Json, parameter: Mapping[str, Json]
) -> list[tuple[str, str]]:
    """Serialize an OpenAPI 3 query parameter into name/value pairs."""
    style = str(parameter.get("style", "form"))
    explode = bool(parameter.get("explode", style == "form"))
    if isinstance(value, dict):
        if style == "deepObject":
            return [
                (f"{name}[{k}]", function_http.to_text(v)) for k, v in value.items()
            ]
        if explode:
            return [(str(k), function_http.to_text(v)) for k, v in value.items()]
        return [(name, simple(value, {}))]
    if isinstance(value, list):
        if explode:
            return [(name, function_http.to_text(v)) for v in value]
        separator = STYLE_SEPARATORS.get(style, ",")
        return [(name, separator.join(function_http.to_text(v) for v in value))]
    return [(name, function_http.to_text(value))]


def swagger_query(
    name: str, value: Json, parameter: Mapping[str, Json]
) -> list[tuple[str, str]]:
    """Serialize a Swagger 2 query or form parameter into name/value pairs."""
    collection_format = str(parameter.get("collectionFormat", "csv"))
    if isinstance(value, list) and collection_format == "multi":
        return [(name, function_http.to_text(v)) for v in value]
    return [(name, simple(value, parameter))]


def form_pairs(arguments: Mapping[str, Json]) -> list[tuple[str, str]]:
    """Serialize leftover arguments as an urlencoded form (lists repeat the name)."""
    pairs: list[tuple[str, str]] = []
    for name, value in arguments.items():
        values = value if isinstance(value, list) else [value]
        pairs.extend((name, function_http.to_text(v)) for v in values if v is not None)
    return pairs


def fill_path(
    template: str,
    values: Mapping[str, str],
    arguments: dict[str, Json],
    *,
    function_name: str,
) -> str:
    """Fill `{name}` placeholders from path parameters, else from same-named arguments.

    Arguments used for an undeclared placeholder are consumed.

    Raises:
        ActionError: a placeholder has no value (permanent).
    """
    filled: dict[str, str] = dict(values)
    missing: list[str] = []
    for name in _PLACEHOLDER.findall(template):
        if name in filled:
            continue
        if arguments.get(name) is None:
            missing.append(name)
        else:
            filled[name] = simple(arguments.pop(name), {})
    if missing:
        raise function_errors.invalid_call(
            function_name,
            f"no argument for path parameter(s) {', '.join(missing)} of '{template}'",
        )
    return _PLACEHOLDER.sub(lambda m: quote(filled[m.group(1)], safe=""), template)


def body_media_type(operation: Operation) -> str | None:
    """Return the media type to send the body as; None when no body is declared."""
    if operation.swagger:
        if any(p.get("in") == "formData" for p in operation.parameters):
            return FORM_CONTENT_TYPE
        if not any(p.get("in") == "body" for p in operation.parameters):
            return None
        return _preferred(list(operation.consumes))
    if operation.request_body is None:
        return None
    return _preferred(list(operation.request_body.get("content") or {}))


def _preferred(media_types: list[str]) -> str:
    """Prefer a JSON media type, then a form, then text; JSON for anything else."""
    for media_type in media_types:
        if JSON_MARK in media_type.lower() and "*" not in media_type:
            return media_type
    if FORM_CONTENT_TYPE in media_types:
        return FORM_CONTENT_TYPE
    for media_type in media_types:
        if media_type.lower().startswith("text/") and "*" not in media_type:
            return media_type
    return function_http.JSON_CONTENT_TYPE
