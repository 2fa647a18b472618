"""Eight processes pay one order at once with eight different cards, through one Stripe: one charge.

Each worker process has its own Hive on the shared database and its own Stripe client; the
Stripe stand-in they all talk to is the ledger. The claim on the order is a guarded write in the
database, so whichever process wins charges, and every other one hears "in progress" or "already
paid" and charges nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from eventhive_core import CreateTicket, OrderAlreadyPaid, OrderStatus, PayOrder, PlaceOrder, SignUp
from eventhive_core.clock import SystemClock
from eventhive_core.testing.fakes import HeldPaymentGateway
from eventhive_core.testing.hives import make_test_hive
from eventhive_core.testing.stripe_stand_in import StripeStandIn

from .conftest import Workers

pytest.importorskip("stripe", reason='needs the stripe extra: pip install -e ".[stripe]"')

PAYERS = 8
ROUNDS = 6
CARDS = ["pm_card_visa", "pm_card_mastercard", "pm_card_amex", "tok_visa", "tok_mastercard", "tok_amex"]


@pytest.fixture
def payers(database_url: str) -> Iterator[tuple[Workers, StripeStandIn]]:
    with StripeStandIn() as stand_in:
        env = {
            "EVENTHIVE_TEST_STRIPE_API_BASE": stand_in.url,
            "EVENTHIVE_TEST_STRIPE_KEY": stand_in.api_key,
            "EVENTHIVE_TEST_STRIPE_WEBHOOK_SECRET": stand_in.webhook_secret,
        }
        workers = Workers(database_url, PAYERS, env=env)
        try:
            yield workers, stand_in
        finally:
            workers.stop()


def test_processes_racing_to_pay_one_order_with_different_cards_charge_it_exactly_once(
    database_url: str, payers: tuple[Workers, StripeStandIn]
) -> None:
    workers, stand_in = payers
    hive = make_test_hive(SystemClock(), storage="sqlalchemy", database_url=database_url)
    try:
        seller = hive.handle(SignUp(email="seller@example.com", password="password")).user.id
        buyer = hive.handle(SignUp(email="buyer@example.com", password="password")).user.id
        for round_no in range(ROUNDS):
            ticket = hive.handle(CreateTicket(owner_id=seller, title=f"Race {round_no}", price="20"))
            order = hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket.id))
            # Every other round, the first confirmation is slow: most payers then find it in flight.
            if round_no % 2:
                stand_in.slow_down("/confirm", 0.5)

            answers = workers.run(
                [
                    {"op": "pay", "order": order.id, "buyer": buyer, "token": CARDS[n % len(CARDS)]}
                    for n in range(PAYERS)
                ]
            )

            succeeded = [a for a in answers if a["status"] == "succeeded"]
            refused = [e for a in answers for e in a["errors"]]
            assert len(succeeded) == 1, f"round {round_no}: {answers}"
            assert set(refused) <= {"PaymentInProgress", "OrderAlreadyPaid"}, f"round {round_no}: {answers}"
            assert hive.queries.order(order.id).status is OrderStatus.COMPLETE
            charged = [pi for pi in stand_in.payment_intents if pi["metadata"].get("order_id") == order.id]
            assert [pi["status"] for pi in charged] == ["succeeded"], f"round {round_no}"
            assert stand_in.money_taken(charged[0]["id"]) == 2000
        assert stand_in.money_taken() == 2000 * ROUNDS
    finally:
        hive.close()


@pytest.mark.postgres
def test_a_claim_that_read_the_order_before_another_payment_settled_it_charges_nothing(
    clean_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interleaving the race above found on PostgreSQL, made deterministic.

    Under READ COMMITTED each statement sees the newest commits: a second payer reads the order
    still awaiting payment, the first payment then settles, and the second payer's next read sees
    that attempt already succeeded. Without a guarded write on the order it would start a second
    attempt and charge again; with it, it loses, runs again and is told the order is paid.
    """
    from eventhive_core.adapters.sqlalchemy.repositories import SqlOrderRepository

    gateway = HeldPaymentGateway()
    hive = make_test_hive(SystemClock(), storage="sqlalchemy", database_url=clean_postgres_url, payment_gateway=gateway)
    second_read_the_order, first_settled = threading.Event(), threading.Event()
    real_get = SqlOrderRepository.get

    def get_then_pause(self: SqlOrderRepository, order_id: str) -> Any:
        found = real_get(self, order_id)
        if threading.current_thread().name == "second-payer" and not second_read_the_order.is_set():
            second_read_the_order.set()
            assert first_settled.wait(10)
        return found

    monkeypatch.setattr(SqlOrderRepository, "get", get_then_pause)
    try:
        seller = hive.handle(SignUp(email="seller@example.com", password="password")).user.id
        buyer = hive.handle(SignUp(email="buyer@example.com", password="password")).user.id
        ticket = hive.handle(CreateTicket(owner_id=seller, title="Gig", price="20"))
        order = hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket.id))
        outcomes: dict[str, Any] = {}

        def pay(name: str, token: str) -> None:
            try:
                outcomes[name] = hive.handle(PayOrder(order_id=order.id, actor_id=buyer, token=token)).status
            except Exception as exc:  # the test compares what each payer was told
                outcomes[name] = type(exc).__name__

        first = threading.Thread(target=pay, args=("first", "tok_visa"), name="first-payer")
        first.start()
        assert gateway.charging.wait(10)  # the first payment holds the lease and is at the provider
        second = threading.Thread(target=pay, args=("second", "tok_mastercard"), name="second-payer")
        second.start()
        assert second_read_the_order.wait(10)  # the second payer read the order: awaiting payment
        gateway.release.set()
        first.join(10)
        first_settled.set()
        second.join(10)

        assert outcomes == {"first": "succeeded", "second": OrderAlreadyPaid.__name__}
        assert [c.token for c in gateway.charges] == ["tok_visa"]
        assert gateway.refunds == []
        assert hive.queries.order(order.id).status is OrderStatus.COMPLETE
    finally:
        hive.close()
