from __future__ import annotations

import importlib
import threading

import pytest

from eventhive_core.adapters.inprocess_bus import InProcessBus
from eventhive_core.ports.event_bus import Subscription, SubscriptionTable
from eventhive_core.ports.messages import Message
from eventhive_core.testing.fakes import RecordingBus


def ignore(message: Message) -> None:
    return None


def test_a_name_is_taken_once_whatever_its_event_type_and_the_refusal_names_the_first() -> None:
    table = SubscriptionTable()
    table.add("expiration.schedule_expiry", "order:created", "expiration", ignore)

    with pytest.raises(ValueError, match=r"'expiration.schedule_expiry' is already registered \(for order:created"):
        table.add("expiration.schedule_expiry", "order:cancelled", "orders", ignore)
    assert table.names() == ["expiration.schedule_expiry"]


def test_a_subscription_needs_a_name() -> None:
    with pytest.raises(ValueError, match="needs a name"):
        SubscriptionTable().add("", "order:created", "orders", ignore)


def test_a_snapshot_by_type_keeps_registration_order_and_ignores_later_subscriptions() -> None:
    table = SubscriptionTable()
    table.add("b", "order:created", "orders", ignore)
    table.add("a", "order:created", "mail", ignore)
    snapshot = table.of_type("order:created")

    table.add("c", "order:created", "orders", ignore)

    assert [s.name for s in snapshot] == ["b", "a"]
    assert [s.name for s in table.of_type("order:created")] == ["b", "a", "c"]
    assert table.get("a") == Subscription("a", "order:created", "mail", ignore)
    assert table.get("missing") is None


def test_subscriptions_grouped_by_role_give_one_group_per_consumer() -> None:
    table = SubscriptionTable()
    table.add("expiration.schedule_expiry", "order:created", "expiration", ignore)
    table.add("orders.on_payment", "payment:created", "orders", ignore)
    table.add("orders.on_expiry", "expiration:complete", "orders", ignore)

    groups = table.by_role()

    assert {role: [s.event_type for s in group] for role, group in groups.items()} == {
        "expiration": ["order:created"],
        "orders": ["payment:created", "expiration:complete"],
    }


def test_names_stay_unique_when_threads_subscribe_at_once() -> None:
    table, refused = SubscriptionTable(), []

    def subscribe() -> None:
        try:
            table.add("same", "order:created", "orders", ignore)
        except ValueError:
            refused.append(1)

    threads = [threading.Thread(target=subscribe) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(table) == 1
    assert len(refused) == 7


@pytest.mark.parametrize("make_bus", [InProcessBus, RecordingBus])
def test_every_bus_shows_the_ports_subscription_record(make_bus: type[InProcessBus | RecordingBus]) -> None:
    bus = make_bus()
    bus.subscribe("audit", "order:created", "orders", ignore)

    (subscription,) = bus.subscriptions

    assert isinstance(subscription, Subscription)
    assert (subscription.name, subscription.event_type, subscription.role) == ("audit", "order:created", "orders")
    with pytest.raises(ValueError, match="already registered"):
        bus.subscribe("audit", "order:cancelled", "orders", ignore)


def test_the_celery_bus_shows_the_ports_subscription_record_too() -> None:
    pytest.importorskip("celery")
    from eventhive_core.adapters.celery import CeleryEventBus, CeleryOptions, TaskSender

    bus = CeleryEventBus(TaskSender(CeleryOptions.from_mapping({})))
    bus.subscribe("audit", "order:created", "orders", ignore)

    assert bus.subscriptions == (Subscription("audit", "order:created", "orders", ignore),)
    with pytest.raises(ValueError, match="already registered"):
        bus.subscribe("audit", "order:cancelled", "orders", ignore)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("eventhive_core.adapters.inprocess_bus", "Subscription"),
        ("eventhive_core.adapters.celery.bus", "CelerySubscription"),
        ("eventhive_core.service_layer.messagebus", "Subscriber"),
        ("eventhive_core.plugins.registry", "SubscriberSpec"),
    ],
)
def test_the_old_subscription_records_are_deprecated_names_of_the_ports_one(module: str, name: str) -> None:
    if module.startswith("eventhive_core.adapters.celery"):
        pytest.importorskip("celery")

    with pytest.warns(DeprecationWarning, match=f"{name} is deprecated; use eventhive_core.ports.event_bus"):
        record = getattr(importlib.import_module(module), name)

    assert record is Subscription
