"""Fixtures for the contract tests: one realistic instance of every domain event.

A test that takes `sample_event` runs once per event type.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eventhive_core.domain.events import (
    DomainEvent,
    ExpirationComplete,
    ExpirationDue,
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderPaymentRefused,
    PaymentCreated,
    PaymentRefunded,
    TicketCreated,
    TicketUpdated,
    UserBanned,
    UserSignedOut,
)
from eventhive_core.domain.order import CancelReason, OrderStatus

ANN = "0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c01"
BOB = "0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c02"
GIG = "0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c03"
ORDER = "0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c04"
PAYMENT = "0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c05"
NOON = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

SAMPLES: list[DomainEvent] = [
    TicketCreated(id=GIG, version=0, title="Concert", price_minor=2000, currency="USD", capacity=3, owner_id=ANN),
    TicketUpdated(
        id=GIG, version=1, title="Concert (late show)", price_minor=2500, currency="EUR", capacity=5, owner_id=ANN
    ),
    OrderCreated(
        id=ORDER,
        version=0,
        status=OrderStatus.CREATED,
        buyer_id=BOB,
        ticket_id=GIG,
        quantity=2,
        expires_at=NOON + timedelta(seconds=60, microseconds=123456),
        amount_minor=5000,
        currency="EUR",
    ),
    OrderCancelled(id=ORDER, version=1, ticket_id=GIG, quantity=2, reason=CancelReason.EXPIRED),
    OrderCompleted(id=ORDER, version=1, ticket_id=GIG, quantity=2, payment_id=PAYMENT),
    OrderPaymentRefused(order_id=ORDER, payment_id=PAYMENT, reason="already_paid"),
    ExpirationComplete(order_id=ORDER),
    ExpirationDue(order_id=ORDER, due_at=NOON + timedelta(seconds=60, microseconds=123456)),
    PaymentCreated(
        id=PAYMENT, order_id=ORDER, provider="fake", provider_ref="ch_123", amount_minor=5000, currency="EUR"
    ),
    PaymentRefunded(
        id=PAYMENT,
        order_id=ORDER,
        provider="stripe",
        provider_ref="pi_3Nabc",
        amount_minor=5000,
        currency="EUR",
        reason="late_payment",
    ),
    UserBanned(user_id=BOB, banned_at=NOON),
    UserSignedOut(user_id=BOB, token_id="0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c06", expires_at=NOON + timedelta(days=1)),
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "sample_event" in metafunc.fixturenames:
        metafunc.parametrize("sample_event", SAMPLES, ids=[event.type for event in SAMPLES])


@pytest.fixture
def samples() -> list[DomainEvent]:
    return list(SAMPLES)


@pytest.fixture
def order_created() -> OrderCreated:
    return next(event for event in SAMPLES if isinstance(event, OrderCreated))


@pytest.fixture
def order_completed() -> OrderCompleted:
    return next(event for event in SAMPLES if isinstance(event, OrderCompleted))


@pytest.fixture
def order_payment_refused() -> OrderPaymentRefused:
    return next(event for event in SAMPLES if isinstance(event, OrderPaymentRefused))


@pytest.fixture
def expiration_due() -> ExpirationDue:
    return next(event for event in SAMPLES if isinstance(event, ExpirationDue))
