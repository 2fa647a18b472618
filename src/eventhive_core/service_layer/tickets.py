"""Listing and editing tickets."""

from __future__ import annotations

from eventhive_core.domain.commands import CreateTicket, UpdateTicket
from eventhive_core.domain.errors import CannotEditReservedTicket, FieldError, NotAuthorized, NotFound, ValidationFailed
from eventhive_core.domain.events import TicketCreated, TicketUpdated
from eventhive_core.domain.ids import TicketId, UserId, is_valid_id, new_id
from eventhive_core.domain.money import Money
from eventhive_core.domain.read_models import TicketView
from eventhive_core.domain.ticket import Ticket
from eventhive_core.domain.validation import MAX_CAPACITY, parse_price, quantity_errors, title_errors
from eventhive_core.ports.storage import UnitOfWork
from eventhive_core.service_layer.orders import reclaim_due_holds
from eventhive_core.service_layer.publishing import record
from eventhive_core.service_layer.services import Services
from eventhive_core.service_layer.users import require_known_user


def _capacity_errors(capacity: object) -> list[FieldError]:
    return quantity_errors(capacity, MAX_CAPACITY, field="capacity")


def _event(ticket: Ticket, cls: type[TicketCreated] | type[TicketUpdated]) -> TicketCreated | TicketUpdated:
    return cls(
        id=ticket.id,
        version=ticket.version,
        title=ticket.title,
        price_minor=ticket.price.minor,
        currency=ticket.price.currency,
        capacity=ticket.capacity,
        owner_id=ticket.owner_id,
    )


def _view(uow: UnitOfWork, ticket: Ticket, services: Services) -> TicketView:
    return TicketView.of(ticket, uow.tickets.units(ticket.id, services.clock.now()))


def create_ticket(cmd: CreateTicket, services: Services) -> TicketView:
    """List a ticket; every failing rule is reported at once. Publishes ``ticket:created``."""
    currency = (cmd.currency or services.settings.currency).upper()
    price, price_problems = parse_price(cmd.price, currency)
    problems = title_errors(cmd.title) + price_problems + _capacity_errors(cmd.capacity)
    if problems:
        raise ValidationFailed(problems)
    assert price is not None
    ticket = Ticket(
        id=TicketId(new_id()),
        title=cmd.title,
        price=price,
        owner_id=UserId(cmd.owner_id),
        created_at=services.clock.now(),
        capacity=cmd.capacity,
    )
    with services.storage.unit_of_work() as uow:
        require_known_user(uow, services, cmd.owner_id)
        uow.tickets.add(ticket)
        record(uow, services, _event(ticket, TicketCreated))
        view = _view(uow, ticket, services)
        uow.commit()
    return view


def update_ticket(cmd: UpdateTicket, services: Services) -> TicketView:
    """Edit a ticket: owner only, never while a unit is held. Publishes ``ticket:updated``.

    Ownership is checked before the hold, so a stranger learns nothing about reservations
    (the original answered "reserved" to anyone).
    """
    with services.storage.unit_of_work() as uow:
        ticket = uow.tickets.get(cmd.ticket_id) if is_valid_id(cmd.ticket_id) else None
        currency = ticket.price.currency if ticket else services.settings.currency
        price: Money | None = None
        problems: list[FieldError] = []
        if cmd.title is not None:
            problems += title_errors(cmd.title)
        if cmd.price is not None:
            price, price_problems = parse_price(cmd.price, currency)
            problems += price_problems
        if cmd.capacity is not None:
            problems += _capacity_errors(cmd.capacity)
        if problems:
            raise ValidationFailed(problems)
        if ticket is None:
            raise NotFound()
        if ticket.owner_id != cmd.actor_id:
            raise NotAuthorized()
        now = services.clock.now()
        # Reclaim due holds first: a hold that ran out must not block the owner's edit. Where
        # orders are a replica (the tickets service of a split), a lapsed hold blocks nothing
        # either (units count live holds), but only the orders service may expire it.
        if services.owns_orders:
            reclaim_due_holds(uow, services, ticket.id, now)
        units = uow.tickets.units(ticket.id, now)
        if units.held > 0:
            raise CannotEditReservedTicket()
        if cmd.capacity is not None and cmd.capacity < units.sold:
            raise ValidationFailed(
                [FieldError(f"Capacity cannot be less than the {units.sold} units sold", "capacity")]
            )
        updated = ticket.edited(title=cmd.title, price=price, capacity=cmd.capacity)
        # A replica's lapsed holds still count in its stripes until their cancellation arrives.
        uow.tickets.save(ticket, updated, over_commit=not services.owns_orders)
        record(uow, services, _event(updated, TicketUpdated))
        view = _view(uow, updated, services)
        uow.commit()
    return view
