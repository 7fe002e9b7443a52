"""The Knative admission-webhook rules that the CRD schemas leave out, checked offline.

Re-implements what knative/eventing's validation webhooks refuse: Trigger brokers and
filter dialects, delivery values, destinations (ref or URI), PingSource schedules and
data, ApiServerSource and SinkBinding subjects, KafkaSource topics and offsets, with the
default feature flags (`delivery-timeout` enabled; `delivery-retryafter`,
cross-namespace references and new ApiServerSource filters disabled). Pure.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Final
from urllib.parse import urlsplit

import isodate
from croniter import croniter

from knflow.errors import Problem

ATTRIBUTE_NAME: Final = re.compile(r"^[a-z][a-z0-9]*$")
FILTER_DIALECTS: Final = ("exact", "prefix", "suffix", "all", "any", "not", "cesql")
BACKOFF_POLICIES: Final = ("linear", "exponential")
DELIVERY_FORMATS: Final = ("json", "binary")
INJECTION_ANNOTATION: Final = "eventing.knative.dev/injection"
BROKER_CLASS_ANNOTATION: Final = "eventing.knative.dev/broker.class"
APISERVER_MODES: Final = ("Reference", "Resource")
SELECTOR_OPERATORS: Final = ("In", "NotIn", "Exists", "DoesNotExist")
KAFKA_OFFSETS: Final = ("earliest", "latest")
KAFKA_ORDERINGS: Final = ("ordered", "unordered")
# robfig/cron descriptors accepted by PingSource besides five- or six-field expressions.
CRON_DESCRIPTORS: Final = (
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
)
_EVERY: Final = re.compile(r"^@every (\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")

Rule = Callable[[Mapping[str, Any]], list[Problem]]


def find_admission_problems(obj: Mapping[str, Any]) -> list[Problem]:
    """Return every problem the Knative webhooks would refuse the object for."""
    rule = _RULES.get(str(obj.get("kind", "")))
    if rule is None or not isinstance(obj.get("spec", {}), Mapping):
        return []
    return rule(obj)


def delivery_problems(delivery: Any, pointer: str) -> list[Problem]:
    """Check a delivery spec (Trigger, Broker, Subscription, Channel)."""
    if not isinstance(delivery, Mapping):
        return [Problem(pointer, "a delivery spec is a mapping")]
    problems = []
    retry = delivery.get("retry")
    if retry is not None and (not isinstance(retry, int) or retry < 0):
        problems.append(Problem(f"{pointer}/retry", "must be an integer >= 0"))
    policy = delivery.get("backoffPolicy")
    if policy is not None and policy not in BACKOFF_POLICIES:
        problems.append(
            Problem(f"{pointer}/backoffPolicy", "must be linear or exponential")
        )
    problems += _duration_problems(
        delivery.get("backoffDelay"), f"{pointer}/backoffDelay"
    )
    problems += _duration_problems(
        delivery.get("timeout"), f"{pointer}/timeout", positive=True
    )
    if "retryAfterMax" in delivery:
        problems.append(
            Problem(
                f"{pointer}/retryAfterMax",
                "needs the delivery-retryafter feature, which is disabled by default",
            )
        )
    if (
        delivery.get("format") is not None
        and delivery["format"] not in DELIVERY_FORMATS
    ):
        problems.append(Problem(f"{pointer}/format", "must be json or binary"))
    if "deadLetterSink" in delivery:
        problems += destination_problems(
            delivery["deadLetterSink"], f"{pointer}/deadLetterSink"
        )
    return problems


def destination_problems(destination: Any, pointer: str) -> list[Problem]:
    """Check a Destination: a ref, an absolute URI, or a ref plus a relative URI."""
    if not isinstance(destination, Mapping):
        return [Problem(pointer, "a destination is a mapping with a ref or a uri")]
    ref, uri = destination.get("ref"), destination.get("uri")
    if ref is None and not uri:
        return [Problem(pointer, "a destination needs a ref or a uri")]
    problems = [] if ref is None else reference_problems(ref, f"{pointer}/ref")
    if uri:
        parts = urlsplit(str(uri))
        absolute = bool(parts.scheme and parts.netloc)
        if ref is None and not absolute:
            problems.append(
                Problem(f"{pointer}/uri", "without a ref the uri must be absolute")
            )
        if ref is not None and (parts.scheme or parts.netloc):
            problems.append(
                Problem(f"{pointer}/uri", "with a ref the uri must be a relative path")
            )
    return problems


def reference_problems(ref: Any, pointer: str) -> list[Problem]:
    """Check a KReference: apiVersion, kind and name, no cross-namespace reference."""
    if not isinstance(ref, Mapping):
        return [Problem(pointer, "a reference is a mapping")]
    problems = [
        Problem(f"{pointer}/{field}", "required field is missing")
        for field in ("apiVersion", "kind", "name")
        if not ref.get(field)
    ]
    if ref.get("namespace"):
        problems.append(
            Problem(
                f"{pointer}/namespace",
                "cross-namespace references need the cross-namespace-event-links"
                " feature, which is disabled by default",
            )
        )
    return problems


def filter_problems(entry: Any, pointer: str) -> list[Problem]:
    """Check one element of a Trigger's `filters` (one dialect, names and values)."""
    if not isinstance(entry, Mapping):
        return [Problem(pointer, "a filter is a mapping with one dialect")]
    dialects = [key for key in entry if key in FILTER_DIALECTS]
    unknown = [key for key in entry if key not in FILTER_DIALECTS]
    problems = [
        Problem(f"{pointer}/{key}", "unknown filter dialect") for key in unknown
    ]
    if len(dialects) != 1:
        found = ", ".join(dialects) or "none"
        return [
            *problems,
            Problem(pointer, f"a filter uses exactly one dialect, found {found}"),
        ]
    dialect = dialects[0]
    value, where = entry[dialect], f"{pointer}/{dialect}"
    if dialect in ("exact", "prefix", "suffix"):
        return problems + _string_filter_problems(value, where)
    if dialect in ("all", "any"):
        if not isinstance(value, list) or not value:
            return [*problems, Problem(where, "needs a list of at least one filter")]
        return problems + [
            p for i, f in enumerate(value) for p in filter_problems(f, f"{where}/{i}")
        ]
    if dialect == "not":
        return problems + filter_problems(value, where)
    return problems + _cesql_problems(value, where)


def _trigger_problems(obj: Mapping[str, Any]) -> list[Problem]:
    spec = obj.get("spec") or {}
    problems = []
    if bool(spec.get("broker")) == bool(spec.get("brokerRef")):
        problems.append(Problem("/spec", "set exactly one of broker and brokerRef"))
    if spec.get("brokerRef"):
        problems += reference_problems(spec["brokerRef"], "/spec/brokerRef")
    attributes = (spec.get("filter") or {}).get("attributes") or {}
    problems += [
        Problem(
            f"/spec/filter/attributes/{name}", "attribute names match ^[a-z][a-z0-9]*$"
        )
        for name in attributes
        if not ATTRIBUTE_NAME.match(str(name))
    ]
    filters = spec.get("filters") or []
    problems += [
        p
        for i, f in enumerate(filters)
        for p in filter_problems(f, f"/spec/filters/{i}")
    ]
    if "subscriber" not in spec:
        problems.append(Problem("/spec/subscriber", "required field is missing"))
    else:
        problems += destination_problems(spec["subscriber"], "/spec/subscriber")
    if "delivery" in spec:
        problems += delivery_problems(spec["delivery"], "/spec/delivery")
    return problems + _injection_problems(obj, str(spec.get("broker", "")))


def _broker_problems(obj: Mapping[str, Any]) -> list[Problem]:
    spec = obj.get("spec") or {}
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    problems = []
    if (
        BROKER_CLASS_ANNOTATION in annotations
        and not annotations[BROKER_CLASS_ANNOTATION]
    ):
        problems.append(
            Problem(
                f"/metadata/annotations/{BROKER_CLASS_ANNOTATION.replace('/', '~1')}",
                "the broker class must not be empty",
            )
        )
    if "config" in spec:
        config = {
            key: value for key, value in spec["config"].items() if key != "namespace"
        }
        problems += reference_problems(config, "/spec/config")
    if "delivery" in spec:
        problems += delivery_problems(spec["delivery"], "/spec/delivery")
    return problems


def _ping_source_problems(obj: Mapping[str, Any]) -> list[Problem]:
    spec = obj.get("spec") or {}
    problems = _schedule_problems(str(spec.get("schedule", "* * * * *")))
    zone = spec.get("timezone")
    if zone is not None and not _is_zone(str(zone)):
        problems.append(Problem("/spec/timezone", f"'{zone}' is not an IANA time zone"))
    if "data" in spec and "dataBase64" in spec:
        problems.append(Problem("/spec", "data and dataBase64 are mutually exclusive"))
    if spec.get("contentType") == "application/json" and "data" in spec:
        try:
            json.loads(str(spec["data"]))
        except ValueError:
            problems.append(
                Problem(
                    "/spec/data", "contentType is application/json but data is not JSON"
                )
            )
    return problems + _sink_problems(spec)


def _api_server_source_problems(obj: Mapping[str, Any]) -> list[Problem]:
    spec = obj.get("spec") or {}
    problems = []
    mode = spec.get("mode", "Reference")
    if mode not in APISERVER_MODES:
        problems.append(Problem("/spec/mode", "must be Reference or Resource"))
    resources = spec.get("resources") or []
    if not resources:
        problems.append(Problem("/spec/resources", "watch at least one resource"))
    for index, resource in enumerate(resources):
        where = f"/spec/resources/{index}"
        problems += [
            Problem(f"{where}/{field}", "required field is missing")
            for field in ("apiVersion", "kind")
            if not resource.get(field)
        ]
        problems += _selector_problems(resource.get("selector"), f"{where}/selector")
    if "filters" in spec:
        problems.append(
            Problem(
                "/spec/filters",
                "needs the new-apiserversource-filters feature, disabled by default",
            )
        )
    return problems + _sink_problems(spec)


def _sink_binding_problems(obj: Mapping[str, Any]) -> list[Problem]:
    spec = obj.get("spec") or {}
    subject = spec.get("subject")
    if not isinstance(subject, Mapping):
        return [
            Problem("/spec/subject", "required field is missing"),
            *_sink_problems(spec),
        ]
    problems = [
        Problem(f"/spec/subject/{field}", "required field is missing")
        for field in ("apiVersion", "kind")
        if not subject.get(field)
    ]
    if bool(subject.get("name")) == ("selector" in subject):
        problems.append(
            Problem("/spec/subject", "set exactly one of name and selector")
        )
    problems += _selector_problems(subject.get("selector"), "/spec/subject/selector")
    return problems + _sink_problems(spec)


def _kafka_source_problems(obj: Mapping[str, Any]) -> list[Problem]:
    # eventing-kafka-broker's KafkaSource webhook: topics and servers named, an offset and
    # an ordering from their closed sets (an unset offset defaults to `latest`).
    spec = obj.get("spec") or {}
    problems = [
        Problem(f"/spec/{field}", "name at least one")
        for field in ("topics", "bootstrapServers")
        if not spec.get(field)
    ]
    if spec.get("initialOffset", KAFKA_OFFSETS[1]) not in KAFKA_OFFSETS:
        problems.append(Problem("/spec/initialOffset", "must be earliest or latest"))
    if spec.get("ordering", KAFKA_ORDERINGS[0]) not in KAFKA_ORDERINGS:
        problems.append(Problem("/spec/ordering", "must be ordered or unordered"))
    return problems + _sink_problems(spec)


def _sink_problems(spec: Mapping[str, Any]) -> list[Problem]:
    if "sink" not in spec:
        return [Problem("/spec/sink", "required field is missing")]
    return destination_problems(spec["sink"], "/spec/sink")


def _selector_problems(selector: Any, pointer: str) -> list[Problem]:
    if selector is None:
        return []
    problems = []
    for index, expression in enumerate(selector.get("matchExpressions") or []):
        operator = expression.get("operator")
        where = f"{pointer}/matchExpressions/{index}"
        if operator not in SELECTOR_OPERATORS:
            problems.append(
                Problem(
                    f"{where}/operator", "must be In, NotIn, Exists or DoesNotExist"
                )
            )
        has_values = bool(expression.get("values"))
        if (operator in ("In", "NotIn")) != has_values:
            problems.append(
                Problem(f"{where}/values", "In and NotIn need values, the others none")
            )
    return problems


def _string_filter_problems(value: Any, pointer: str) -> list[Problem]:
    if not isinstance(value, Mapping) or not value:
        return [Problem(pointer, "needs at least one attribute")]
    problems = []
    for name, wanted in value.items():
        if not ATTRIBUTE_NAME.match(str(name)):
            problems.append(
                Problem(f"{pointer}/{name}", "attribute names match ^[a-z][a-z0-9]*$")
            )
        if not isinstance(wanted, str) or not wanted:
            problems.append(
                Problem(f"{pointer}/{name}", "the value must be a non-empty string")
            )
    return problems


def _cesql_problems(value: Any, pointer: str) -> list[Problem]:
    """Refuse empty or unbalanced CESQL text; the expression itself is not parsed."""
    if not isinstance(value, str) or not value.strip():
        return [Problem(pointer, "a cesql filter is a non-empty expression")]
    unquoted = re.sub(r"'([^']|'')*'|\"([^\"]|\"\")*\"", "", value)
    if "'" in unquoted or '"' in unquoted or unquoted.count("(") != unquoted.count(")"):
        return [
            Problem(
                pointer, "the cesql expression has unbalanced quotes or parentheses"
            )
        ]
    return []


def _injection_problems(obj: Mapping[str, Any], broker: str) -> list[Problem]:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if INJECTION_ANNOTATION not in annotations:
        return []
    pointer = f"/metadata/annotations/{INJECTION_ANNOTATION.replace('/', '~1')}"
    if annotations[INJECTION_ANNOTATION] not in ("enabled", "disabled"):
        return [Problem(pointer, "must be enabled or disabled")]
    if broker != "default":
        return [
            Problem(pointer, "only allowed on Triggers of the broker named default")
        ]
    return []


def _schedule_problems(schedule: str) -> list[Problem]:
    expression = schedule
    if expression.startswith(("CRON_TZ=", "TZ=")):
        zone, _, expression = expression.partition(" ")
        if not _is_zone(zone.partition("=")[2]):
            return [Problem("/spec/schedule", f"'{zone}' names no IANA time zone")]
    if expression in CRON_DESCRIPTORS or _EVERY.match(expression):
        return []
    fields = expression.split()
    if len(fields) in (5, 6) and croniter.is_valid(
        expression, second_at_beginning=len(fields) == 6
    ):
        return []
    return [Problem("/spec/schedule", f"'{schedule}' is not a cron schedule")]


def _duration_problems(
    value: Any, pointer: str, *, positive: bool = False
) -> list[Problem]:
    if value is None:
        return []
    try:
        parsed = isodate.parse_duration(str(value))
    except (isodate.ISO8601Error, ValueError):
        return [Problem(pointer, f"'{value}' is not an ISO-8601 duration")]
    if isinstance(parsed, timedelta) and (
        parsed < timedelta(0) or (positive and not parsed)
    ):
        return [
            Problem(
                pointer,
                f"'{value}' must be {'positive' if positive else 'non-negative'}",
            )
        ]
    return []


def _is_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


_RULES: Final[Mapping[str, Rule]] = {
    "Trigger": _trigger_problems,
    "Broker": _broker_problems,
    "PingSource": _ping_source_problems,
    "ApiServerSource": _api_server_source_problems,
    "SinkBinding": _sink_binding_problems,
    "KafkaSource": _kafka_source_problems,
}
