"""The Hive's own surface: what edges and plugins use instead of reaching into ``hive.services``."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest

from eventhive_core import (
    CreateTicket,
    ExpireOrder,
    ExpireResult,
    Hive,
    OrderStatus,
    PayOrder,
    PlaceOrder,
    SweepExpired,
)
from eventhive_core.testing.fakes import FrozenClock

SRC = Path(__file__).resolve().parents[3] / "src"
#: Where ``services`` belongs: the service layer that defines it, and the Hive that holds it.
OWNERS = (SRC / "eventhive_core" / "service_layer", SRC / "eventhive_core" / "hive.py")


def services_reads(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path.relative_to(SRC)}:{node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "services"
    ]


def test_no_module_outside_the_service_layer_and_the_hive_reads_hive_services() -> None:
    modules = [p for p in SRC.rglob("*.py") if not any(p == o or o in p.parents for o in OWNERS)]
    assert len(modules) > 50  # the scan sees the package, not an empty directory

    found = [where for path in modules for where in services_reads(path)]

    assert found == [], "use the Hive's own surface (hive.clock, hive.payment_gateway, hive.relay_once...)"


def test_the_hive_tells_the_time_by_its_own_clock(hive: Hive, clock: FrozenClock) -> None:
    clock.advance(seconds=5)
    assert hive.clock.now() == clock.now()


def test_the_hive_names_its_payment_gateway(hive: Hive) -> None:
    assert hive.payment_gateway.name == hive.settings.payment_provider


def test_relay_once_publishes_one_batch_and_relay_outbox_all_of_them(hive: Hive, ann: str, seller: str) -> None:
    for n in range(5):
        hive.handle(CreateTicket(owner_id=seller, title=f"Gig {n}", price=5))
    hive.relay_outbox()  # what sign-ups and tickets wrote so far
    for _ in range(5):
        hive.handle(CreateTicket(owner_id=seller, title="More", price=5))

    assert hive.relay_once(limit=2) == 2
    assert hive.relay_outbox() == 3
    assert hive.relay_once() == 0


def test_a_query_shows_a_due_hold_as_expired_before_anything_records_it(
    hive: Hive, clock: FrozenClock, ann: str, gig: str
) -> None:
    order = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    clock.advance(seconds=60)  # the hold ends at expires_at itself

    view = hive.queries.order(order.id, viewer_id=ann)
    (listed,) = hive.queries.orders_for_user(ann).items

    for shown in (view, listed):
        assert (shown.status, shown.cancel_reason, shown.version) == (OrderStatus.CANCELLED, "expired", order.version)
    with hive.uow() as uow:
        stored = uow.orders.get(order.id)
    assert stored is not None
    assert stored.status is OrderStatus.CREATED  # the read wrote nothing
    assert hive.expire(order.id) is ExpireResult.EXPIRED  # recording it is still the expiry's job


def test_a_query_leaves_live_holds_and_paid_orders_as_they_are(
    hive: Hive, clock: FrozenClock, ann: str, gig: str, seller: str
) -> None:
    live = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    other = hive.handle(CreateTicket(owner_id=seller, title="Other", price=5)).id
    paid = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=other))
    hive.handle(PayOrder(order_id=paid.id, actor_id=ann, token="tok_visa"))
    clock.advance(seconds=59)
    assert hive.queries.order(live.id).status is OrderStatus.CREATED

    clock.advance(seconds=3600)
    assert hive.queries.order(paid.id).status is OrderStatus.COMPLETE


def test_a_late_expiry_sweeps_every_due_hold_and_later_ones_answer_swept(
    hive: Hive, clock: FrozenClock, ann: str, seller: str
) -> None:
    ticket = hive.handle(CreateTicket(owner_id=seller, title="Hall", price=5, capacity=10)).id
    orders = [hive.handle(PlaceOrder(buyer_id=ann, ticket_id=ticket)) for _ in range(3)]
    clock.advance(seconds=70)  # every hold ended 10 s ago
    fire_at = [o.expires_at + timedelta(seconds=2) for o in orders]

    assert hive.expire(orders[0].id, fire_at=fire_at[0]) is ExpireResult.EXPIRED
    with hive.uow() as uow:
        assert all(uow.orders.get(o.id).status is OrderStatus.CANCELLED for o in orders)  # type: ignore[union-attr]
    assert hive.expire(orders[1].id, fire_at=fire_at[1]) is ExpireResult.SWEPT

    later = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=ticket))
    clock.advance(seconds=70)
    # Its hold ended after the catch-up sweep started: the expiry reads the storage.
    assert hive.expire(later.id, fire_at=later.expires_at) is ExpireResult.EXPIRED


def test_an_expiry_on_time_or_without_a_fire_time_cancels_only_its_own_order(
    hive: Hive, clock: FrozenClock, ann: str, seller: str
) -> None:
    ticket = hive.handle(CreateTicket(owner_id=seller, title="Hall", price=5, capacity=10)).id
    mine, other, third = (hive.handle(PlaceOrder(buyer_id=ann, ticket_id=ticket)) for _ in range(3))
    clock.advance(seconds=62)

    assert hive.expire(mine.id, fire_at=clock.now()) is ExpireResult.EXPIRED
    assert hive.expire(other.id) is ExpireResult.EXPIRED

    with hive.uow() as uow:
        stored = uow.orders.get(third.id)
    assert stored is not None
    assert stored.status is OrderStatus.CREATED


def test_sending_expire_order_or_sweep_expired_to_handle_still_works_with_a_deprecation_warning(
    hive: Hive, clock: FrozenClock, ann: str, gig: str
) -> None:
    order = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    clock.advance(seconds=60)

    with pytest.deprecated_call(match=r"hive\.expire\(order_id\)"):
        assert hive.handle(ExpireOrder(order_id=order.id)) is ExpireResult.EXPIRED
    with pytest.deprecated_call(match=r"hive\.sweep\(batch_size\)"):
        assert hive.handle(SweepExpired(batch_size=3)) == 0
