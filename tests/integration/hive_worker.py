"""A worker process for the multi-process tests: one Hive on a shared database, driven over stdin.

Run as ``python hive_worker.py DATABASE_URL [RESERVATION_TTL_SECONDS]``. It prints ``{"ready": pid}``
once its Hive is built, then reads one JSON command per line and answers with one JSON line:

- ``{"op": "place", "ticket": id, "buyer": id, "quantity": q, "attempts": n, "stop_on_sold_out": bool}``
- ``{"op": "cancel", "order": id, "actor": id}``
- ``{"op": "expire", "orders": [id, ...]}`` / ``{"op": "sweep"}``
- ``{"op": "place_then_hang", ...}``: place one order, answer, then sleep until killed
- ``{"op": "hang_in_unit", "message_id": id}``: write an outbox row, answer, then sleep (uncommitted)
- ``{"op": "pay", "order": id, "buyer": id, "token": t}``: answers ``{"status": ..., "errors": [...]}``
- ``{"op": "quit"}``

With ``EVENTHIVE_TEST_STRIPE_API_BASE`` (and ``..._KEY``, ``..._WEBHOOK_SECRET``) in its environment,
the worker pays through the ``stripe`` provider at that address, so several processes share one
Stripe stand-in.

Errors are reported by class name; anything that is not an EventHive error is "unexpected".
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from datetime import timedelta
from typing import Any


def main() -> None:
    from eventhive_core import CancelOrder, PayOrder, PlaceOrder
    from eventhive_core.clock import SystemClock
    from eventhive_core.domain.errors import EventHiveError
    from eventhive_core.ports.messages import Message
    from eventhive_core.testing.hives import make_test_hive

    url = sys.argv[1]
    ttl = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
    payments: dict[str, Any] = {}
    if os.environ.get("EVENTHIVE_TEST_STRIPE_API_BASE"):
        payments = {
            "payment_provider": "stripe",
            "stripe_api_base": os.environ["EVENTHIVE_TEST_STRIPE_API_BASE"],
            "stripe_secret_key": os.environ["EVENTHIVE_TEST_STRIPE_KEY"],
            "stripe_webhook_secret": os.environ["EVENTHIVE_TEST_STRIPE_WEBHOOK_SECRET"],
            "payment_options": {"max_network_retries": 0},
        }
    hive = make_test_hive(
        SystemClock(),
        storage="sqlalchemy",
        database_url=url,
        reservation_ttl=timedelta(seconds=ttl),
        # The parent migrated the database; installed entry-point plugins only slow the start.
        storage_options={"migrate": "off"},
        load_plugins=(),
        **payments,
    )

    def answer(payload: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()

    def attempt(action: Any, *args: Any) -> tuple[Any, str | None]:
        try:
            return action(*args), None
        except EventHiveError as exc:
            return None, type(exc).__name__
        except Exception:  # every other failure is a bug the test must see
            return None, "unexpected: " + traceback.format_exc(limit=3)

    answer({"ready": os.getpid()})
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        if op == "quit":
            break
        if op in ("place", "place_then_hang"):
            placed: list[dict[str, Any]] = []
            errors: list[str] = []
            for _ in range(cmd.get("attempts", 1)):
                place = PlaceOrder(buyer_id=cmd["buyer"], ticket_id=cmd["ticket"], quantity=cmd.get("quantity", 1))
                view, error = attempt(hive.handle, place)
                if view is not None:
                    placed.append({"id": view.id, "quantity": view.quantity})
                elif error is not None:
                    errors.append(error)
                    if error == "SoldOut" and cmd.get("stop_on_sold_out", True):
                        break
            answer({"placed": placed, "errors": errors})
            if op == "place_then_hang":
                time.sleep(3600)
        elif op == "cancel":
            _, error = attempt(hive.handle, CancelOrder(order_id=cmd["order"], actor_id=cmd["actor"]))
            answer({"errors": [error] if error else []})
        elif op == "expire":
            results, errors = [], []
            for order_id in cmd["orders"]:
                result, error = attempt(hive.expire, order_id)
                if error:
                    errors.append(error)
                else:
                    results.append(str(result))
            answer({"results": results, "errors": errors})
        elif op == "pay":
            paid, error = attempt(
                hive.handle, PayOrder(order_id=cmd["order"], actor_id=cmd["buyer"], token=cmd["token"])
            )
            answer({"status": paid.status if paid is not None else None, "errors": [error] if error else []})
        elif op == "sweep":
            swept, error = attempt(hive.sweep)
            answer({"swept": swept or 0, "errors": [error] if error else []})
        elif op == "hang_in_unit":
            with hive.uow() as uow:
                uow.outbox.add(Message(cmd["message_id"], "order:created", "{}"), hive.clock.now())
                answer({"in_unit": True})
                time.sleep(3600)
        else:
            answer({"errors": [f"unexpected: unknown op {op!r}"]})
    hive.close()


if __name__ == "__main__":
    main()
