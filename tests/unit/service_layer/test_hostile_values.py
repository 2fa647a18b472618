r"""Values JSON can carry but the core must refuse itself, for embedders that have no HTTP edge.

Lone UTF-16 surrogates ("\ud800") are legal in JSON strings and in Python's str, but not in
UTF-8: the database and the password hasher fail on them. Long decimals used to be rounded by
the decimal context before the two-decimal check. Crafted cursors overflowed or reached the database.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eventhive_core import CreateTicket, Hive, PayOrder, PlaceOrder, SignIn, SignUp, ValidationFailed
from eventhive_core.domain.read_models import Cursor


class CountingHasher:
    """A hasher that counts its work: the refusals below must come before any."""

    def __init__(self) -> None:
        self.calls = 0

    def hash(self, password: str) -> str:
        self.calls += 1
        return "hash:" + password.encode("utf-8").hex()

    def verify(self, password: str, stored: str) -> bool:
        self.calls += 1
        return stored == "hash:" + password.encode("utf-8").hex()


def fields_of(error: ValidationFailed) -> list[str]:
    return [problem.field for problem in error.errors]


@pytest.mark.parametrize(("email", "password"), [("a\ud800@x.co", "password"), ("ann@x.co", "pass\udfffword")])
def test_a_lone_surrogate_in_sign_up_or_sign_in_is_refused_before_any_hashing(email: str, password: str) -> None:
    from eventhive_core import bootstrap
    from eventhive_core.settings import HiveSettings
    from eventhive_core.testing.hives import TEST_JWT_SECRET

    hasher = CountingHasher()
    with bootstrap(HiveSettings(scheduler="none", jwt_secret=TEST_JWT_SECRET), password_hasher=hasher) as hive:
        for command in (SignUp(email=email, password=password), SignIn(email=email, password=password)):
            with pytest.raises(ValidationFailed) as refused:
                hive.handle(command)
            assert fields_of(refused.value) == ["email" if "\ud800" in email else "password"]
        assert hasher.calls == 0


def test_a_lone_surrogate_in_a_title_is_refused(hive: Hive, seller: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        hive.handle(CreateTicket(owner_id=seller, title="Jazz \ud800 night", price="10"))

    assert [(e.field, e.message) for e in refused.value.errors] == [("title", "Title must be valid text")]


def test_a_lone_surrogate_in_a_payment_token_is_refused_before_the_provider(hive: Hive, ann: str, gig: str) -> None:
    order = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))

    with pytest.raises(ValidationFailed) as refused:
        hive.handle(PayOrder(order_id=order.id, actor_id=ann, token="tok_\ud800"))

    assert fields_of(refused.value) == ["token"]
    assert hive.payment_gateway.charges == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "price",
    ["0.0099999999999999999999999999999", "19.9900000000000000000000000001", "1.0000000000000000000000000000001"],
)
def test_a_price_with_more_decimals_than_the_currency_is_refused_however_long(
    hive: Hive, seller: str, price: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        hive.handle(CreateTicket(owner_id=seller, title="Gig", price=price))

    assert [e.message for e in refused.value.errors] == ["Price must have at most 2 decimal places"]


@pytest.mark.parametrize(("price", "minor"), [("1e2", 10000), ("+5", 500), (".5", 50), ("5.", 500), ("10.500", 1050)])
def test_prices_are_read_as_the_originals_isfloat_read_them(hive: Hive, seller: str, price: str, minor: int) -> None:
    assert hive.handle(CreateTicket(owner_id=seller, title="Gig", price=price)).price.minor == minor


@pytest.mark.parametrize("price", ["1_000", "\u0661\u0662", "Infinity", "0x10", "1e", "--1", "5\n", " 5\n "])
def test_prices_python_would_read_but_isfloat_would_not_are_refused(hive: Hive, seller: str, price: str) -> None:
    with pytest.raises(ValidationFailed):
        hive.handle(CreateTicket(owner_id=seller, title="Gig", price=price))


@pytest.mark.parametrize(("price", "minor"), [("1E+6", 100_000_000), ("0.001e1", 1), ("100000000e-2", 100_000_000)])
def test_a_price_with_an_exponent_of_one_digit_is_read(hive: Hive, seller: str, price: str, minor: int) -> None:
    assert hive.handle(CreateTicket(owner_id=seller, title="Gig", price=price)).price.minor == minor


@pytest.mark.parametrize("price", ["0.0000000001e10", "1000000000e-10", "1e010"])
def test_a_price_with_a_longer_exponent_is_refused_whatever_its_value(hive: Hive, seller: str, price: str) -> None:
    # So that the OpenAPI document can state the rule as a pattern (price_text_pattern).
    with pytest.raises(ValidationFailed) as refused:
        hive.handle(CreateTicket(owner_id=seller, title="Gig", price=price))

    assert [e.message for e in refused.value.errors] == ["Price must be greater than 0"]


@pytest.mark.parametrize(
    "text",
    [
        "MDAwMS0wMS0wMVQwMDowMDowMCsxNDowMHx4",  # year 1 at +14:00
        "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHwA",  # an id that is one NUL byte
        "not a cursor",
        "x" * 600,
    ],
)
def test_a_cursor_this_server_did_not_issue_decodes_to_nothing_and_lists_from_the_start(
    hive: Hive, seller: str, text: str
) -> None:
    assert Cursor.decode(text) is None
    hive.handle(CreateTicket(owner_id=seller, title="Gig", price="10"))

    assert len(hive.queries.available_tickets(cursor=text).items) == 1


def test_an_issued_cursor_decodes_to_itself() -> None:
    cursor = Cursor(datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=UTC), "0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c01")

    assert Cursor.decode(cursor.encode()) == cursor
