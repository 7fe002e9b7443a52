"""Calling workflow functions: `invoke` makes one call and returns its result.

Supported (SW 0.8 `functions[].type` and SonataFlow custom operations):

- `rest`: OpenAPI 3 or Swagger 2, `operation: <file>#<operationId>`
  (`knflow.outbound.openapi`).
- `custom` `rest:<method>:<path or URI>` (`knflow.outbound.rest_custom`).
- `custom` `knative:[services.v1.serving.knative.dev/[<namespace>/]]<service>?path=...`
  (`knflow.outbound.knative`).
- `custom` `sysout[:LEVEL]` (`knflow.outbound.sysout`).

Every other type (`rpc`, `graphql`, `odata`) and custom prefix (`service:java:`,
`script:python`, `camel:`, `dmn`...) fails with a permanent `ActionError` of kind
`java.lang.UnsupportedOperationException`. `expression` functions never get here, nor
`asyncapi` functions whose operation their document defines: the engine evaluates the
former and publishes or awaits CloudEvents for the latter.

Base URLs come from `Settings.function_urls` (environment `KNFLOW_FUNCTION_URL_<key>`),
looked up by the key as written and in its environment form (upper case, other
characters than letters and digits replaced by `_`):

- OpenAPI: the function name, then the document's file stem (`specs/multiplication.yaml`
  gives `multiplication`), else the document's server (`servers[0].url` with variable
  defaults; Swagger `schemes`, `host`, `basePath`). A configured URL replaces the
  document's server URL entirely, base path included.
- `rest:` with a path: the function name (required). A full URI is used as is.
- `knative:`: the service name, then the function name, else
  `Settings.knative_url_pattern` with `{service}` and `{namespace}`.

Every HTTP call carries `FunctionCall.forward_headers` and times out after
`FunctionCall.timeout` (else `Settings.action_timeout`), per connect, read and write.

Failures raise `ActionError` whose `kind` a workflow's `errors[].code` can name
(`function_errors.kind_names` lists the Java superclasses a kind also matches):

| kind | when | retryable |
| --- | --- | --- |
| `HTTP:<status>` | the answer was 3xx (not followed) or worse | 408, 429, 5xx |
| `java.net.ConnectException` | connection refused or unreachable | yes |
| `java.net.UnknownHostException` | the host name does not resolve | yes |
| `java.net.SocketTimeoutException` | connect, send or read timed out | yes |
| `java.io.IOException` | the connection broke otherwise | yes |
| `java.lang.IllegalArgumentException` | the call cannot be built as written | no |
| `java.lang.UnsupportedOperationException` | the type is not supported | no |
"""

from __future__ import annotations

from knflow.config import Settings
from knflow.outbound import (
    function_errors,
    function_http,
    knative,
    openapi,
    rest_custom,
    sysout,
)
from knflow.outbound.function_call import FunctionCall
from knflow.outbound.http import HttpClient
from knflow.workflow.model import Json


def invoke(client: HttpClient, settings: Settings, call: FunctionCall) -> Json:
    """Call the function and return its decoded result.

    The result is the answer's JSON value, its text when it is not JSON, and `{}` for an
    empty answer or a `sysout` call. Not idempotent: the caller checkpoints around it.

    Raises:
        ActionError: the call failed or cannot be made; see the module docstring.
    """
    function_type = (call.function_type or "rest").strip().lower()
    if function_type == "rest":
        request = openapi.build_request(settings, call)
        return function_http.decode(_send(client, call, request, settings=settings))
    if function_type == "custom":
        return _invoke_custom(client, settings, call)
    raise function_errors.unsupported_call(
        call.function_name,
        f"type '{call.function_type}' is not supported by knflow "
        "(supported: rest (OpenAPI), asyncapi, expression, custom rest:, knative:, "
        "sysout)",
    )


def custom_prefix(operation: str) -> str:
    """Return the custom operation's prefix in lower case (`rest`, `knative`, ...)."""
    return operation.split(":", 1)[0].strip().lower()


def _invoke_custom(client: HttpClient, settings: Settings, call: FunctionCall) -> Json:
    prefix = custom_prefix(call.operation)
    if prefix == "sysout":
        return sysout.log_message(call)
    if prefix == "rest":
        request = rest_custom.build_request(settings, call)
        return function_http.decode(_send(client, call, request, settings=settings))
    if prefix == "knative":
        request = knative.build_request(settings, call)
        return knative.read_result(_send(client, call, request, settings=settings))
    raise function_errors.unsupported_call(
        call.function_name,
        f"custom operation '{call.operation}' is not supported by knflow "
        "(supported: rest:, knative:, sysout)",
    )


def _send(
    client: HttpClient,
    call: FunctionCall,
    request: function_http.FunctionRequest,
    *,
    settings: Settings,
) -> function_http.Answer:
    return function_http.send(
        client,
        request,
        function_name=call.function_name,
        timeout=call.timeout or settings.action_timeout,
        forward_headers=call.forward_headers,
    )
