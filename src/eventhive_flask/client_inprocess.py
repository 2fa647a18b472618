"""The client port over the app's own Hive: the pages of ``eventhive serve`` (and of any app with the pages on)."""

from __future__ import annotations

import contextlib
from datetime import datetime

from flask import Response

from eventhive_core import (
    CancelOrder,
    CreateTicket,
    EventHiveError,
    Hive,
    Identity,
    NotAuthorized,
    OrderView,
    Page,
    PayOrder,
    PlaceOrder,
    SignedIn,
    SignIn,
    SignOut,
    SignUp,
    TicketView,
)
from eventhive_flask.auth import current_identity, request_token, set_token_cookie


class InProcessClient:
    """The pages' calls as commands and queries of ``hive``, for the current Flask request.

    Who is signed in comes from the request's token (or a plugin), exactly as for the JSON API.

    Args:
        hive: The app's Hive.
    """

    def __init__(self, hive: Hive) -> None:
        self._hive = hive
        self._signed_in: SignedIn | None = None

    def _identity(self) -> Identity:
        identity = current_identity()
        if identity is None:
            raise NotAuthorized()
        return identity

    def signed_in(self) -> Identity | None:
        """Return who is signed in with this request's token, or None."""
        return current_identity()

    def now(self) -> datetime:
        """Return the Hive's time."""
        return self._hive.clock.now()

    def available_tickets(self, cursor: str | None = None) -> Page[TicketView]:
        """Return a page of the tickets with a free unit, oldest first."""
        return self._hive.queries.available_tickets(cursor=cursor)

    def my_tickets(self, cursor: str | None = None) -> Page[TicketView]:
        """Return a page of the signed-in seller's own tickets."""
        return self._hive.queries.tickets_owned_by(self._identity().user_id, cursor=cursor)

    def ticket(self, ticket_id: str) -> TicketView:
        """Return one ticket, sold or not."""
        return self._hive.queries.ticket(ticket_id)

    def create_ticket(self, title: str, price: str, capacity: int) -> TicketView:
        """List a ticket for the signed-in seller."""
        owner = self._identity().user_id
        view: TicketView = self._hive.handle(CreateTicket(owner_id=owner, title=title, price=price, capacity=capacity))
        return view

    def place_order(self, ticket_id: str, quantity: int, idempotency_key: str | None) -> OrderView:
        """Hold units of a ticket for the signed-in buyer (once per idempotency key)."""
        buyer = self._identity().user_id
        command = PlaceOrder(buyer_id=buyer, ticket_id=ticket_id, quantity=quantity, idempotency_key=idempotency_key)
        view: OrderView = self._hive.handle(command)
        return view

    def order(self, order_id: str) -> OrderView:
        """Return one of the buyer's orders; the core settles on read, so a lapsed hold shows as cancelled."""
        return self._hive.queries.order(order_id, viewer_id=self._identity().user_id)

    def my_orders(self, cursor: str | None = None) -> Page[OrderView]:
        """Return a page of the signed-in buyer's orders, oldest first."""
        return self._hive.queries.orders_for_user(self._identity().user_id, cursor=cursor)

    def cancel_order(self, order_id: str) -> None:
        """Cancel one of the signed-in buyer's unpaid orders."""
        self._hive.handle(CancelOrder(order_id=order_id, actor_id=self._identity().user_id))

    def pay(self, order_id: str, token: str) -> None:
        """Charge one of the signed-in buyer's orders."""
        self._hive.handle(PayOrder(order_id=order_id, actor_id=self._identity().user_id, token=token))

    def sign_up(self, email: str, password: str) -> None:
        """Create an account and keep its token for :meth:`pass_cookies`."""
        self._signed_in = self._hive.handle(SignUp(email=email, password=password))

    def sign_in(self, email: str, password: str) -> None:
        """Sign in and keep the token for :meth:`pass_cookies`."""
        self._signed_in = self._hive.handle(SignIn(email=email, password=password))

    def sign_out(self) -> None:
        """Revoke this request's token, if any."""
        token = request_token()
        if token is not None:
            # An expired or revoked token: clearing the cookie (the page's part) is all there is left to do.
            with contextlib.suppress(EventHiveError):
                self._hive.handle(SignOut(token=token))

    def pass_cookies(self, response: Response) -> None:
        """Set the token cookie after a sign-up or sign-in, by the JSON API's own helper."""
        if self._signed_in is not None:
            token = self._signed_in.token
            set_token_cookie(response, token.token, token.claims.expires_at)


__all__ = ["InProcessClient"]
