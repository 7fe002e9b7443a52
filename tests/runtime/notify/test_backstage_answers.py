"""What the Backstage backend stores of notify's notifications: limits and recipients."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest

from knflow.config import Settings
from knflow.outbound.http import new_client
from knflow.runtime.notify import delivery as notify
from knflow.runtime.services import Services
from knflow.store import db
from knflow.store.notifications import DeliveryStatus, SendOutcome
from tests.backstage import TOKEN, BackstageStandIn
from tests.runtime.notify.deliveries import NOW, delivery_of, notification_event

ENTITY = {"type": "entity", "entityRef": ["user:default/ana"]}
BROADCAST = {"type": "broadcast"}


@pytest.fixture
def services(pool: db.Pool, backstage_api: BackstageStandIn) -> Iterator[Services]:
    settings = Settings(
        backstage_url=backstage_api.url,
        backstage_token=TOKEN,
        action_timeout=timedelta(seconds=5),
    )
    with new_client(settings.action_timeout) as client:
        yield Services(settings=settings, pool=pool, http=client, clock=lambda: NOW)


@pytest.mark.parametrize("recipients", [ENTITY, BROADCAST], ids=["user", "broadcast"])
def test_a_title_at_the_limit_is_stored_as_it_is(
    services: Services, backstage_api: BackstageStandIn, recipients: dict
) -> None:
    title = "t" * 255
    data = {"recipients": recipients, "payload": {"title": title}}

    notify.handle_event(services, notification_event(data))

    [stored] = backstage_api.notifications()
    assert stored["payload"]["title"] == title
    assert "description" not in stored["payload"]


@pytest.mark.parametrize("recipients", [ENTITY, BROADCAST], ids=["user", "broadcast"])
def test_a_title_past_the_limit_is_cut_and_written_out_in_the_description(
    services: Services, backstage_api: BackstageStandIn, recipients: dict
) -> None:
    title = "Deploy " + "y" * 249
    payload = {"title": title, "description": "All green."}

    notify.handle_event(
        services, notification_event({"recipients": recipients, "payload": payload})
    )

    [stored] = backstage_api.notifications()
    assert stored["payload"]["title"] == title[:254] + "\u2026"
    assert stored["payload"]["description"] == f"{title}\n\nAll green."
    assert delivery_of(services).status is DeliveryStatus.SENT


def test_topic_scope_and_icon_past_the_limit_are_fitted_and_stored(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    long = {name: name * 100 for name in ("topic", "scope", "icon")}
    data = {"recipients": ENTITY, "payload": {"title": "t", **long}}

    notify.handle_event(services, notification_event(data))

    [stored] = backstage_api.notifications()
    assert [len(stored["payload"][name]) for name in long] == [255, 255, 255]
    for name, text in long.items():
        assert f"{name}: {text}" in stored["payload"]["description"]


def test_a_group_is_answered_with_one_notification_per_member(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    backstage_api.groups["group:default/ops"] = ["user:default/ana", "user:default/bo"]
    data = {"recipients": {"type": "entity", "entityRef": "group:default/ops"}}

    notify.handle_event(
        services, notification_event({**data, "payload": {"title": "t"}})
    )

    delivery = delivery_of(services)
    assert (delivery.outcome, delivery.recipient_count) == (SendOutcome.SENT, 2)
    assert [n["user"] for n in backstage_api.notifications()] == [
        "user:default/ana",
        "user:default/bo",
    ]


def test_refs_that_resolve_to_nobody_are_sent_to_zero_recipients_with_a_warning(
    services: Services,
    backstage_api: BackstageStandIn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    backstage_api.groups["group:default/empty"] = []
    refs = ["group:default/empty", "group:default/unknown"]
    data = {"recipients": {"type": "entity", "entityRef": refs}}

    notify.handle_event(
        services, notification_event({**data, "payload": {"title": "t"}})
    )

    delivery = delivery_of(services)
    assert (delivery.status, delivery.outcome, delivery.recipient_count) == (
        DeliveryStatus.SENT,
        SendOutcome.NO_RECIPIENTS,
        0,
    )
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage() == "notification reached nobody"
    assert warning.entity_refs == refs  # type: ignore[attr-defined]
    assert backstage_api.notifications() == []
