"""The development broker: Knative Brokers, Triggers and PingSources on one machine.

It serves ingresses at `/<namespace>/<broker>`, fans accepted events out to matching
Triggers concurrently (binary mode, retries, back-off, timeout, dead-letter sink), feeds
CloudEvent replies back in with a hop limit, and emits PingSource ticks. It stands in for
the Kafka topics KafkaSources read, at `/kafka/<topic>` (`kafka_records`). Routing comes
only from `manifests.Routing` and a table of subscriber URLs.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import random
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from croniter import croniter

from knflow.auth.minting import DevIssuer
from knflow.config import DEFAULT_MAX_BODY_BYTES
from knflow.devstack import kafka_records
from knflow.devstack.faults import DeliveryFaults, Fate
from knflow.devstack.ingress_body import BodyError, read_body
from knflow.devstack.manifests import (
    PING_TYPE,
    Broker,
    Delivery,
    Destination,
    KafkaSource,
    PingSource,
    Routing,
    Trigger,
)
from knflow.errors import InputError
from knflow.events import codec
from knflow.events.codec import Event
from knflow.json_limits import JsonLimits

logger = logging.getLogger(__name__)

TTL_EXTENSION: Final = "knativebrokerttl"
ARRIVAL_EXTENSION: Final = "knativearrivaltime"
DEFAULT_TTL: Final = 255
# knative/eventing pkg/kncloudevents/retries.go: these 4xx answers are retried too.
RETRIED_STATUSES: Final = frozenset({404, 408, 409, 429})
ERROR_DATA_LIMIT: Final = 1024
DEFAULT_ATTEMPT_TIMEOUT: Final = timedelta(seconds=60)
# The PingSource adapter retries a tick 5 times with exponential back-off from 50 ms.
PING_DELIVERY: Final = Delivery(
    retry=5, backoff_policy="exponential", backoff_delay=timedelta(milliseconds=50)
)
KAFKA_PATH: Final = "kafka"
"""Topics are served at `/kafka/<topic>`."""
OIDC_PATH: Final = "/oidc"
"""Where the broker serves its stand-in service-account issuer (Eventing OIDC mode)."""


def broker_audience(namespace: str, name: str) -> str:
    """The OIDC audience of a broker's ingress, as Knative Eventing names it."""
    return f"eventing.knative.dev/broker/{namespace}/{name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """The result of one delivery attempt."""

    url: str
    """Where it was sent."""
    status: int | None
    """HTTP status; None when there was no answer (connection refused, timeout)."""
    body: bytes = b""
    """The answer's body."""
    reply: Event | None = None
    """The CloudEvent answered, when there was one."""

    @property
    def succeeded(self) -> bool:
        """Tell whether the subscriber took the event (2xx, empty or a CloudEvent)."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """Tell whether Knative would try again."""
        return (
            self.status is None or self.status >= 500 or self.status in RETRIED_STATUSES
        )


class DevBroker:
    """Broker ingresses, trigger fan-out and PingSource ticks, served on one port."""

    def __init__(
        self,
        routing: Routing,
        *,
        subscribers: Mapping[str, str],
        host: str = "127.0.0.1",
        port: int = 0,
        backoff_count_from: int = 0,
        workers: int = 64,
        oidc: bool = False,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        json_limits: JsonLimits | None = None,
        faults: DeliveryFaults | None = None,
    ) -> None:
        """Bind the port; `subscribers` maps a service or function name to a URL.

        With `oidc`, the broker plays Knative Eventing's OIDC mode: its ingress needs a token
        for its audience, and each delivery carries one for the destination's `audience`,
        both signed by `issuer`, served under `/oidc`. Ingress requests are read within
        `max_body_bytes` (413 beyond, as every function answers) and decoded within
        `json_limits`. `faults` drop, duplicate and reorder deliveries (`make chaos`).
        """
        self.max_body_bytes = max_body_bytes
        self._faults = faults
        self._draw = random.Random()
        self.json_limits = json_limits or JsonLimits()
        self._routing = routing
        self._subscribers = dict(subscribers)
        self._count_from = backoff_count_from
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer((host, port), _handler_class(self))
        self._server.daemon_threads = True
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="broker")
        self._connections = _KeptConnections()
        self._offsets: dict[str, int] = {}
        self._offsets_lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._serve, daemon=True),
            threading.Thread(target=self._tick_ping_sources, daemon=True),
        ]
        self.issuer = DevIssuer(f"{self.url}{OIDC_PATH}") if oidc else None

    @property
    def url(self) -> str:
        """Base URL of the broker's HTTP server."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def ingress_url(self, namespace: str = "default", name: str = "default") -> str:
        """Return the ingress URL of one broker (what `K_SINK` points at)."""
        return f"{self.url}/{namespace}/{name}"

    def start(self) -> DevBroker:
        """Serve ingresses and start the PingSource clock."""
        for thread in self._threads:
            thread.start()
        logger.info("broker started", extra={"url": self.url})
        return self

    def stop(self) -> None:
        """Stop serving, abandon pending retries and wait for deliveries in flight."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._connections.close_all()
        logger.info("broker stopped")

    def ingest(self, namespace: str, name: str, event: Event) -> int:
        """Accept an event into a broker and fan it out; return the ingress status.

        404: no such broker; 400: its hop limit (`knativebrokerttl`) is used up or
        invalid; 202: accepted, deliveries run in the background.
        """
        broker = self._broker(namespace, name)
        if broker is None:
            return 404
        ttl = _ttl(event)
        if ttl is None or ttl <= 0:
            logger.warning("event refused: ttl exhausted", extra=_ids(event))
            return 400
        extensions = {k: v for k, v in event.extensions.items() if k != TTL_EXTENSION}
        extensions[ARRIVAL_EXTENSION] = codec.render_time(datetime.now(UTC))
        arrived = replace(event, extensions=extensions)
        matched = [t for t in self._triggers(broker) if t.filter.matches(arrived)]
        for trigger in matched:
            self._submit(self._deliver, broker, trigger, arrived, ttl)
        logger.info("event accepted", extra={**_ids(event), "triggers": len(matched)})
        return 202

    def publish(self, topic: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """Take records published to `topic`; each KafkaSource reading it forwards them.

        Returns the status and body to answer: 404 when no KafkaSource reads the topic,
        400 for records that are not what a producer sends, else 200 with their offsets.
        """
        readers = [s for s in self._routing.kafka_sources if topic in s.topics]
        if not readers:
            return 404, {"message": f"no KafkaSource reads topic '{topic}'"}
        try:
            records = kafka_records.parse_records(body, limits=self.json_limits)
            offsets = [self._next_offset(topic) for _ in records]
            for reader in readers:
                for record, offset in zip(records, offsets, strict=True):
                    self._forward(reader, topic, record, offset)
        except InputError as error:
            return 400, {"message": str(error)}
        return 200, {"topic": topic, "offsets": offsets}

    def has_broker(self, namespace: str, name: str) -> bool:
        """Tell whether the manifests declare this broker."""
        return self._broker(namespace, name) is not None

    def resolve(self, destination: Destination, namespace: str) -> str | None:
        """Return the URL of a destination; None when its subscriber is not running."""
        if destination.kind is None:
            return destination.uri
        if destination.kind == "Broker":
            return self.ingress_url(
                destination.namespace or namespace, str(destination.name)
            )
        base = self._subscribers.get(str(destination.name))
        if base is None or not destination.uri:
            return base
        return f"{base.rstrip('/')}/{destination.uri.lstrip('/')}"

    def _forward(
        self, reader: KafkaSource, topic: str, record: kafka_records.Record, offset: int
    ) -> None:
        """Hand one record to a KafkaSource's sink, as the source's adapter does."""
        source = f"/apis/v1/namespaces/{reader.namespace}/kafkasources/{reader.name}"
        event = kafka_records.to_event(
            record, source=source, topic=topic, offset=offset, limits=self.json_limits
        )
        sink = reader.sink
        if sink.kind == "Broker":
            self.ingest(sink.namespace or reader.namespace, str(sink.name), event)
            return
        url = self.resolve(sink, reader.namespace)
        if url is not None:
            self._submit(
                partial(self._send, url, event, Delivery(), namespace=reader.namespace)
            )

    def _next_offset(self, topic: str) -> int:
        with self._offsets_lock:
            offset = self._offsets.get(topic, 0)
            self._offsets[topic] = offset + 1
        return offset

    def _serve(self) -> None:
        # A short poll keeps `stop` quick; the server wakes at most ten times a second.
        self._server.serve_forever(poll_interval=0.1)

    def _deliver(
        self, broker: Broker, trigger: Trigger, event: Event, ttl: int
    ) -> None:
        url = self.resolve(trigger.subscriber, trigger.namespace)
        if url is None:
            logger.warning(
                "event dropped: subscriber not running",
                extra={**_ids(event), "trigger": trigger.name},
            )
            return
        fate = self._fate(event)
        if fate is Fate.DROP:
            logger.warning("event dropped: injected fault", extra=_ids(event))
            return
        if fate is Fate.DUPLICATE:
            self._submit(self._deliver_once, broker, trigger, event, ttl, url)
        self._deliver_once(broker, trigger, event, ttl, url)

    def _fate(self, event: Event) -> Fate:
        """Decide an injected fault, holding the delivery back a random while first."""
        faults = self._faults
        if faults is None or not faults.applies_to(event.type):
            return Fate.DELIVER
        self._stopping.wait(faults.hold(self._draw).total_seconds())
        return faults.fate(self._draw)

    def _deliver_once(
        self, broker: Broker, trigger: Trigger, event: Event, ttl: int, url: str
    ) -> None:
        delivery = trigger.delivery or broker.delivery or Delivery()
        attempt = self._send(
            url,
            event,
            delivery,
            namespace=trigger.namespace,
            token=self._token(trigger.subscriber, trigger.namespace),
        )
        if attempt.succeeded:
            if attempt.reply is not None:
                self._reingest(broker, attempt.reply, ttl - 1)
            return
        self._dead_letter(trigger, event, delivery, attempt)

    def admits(self, namespace: str, name: str, authorization: str) -> bool:
        """Whether an ingress request may enter (always, unless in OIDC mode)."""
        if self.issuer is None:
            return True
        scheme, _, token = authorization.partition(" ")
        return scheme.lower() == "bearer" and self.issuer.accepts(
            token.strip(), broker_audience(namespace, name)
        )

    def _token(self, destination: Destination, namespace: str) -> str | None:
        """The delivery token for `destination`: its audience, or the broker's."""
        if self.issuer is None:
            return None
        audience = destination.audience
        if destination.kind == "Broker":
            audience = broker_audience(
                destination.namespace or namespace, str(destination.name)
            )
        if audience is None:
            return None
        subject = f"system:serviceaccount:{namespace}:knflow-dev-broker"
        return self.issuer.mint(audience, subject=subject, lifetime_seconds=600)

    def _send(
        self,
        url: str,
        event: Event,
        delivery: Delivery,
        *,
        namespace: str,
        token: str | None = None,
    ) -> Attempt:
        """Deliver with the retries of `delivery`; return the last attempt."""
        attempt = _post(
            self._connections, url, event, delivery, namespace=namespace, token=token
        )
        for retry in range(delivery.retry):
            if attempt.succeeded or not attempt.retryable:
                return attempt
            wait = delivery.backoff(retry, count_from=self._count_from)
            if self._stopping.wait(wait.total_seconds()):
                return attempt
            attempt = _post(
                self._connections,
                url,
                event,
                delivery,
                namespace=namespace,
                token=token,
            )
        return attempt

    def _dead_letter(
        self, trigger: Trigger, event: Event, delivery: Delivery, failed: Attempt
    ) -> None:
        sink = delivery.dead_letter_sink
        url = None if sink is None else self.resolve(sink, trigger.namespace)
        extra = {**_ids(event), "trigger": trigger.name, "status": failed.status}
        if sink is None or url is None:
            logger.warning("event dropped after failed delivery", extra=extra)
            return
        errors = {"knativeerrordest": failed.url}
        if failed.status is not None:
            errors["knativeerrorcode"] = str(failed.status)
        if failed.body:
            data = base64.b64encode(failed.body[:ERROR_DATA_LIMIT]).decode("ascii")
            errors["knativeerrordata"] = data
        dead = replace(event, extensions={**event.extensions, **errors})
        final = replace(delivery, dead_letter_sink=None)
        sent = self._send(
            url,
            dead,
            final,
            namespace=trigger.namespace,
            token=self._token(sink, trigger.namespace),
        )
        logger.warning(
            "event dead-lettered", extra={**extra, "delivered": sent.succeeded}
        )

    def _reingest(self, broker: Broker, reply: Event, ttl: int) -> None:
        extensions = {**reply.extensions, TTL_EXTENSION: str(ttl)}
        status = self.ingest(
            broker.namespace, broker.name, replace(reply, extensions=extensions)
        )
        if status != 202:
            logger.warning("reply dropped", extra={**_ids(reply), "status": status})

    def _tick_ping_sources(self) -> None:
        schedules = [_Schedule(source) for source in self._routing.ping_sources]
        while schedules and not self._stopping.is_set():
            due = min(schedules, key=lambda schedule: schedule.next_at)
            wait = (due.next_at - datetime.now(UTC)).total_seconds()
            if wait > 0 and self._stopping.wait(wait):
                return
            self._submit(self._emit_ping, due.source)
            due.advance()

    def _emit_ping(self, source: PingSource) -> None:
        url = self.resolve(source.sink, source.namespace)
        if url is None:
            logger.warning(
                "ping dropped: sink not running", extra={"source": source.name}
            )
            return
        event = ping_event(source, datetime.now(UTC))
        attempt = self._send(
            url,
            event,
            PING_DELIVERY,
            namespace=source.namespace,
            token=self._token(source.sink, source.namespace),
        )
        if not attempt.succeeded:
            logger.warning(
                "ping dropped", extra={**_ids(event), "status": attempt.status}
            )

    def _submit(self, function: Any, *args: Any) -> None:
        if self._stopping.is_set():
            return
        try:
            self._executor.submit(function, *args)
        except RuntimeError:
            logger.debug("delivery skipped: broker stopping")

    def _broker(self, namespace: str, name: str) -> Broker | None:
        for broker in self._routing.brokers:
            if broker.namespace == namespace and broker.name == name:
                return broker
        return None

    def _triggers(self, broker: Broker) -> list[Trigger]:
        return [
            trigger
            for trigger in self._routing.triggers
            if trigger.namespace == broker.namespace and trigger.broker == broker.name
        ]


def ping_event(source: PingSource, now: datetime) -> Event:
    """Build the event a PingSource emits at `now` (a fresh random id per tick)."""
    data: Any = source.data
    if isinstance(data, str) and (source.content_type or "").endswith("json"):
        try:
            data = json.loads(data)
        except ValueError:
            logger.debug(
                "ping data kept as text: not json", extra={"source": source.name}
            )
    return Event(
        id=codec.new_id(),
        source=f"/apis/v1/namespaces/{source.namespace}/pingsources/{source.name}",
        type=PING_TYPE,
        time=now,
        data=data,
        datacontenttype=source.content_type,
        extensions=dict(source.extensions),
    )


class _Schedule:
    """The next tick of one PingSource (robfig/cron: optional leading seconds field)."""

    def __init__(self, source: PingSource) -> None:
        zone = ZoneInfo(source.timezone) if source.timezone else UTC
        has_seconds = len(source.schedule.split()) == 6
        self.source = source
        self._cron = croniter(
            source.schedule, datetime.now(zone), second_at_beginning=has_seconds
        )
        self.next_at: datetime = self._cron.get_next(datetime)

    def advance(self) -> None:
        self.next_at = self._cron.get_next(datetime)


def _post(
    connections: _KeptConnections,
    url: str,
    event: Event,
    delivery: Delivery,
    *,
    namespace: str,
    token: str | None,
) -> Attempt:
    if delivery.structured:
        headers, body = codec.to_structured_http(event)
    else:
        headers, body = codec.to_binary_http(event)
    headers = {**headers, "Prefer": "reply", "Kn-Namespace": namespace}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    timeout = (delivery.timeout or DEFAULT_ATTEMPT_TIMEOUT).total_seconds()
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        status, answer_headers, answer = connections.request(
            parts.netloc, path, body=body, headers=headers, timeout=timeout
        )
    except (OSError, http.client.HTTPException) as error:
        logger.debug(
            "delivery attempt failed", extra={"url": url, "reason": str(error)}
        )
        return Attempt(url=url, status=None)
    return _read_answer(url, status, answer_headers, answer)


class _KeptConnections:
    """Keep-alive connections to subscribers, one per host and delivery thread.

    As Knative's dispatchers do, deliveries reuse their connections instead of opening one per
    event; a connection the subscriber closed meanwhile is replaced once.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[http.client.HTTPConnection] = []

    def request(
        self,
        netloc: str,
        path: str,
        *,
        body: bytes,
        headers: Mapping[str, str],
        timeout: float,
    ) -> tuple[int, dict[str, str], bytes]:
        """POST and return (status, lower-case headers, body)."""
        reused = netloc in self._by_host()
        try:
            return self._post(netloc, path, body, headers, timeout)
        except (OSError, http.client.HTTPException):
            self._drop(netloc)
            if not reused:
                raise
        return self._post(netloc, path, body, headers, timeout)

    def close_all(self) -> None:
        """Close every connection (the broker stops)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()

    def _by_host(self) -> dict[str, http.client.HTTPConnection]:
        if not hasattr(self._local, "by_host"):
            self._local.by_host = {}
        by_host: dict[str, http.client.HTTPConnection] = self._local.by_host
        return by_host

    def _post(
        self,
        netloc: str,
        path: str,
        body: bytes,
        headers: Mapping[str, str],
        timeout: float,
    ) -> tuple[int, dict[str, str], bytes]:
        by_host = self._by_host()
        connection = by_host.get(netloc)
        if connection is None:
            connection = http.client.HTTPConnection(netloc, timeout=timeout)
            by_host[netloc] = connection
            with self._lock:
                self._opened.append(connection)
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        connection.request("POST", path, body=body, headers=dict(headers))
        response = connection.getresponse()
        answer = response.read()
        answer_headers = {k.lower(): v for k, v in response.getheaders()}
        if response.will_close:
            self._drop(netloc)
        return response.status, answer_headers, answer

    def _drop(self, netloc: str) -> None:
        connection = self._by_host().pop(netloc, None)
        if connection is not None:
            connection.close()


def _read_answer(
    url: str, status: int, headers: dict[str, str], body: bytes
) -> Attempt:
    """A 2xx must be empty or a CloudEvent; anything else fails like Knative's 502."""
    if not 200 <= status < 300:
        return Attempt(url=url, status=status, body=body)
    content_type = headers.get("content-type", "")
    if "ce-id" in headers or content_type.startswith(codec.STRUCTURED_CONTENT_TYPE):
        try:
            reply = codec.from_http(headers, body)
        except InputError:
            return Attempt(url=url, status=502, body=body)
        return Attempt(url=url, status=status, body=body, reply=reply)
    if body.strip():
        return Attempt(url=url, status=502, body=body)
    return Attempt(url=url, status=status)


def _ttl(event: Event) -> int | None:
    raw = event.extensions.get(TTL_EXTENSION)
    if raw is None:
        return DEFAULT_TTL
    try:
        return int(raw)
    except ValueError:
        return None


def _ids(event: Event) -> dict[str, str]:
    return {"ce_id": event.id, "ce_type": event.type}


def _handler_class(broker: DevBroker) -> type[BaseHTTPRequestHandler]:
    class IngressHandler(BaseHTTPRequestHandler):
        # HTTP/1.1 keeps a publisher's connection open between events; without Nagle, an
        # answer's headers and body never wait for a delayed ACK.
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            parts = self.path.split("?")[0].strip("/").split("/")
            try:
                body = read_body(self.headers, self.rfile, broker.max_body_bytes)
            except BodyError as error:
                # The body was not read to its end: the connection cannot carry on.
                self.close_connection = True
                self._answer(error.status, {"message": str(error)})
                return
            is_broker = len(parts) == 2 and broker.has_broker(parts[0], parts[1])
            if not is_broker and len(parts) == 2 and parts[0] == KAFKA_PATH:
                self._answer(*broker.publish(parts[1], body))
                return
            if not is_broker:
                self._answer(404, {"message": f"no broker at {self.path}"})
                return
            if not broker.admits(
                parts[0], parts[1], self.headers.get("authorization", "")
            ):
                self._answer(401, {"message": "the broker needs an OIDC token"})
                return
            try:
                event = codec.from_http(
                    dict(self.headers.items()), body, limits=broker.json_limits
                )
            except InputError as error:
                self._answer(400, {"message": str(error)})
                return
            status = broker.ingest(parts[0], parts[1], event)
            refused = {"message": f"event {event.id} refused: hop limit (ttl) used up"}
            self._answer(status, None if status == 202 else refused)

        def do_GET(self) -> None:
            if self.path.startswith("/health/"):
                self._answer(200, {"status": "UP"})
                return
            if broker.issuer is not None and self.path.startswith(OIDC_PATH):
                document = broker.issuer.documents().get(self.path[len(OIDC_PATH) :])
                if document is not None:
                    self._answer(200, document)
                    return
            self._answer(405, {"message": "send CloudEvents with POST"})

        def do_OPTIONS(self) -> None:
            # The CloudEvents webhook handshake (abuse protection), as MT ingress does.
            self.send_response(200)
            self.send_header("WebHook-Allowed-Origin", "*")
            self.send_header("content-length", "0")
            self.end_headers()

        def _answer(self, status: int, body: dict[str, Any] | None) -> None:
            payload = b"" if body is None else json.dumps(body).encode("utf-8")
            self.send_response(status)
            if body is not None:
                self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("ingress request", extra={"line": format % args})

    return IngressHandler
