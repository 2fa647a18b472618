from __future__ import annotations

import pytest

from eventhive_core import (
    CannotEditReservedTicket,
    CreateTicket,
    Hive,
    Money,
    NotAuthorized,
    NotFound,
    PlaceOrder,
    UpdateTicket,
    ValidationFailed,
)
from eventhive_core.testing.fakes import FrozenClock


def test_a_listed_ticket_has_its_price_in_minor_units_and_all_units_free(hive: Hive, seller: str) -> None:
    view = hive.handle(CreateTicket(owner_id=seller, title="Gig", price="10.10", capacity=3))
    assert view.price == Money(1010, "USD")
    assert (view.capacity, view.available, view.version) == (3, 3, 0)


@pytest.mark.parametrize(
    ("title", "price", "messages"),
    [
        ("", 10, ["Title is required"]),
        ("Gig", -10, ["Price must be greater than 0"]),
        ("Gig", "abc", ["Price must be greater than 0"]),
        ("Gig", float("nan"), ["Price must be greater than 0"]),
        ("Gig", True, ["Price must be greater than 0"]),
        ("Gig", "1000000.01", ["Price must be at most 1,000,000"]),
        ("Gig", "1.001", ["Price must have at most 2 decimal places"]),
        ("x" * 201, 10, ["Title must be at most 200 characters"]),
        ("", 0, ["Title is required", "Price must be greater than 0"]),
    ],
)
def test_bad_listings_are_refused_with_every_reason(
    hive: Hive, seller: str, title: str, price: object, messages: list[str]
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        hive.handle(CreateTicket(owner_id=seller, title=title, price=price, capacity=1))  # type: ignore[arg-type]
    assert [e.message for e in caught.value.errors] == messages
    assert hive.queries.available_tickets().items == ()


def test_the_owner_updates_title_and_price_and_the_version_moves(hive: Hive, seller: str, gig: str) -> None:
    view = hive.handle(UpdateTicket(ticket_id=gig, actor_id=seller, title="Gig 2", price=30))
    assert (view.title, view.price.minor, view.version) == ("Gig 2", 3000, 1)


def test_someone_else_cannot_update_a_ticket(hive: Hive, ann: str, gig: str) -> None:
    with pytest.raises(NotAuthorized):
        hive.handle(UpdateTicket(ticket_id=gig, actor_id=ann, title="Mine"))
    assert hive.queries.ticket(gig).title == "Gig"


def test_a_stranger_is_told_not_authorized_even_when_the_ticket_is_held(
    hive: Hive, ann: str, bob: str, gig: str
) -> None:
    hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    with pytest.raises(NotAuthorized):
        hive.handle(UpdateTicket(ticket_id=gig, actor_id=bob, title="Mine"))


def test_a_ticket_cannot_be_edited_while_a_unit_is_held(hive: Hive, seller: str, ann: str, gig: str) -> None:
    hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    with pytest.raises(CannotEditReservedTicket) as caught:
        hive.handle(UpdateTicket(ticket_id=gig, actor_id=seller, price=99))
    assert caught.value.message == "Cannot edit a reserved ticket"


def test_a_hold_that_ran_out_does_not_block_an_edit(
    hive: Hive, clock: FrozenClock, seller: str, ann: str, gig: str
) -> None:
    hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    clock.advance(seconds=61)
    assert hive.handle(UpdateTicket(ticket_id=gig, actor_id=seller, price=99)).price.minor == 9900


@pytest.mark.parametrize("ticket_id", ["0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c01", "123", ""])
def test_updating_an_unknown_or_malformed_id_is_not_found(hive: Hive, seller: str, ticket_id: str) -> None:
    with pytest.raises(NotFound):
        hive.handle(UpdateTicket(ticket_id=ticket_id, actor_id=seller, title="x"))


def test_an_invalid_update_changes_nothing(hive: Hive, seller: str, gig: str) -> None:
    with pytest.raises(ValidationFailed):
        hive.handle(UpdateTicket(ticket_id=gig, actor_id=seller, title="", price=-20))
    view = hive.queries.ticket(gig)
    assert (view.title, view.price.minor, view.version) == ("Gig", 2000, 0)


def test_listing_and_updating_publish_events(hive: Hive, seller: str, gig: str) -> None:
    hive.handle(UpdateTicket(ticket_id=gig, actor_id=seller, title="Gig 2"))
    with hive.uow() as uow:
        types = [r.message.type for r in uow.outbox.claim(hive.clock.now(), hive.clock.now(), 10)]
    assert types == ["ticket:created", "ticket:updated"]
