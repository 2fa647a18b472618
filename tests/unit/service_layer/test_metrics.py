"""Every metric moves, by exactly the right amount, when its event happens (docs/operations.md, "Metrics").

Metrics are process-global, so each test compares a sample before and after the event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from eventhive_core import (
    CreateTicket,
    Hive,
    PaymentDeclined,
    PayOrder,
    PlaceOrder,
    ReceivePaymentEvent,
    SoldOut,
    WebhookRejected,
)
from eventhive_core.adapters.fake_payments import FakePaymentGateway
from eventhive_core.contracts.codec import to_envelope, to_message
from eventhive_core.domain import commands
from eventhive_core.domain.errors import ConcurrencyConflict
from eventhive_core.domain.events import OrderCreated
from eventhive_core.observability import metrics
from eventhive_core.ports.event_bus import Subscription
from eventhive_core.ports.payments import ProviderEventKind
from eventhive_core.service_layer import messagebus, orders
from eventhive_core.service_layer.relay import outbox_backlog
from eventhive_core.testing.fakes import FrozenClock, RecordingBus
from eventhive_core.testing.hives import make_test_hive


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def change(name: str, action: Callable[[], Any], **labels: str) -> float:
    before = sample(name, **labels)
    action()
    return sample(name, **labels) - before


def sign_up(hive: Hive, email: str) -> str:
    from eventhive_core import SignUp

    return hive.handle(SignUp(email=email, password="password")).user.id


def new_ticket(hive: Hive, seller: str, capacity: int = 1, price: str = "20") -> str:
    return hive.handle(CreateTicket(owner_id=seller, title="Gig", price=price, capacity=capacity)).id


def place(hive: Hive, buyer: str, ticket: str, key: str | None = None) -> str:
    return hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket, idempotency_key=key)).id


def refused(action: Callable[[], Any], error: type[Exception]) -> Callable[[], None]:
    def run() -> None:
        with pytest.raises(error):
            action()

    return run


def test_a_placed_order_counts_once_and_a_sold_out_refusal_counts_as_sold_out(
    hive: Hive, seller: str, ann: str, bob: str
) -> None:
    gig = new_ticket(hive, seller, capacity=1)

    assert change("eventhive_reservations_total", lambda: place(hive, ann, gig), outcome="placed") == 1
    assert (
        change("eventhive_reservations_total", refused(lambda: place(hive, bob, gig), SoldOut), outcome="sold_out") == 1
    )
    assert (
        change("eventhive_reservations_total", refused(lambda: place(hive, bob, gig), SoldOut), outcome="placed") == 0
    )


def test_an_order_given_back_for_its_idempotency_key_is_not_counted_again(hive: Hive, seller: str, ann: str) -> None:
    gig = new_ticket(hive, seller, capacity=5)

    def twice() -> None:
        place(hive, ann, gig, key="key-0123456789")
        place(hive, ann, gig, key="key-0123456789")

    assert change("eventhive_reservations_total", twice, outcome="placed") == 1


def test_a_command_that_loses_a_race_counts_a_retry(
    hive: Hive, seller: str, ann: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    gig = new_ticket(hive, seller, capacity=5)
    lost = []

    def loses_once(cmd: commands.PlaceOrder, services: Any) -> Any:
        if not lost:
            lost.append(cmd)
            raise ConcurrencyConflict()
        return orders.place_order(cmd, services)

    monkeypatch.setitem(messagebus.HANDLERS, commands.PlaceOrder, loses_once)

    retried = change(
        "eventhive_command_retries_total", lambda: place(hive, ann, gig), command="PlaceOrder", reason="conflict"
    )

    assert retried == 1
    assert (
        change(
            "eventhive_command_retries_total", lambda: place(hive, ann, gig), command="PlaceOrder", reason="conflict"
        )
        == 0
    )


def test_a_hold_expired_late_shows_its_lag(hive: Hive, clock: FrozenClock, seller: str, ann: str) -> None:
    order = place(hive, ann, new_ticket(hive, seller))
    clock.advance(seconds=60 + 5)  # the default hold is 60 s

    before = sample("eventhive_hold_expiry_lag_seconds_sum", by="order")
    count = change("eventhive_hold_expiry_lag_seconds_count", lambda: hive.expire(order), by="order")

    assert count == 1
    assert sample("eventhive_hold_expiry_lag_seconds_sum", by="order") - before == pytest.approx(5)


def test_holds_a_sweep_expires_show_their_lag_each(hive: Hive, clock: FrozenClock, seller: str, ann: str) -> None:
    gig = new_ticket(hive, seller, capacity=3)
    for _ in range(3):
        place(hive, ann, gig)
    clock.advance(seconds=60 + 7)

    before = sample("eventhive_hold_expiry_lag_seconds_sum", by="sweep")
    count = change("eventhive_hold_expiry_lag_seconds_count", hive.sweep, by="sweep")

    assert count == 3
    assert sample("eventhive_hold_expiry_lag_seconds_sum", by="sweep") - before == pytest.approx(3 * 7)


@pytest.mark.parametrize(
    ("token", "outcome", "raises"),
    [
        ("tok_visa", "succeeded", None),
        ("tok_chargeDeclined", "declined", PaymentDeclined),
        ("tok_threeDSecure2Required", "pending", None),
    ],
)
def test_each_answer_to_a_charge_counts_under_its_outcome(
    hive: Hive, seller: str, ann: str, token: str, outcome: str, raises: type[Exception] | None
) -> None:
    order = place(hive, ann, new_ticket(hive, seller))

    def pay() -> None:
        hive.handle(PayOrder(order_id=order, actor_id=ann, token=token))

    assert change("eventhive_payments_total", refused(pay, raises) if raises else pay, outcome=outcome) == 1


def test_webhooks_count_by_what_they_did(hive: Hive, seller: str, ann: str) -> None:
    gateway = hive.payment_gateway
    assert isinstance(gateway, FakePaymentGateway)
    order = place(hive, ann, new_ticket(hive, seller))
    waiting = hive.handle(PayOrder(order_id=order, actor_id=ann, token="tok_threeDSecure2Required"))
    gateway.complete_action(waiting.provider_ref)
    payload, headers = gateway.webhook(ProviderEventKind.PAYMENT_SUCCEEDED, waiting.provider_ref)

    def deliver(sent_headers: dict[str, str]) -> Callable[[], object]:
        return lambda: hive.handle(ReceivePaymentEvent(provider="fake", payload=payload, headers=sent_headers))

    assert change("eventhive_webhooks_total", deliver(headers), outcome="applied") == 1
    assert change("eventhive_webhooks_total", deliver(headers), outcome="duplicate") == 1
    assert change("eventhive_webhooks_total", refused(deliver({}), WebhookRejected), outcome="rejected") == 1
    other = gateway.webhook(ProviderEventKind.OTHER, waiting.provider_ref)
    ignored = lambda: hive.handle(ReceivePaymentEvent(provider="fake", payload=other[0], headers=other[1]))  # noqa: E731
    assert change("eventhive_webhooks_total", ignored, outcome="ignored") == 1


def test_the_relay_counts_each_event_published_by_subject_and_subscribers_count_what_they_consumed(
    hive: Hive, seller: str, ann: str
) -> None:
    order_created = {"subject": "order:created"}
    schedule = {"subscriber": "expiration.schedule_expiry", **order_created}
    gig = new_ticket(hive, seller)
    hive.relay_outbox()
    place(hive, ann, gig)
    sent, processed = (
        sample("eventhive_events_published_total", outcome="sent", **order_created),
        sample("eventhive_events_consumed_total", outcome="processed", **schedule),
    )

    assert hive.relay_outbox() == 1
    assert sample("eventhive_events_published_total", outcome="sent", **order_created) - sent == 1
    assert sample("eventhive_events_consumed_total", outcome="processed", **schedule) - processed == 1


def test_a_redelivered_event_counts_as_a_duplicate_and_a_failing_subscriber_as_failed(hive: Hive) -> None:
    event = OrderCreated(
        id="0190a8c5-0000-7000-8000-000000000001",
        version=0,
        status="created",
        buyer_id="0190a8c5-0000-7000-8000-000000000002",
        ticket_id="0190a8c5-0000-7000-8000-000000000003",
        quantity=1,
        expires_at=hive.clock.now(),
        amount_minor=100,
        currency="USD",
    )
    message = to_message(to_envelope(event, producer="test", occurred_at=hive.clock.now()))
    calls: list[str] = []
    fine = messagebus.make_delivery(
        Subscription("test.fine", "order:created", "test", lambda envelope, uow: calls.append(envelope.id)),
        hive.services,
    )

    def broken_handler(envelope: Any, uow: Any) -> None:
        raise RuntimeError("subscriber bug")

    broken = messagebus.make_delivery(
        Subscription("test.broken", "order:created", "test", broken_handler), hive.services
    )
    labels = {"subject": "order:created"}

    assert (
        change(
            "eventhive_events_consumed_total",
            lambda: fine(message),
            subscriber="test.fine",
            outcome="processed",
            **labels,
        )
        == 1
    )
    assert (
        change(
            "eventhive_events_consumed_total",
            lambda: fine(message),
            subscriber="test.fine",
            outcome="duplicate",
            **labels,
        )
        == 1
    )
    assert (
        change(
            "eventhive_events_consumed_total",
            refused(lambda: broken(message), RuntimeError),
            subscriber="test.broken",
            outcome="failed",
            **labels,
        )
        == 1
    )
    assert calls == [message.id]


def test_an_event_the_bus_refuses_counts_as_failed_to_publish(clock: FrozenClock) -> None:
    bus = RecordingBus()
    with make_test_hive(clock, event_bus=bus) as hive:
        seller = sign_up(hive, "seller@example.com")
        hive.relay_outbox()
        new_ticket(hive, seller)
        bus.fail_next()

        failed = change(
            "eventhive_events_published_total", hive.relay_outbox, subject="ticket:created", outcome="failed"
        )

    assert failed == 1


def scrape(hive: Hive) -> dict[str, float]:
    body, _ = metrics.exposition(hive.metrics_collectors())
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if sample.name.startswith("eventhive_outbox_")
    }


def test_a_scrape_reads_the_outbox_backlog_and_the_age_of_its_oldest_event(
    hive: Hive, clock: FrozenClock, seller: str
) -> None:
    hive.relay_outbox()
    assert scrape(hive) == {"eventhive_outbox_backlog": 0, "eventhive_outbox_oldest_age_seconds": 0}

    new_ticket(hive, seller)
    clock.advance(seconds=12)
    new_ticket(hive, seller)
    clock.advance(seconds=3)
    assert scrape(hive) == {"eventhive_outbox_backlog": 2, "eventhive_outbox_oldest_age_seconds": 15}

    hive.relay_outbox()
    assert scrape(hive) == {"eventhive_outbox_backlog": 0, "eventhive_outbox_oldest_age_seconds": 0}


def test_a_scrape_still_answers_when_the_outbox_cannot_be_read(hive: Hive) -> None:
    def unreachable() -> tuple[int, None]:
        raise ConnectionError("database down")

    body, content_type = metrics.exposition([metrics.OutboxCollector(unreachable, hive.clock.now)])

    assert content_type.startswith("text/plain")
    assert b"eventhive_reservations_total" in body
    assert b"eventhive_outbox_backlog" not in body


def test_every_metric_has_a_label_so_a_worker_makes_its_values_after_the_multiprocess_switch() -> None:
    assert all(metric._labelnames for metric in metrics.METRICS)


def test_an_http_request_counts_by_route_template_and_folds_unknown_methods_and_routes() -> None:
    def answered() -> None:
        metrics.http_request("BREW", None, 404, 0.01)

    assert change("eventhive_http_requests_total", answered, method="other", route="<unmatched>", status="404") == 1


def test_a_storage_without_a_backlog_read_still_reports_its_count_and_no_age(
    hive: Hive, clock: FrozenClock, seller: str
) -> None:
    class OlderOutbox:
        """An outbox of a storage plugin written before ``Outbox.backlog``."""

        def __init__(self, outbox: Any) -> None:
            self.pending = outbox.pending

    class OlderUnit:
        def __init__(self, unit: Any) -> None:
            self._unit = unit

        def __enter__(self) -> OlderUnit:
            self.outbox = OlderOutbox(self._unit.__enter__().outbox)
            return self

        def __exit__(self, *exc: object) -> None:
            self._unit.__exit__(*exc)

    class OlderStorage:
        def __init__(self, storage: Any) -> None:
            self._storage = storage

        def unit_of_work(self) -> OlderUnit:
            return OlderUnit(self._storage.unit_of_work())

    hive.relay_outbox()
    new_ticket(hive, seller)
    older = replace(hive.services, storage=OlderStorage(hive.services.storage))  # type: ignore[arg-type]

    backlog = outbox_backlog(older)

    assert backlog == (1, None)
    body, _ = metrics.exposition([metrics.OutboxCollector(lambda: outbox_backlog(older), hive.clock.now)])
    assert b"eventhive_outbox_backlog 1.0" in body
    assert b"eventhive_outbox_oldest_age_seconds" not in body
