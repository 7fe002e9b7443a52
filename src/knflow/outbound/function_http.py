"""The HTTP side of workflow function calls: base URLs, sending, reading the answer.

Builders (`openapi`, `rest_custom`, `knative`) turn a call into a `FunctionRequest`;
this module sends it with the forwarded headers and the action timeout, maps transport
failures and error statuses to `ActionError`, and decodes the answer. It knows nothing
about function types.
"""

from __future__ import annotations

import codecs
import json
import logging
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import httpx

from knflow.config import FUNCTION_URL_ENV_PREFIX, Settings
from knflow.errors import ActionError
from knflow.outbound import function_errors
from knflow.outbound.http import HttpClient
from knflow.workflow.model import Json

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS: Final = 5.0
"""Upper bound of the connect phase; the action timeout applies when it is shorter."""
EXCERPT_CHARS: Final = 200
"""How much of an error answer's body goes into the error message."""
JSON_CONTENT_TYPE: Final = "application/json"

_NOT_NAME_CHARACTER: Final = re.compile(r"[^A-Za-z0-9]")


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionRequest:
    """An HTTP request of a function call, ready to send."""

    method: str
    """Upper-case HTTP method."""
    url: str
    """Absolute URL without its query string."""
    query: tuple[tuple[str, str], ...] = ()
    """Query parameters, in order; a name may repeat."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Headers of this call; they win over forwarded headers."""
    body: bytes | None = None
    """Encoded body, or None for no body."""
    content_type: str | None = None
    """Content type of `body`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """A 2xx answer of a called service."""

    status: int
    """HTTP status."""
    headers: Mapping[str, str]
    """Headers, names in lower case."""
    content: bytes
    """Raw body."""


def configured_url(settings: Settings, *names: str) -> str | None:
    """Return the base URL configured for the first of `names` that has one.

    Each name is looked up as written, then in its environment form (upper case, every
    character other than a letter or digit replaced by `_`), so that
    `KNFLOW_FUNCTION_URL_MY_SERVICE` configures `my-service`.
    """
    for name in names:
        for key in (name, env_name(name)):
            url = settings.function_urls.get(key)
            if url:
                return url
    return None


def env_name(name: str) -> str:
    """Return the environment-variable form of a function or service name."""
    return _NOT_NAME_CHARACTER.sub("_", name).upper()


def missing_url_reason(name: str) -> str:
    """Say how to configure the base URL of `name`, for an error message."""
    return f"no base URL is configured; set {FUNCTION_URL_ENV_PREFIX}{env_name(name)}"


def json_body(value: Json) -> bytes:
    """Encode a request body as compact UTF-8 JSON."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def to_text(value: Json) -> str:
    """Render an argument as a path, query or header value (JSON for structures)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def send(
    client: HttpClient,
    request: FunctionRequest,
    *,
    function_name: str,
    timeout: timedelta,
    forward_headers: Mapping[str, str],
) -> Answer:
    """Send `request` and return its 2xx answer.

    Raises:
        ActionError: the service answered 3xx or worse, or could not be reached in time;
            `kind` and `retryable` follow the module docstring of `outbound.functions`.
    """
    headers = httpx.Headers(forward_headers)
    headers.update(request.headers)
    if request.content_type:
        headers["content-type"] = request.content_type
    started = time.monotonic()
    try:
        response = client.request(
            request.method,
            request.url,
            params=list(request.query) or None,
            headers=headers,
            content=request.body,
            timeout=_timeout(timeout),
        )
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        raise _transport_error(
            error, request, function_name=function_name, timeout=timeout
        ) from error
    logger.debug(
        "function answered",
        extra={
            "function": function_name,
            "status": response.status_code,
            "elapsed_ms": round((time.monotonic() - started) * 1000),
        },
    )
    if response.status_code >= 300:
        raise _status_error(response, request, function_name)
    return Answer(
        status=response.status_code,
        headers={name.lower(): value for name, value in response.headers.items()},
        content=response.content,
    )


def decode(answer: Answer) -> Json:
    """Return the answer's JSON value, its text when it is not JSON, `{}` when empty."""
    if not answer.content.strip():
        return {}
    content_type = answer.headers.get("content-type", "").lower()
    text = answer.content.decode(_charset(content_type), errors="replace")
    if content_type and "json" not in content_type:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _timeout(timeout: timedelta) -> httpx.Timeout:
    seconds = timeout.total_seconds()
    return httpx.Timeout(seconds, connect=min(CONNECT_TIMEOUT_SECONDS, seconds))


def _transport_error(
    error: Exception,
    request: FunctionRequest,
    *,
    function_name: str,
    timeout: timedelta,
) -> ActionError:
    """Map an httpx failure to an `ActionError` named like SonataFlow's exception."""
    where = f"function '{function_name}': {request.method} {_shown(request.url)}"
    if isinstance(error, httpx.TimeoutException):
        seconds = f"{timeout.total_seconds():g}"
        return ActionError(
            f"{where} timed out after {seconds} s ({type(error).__name__})",
            kind=function_errors.TIMEOUT,
            retryable=True,
        )
    if isinstance(error, httpx.ConnectError):
        unknown_host = _is_unknown_host(error)
        return ActionError(
            f"{where} could not connect: {error}",
            kind=function_errors.UNKNOWN_HOST
            if unknown_host
            else function_errors.CONNECT,
            retryable=True,
        )
    if isinstance(error, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return function_errors.invalid_call(
            function_name, f"'{request.url}' is not a valid URL: {error}"
        )
    return ActionError(
        f"{where} failed: {error}", kind=function_errors.IO, retryable=True
    )


def _is_unknown_host(error: BaseException) -> bool:
    """Tell a DNS failure (somewhere down the cause chain) from a refused connection."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _status_error(
    response: httpx.Response, request: FunctionRequest, function_name: str
) -> ActionError:
    status = response.status_code
    excerpt = " ".join(response.text.split())[:EXCERPT_CHARS]
    detail = f": {excerpt}" if excerpt else ""
    if 300 <= status < 400:
        detail = " (redirects are not followed)"
    return ActionError(
        f"function '{function_name}': {request.method} {_shown(request.url)} "
        f"answered {status}{detail}",
        status=status,
        kind=f"{function_errors.HTTP_KIND_PREFIX}{status}",
        retryable=status in (408, 429) or status >= 500,
    )


def _shown(url: str) -> str:
    """Return the URL without user information, for messages that get stored."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def _charset(content_type: str) -> str:
    match = re.search(r"charset=\"?([\w.:-]+)", content_type)
    if match is None:
        return "utf-8"
    try:
        return codecs.lookup(match.group(1)).name
    except LookupError:
        return "utf-8"
