"""Embed EventHive in a plain Python program: no web framework, no services.

Two people sign up, one lists a ticket, the other reserves and pays for it; a second hold is
left unpaid and expires. Run it with ``python examples/embedded.py``.
"""

from __future__ import annotations

from eventhive_core import CreateTicket, HiveSettings, PayOrder, PlaceOrder, SignUp, SoldOut, bootstrap

# Everything in memory; a 1-second hold so the expiry below is quick to watch.
hive = bootstrap(HiveSettings(reservation_ttl=1, scheduler="none"))

seller = hive.handle(SignUp(email="seller@example.com", password="s3cret-pass")).user
buyer = hive.handle(SignUp(email="buyer@example.com", password="s3cret-pass")).user

gig = hive.handle(CreateTicket(owner_id=seller.id, title="Jazz night", price="25.00", capacity=2))
print(f"Listed {gig.title!r} at {gig.price}, {gig.available} units")

order = hive.handle(PlaceOrder(buyer_id=buyer.id, ticket_id=gig.id))
print(f"Order {order.id} is {order.status}, pay before {order.expires_at:%H:%M:%S}")

payment = hive.handle(PayOrder(order_id=order.id, actor_id=buyer.id, token="tok_visa"))
print(f"Payment {payment.status}: order is {hive.queries.order(order.id).status}")

# The second unit is held and never paid: once its hold runs out it is free again.
hold = hive.handle(PlaceOrder(buyer_id=buyer.id, ticket_id=gig.id))
try:
    hive.handle(PlaceOrder(buyer_id=buyer.id, ticket_id=gig.id))
except SoldOut as refused:
    print(f"A third order is refused: {refused.message}")

import time  # noqa: E402 - only the demo waits

time.sleep(1.1)
print(f"Expired holds swept: {hive.sweep()}; order {hold.id} is {hive.queries.order(hold.id).status}")
print(f"Units free again: {hive.queries.ticket(gig.id).available}")
print(f"Events relayed to subscribers: {hive.relay_outbox()}")
hive.close()
