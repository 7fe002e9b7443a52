"""Strict offline schema checks of Kubernetes objects (`kubectl --validate=strict`).

Knative kinds are checked against the `openAPIV3Schema` of their CRDs (given as
documents: the cluster's own or reference copies), made strict: an object node that
declares properties refuses any other field, also under
`x-kubernetes-preserve-unknown-fields` (the Knative webhooks decode with unknown fields
disallowed). Built-in kinds are checked with the `kubernetes` client's models, which
refuse unknown fields. The admission rules the schemas leave out are in `admission`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

import jsonschema
import kubernetes.client

from knflow.errors import Problem

SchemaKey = tuple[str, str]
"""(apiVersion, kind)."""

BUILTIN_GROUPS: Final = frozenset(
    {"", "apps", "batch", "rbac.authorization.k8s.io", "policy", "networking.k8s.io"}
)
# Fields of the Go DeliverySpec (knative.dev/eventing pkg/apis/duck/v1) that some
# CRD schemas leave out although the webhook accepts them (`timeout`: feature on).
DELIVERY_FIELDS: Final = {
    "timeout": {"type": "string"},
    "retryAfterMax": {"type": "string"},
    "format": {"type": "string"},
}
KUSTOMIZATION_KEY: Final = ("kustomize.config.k8s.io/v1beta1", "Kustomization")
_STRINGS: Final = {"type": "object", "additionalProperties": {"type": "string"}}
_TARGET: Final = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        key: {"type": "string"}
        for key in (
            "group",
            "version",
            "kind",
            "name",
            "namespace",
            "labelSelector",
            "annotationSelector",
        )
    },
}
# The part of kustomize's Kustomization that knflow uses; anything else is refused.
KUSTOMIZATION_SCHEMA: Final = {
    "type": "object",
    "required": ["apiVersion", "kind"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": KUSTOMIZATION_KEY[0]},
        "kind": {"const": KUSTOMIZATION_KEY[1]},
        "metadata": {"type": "object"},
        "namespace": {"type": "string"},
        "resources": {"type": "array", "items": {"type": "string"}},
        "commonAnnotations": _STRINGS,
        "labels": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "pairs": _STRINGS,
                    "includeSelectors": {"type": "boolean"},
                    "includeTemplates": {"type": "boolean"},
                },
            },
        },
        "patches": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "path": {"type": "string"},
                    "patch": {"type": "string"},
                    "target": _TARGET,
                },
            },
        },
    },
}
_DNS_SUBDOMAIN: Final = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_LABEL_NAME: Final = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE: Final = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def crd_schemas(
    documents: Iterable[Mapping[str, Any]],
) -> dict[SchemaKey, dict[str, Any]]:
    """Return the strict JSON schema of each served version of the given CRDs."""
    schemas: dict[SchemaKey, dict[str, Any]] = {}
    for document in documents:
        if document.get("kind") != "CustomResourceDefinition":
            continue
        spec = document["spec"]
        kind = spec["names"]["kind"]
        for version in spec.get("versions", []):
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if version.get("served") and schema:
                api_version = f"{spec['group']}/{version['name']}"
                schemas[(api_version, kind)] = _object_schema(api_version, kind, schema)
    return schemas


def find_schema_problems(
    obj: Mapping[str, Any], schemas: Mapping[SchemaKey, Mapping[str, Any]]
) -> list[Problem]:
    """Return every schema problem of one object, with JSON pointers into it."""
    key = (str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    if key == KUSTOMIZATION_KEY:
        return _json_schema_problems(obj, KUSTOMIZATION_SCHEMA)
    problems = _metadata_problems(obj.get("metadata"))
    if key in schemas:
        body = {name: value for name, value in obj.items() if name != "metadata"}
        return problems + _json_schema_problems(body, schemas[key])
    model = _builtin_model(*key)
    if model is None:
        return [Problem("", f"no schema is known for kind '{key[1]}' of '{key[0]}'")]
    return problems + _model_problems(obj, model)


def _object_schema(
    api_version: str, kind: str, schema: Mapping[str, Any]
) -> dict[str, Any]:
    strict = _strict(schema, name="")
    strict.setdefault("properties", {})
    strict["properties"]["apiVersion"] = {"const": api_version}
    strict["properties"]["kind"] = {"const": kind}
    strict["required"] = sorted({*strict.get("required", []), "apiVersion", "kind"})
    strict["additionalProperties"] = False
    return strict


def _strict(schema: Mapping[str, Any], *, name: str) -> dict[str, Any]:
    """Translate one OpenAPI v3 structural schema node into strict JSON schema."""
    node: dict[str, Any] = {
        key: value
        for key, value in schema.items()
        if not key.startswith("x-kubernetes")
    }
    node.pop("nullable", None)
    if schema.get("x-kubernetes-int-or-string"):
        node.pop("type", None)
        node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if "properties" in schema:
        properties = {k: _strict(v, name=k) for k, v in schema["properties"].items()}
        if name == "delivery":
            properties = {**DELIVERY_FIELDS, **properties}
        node["properties"] = properties
        node.setdefault("additionalProperties", False)
    if isinstance(schema.get("items"), Mapping):
        node["items"] = _strict(schema["items"], name="")
    if isinstance(schema.get("additionalProperties"), Mapping):
        node["additionalProperties"] = _strict(schema["additionalProperties"], name="")
    if schema.get("nullable") and "type" in node:
        node["type"] = [node["type"], "null"]
    return node


def _json_schema_problems(obj: Any, schema: Mapping[str, Any]) -> list[Problem]:
    validator = jsonschema.Draft7Validator(copy.deepcopy(dict(schema)))
    problems: list[Problem] = []
    for error in sorted(
        validator.iter_errors(obj), key=lambda e: list(map(str, e.path))
    ):
        pointer = _pointer(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(
            error.instance, Mapping
        ):
            known = set(error.schema.get("properties", {}))
            problems.extend(
                Problem(f"{pointer}/{extra}", "unknown field")
                for extra in sorted(set(error.instance) - known)
            )
            continue
        problems.append(Problem(pointer, _lower(error.message)))
    return problems


def _metadata_problems(metadata: Any) -> list[Problem]:
    if not isinstance(metadata, Mapping):
        return [Problem("/metadata", "every object needs metadata with a name")]
    problems = _model_problems(
        metadata, kubernetes.client.V1ObjectMeta, prefix="/metadata"
    )
    name = metadata.get("name")
    if not isinstance(name, str) or not _DNS_SUBDOMAIN.match(name) or len(name) > 253:
        problems.append(Problem("/metadata/name", f"'{name}' is not a DNS-1123 name"))
    for key, value in (metadata.get("labels") or {}).items():
        if not _is_qualified_name(str(key)):
            problems.append(Problem(f"/metadata/labels/{key}", "not a valid label key"))
        if isinstance(value, str) and (
            len(value) > 63 or not _LABEL_VALUE.match(value)
        ):
            problems.append(
                Problem(
                    f"/metadata/labels/{key}", f"'{value}' is not a valid label value"
                )
            )
    return problems


def _is_qualified_name(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return False
    return len(name) <= 63 and bool(_LABEL_NAME.match(name))


def _builtin_model(api_version: str, kind: str) -> type[Any] | None:
    group, _, version = api_version.rpartition("/")
    if group not in BUILTIN_GROUPS:
        return None
    model = getattr(kubernetes.client, f"{version.capitalize()}{kind}", None)
    return (
        model if isinstance(model, type) and hasattr(model, "model_validate") else None
    )


def _model_problems(obj: Any, model: Any, *, prefix: str = "") -> list[Problem]:
    try:
        model.model_validate(obj)
    except ValueError as error:
        details = error.errors() if hasattr(error, "errors") else []
        return [
            Problem(prefix + _pointer(detail["loc"]), _model_reason(detail))
            for detail in details
        ] or [Problem(prefix, _lower(str(error)))]
    return []


def _model_reason(detail: Mapping[str, Any]) -> str:
    if detail["type"] == "extra_forbidden":
        return "unknown field"
    if detail["type"] == "missing":
        return "required field is missing"
    return _lower(str(detail["msg"]))


def _pointer(path: Iterable[Any]) -> str:
    return "".join(
        f"/{str(part).replace('~', '~0').replace('/', '~1')}" for part in path
    )


def _lower(message: str) -> str:
    return message[:1].lower() + message[1:]
