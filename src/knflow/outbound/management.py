"""Calls the Data Index mutations make: the runtime's management API and the jobs API.

Paths are those the Kogito Data Index calls (KogitoRuntimeClientImpl), with the
caller's credentials when it sent any. Each call returns the answer body as text (the GraphQL mutations return a String); a refusal
becomes an `ActionError`, an unreachable peer an `UnavailableError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import quote

import httpx

from knflow.errors import ActionError, UnavailableError
from knflow.outbound.http import HttpClient

_MAX_REASON_CHARS: Final = 300
NO_CREDENTIALS: Final[Mapping[str, str]] = {}
"""The caller's `Authorization`/`X-Authorization-Backstage` headers, passed on when the
Data Index's own caller sent them (the runtime then authorizes that caller)."""


def abort_instance(
    http: HttpClient,
    runtime_url: str,
    process_id: str,
    instance_id: str,
    *,
    credentials: Mapping[str, str] = NO_CREDENTIALS,
) -> str:
    """Abort an instance: `DELETE /management/processes/{pid}/instances/{iid}`."""
    return _call(
        http,
        "DELETE",
        runtime_url,
        _instance(process_id, instance_id),
        credentials=credentials,
    )


def retrigger_instance(
    http: HttpClient,
    runtime_url: str,
    process_id: str,
    instance_id: str,
    *,
    credentials: Mapping[str, str] = NO_CREDENTIALS,
) -> str:
    """Re-run the failed state of an instance in ERROR (`POST .../retrigger`)."""
    path = _instance(process_id, instance_id) + "/retrigger"
    return _call(http, "POST", runtime_url, path, credentials=credentials)


def rerun_instance(
    http: HttpClient,
    runtime_url: str,
    process_id: str,
    instance_id: str,
    *,
    credentials: Mapping[str, str] = NO_CREDENTIALS,
) -> str:
    """Start an ended instance anew from its input (`POST .../rerun`, knflow's own)."""
    path = _instance(process_id, instance_id) + "/rerun"
    return _call(http, "POST", runtime_url, path, credentials=credentials)


def retrigger_failed(
    http: HttpClient,
    runtime_url: str,
    process_id: str,
    *,
    body: str,
    credentials: Mapping[str, str] = NO_CREDENTIALS,
) -> str:
    """Retrigger a workflow's failed instances (`POST /management/processes/{pid}/instances/retrigger`).

    `body` is the JSON text `{failedAfter?, failedBefore?, limit?}`; knflow's own route.
    """
    path = f"/management/processes/{_part(process_id)}/instances/retrigger"
    return _call(http, "POST", runtime_url, path, body=body, credentials=credentials)


def skip_instance(
    http: HttpClient,
    runtime_url: str,
    process_id: str,
    instance_id: str,
    *,
    credentials: Mapping[str, str] = NO_CREDENTIALS,
) -> str:
    """Skip the failed state of an instance (`POST .../skip`)."""
    path = _instance(process_id, instance_id) + "/skip"
    return _call(http, "POST", runtime_url, path, credentials=credentials)


def update_variables(
    http: HttpClient,
    runtime_url: str,
    process_id: str,
    instance_id: str,
    *,
    variables: str,
    credentials: Mapping[str, str] = NO_CREDENTIALS,
) -> str:
    """Replace an instance's data: `PUT /{pid}/{iid}` with the JSON text `variables`."""
    path = f"/{_part(process_id)}/{_part(instance_id)}"
    return _call(
        http, "PUT", runtime_url, path, body=variables, credentials=credentials
    )


def trigger_node(
    http: HttpClient,
    runtime_url: str,
    process_id: str,
    instance_id: str,
    *,
    node_id: str,
    credentials: Mapping[str, str] = NO_CREDENTIALS,
) -> str:
    """Run a node of an instance: `POST .../instances/{iid}/nodes/{nodeId}`."""
    path = _instance(process_id, instance_id) + f"/nodes/{_part(node_id)}"
    return _call(http, "POST", runtime_url, path, credentials=credentials)


def retrigger_node(
    http: HttpClient,
    runtime_url: str,
    process_id: str,
    instance_id: str,
    *,
    node_instance_id: str,
    credentials: Mapping[str, str] = NO_CREDENTIALS,
) -> str:
    """Run a node instance again: `POST .../nodeInstances/{niid}`."""
    path = (
        _instance(process_id, instance_id) + f"/nodeInstances/{_part(node_instance_id)}"
    )
    return _call(http, "POST", runtime_url, path, credentials=credentials)


def cancel_node(
    http: HttpClient,
    runtime_url: str,
    process_id: str,
    instance_id: str,
    *,
    node_instance_id: str,
    credentials: Mapping[str, str] = NO_CREDENTIALS,
) -> str:
    """Cancel a node instance: `DELETE .../nodeInstances/{niid}`."""
    path = (
        _instance(process_id, instance_id) + f"/nodeInstances/{_part(node_instance_id)}"
    )
    return _call(http, "DELETE", runtime_url, path, credentials=credentials)


def cancel_job(
    http: HttpClient,
    jobs_url: str,
    job_id: str,
    *,
    credentials: Mapping[str, str] = NO_CREDENTIALS,
) -> str:
    """Cancel a job: `DELETE /v2/jobs/{id}`."""
    return _call(
        http, "DELETE", jobs_url, f"/v2/jobs/{_part(job_id)}", credentials=credentials
    )


def reschedule_job(
    http: HttpClient,
    jobs_url: str,
    job_id: str,
    *,
    data: str,
    credentials: Mapping[str, str] = NO_CREDENTIALS,
) -> str:
    """Reschedule a job: `PATCH /jobs/{id}` with the JSON text `data` (v2 has no PATCH)."""
    return _call(
        http,
        "PATCH",
        jobs_url,
        f"/jobs/{_part(job_id)}",
        body=data,
        credentials=credentials,
    )


def _instance(process_id: str, instance_id: str) -> str:
    return f"/management/processes/{_part(process_id)}/instances/{_part(instance_id)}"


def _part(value: str) -> str:
    return quote(value, safe="")


def _call(
    http: HttpClient,
    method: str,
    base_url: str,
    path: str,
    *,
    body: str | None = None,
    credentials: Mapping[str, str],
) -> str:
    url = base_url.rstrip("/") + path
    headers = {
        **credentials,
        "content-type": "application/json",
        "accept": "application/json",
    }
    try:
        answer = http.request(method, url, content=body, headers=headers)
    except httpx.TimeoutException as error:
        raise UnavailableError(f"{method} {url} timed out") from error
    except httpx.HTTPError as error:
        raise UnavailableError(f"{method} {url} failed: {error}") from error
    if answer.is_success:
        return answer.text
    reason = answer.text[:_MAX_REASON_CHARS]
    raise ActionError(
        f"{method} {url} answered {answer.status_code}: {reason}",
        status=answer.status_code,
        retryable=answer.status_code >= 500,
    )
