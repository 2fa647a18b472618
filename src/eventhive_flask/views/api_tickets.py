"""``/api/tickets``: list, create, show and update tickets."""

from __future__ import annotations

from flask import Response, request

from eventhive_core import CreateTicket, FieldError, UpdateTicket, ValidationFailed
from eventhive_flask.auth import require_identity
from eventhive_flask.bodies import parse
from eventhive_flask.responses import json_list, json_response, page_arguments
from eventhive_flask.schemas import TicketIn, TicketOut
from eventhive_flask.state import current_hive
from eventhive_flask.views.blueprint import api


@api.get("/tickets", endpoint="list_tickets")
def list_tickets() -> Response:
    """Tickets with a free unit, oldest first; ``?owner=me``: the caller's own, whatever their state."""
    owner = request.args.get("owner")
    if owner is not None and owner != "me":
        raise ValidationFailed([FieldError("Owner must be 'me'", "owner")])
    identity = require_identity() if owner == "me" else None
    limit, cursor = page_arguments()
    if identity is not None:
        page = current_hive.queries.tickets_owned_by(identity.user_id, limit, cursor)
    else:
        page = current_hive.queries.available_tickets(limit, cursor)
    return json_list((TicketOut.from_view(view) for view in page.items), page.next_cursor)


@api.post("/tickets", endpoint="create_ticket")
def create_ticket() -> Response:
    """List a ticket: 201 and the ticket."""
    identity = require_identity()
    body = parse(TicketIn)
    view = current_hive.handle(
        CreateTicket(
            owner_id=identity.user_id,
            title=body.title,
            price=body.price,
            capacity=1 if body.capacity is None else body.capacity,
        )
    )
    return json_response(TicketOut.from_view(view), 201)


@api.get("/tickets/<ticket_id>", endpoint="show_ticket")
def show_ticket(ticket_id: str) -> Response:
    """One ticket, sold or not; 404 for unknown or malformed ids."""
    return json_response(TicketOut.from_view(current_hive.queries.ticket(ticket_id)))


@api.put("/tickets/<ticket_id>", endpoint="update_ticket")
def update_ticket(ticket_id: str) -> Response:
    """Change title and price (both required, as in the original) and optionally capacity: owner only."""
    identity = require_identity()
    body = parse(TicketIn)
    view = current_hive.handle(
        UpdateTicket(
            ticket_id=ticket_id,
            actor_id=identity.user_id,
            title=body.title,
            price=body.price,
            capacity=body.capacity,
        )
    )
    return json_response(TicketOut.from_view(view))
