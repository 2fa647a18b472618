"""pretix's side of the comparison; runs inside pretix's own virtual environment, started by ``run.py``.

Subcommands (each prints one JSON line on stdout):

- ``seed``: through pretix's ORM, as its control panel's event wizard would, create an organizer
  (which makes its default sales channels), an event (pretix's default plugins, a default check-in
  list, ``Event.set_defaults()``, live, bank transfer enabled as the payment method), an item at
  10.00 EUR with one quota of ``--capacity`` units, one small-quota item per race run, and a team
  with every permission and one API token for the REST side.
- ``checkout``: one web-shop buyer. It calls exactly what pretix's web shop calls, through the same
  Celery tasks (eager here, as pretix runs them without a broker), with the arguments its views pass:

  1. ``pretix.presale.views.cart.generate_cart_id()`` (``create_empty_cart_id`` in the shop);
  2. ``pretix.base.services.cart.add_items_to_cart.apply_async(...)`` (the task behind the
     ``CartAdd`` view): ``CartManager.add_new_items`` then ``CartManager.commit``, whose
     ``_perform_operations`` takes the quota's PostgreSQL advisory lock
     (``pretix.base.services.locking.lock_objects``), checks availability and creates the
     cart position;
  3. the cart's position ids, with one bank-transfer payment as
     ``pretix.base.services.cart.add_payment_to_cart_session`` records it;
  4. ``pretix.base.services.orders.perform_order.apply_async(...)`` (the task behind the checkout's
     ``ConfirmStep``): ``_perform_order``, which in one transaction re-checks and locks the quotas
     (``_check_positions``), creates the order, its position, its payment and its
     ``pretix.event.order.placed`` log entry (``_create_order``), then, after commit, renders and
     sends the order-placed e-mail (when e-mail is on) and starts the bank-transfer payment.

  It prints ``ready`` once warmed up (one checkout on the big quota), waits for a line on stdin, then
  checks out for ``--seconds`` or ``--attempts`` times and prints its counts.
- ``count``: units each item has in live orders (pending or paid), in live carts, its quota's size, and
  pretix's own idea of what the quota still has.
- ``audit``: what pretix wrote per order over the whole run: log entries by kind, outgoing mails,
  invoices, payments.

Usage: not by hand; ``run.py`` sets ``PRETIX_CONFIG_FILE``, ``DJANGO_SETTINGS_MODULE`` and the path.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pretix_bench_settings")


def _setup() -> None:
    import django

    django.setup()


def seed(args: argparse.Namespace) -> dict[str, Any]:
    from django.conf import settings
    from django.utils.timezone import now
    from django_scopes import scopes_disabled
    from pretix.base.models import Event, Item, Organizer, Quota, Team

    with scopes_disabled():
        organizer = Organizer.objects.create(name="Bench organizer", slug="bench")
        # Bank transfer is an organizer-and-event plugin: on for the organizer, then for the event.
        organizer.enable_plugin("pretix.plugins.banktransfer")
        organizer.save(update_fields=["plugins"])
        event = Event.objects.create(
            organizer=organizer,
            name="Bench event",
            slug="hot",
            currency="EUR",
            date_from=now() + timedelta(days=30),
            live=True,
        )
        # pretix's default plugins, plus bank transfer, the usual way to pay a pending order.
        plugins = [*settings.PRETIX_PLUGINS_DEFAULT.split(","), "pretix.plugins.banktransfer"]
        event.set_active_plugins(plugins, allow_restricted=plugins)
        event.save(update_fields=["plugins"])
        event.checkin_lists.create(name="Default", all_products=True)
        event.set_defaults()
        event.settings.payment_banktransfer__enabled = True
        event.settings.payment_banktransfer_bank_details_type = "other"
        event.settings.payment_banktransfer_bank_details = "Bench Bank, account 0000"
        if not args.mail:
            # pretix's switch for the order-placed and order-paid mails: no sales channel sends them.
            event.settings.mail_sales_channel_placed_paid = []

        def item_with_quota(name: str, size: int) -> tuple[Item, Quota]:
            item = Item.objects.create(event=event, name=name, default_price=Decimal("10.00"), admission=True)
            quota = Quota.objects.create(event=event, name=name, size=size)
            quota.items.add(item)
            return item, quota

        hot_item, hot_quota = item_with_quota("Hot ticket", args.capacity)
        race = [item_with_quota(f"Race {n}", args.race_quota) for n in range(args.race_runs)]
        team = Team.objects.create(
            organizer=organizer,
            name="Bench API",
            all_events=True,
            all_event_permissions=True,
            all_organizer_permissions=True,
        )
        token = team.tokens.create(name="bench")
    import pretix

    return {
        "pretix_version": pretix.__version__,
        "organizer": organizer.slug,
        "event": event.slug,
        "event_id": event.pk,
        "item": hot_item.pk,
        "quota": hot_quota.pk,
        "race": [{"item": item.pk, "quota": quota.pk} for item, quota in race],
        "token": token.token,
    }


def _checkout(event_id: int, item_id: int, email: str) -> None:
    """One web-shop checkout of one unit of ``item_id``: cart, then order (see the module's docstring)."""
    from pretix.base.models import CartPosition
    from pretix.base.services.cart import add_items_to_cart
    from pretix.base.services.orders import perform_order
    from pretix.presale.views.cart import generate_cart_id

    cart_id = generate_cart_id()
    items = [
        {
            "item": item_id,
            "variation": None,
            "count": 1,
            "price": None,
            "voucher": None,
            "voucher_ignore_if_redeemed": False,
            "subevent": None,
        }
    ]
    # CartAdd.post: (event id, items, cart id, locale, invoice address, widget data, sales channel, now)
    add_items_to_cart.apply_async(args=(event_id, items, cart_id, "en", None, {}, "web", None)).get()
    positions = list(CartPosition.objects.filter(cart_id=cart_id, event_id=event_id).values_list("id", flat=True))
    payments = [
        {
            "id": str(uuid.uuid4()),
            "provider": "banktransfer",
            "multi_use_supported": False,
            "min_value": None,
            "max_value": None,
            "info_data": {},
        }
    ]
    # ConfirmStep.post's keyword arguments.
    perform_order.apply_async(
        args=(event_id,),
        kwargs={
            "payments": payments,
            "positions": positions,
            "email": email,
            "locale": "en",
            "address": None,
            "meta_info": {"contact_form_data": {"email": email}, "confirm_messages": []},
            "sales_channel": "web",
            "shown_total": None,
            "customer": None,
            "override_now_dt": None,
            "api_meta": {},
            "cart_id": cart_id,
        },
    ).get()


def checkout(args: argparse.Namespace) -> dict[str, Any]:
    from django_scopes import scopes_disabled
    from pretix.base.services.cart import CartError
    from pretix.base.services.orders import OrderError

    email = f"buyer{args.buyer}@bench.example"
    with scopes_disabled():
        # Warm caches, the connection and the imports. With many buyers warming at once pretix's
        # quota lock can time out (and its eager task wrapper then fails with a TypeError): a
        # warm-up that fails is tried again, then given up; it only warms.
        for _ in range(3):
            try:
                _checkout(args.event, args.warm_item, email)
                break
            except Exception:  # any failure of a warm-up is harmless
                continue
        print("ready", flush=True)
        sys.stdin.readline()
        done, refused, errors = 0, 0, 0
        last_error = ""
        deadline = time.perf_counter() + args.seconds if args.seconds else float("inf")
        attempts = 0
        cpu = time.process_time()
        while time.perf_counter() < deadline and (not args.attempts or attempts < args.attempts):
            attempts += 1
            try:
                _checkout(args.event, args.item, email)
                done += 1
            except (CartError, OrderError) as error:  # sold out, or the quota's lock was busy
                refused += 1
                last_error = str(error)
            except Exception as error:  # counted: a healthy run has none
                errors += 1
                last_error = repr(error)
    return {
        "done": done,
        "refused": refused,
        "errors": errors,
        "cpu_s": time.process_time() - cpu,
        "last_error": last_error,
    }


def count(args: argparse.Namespace) -> dict[str, Any]:
    from django.utils.timezone import now
    from django_scopes import scopes_disabled
    from pretix.base.models import CartPosition, Order, OrderPosition, Quota

    counts = {}
    with scopes_disabled():
        for item_id in args.items:
            quota = Quota.objects.get(items__id=item_id)
            ordered = OrderPosition.objects.filter(
                item_id=item_id, order__status__in=[Order.STATUS_PENDING, Order.STATUS_PAID]
            ).count()
            carts = CartPosition.objects.filter(item_id=item_id, expires__gt=now()).count()
            _state, available = quota.availability(count_waitinglist=False)
            counts[str(item_id)] = {
                "quota": quota.size,
                "ordered": ordered,
                "in_carts": carts,
                "pretix_says_available": available,
            }
    return counts


def audit(args: argparse.Namespace) -> dict[str, Any]:
    """What pretix wrote for its orders: log entries by kind, outgoing mails, invoices, payments, per order."""
    from django.db.models import Count
    from django_scopes import scopes_disabled
    from pretix.base.models import Invoice, LogEntry, Order, OrderPayment
    from pretix.base.models.mail import OutgoingMail

    with scopes_disabled():
        orders = Order.objects.count()
        per = max(orders, 1)
        logs = {
            row["action_type"]: round(row["n"] / per, 3)
            for row in LogEntry.objects.values("action_type").annotate(n=Count("id")).order_by("action_type")
        }
        return {
            "orders": orders,
            "log_entries_per_order": logs,
            "outgoing_mails_per_order": round(OutgoingMail.objects.count() / per, 3),
            "invoices_per_order": round(Invoice.objects.count() / per, 3),
            "payments_per_order": round(OrderPayment.objects.count() / per, 3),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    seeding = sub.add_parser("seed")
    seeding.add_argument("--capacity", type=int, required=True)
    seeding.add_argument("--race-runs", type=int, required=True)
    seeding.add_argument("--race-quota", type=int, required=True)
    seeding.add_argument("--mail", action=argparse.BooleanOptionalAction, default=True)
    buying = sub.add_parser("checkout")
    buying.add_argument("--event", type=int, required=True)
    buying.add_argument("--item", type=int, required=True)
    buying.add_argument("--warm-item", type=int, required=True)
    buying.add_argument("--buyer", type=int, required=True)
    buying.add_argument("--seconds", type=float, default=0.0)
    buying.add_argument("--attempts", type=int, default=0)
    counting = sub.add_parser("count")
    counting.add_argument("--items", type=int, nargs="+", required=True)
    sub.add_parser("audit")
    args = parser.parse_args()
    _setup()
    result = {"seed": seed, "checkout": checkout, "count": count, "audit": audit}[args.command](args)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
