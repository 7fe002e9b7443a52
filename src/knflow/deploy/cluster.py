"""Apply a plan to a Kubernetes cluster through the `kubernetes` client.

Knows the kinds `knflow deploy` manages: ConfigMaps (core API), Knative Triggers and
KafkaSources (custom objects). Lists what knflow generated before (label
`knflow.dev/generated: "true"`), creates, replaces (carrying the server's resourceVersion)
and deletes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

import kubernetes.client
import kubernetes.config
import urllib3
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from knflow.deploy.objects import GENERATED_LABEL
from knflow.deploy.plan import Plan, describe
from knflow.errors import ConflictError, InputError, KnflowError, UnavailableError

logger = logging.getLogger(__name__)

GENERATED_SELECTOR: Final = f"{GENERATED_LABEL}=true"
CUSTOM_KINDS: Final = {
    "Trigger": ("eventing.knative.dev", "v1", "triggers"),
    "KafkaSource": ("sources.knative.dev", "v1beta1", "kafkasources"),
}
"""Group, version and plural of each custom kind deployed."""
OPTIONAL_KINDS: Final = frozenset({"KafkaSource"})
"""Kinds whose CRD may be missing (no Kafka installed): none of them exist then."""
_REQUEST_TIMEOUT: Final = 30


def connect(*, context: str | None = None) -> kubernetes.client.ApiClient:
    """Return an API client from the in-cluster service account or the kubeconfig.

    Raises:
        UnavailableError: neither is configured.
    """
    try:
        kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
        return kubernetes.client.ApiClient()
    except ConfigException:
        pass
    try:
        load = kubernetes.config.new_client_from_config
        client: kubernetes.client.ApiClient = load(context=context)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError) as error:
        raise UnavailableError(f"no Kubernetes configuration found: {error}") from error
    return client


class Cluster:
    """The objects of one namespace that knflow deploys."""

    def __init__(self, api_client: kubernetes.client.ApiClient, namespace: str) -> None:
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._custom = kubernetes.client.CustomObjectsApi(api_client)
        self._namespace = namespace

    def list_generated(self) -> list[dict[str, Any]]:
        """Return the ConfigMaps, Triggers and KafkaSources knflow generated in the namespace.

        Raises:
            KnflowError: the API refused or could not be reached.
        """
        with _translated("list generated objects"):
            # Raw JSON (not the typed model), so objects compare with generated dicts.
            answer: Any = self._core.list_namespaced_config_map(
                self._namespace,
                label_selector=GENERATED_SELECTOR,
                _preload_content=False,
                _request_timeout=_REQUEST_TIMEOUT,
            )
            maps = json.loads(answer.data).get("items") or []
        return [
            *({"apiVersion": "v1", "kind": "ConfigMap", **item} for item in maps),
            *(item for kind in CUSTOM_KINDS for item in self._list_custom(kind)),
        ]

    def _list_custom(self, kind: str) -> list[dict[str, Any]]:
        group, version, plural = CUSTOM_KINDS[kind]
        with _translated(f"list generated {plural}"):
            try:
                listed: Any = self._custom.list_namespaced_custom_object(
                    group,
                    version,
                    self._namespace,
                    plural,
                    label_selector=GENERATED_SELECTOR,
                    _request_timeout=_REQUEST_TIMEOUT,
                )
            except ApiException as error:
                if error.status == 404 and kind in OPTIONAL_KINDS:
                    return []  # the CRD is not installed, so none exist
                raise
        api_version = f"{group}/{version}"
        return [
            {"apiVersion": api_version, "kind": kind, **item}
            for item in listed.get("items") or []
        ]

    def apply(self, plan: Plan, existing: list[dict[str, Any]]) -> None:
        """Create, replace and delete as the plan says; stops at the first refusal.

        Raises:
            KnflowError: the API refused a change or could not be reached.
        """
        versions = {describe(obj): _resource_version(obj) for obj in existing}
        for obj in plan.create:
            with _translated(f"create {describe(obj)}"):
                self._create(obj)
            logger.info("object created", extra={"object": describe(obj)})
        for obj in plan.update:
            body = _with_version(obj, versions.get(describe(obj), ""))
            with _translated(f"replace {describe(obj)}"):
                self._replace(body)
            logger.info("object replaced", extra={"object": describe(obj)})
        for obj in plan.delete:
            with _translated(f"delete {describe(obj)}"):
                self._delete(obj)
            logger.info("object deleted", extra={"object": describe(obj)})

    def _create(self, obj: dict[str, Any]) -> None:
        if obj["kind"] == "ConfigMap":
            self._core.create_namespaced_config_map(
                self._namespace, _config_map(obj), _request_timeout=_REQUEST_TIMEOUT
            )
            return
        group, version, plural = CUSTOM_KINDS[obj["kind"]]
        self._custom.create_namespaced_custom_object(
            group,
            version,
            self._namespace,
            plural,
            obj,
            _request_timeout=_REQUEST_TIMEOUT,
        )

    def _replace(self, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        if obj["kind"] == "ConfigMap":
            self._core.replace_namespaced_config_map(
                name,
                self._namespace,
                _config_map(obj),
                _request_timeout=_REQUEST_TIMEOUT,
            )
            return
        group, version, plural = CUSTOM_KINDS[obj["kind"]]
        self._custom.replace_namespaced_custom_object(
            group,
            version,
            self._namespace,
            plural,
            name,
            obj,
            _request_timeout=_REQUEST_TIMEOUT,
        )

    def _delete(self, obj: Mapping[str, Any]) -> None:
        name = obj["metadata"]["name"]
        if obj["kind"] == "ConfigMap":
            self._core.delete_namespaced_config_map(
                name, self._namespace, _request_timeout=_REQUEST_TIMEOUT
            )
            return
        group, version, plural = CUSTOM_KINDS[obj["kind"]]
        self._custom.delete_namespaced_custom_object(
            group,
            version,
            self._namespace,
            plural,
            name,
            _request_timeout=_REQUEST_TIMEOUT,
        )


@contextmanager
def _translated(operation: str) -> Iterator[None]:
    """Turn the client's exceptions into knflow errors naming the operation."""
    try:
        yield
    except ApiException as error:
        raise _api_error(operation, error) from error
    except (OSError, urllib3.exceptions.HTTPError) as error:
        raise UnavailableError(f"cannot {operation}: {error}") from error


def _api_error(operation: str, error: ApiException) -> KnflowError:
    reason = _reason(error)
    message = f"kubernetes refused to {operation}: {error.status} {reason}"
    if error.status == 409:
        return ConflictError(message)
    if error.status is not None and 400 <= error.status < 500:
        return InputError(message)
    return UnavailableError(message)


def _reason(error: ApiException) -> str:
    try:
        return str(json.loads(error.body or "{}").get("message") or error.reason)
    except ValueError:
        return str(error.reason)


def _config_map(obj: Mapping[str, Any]) -> kubernetes.client.V1ConfigMap:
    return kubernetes.client.V1ConfigMap.model_validate(dict(obj))


def _resource_version(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _with_version(obj: Mapping[str, Any], version: str) -> dict[str, Any]:
    metadata = dict(obj["metadata"])
    if version:
        metadata["resourceVersion"] = version
    return {**obj, "metadata": metadata}
