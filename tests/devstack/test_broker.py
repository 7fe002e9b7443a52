"""The development broker over real HTTP: ingress, fan-out, retries, dead letters, replies."""

from __future__ import annotations

import base64
import http.client
import json
import threading
from urllib.parse import urlsplit

from knflow.devstack.broker import DevBroker
from knflow.devstack.manifests import Destination
from knflow.events import codec
from knflow.events.codec import Event
from tests.devstack.conftest import (
    StartBroker,
    broker_manifest,
    ping_manifest,
    trigger_manifest,
)
from tests.peers import HttpPeer, Recorded, Reply, started_peer

FAST_RETRY = {"retry": 2, "backoffPolicy": "linear", "backoffDelay": "PT0.01S"}


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.request("POST", parts.path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _send(broker: DevBroker, event: Event, path: str = "/default/default") -> int:
    headers, body = codec.to_binary_http(event)
    return _post(broker.url + path, body, headers)[0]


def _event(event_type: str = "test.ping", **extensions: str) -> Event:
    return Event(
        id=codec.new_id(),
        source="/tests",
        type=event_type,
        data={"n": 1},
        extensions=extensions,
    )


def test_a_binary_event_is_accepted_and_delivered_in_binary_mode_with_knative_headers(
    start_broker: StartBroker, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/", Reply(status=202))
    broker = start_broker(broker_manifest(), trigger_manifest("all"))
    status = _send(broker, _event())
    [delivered] = http_peer.wait_for(1, method="POST", path="/")
    assert status == 202
    assert delivered.headers["ce-type"] == "test.ping"
    assert delivered.headers["prefer"] == "reply"
    assert delivered.headers["kn-namespace"] == "default"
    assert "ce-knativearrivaltime" in delivered.headers
    assert "ce-knativebrokerttl" not in delivered.headers
    assert delivered.json() == {"n": 1}


def test_a_structured_event_is_accepted(
    start_broker: StartBroker, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/", Reply(status=202))
    broker = start_broker(broker_manifest(), trigger_manifest("all"))
    headers, body = codec.to_structured_http(_event("test.structured"))
    status, _ = _post(broker.ingress_url(), body, headers)
    [delivered] = http_peer.wait_for(1, method="POST", path="/")
    assert status == 202
    assert delivered.headers["ce-type"] == "test.structured"


def test_a_malformed_event_gets_400_and_is_not_delivered(
    start_broker: StartBroker, http_peer: HttpPeer
) -> None:
    broker = start_broker(broker_manifest(), trigger_manifest("all"))
    status, body = _post(
        broker.ingress_url(), b'{"hello": 1}', {"content-type": "application/json"}
    )
    missing_id, _ = _post(
        broker.ingress_url(),
        b"{}",
        {"ce-specversion": "1.0", "ce-type": "t", "ce-source": "/s"},
    )
    assert (status, missing_id) == (400, 400)
    assert "malformed CloudEvent" in json.loads(body)["message"]
    assert http_peer.received() == []


def test_an_unknown_broker_path_gets_404(start_broker: StartBroker) -> None:
    broker = start_broker(broker_manifest(), trigger_manifest("all"))
    assert _send(broker, _event(), path="/default/other") == 404
    assert _send(broker, _event(), path="/default") == 404


def test_only_triggers_whose_filter_matches_receive_the_event(
    start_broker: StartBroker, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "*", Reply(status=202))
    peer_at = {"ref": {"kind": "Service", "name": "peer"}}
    broker = start_broker(
        broker_manifest(),
        trigger_manifest(
            "a",
            filter={"attributes": {"type": "a"}},
            subscriber={**peer_at, "uri": "/a"},
        ),
        trigger_manifest(
            "b",
            filters=[{"prefix": {"type": "b."}}],
            subscriber={**peer_at, "uri": "/b"},
        ),
    )
    _send(broker, _event("b.one"))
    _send(broker, _event("a"))
    http_peer.wait_for(1, path="/a")
    http_peer.wait_for(1, path="/b")
    assert [r.headers["ce-type"] for r in http_peer.received(path="/b")] == ["b.one"]
    assert [r.headers["ce-type"] for r in http_peer.received(path="/a")] == ["a"]


def test_a_retryable_failure_is_retried_until_it_succeeds(
    start_broker: StartBroker, http_peer: HttpPeer
) -> None:
    http_peer.queue("POST", "/", Reply(status=503), Reply(status=429))
    http_peer.route("POST", "/", Reply(status=202))
    broker = start_broker(
        broker_manifest(), trigger_manifest("all", delivery=FAST_RETRY)
    )
    _send(broker, _event())
    attempts = http_peer.wait_for(3, path="/")
    assert len({r.headers["ce-id"] for r in attempts}) == 1


def test_a_permanent_refusal_is_dead_lettered_at_once_with_the_error_extensions(
    start_broker: StartBroker, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/", Reply(status=422, body={"message": "bad step"}))
    http_peer.route("POST", "/dead", Reply(status=202))
    delivery = {**FAST_RETRY, "deadLetterSink": {"uri": f"{http_peer.url}/dead"}}
    broker = start_broker(broker_manifest(), trigger_manifest("all", delivery=delivery))
    _send(broker, _event())
    [dead] = http_peer.wait_for(1, path="/dead")
    assert len(http_peer.received(path="/")) == 1
    assert dead.headers["ce-knativeerrorcode"] == "422"
    assert dead.headers["ce-knativeerrordest"] == http_peer.url
    decoded = base64.b64decode(dead.headers["ce-knativeerrordata"])
    assert json.loads(decoded) == {"message": "bad step"}


def test_an_event_is_dead_lettered_after_the_last_retry(
    start_broker: StartBroker, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/", Reply(status=500))
    http_peer.route("POST", "/dead", Reply(status=202))
    delivery = {**FAST_RETRY, "deadLetterSink": {"uri": f"{http_peer.url}/dead"}}
    broker = start_broker(broker_manifest(), trigger_manifest("all", delivery=delivery))
    _send(broker, _event())
    [dead] = http_peer.wait_for(1, path="/dead")
    assert len(http_peer.received(path="/")) == 3
    assert dead.headers["ce-knativeerrorcode"] == "500"


def test_the_broker_delivery_applies_to_triggers_without_their_own(
    start_broker: StartBroker, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/", Reply(status=503))
    http_peer.route("POST", "/dead", Reply(status=202))
    delivery = {"retry": 1, "deadLetterSink": {"uri": f"{http_peer.url}/dead"}}
    broker = start_broker(broker_manifest(delivery=delivery), trigger_manifest("all"))
    _send(broker, _event())
    http_peer.wait_for(1, path="/dead")
    assert len(http_peer.received(path="/")) == 2


def test_a_2xx_with_a_body_that_is_not_a_cloudevent_counts_as_a_failure(
    start_broker: StartBroker, http_peer: HttpPeer
) -> None:
    http_peer.route(
        "POST",
        "/",
        Reply(status=200, body=b"OK", headers={"content-type": "text/html"}),
    )
    http_peer.route("POST", "/dead", Reply(status=202))
    delivery = {"deadLetterSink": {"uri": f"{http_peer.url}/dead"}}
    broker = start_broker(broker_manifest(), trigger_manifest("all", delivery=delivery))
    _send(broker, _event())
    [dead] = http_peer.wait_for(1, path="/dead")
    assert dead.headers["ce-knativeerrorcode"] == "502"


def test_an_attempt_that_times_out_fails_without_a_status(
    start_broker: StartBroker, http_peer: HttpPeer
) -> None:
    release = threading.Event()
    http_peer.route("POST", "/dead", Reply(status=202))
    for slow in started_peer():
        slow.route(
            "POST", "/", lambda _r: Reply(status=202 if release.wait(10) else 500)
        )
        delivery = {
            "retry": 1,
            "timeout": "PT0.2S",
            "deadLetterSink": {"uri": f"{http_peer.url}/dead"},
        }
        broker = start_broker(
            broker_manifest(),
            trigger_manifest("slow", subscriber={"uri": slow.url}, delivery=delivery),
        )
        _send(broker, _event())
        [dead] = http_peer.wait_for(1, path="/dead")
        release.set()
        assert dead.headers["ce-knativeerrordest"] == slow.url
        assert "ce-knativeerrorcode" not in dead.headers


def test_a_reply_is_fed_back_into_the_broker(
    start_broker: StartBroker, http_peer: HttpPeer
) -> None:
    reply_headers, reply_body = codec.to_binary_http(_event("test.reply"))
    http_peer.route(
        "POST", "/ask", Reply(status=200, body=reply_body, headers=reply_headers)
    )
    http_peer.route("POST", "/answer", Reply(status=202))
    broker = start_broker(
        broker_manifest(),
        trigger_manifest(
            "ask",
            filter={"attributes": {"type": "test.ask"}},
            subscriber={"ref": {"kind": "Service", "name": "peer"}, "uri": "/ask"},
        ),
        trigger_manifest(
            "answer",
            filter={"attributes": {"type": "test.reply"}},
            subscriber={"ref": {"kind": "Service", "name": "peer"}, "uri": "/answer"},
        ),
    )
    _send(broker, _event("test.ask"))
    [answer] = http_peer.wait_for(1, path="/answer")
    assert answer.headers["ce-type"] == "test.reply"


def test_a_reply_loop_ends_when_the_hop_limit_is_used_up(
    start_broker: StartBroker, http_peer: HttpPeer
) -> None:
    def echo(request: Recorded) -> Reply:
        headers, body = codec.to_binary_http(_event("test.loop"))
        return Reply(status=200, body=body, headers=headers)

    http_peer.route("POST", "/", echo)
    broker = start_broker(broker_manifest(), trigger_manifest("loop"))
    _send(broker, _event("test.loop", knativebrokerttl="3"))
    http_peer.wait_for(3, path="/")
    assert _send(broker, _event("test.loop", knativebrokerttl="0")) == 400
    assert len(http_peer.received(path="/")) == 3


def test_a_slow_subscriber_does_not_hold_up_another_trigger(
    start_broker: StartBroker, http_peer: HttpPeer
) -> None:
    release = threading.Event()
    http_peer.route("POST", "/fast", Reply(status=202))
    for slow in started_peer():
        slow.route(
            "POST", "/", lambda _r: Reply(status=202 if release.wait(10) else 500)
        )
        broker = start_broker(
            broker_manifest(),
            trigger_manifest("slow", subscriber={"uri": slow.url}),
            trigger_manifest("fast", subscriber={"uri": f"{http_peer.url}/fast"}),
        )
        _send(broker, _event())
        fast = http_peer.wait_for(1, path="/fast")
        release.set()
        assert len(fast) == 1


def test_a_ping_source_emits_its_data_on_schedule(
    start_broker: StartBroker, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/tick", Reply(status=202))
    start_broker(
        ping_manifest(
            "tick",
            schedule="* * * * * *",
            contentType="application/json",
            data='{"x": 1}',
            sink={"ref": {"kind": "Service", "name": "peer"}, "uri": "/tick"},
            ceOverrides={"extensions": {"team": "a"}},
        )
    )
    [tick, *_] = http_peer.wait_for(1, path="/tick", timeout=5)
    assert tick.headers["ce-type"] == "dev.knative.sources.ping"
    assert tick.headers["ce-source"] == "/apis/v1/namespaces/default/pingsources/tick"
    assert tick.headers["ce-team"] == "a"
    assert tick.json() == {"x": 1}


def test_a_ping_source_sends_its_base64_data_as_bytes(
    start_broker: StartBroker, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/tick", Reply(status=202))
    start_broker(
        ping_manifest(
            "raw",
            schedule="* * * * * *",
            contentType="text/plain",
            dataBase64=base64.b64encode(b"raw bytes").decode(),
            sink={"uri": f"{http_peer.url}/tick"},
        )
    )
    [tick, *_] = http_peer.wait_for(1, path="/tick", timeout=5)
    assert tick.body == b"raw bytes"


def test_a_ping_through_the_broker_reaches_its_trigger(
    start_broker: StartBroker, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/", Reply(status=202))
    start_broker(
        broker_manifest(),
        trigger_manifest(
            "pings", filter={"attributes": {"type": "dev.knative.sources.ping"}}
        ),
        ping_manifest(
            "tick",
            schedule="* * * * * *",
            sink={
                "ref": {
                    "apiVersion": "eventing.knative.dev/v1",
                    "kind": "Broker",
                    "name": "default",
                }
            },
        ),
    )
    [tick, *_] = http_peer.wait_for(1, path="/", timeout=5)
    assert tick.headers["ce-type"] == "dev.knative.sources.ping"


def test_format_json_delivers_in_structured_mode(
    start_broker: StartBroker, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/", Reply(status=202))
    broker = start_broker(
        broker_manifest(), trigger_manifest("all", delivery={"format": "json"})
    )
    _send(broker, _event("test.structured"))
    [delivered] = http_peer.wait_for(1, path="/")
    assert delivered.headers["content-type"].startswith("application/cloudevents+json")
    assert delivered.json()["type"] == "test.structured"
    assert delivered.json()["data"] == {"n": 1}


def test_an_event_for_a_subscriber_that_is_not_running_is_dropped(
    start_broker: StartBroker, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "*", Reply(status=202))
    absent = {"ref": {"kind": "Service", "name": "not-started"}}
    broker = start_broker(
        broker_manifest(),
        trigger_manifest("absent", subscriber=absent),
        trigger_manifest("present"),
    )
    assert _send(broker, _event()) == 202
    http_peer.wait_for(1, path="/")
    assert (
        broker.resolve(Destination(kind="Service", name="not-started"), "default")
        is None
    )
