"""The client port: everything the web pages ask of the platform, and nothing more.

The pages (:mod:`eventhive_flask.views.pages`) render what this port returns, the core's read
models, and show the core's refusals (:class:`~eventhive_core.EventHiveError` and its
subclasses) as they always have. Two implementations answer it:

- :class:`~eventhive_flask.client_inprocess.InProcessClient` calls the app's own Hive, as
  ``eventhive serve`` does;
- :class:`~eventhive_flask.client_http.HttpClient` calls the public JSON API at
  ``EVENTHIVE_API_URL``, as ``eventhive service client`` does, forwarding the browser's token
  cookie and handing back any cookie the API sets.

One port object serves one browser request: it knows who is calling from that request's cookie.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from flask import Response

from eventhive_core import Identity, OrderView, Page, TicketView


class ClientPort(Protocol):
    """What the pages need, for the browser request being served.

    Every method raises the core's errors: :class:`~eventhive_core.NotAuthorized` when nobody
    (or the wrong person) is signed in, :class:`~eventhive_core.NotFound`,
    :class:`~eventhive_core.ValidationFailed` with its field errors, and the refusals of the rules
    (:class:`~eventhive_core.SoldOut`...).
    """

    def signed_in(self) -> Identity | None:
        """Return who is signed in with this request's token, or None."""
        ...

    def now(self) -> datetime:
        """Return the current time (aware UTC), for the order page's countdown."""
        ...

    def available_tickets(self, cursor: str | None = None) -> Page[TicketView]:
        """Return a page of the tickets with a free unit, oldest first."""
        ...

    def my_tickets(self, cursor: str | None = None) -> Page[TicketView]:
        """Return a page of the signed-in seller's own tickets."""
        ...

    def ticket(self, ticket_id: str) -> TicketView:
        """Return one ticket, sold or not."""
        ...

    def create_ticket(self, title: str, price: str, capacity: int) -> TicketView:
        """List a ticket for the signed-in seller."""
        ...

    def place_order(self, ticket_id: str, quantity: int, idempotency_key: str | None) -> OrderView:
        """Hold ``quantity`` units of a ticket for the signed-in buyer (once per idempotency key)."""
        ...

    def order(self, order_id: str) -> OrderView:
        """Return one of the signed-in buyer's orders as it is now."""
        ...

    def my_orders(self, cursor: str | None = None) -> Page[OrderView]:
        """Return a page of the signed-in buyer's orders, oldest first."""
        ...

    def cancel_order(self, order_id: str) -> None:
        """Cancel one of the signed-in buyer's unpaid orders."""
        ...

    def pay(self, order_id: str, token: str) -> None:
        """Charge one of the signed-in buyer's orders with a payment provider's token."""
        ...

    def sign_up(self, email: str, password: str) -> None:
        """Create an account and sign in with it (the token cookie goes out with :meth:`pass_cookies`)."""
        ...

    def sign_in(self, email: str, password: str) -> None:
        """Sign in (the token cookie goes out with :meth:`pass_cookies`)."""
        ...

    def sign_out(self) -> None:
        """Revoke this request's token, if any; the page clears the cookie whatever happens."""
        ...

    def pass_cookies(self, response: Response) -> None:
        """Put on the browser's response the cookies the calls of this request set or cleared."""
        ...


__all__ = ["ClientPort"]
