"""The Stripe stand-in, driven through the real stripe SDK over loopback HTTP."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from eventhive_core.testing.stripe_stand_in import NoSuchObjectError, StripeStandIn

stripe = pytest.importorskip("stripe", reason="needs the stripe extra: pip install -e '.[stripe]'")


@pytest.fixture
def stand_in() -> Iterator[StripeStandIn]:
    # Most tests here confirm bare PaymentIntents; the return_url rule has tests of its own below.
    with StripeStandIn(require_return_url=False) as server:
        yield server


def client_for(stand_in: StripeStandIn, **options: Any) -> Any:
    options.setdefault("max_network_retries", 0)
    return stripe.StripeClient(stand_in.api_key, base_addresses={"api": stand_in.url}, **options)


@pytest.fixture
def client(stand_in: StripeStandIn) -> Any:
    return client_for(stand_in)


def pay(client: Any, payment_method: str = "pm_card_visa", amount: int = 2500, **extra: Any) -> Any:
    params = {"amount": amount, "currency": "eur", "payment_method": payment_method, "confirm": True, **extra}
    return client.v1.payment_intents.create(params)


def replayed(headers: Any) -> bool:
    return headers.get("idempotent-replayed") == "true"


# -- payments --------------------------------------------------------------------------------------


def test_a_visa_payment_succeeds_takes_the_money_and_says_so_in_an_event(stand_in, client):
    intent = pay(client, metadata={"order_id": "o-1"})

    assert intent.status == "succeeded"
    assert intent.amount_received == 2500
    assert intent.latest_charge.startswith("ch_")
    assert stand_in.money_taken(intent.id) == 2500
    event = stand_in.last_event("payment_intent.succeeded")
    assert event["data"]["object"]["id"] == intent.id
    assert event["data"]["object"]["metadata"] == {"order_id": "o-1"}


def test_a_payment_method_made_from_a_card_number_pays(stand_in, client):
    method = client.v1.payment_methods.create(
        {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    )

    assert method.id.startswith("pm_")
    assert (method.type, method.card.last4, method.card.brand) == ("card", "4242", "visa")
    intent = pay(client, method.id)
    assert intent.status == "succeeded"
    assert intent.payment_method == method.id


def test_a_payment_intent_waits_for_a_method_then_for_confirmation(stand_in, client):
    bare = client.v1.payment_intents.create({"amount": 1000, "currency": "USD"})
    with_method = client.v1.payment_intents.create(
        {"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa"}
    )

    assert bare.status == "requires_payment_method"
    assert bare.currency == "usd"
    assert with_method.status == "requires_confirmation"
    assert stand_in.money_taken() == 0
    confirmed = client.v1.payment_intents.confirm(bare.id, {"payment_method": "pm_card_visa"})
    assert confirmed.status == "succeeded"
    assert client.v1.payment_intents.confirm(with_method.id).status == "succeeded"
    assert client.v1.payment_intents.retrieve(bare.id).status == "succeeded"
    assert stand_in.money_taken() == 2000


def test_every_object_looks_like_a_test_mode_stripe_object(stand_in, client):
    before = int(time.time())
    intent = pay(client)

    assert re.fullmatch(r"pi_[A-Za-z0-9]{24}", intent.id)
    assert intent.object == "payment_intent"
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert intent.livemode is False
    assert before <= intent.created <= time.time()
    for event in stand_in.events:
        assert event["livemode"] is False
        assert event["object"] == "event"
        assert event["pending_webhooks"] == 1
        assert event["id"].startswith("evt_")


def test_bracket_notation_is_parsed_into_nested_dicts_and_lists(stand_in, client):
    client.v1.payment_intents.create(
        {
            "amount": 2500,
            "currency": "eur",
            "metadata": {"order_id": "o-1", "0": "a key, not an index"},
            "payment_method_types": ["card"],
            "payment_method_data": {"type": "card", "card": {"token": "tok_visa"}},
        }
    )

    assert stand_in.requests[-1].params == {
        "amount": "2500",
        "currency": "eur",
        "metadata": {"order_id": "o-1", "0": "a key, not an index"},
        "payment_method_types": ["card"],
        "payment_method_data": {"type": "card", "card": {"token": "tok_visa"}},
    }


@pytest.mark.parametrize(
    ("method", "code", "decline_code", "message"),
    [
        ("pm_card_chargeDeclined", "card_declined", "generic_decline", "Your card was declined."),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "card_declined",
            "insufficient_funds",
            "Your card has insufficient funds.",
        ),
        ("tok_chargeDeclined", "card_declined", "generic_decline", "Your card was declined."),
        ("tok_chargeDeclinedExpiredCard", "expired_card", "expired_card", "Your card has expired."),
        ("tok_chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
        ("4000000000000002", "card_declined", "generic_decline", "Your card was declined."),
        ("4000000000009995", "card_declined", "insufficient_funds", "Your card has insufficient funds."),
        ("4000000000000341", "card_declined", "generic_decline", "Your card was declined."),
    ],
)
def test_a_declined_card_is_a_402_card_error_carrying_the_failed_payment_intent(
    stand_in, client, method, code, decline_code, message
):
    if method.startswith("tok_"):
        params = {"payment_method_data": {"type": "card", "card": {"token": method}}}
    elif method.isdigit():
        # The PaymentMethod is made without complaint: the card only fails when charged.
        card = {"number": method, "exp_month": 1, "exp_year": 2035}
        params = {"payment_method": client.v1.payment_methods.create({"type": "card", "card": card}).id}
    else:
        params = {"payment_method": method}

    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_intents.create({"amount": 2500, "currency": "eur", "confirm": True, **params})

    error = caught.value
    assert error.http_status == 402
    assert error.code == code
    assert error.user_message == message
    assert error.error.type == "card_error"
    assert error.error.decline_code == decline_code
    failed = error.error.payment_intent
    assert failed.status == "requires_payment_method"
    assert failed.last_payment_error.code == code
    assert failed.last_payment_error.decline_code == decline_code
    assert failed.last_payment_error.message == message
    assert stand_in.last_event("payment_intent.payment_failed")["data"]["object"]["id"] == failed.id
    assert stand_in.money_taken() == 0


def test_a_declined_payment_intent_can_be_paid_with_another_card(stand_in, client):
    with pytest.raises(stripe.CardError) as caught:
        pay(client, "pm_card_chargeDeclined")
    pi_id = caught.value.error.payment_intent.id

    assert client.v1.payment_intents.confirm(pi_id, {"payment_method": "pm_card_visa"}).status == "succeeded"
    assert stand_in.payment_intent(pi_id)["last_payment_error"] is None
    assert stand_in.money_taken(pi_id) == 2500


@pytest.mark.parametrize("token", ["tok_visa", "tok_mastercard", "tok_some_card_not_listed"])
def test_a_checkout_token_pays_through_a_fresh_payment_method(stand_in, client, token):
    intent = client.v1.payment_intents.create(
        {
            "amount": 2500,
            "currency": "eur",
            "confirm": True,
            "payment_method_data": {"type": "card", "card": {"token": token}},
        }
    )

    assert intent.status == "succeeded"
    assert re.fullmatch(r"pm_[A-Za-z0-9]{24}", intent.payment_method)
    assert client.v1.payment_methods.retrieve(intent.payment_method).type == "card"


@pytest.mark.parametrize(
    "method", ["pm_card_threeDSecure2Required", "pm_card_authenticationRequired", "tok_threeDSecure2Required"]
)
def test_a_card_needing_3d_secure_waits_for_the_buyer_then_succeeds(stand_in, client, method):
    if method.startswith("tok_"):
        intent = client.v1.payment_intents.create(
            {
                "amount": 2500,
                "currency": "eur",
                "confirm": True,
                "payment_method_data": {"type": "card", "card": {"token": method}},
            }
        )
    else:
        intent = pay(client, method)

    assert intent.status == "requires_action"
    assert intent.next_action.type == "use_stripe_sdk"
    assert intent.next_action.use_stripe_sdk.type == "three_d_secure_redirect"
    assert stand_in.last_event("payment_intent.requires_action")["data"]["object"]["id"] == intent.id
    assert stand_in.money_taken() == 0

    after = stand_in.authenticate(intent.id)

    assert after["status"] == "succeeded"
    assert after["next_action"] is None
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"
    assert stand_in.last_event("payment_intent.succeeded")["request"] == {"id": None, "idempotency_key": None}
    assert stand_in.money_taken(intent.id) == 2500


@pytest.mark.parametrize("number", ["4000002760003184", "4000002500003155"])
def test_3d_secure_card_numbers_require_action(client, number):
    card = {"number": number, "exp_month": 1, "exp_year": 2035}
    method = client.v1.payment_methods.create({"type": "card", "card": card})

    assert pay(client, method.id).status == "requires_action"


def test_a_failed_3d_secure_sends_the_payment_intent_back_for_another_card(stand_in, client):
    intent = pay(client, "pm_card_threeDSecure2Required")

    after = stand_in.authenticate(intent.id, succeed=False)

    assert after["status"] == "requires_payment_method"
    assert after["last_payment_error"]["code"] == "payment_intent_authentication_failure"
    assert after["last_payment_error"]["message"] == (
        "We are unable to authenticate your payment method. Please choose a different payment method and try again."
    )
    event = stand_in.last_event("payment_intent.payment_failed")
    assert event["data"]["object"]["last_payment_error"]["code"] == "payment_intent_authentication_failure"
    assert stand_in.money_taken() == 0
    assert client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"}).status == "succeeded"


def test_authenticating_a_payment_intent_that_needs_no_action_is_refused(stand_in, client):
    intent = pay(client)

    with pytest.raises(ValueError, match="not requires_action"):
        stand_in.authenticate(intent.id)


# -- refused requests ------------------------------------------------------------------------------


def test_an_unknown_payment_method_is_a_400_on_the_payment_method_param(stand_in, client):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        pay(client, "pm_nonexistent")

    assert caught.value.http_status == 400
    assert caught.value.code == "resource_missing"
    assert caught.value.param == "payment_method"
    assert caught.value.user_message == "No such PaymentMethod: 'pm_nonexistent'"
    assert stand_in.payment_intents == []


@pytest.mark.parametrize("missing", ["amount", "currency"])
def test_a_missing_amount_or_currency_is_a_parameter_error(stand_in, client, missing):
    params = {"amount": 2500, "currency": "eur"}
    del params[missing]

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.create(params)

    assert (caught.value.http_status, caught.value.param, caught.value.code) == (400, missing, "parameter_missing")
    assert stand_in.payment_intents == []


@pytest.mark.parametrize(
    ("currency", "minimum", "message"),
    [
        ("usd", 50, "Amount must be at least $0.50 usd"),
        ("eur", 50, "Amount must be at least €0.50 eur"),
        ("gbp", 30, "Amount must be at least £0.30 gbp"),
        ("jpy", 50, "Amount must be at least ¥50 jpy"),
    ],
)
def test_an_amount_below_the_currency_minimum_is_amount_too_small(stand_in, client, currency, minimum, message):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.create({"amount": minimum - 1, "currency": currency})

    assert (caught.value.code, caught.value.param, caught.value.user_message) == ("amount_too_small", "amount", message)
    assert client.v1.payment_intents.create({"amount": minimum, "currency": currency}).amount == minimum


def test_a_wrong_api_key_is_a_401_that_never_echoes_the_key(stand_in):
    wrong = "sk_test_51NotTheRightKeyAtAllWxYz"
    intruder = stripe.StripeClient(wrong, base_addresses={"api": stand_in.url}, max_network_retries=0)

    with pytest.raises(stripe.AuthenticationError) as caught:
        intruder.v1.payment_intents.create({"amount": 2500, "currency": "eur"})

    assert caught.value.http_status == 401
    assert caught.value.error.type == "invalid_request_error"
    message = caught.value.user_message
    assert message.startswith("Invalid API Key provided: sk_test_****")
    assert message.endswith("WxYz")
    assert "NotTheRightKey" not in message
    assert stand_in.payment_intents == []


def test_an_unknown_payment_intent_is_a_404_resource_missing(client):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.retrieve("pi_nope")

    assert (caught.value.http_status, caught.value.code) == (404, "resource_missing")
    assert caught.value.user_message == "No such payment_intent: 'pi_nope'"


def test_an_unknown_url_is_a_404(client):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.raw_request("post", "/v1/customers", email="a@example.com")

    assert caught.value.http_status == 404
    assert caught.value.user_message.startswith("Unrecognized request URL")


# -- cancelling ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", [None, "pm_card_visa", "pm_card_threeDSecure2Required"])
def test_an_unpaid_payment_intent_can_be_cancelled(stand_in, client, method):
    params: dict[str, Any] = {"amount": 2500, "currency": "eur"}
    if method is not None:
        params.update(payment_method=method, confirm=method != "pm_card_visa")
    intent = client.v1.payment_intents.create(params)

    cancelled = client.v1.payment_intents.cancel(intent.id, {"cancellation_reason": "abandoned"})

    assert (cancelled.status, cancelled.cancellation_reason) == ("canceled", "abandoned")
    assert stand_in.last_event("payment_intent.canceled")["data"]["object"]["id"] == intent.id


@pytest.mark.parametrize("status", ["succeeded", "canceled"])
def test_a_paid_or_cancelled_payment_intent_cannot_be_cancelled(stand_in, client, status):
    if status == "succeeded":
        intent = pay(client)
    else:
        unpaid = client.v1.payment_intents.create({"amount": 900, "currency": "eur"})
        intent = client.v1.payment_intents.cancel(unpaid.id)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.cancel(intent.id)

    error = caught.value
    assert (error.http_status, error.code) == (400, "payment_intent_unexpected_state")
    assert error.user_message.startswith(f"You cannot cancel this PaymentIntent because it has a status of {status}.")
    assert error.error.payment_intent.id == intent.id
    assert error.error.payment_intent.status == status


def test_confirming_a_paid_payment_intent_is_an_unexpected_state_error(client):
    intent = pay(client)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.confirm(intent.id)

    assert caught.value.code == "payment_intent_unexpected_state"
    assert caught.value.error.payment_intent.status == "succeeded"


# -- refunds ---------------------------------------------------------------------------------------


def test_a_partial_then_a_full_refund_give_all_the_money_back(stand_in, client):
    intent = pay(client, metadata={"order_id": "o-7"})

    first = client.v1.refunds.create({"payment_intent": intent.id, "amount": 1000, "reason": "requested_by_customer"})
    rest = client.v1.refunds.create({"payment_intent": intent.id, "metadata": {"why": "rest"}})

    assert (first.amount, first.status, first.currency) == (1000, "succeeded", "eur")
    assert first.charge == intent.latest_charge
    assert first.reason == "requested_by_customer"
    assert rest.amount == 1500
    assert rest.metadata.to_dict() == {"why": "rest"}
    assert client.v1.refunds.retrieve(first.id).amount == 1000
    assert stand_in.money_taken(intent.id) == 0
    assert [refund["id"] for refund in stand_in.refunds] == [first.id, rest.id]
    charge = stand_in.last_event("charge.refunded")["data"]["object"]
    assert (charge["object"], charge["id"], charge["payment_intent"]) == ("charge", intent.latest_charge, intent.id)
    assert (charge["amount"], charge["amount_refunded"], charge["refunded"]) == (2500, 2500, True)
    assert charge["metadata"] == {"order_id": "o-7"}
    assert stand_in.last_event("refund.created")["data"]["object"]["id"] == rest.id

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create({"payment_intent": intent.id})
    assert caught.value.code == "charge_already_refunded"
    assert caught.value.user_message == f"Charge {intent.latest_charge} has already been refunded."


def test_a_refund_larger_than_what_remains_is_refused(stand_in, client):
    intent = pay(client)
    client.v1.refunds.create({"payment_intent": intent.id, "amount": 2000})

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create({"payment_intent": intent.id, "amount": 501})

    assert (caught.value.code, caught.value.param) == ("amount_too_large", "amount")
    assert stand_in.money_taken(intent.id) == 500


def test_a_refund_can_name_the_charge_instead_of_the_payment_intent(stand_in, client):
    intent = pay(client)

    refund = client.v1.refunds.create({"charge": intent.latest_charge})

    assert (refund.payment_intent, refund.amount) == (intent.id, 2500)


def test_a_payment_intent_without_a_successful_charge_cannot_be_refunded(stand_in, client):
    intent = client.v1.payment_intents.create({"amount": 2500, "currency": "eur"})

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create({"payment_intent": intent.id})

    assert caught.value.http_status == 400
    assert stand_in.refunds == []


def test_a_dashboard_refund_fires_the_refund_events_outside_the_api_client(stand_in, client):
    intent = pay(client)

    refund = stand_in.dashboard_refund(intent.id)

    assert (refund["amount"], refund["payment_intent"]) == (2500, intent.id)
    assert stand_in.money_taken() == 0
    assert stand_in.last_event("refund.created")["data"]["object"]["id"] == refund["id"]
    assert stand_in.last_event("charge.refunded")["request"]["idempotency_key"] is None
    with pytest.raises(ValueError, match="already been refunded"):
        stand_in.dashboard_refund(intent.id)


# -- idempotency -----------------------------------------------------------------------------------


def test_a_replayed_key_returns_the_first_answer_and_charges_once(stand_in, client):
    params = {"amount": 2500, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True}

    first = client.v1.payment_intents.create(params, options={"idempotency_key": "order-1-attempt-1"})
    events = len(stand_in.events)
    again = client.v1.payment_intents.create(params, options={"idempotency_key": "order-1-attempt-1"})

    assert again.id == first.id
    assert again.last_response.body == first.last_response.body
    assert not replayed(first.last_response.headers)
    assert replayed(again.last_response.headers)
    assert again.last_response.idempotency_key == "order-1-attempt-1"
    assert len(stand_in.payment_intents) == 1
    assert len(stand_in.events) == events
    assert stand_in.money_taken() == 2500
    assert [(r.replayed, r.status) for r in stand_in.requests] == [(False, 200), (True, 200)]


def test_a_replayed_decline_is_the_same_402_without_a_second_attempt(stand_in, client):
    params = {"amount": 2500, "currency": "eur", "payment_method": "pm_card_chargeDeclined", "confirm": True}
    errors = []
    for _ in range(2):
        with pytest.raises(stripe.CardError) as caught:
            client.v1.payment_intents.create(params, options={"idempotency_key": "declined-once"})
        errors.append(caught.value)

    assert errors[0].http_body == errors[1].http_body
    assert errors[0].error.payment_intent.id == errors[1].error.payment_intent.id
    assert not replayed(errors[0].headers)
    assert replayed(errors[1].headers)
    assert len(stand_in.payment_intents) == 1
    assert [e["type"] for e in stand_in.events].count("payment_intent.payment_failed") == 1


def test_parameters_are_compared_regardless_of_their_order(stand_in, client):
    first = client.v1.payment_intents.create(
        {"amount": 2500, "currency": "eur", "metadata": {"a": "1", "b": "2"}}, options={"idempotency_key": "k"}
    )
    again = client.v1.payment_intents.create(
        {"metadata": {"b": "2", "a": "1"}, "currency": "eur", "amount": 2500}, options={"idempotency_key": "k"}
    )

    assert again.id == first.id
    assert replayed(again.last_response.headers)


def test_a_key_reused_with_other_parameters_is_an_idempotency_error(stand_in, client):
    client.v1.payment_intents.create({"amount": 2500, "currency": "eur"}, options={"idempotency_key": "order-2"})

    with pytest.raises(stripe.IdempotencyError) as caught:
        client.v1.payment_intents.create({"amount": 2600, "currency": "eur"}, options={"idempotency_key": "order-2"})

    assert caught.value.http_status == 400
    assert caught.value.error.type == "idempotency_error"
    assert caught.value.user_message == (
        "Keys for idempotent requests can only be used with the same parameters they were first used with. "
        "Try using a key other than 'order-2' if you meant to execute a different request."
    )
    assert len(stand_in.payment_intents) == 1


def test_a_key_reused_on_another_endpoint_is_an_idempotency_error(stand_in, client):
    intent = client.v1.payment_intents.create(
        {"amount": 2500, "currency": "eur", "payment_method": "pm_card_visa"}, options={"idempotency_key": "shared"}
    )

    with pytest.raises(stripe.IdempotencyError):
        client.v1.payment_intents.confirm(intent.id, options={"idempotency_key": "shared"})

    assert stand_in.payment_intent(intent.id)["status"] == "requires_confirmation"


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        ({"amount": 10}, "amount_too_small"),
        ({"payment_method": "pm_nonexistent"}, "resource_missing"),
        ({"currency": None}, "parameter_missing"),
    ],
)
def test_a_parameter_error_is_not_stored_so_the_key_runs_again(stand_in, client, bad, code):
    good = {"amount": 2500, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True}

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.create({**good, **bad}, options={"idempotency_key": "fixed-later"})
    assert caught.value.code == code
    intent = client.v1.payment_intents.create(good, options={"idempotency_key": "fixed-later"})

    assert intent.status == "succeeded"
    assert not replayed(intent.last_response.headers)


def test_a_refused_api_key_is_not_stored_so_the_key_runs_again(stand_in, client):
    params = {"amount": 2500, "currency": "eur"}
    intruder = stripe.StripeClient("sk_test_wrong_key_1234", base_addresses={"api": stand_in.url})
    with pytest.raises(stripe.AuthenticationError):
        intruder.v1.payment_intents.create(params, options={"idempotency_key": "k-401"})

    intent = client.v1.payment_intents.create(params, options={"idempotency_key": "k-401"})

    assert not replayed(intent.last_response.headers)
    assert len(stand_in.payment_intents) == 1


def test_an_unexpected_state_error_is_stored_and_replayed(stand_in, client):
    intent = pay(client)
    errors = []
    for _ in range(2):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.payment_intents.cancel(intent.id, options={"idempotency_key": "cancel-1"})
        errors.append(caught.value)

    assert [e.code for e in errors] == ["payment_intent_unexpected_state"] * 2
    assert [replayed(e.headers) for e in errors] == [False, True]


def test_a_key_still_in_flight_gets_a_409_and_nothing_is_stored_for_it(stand_in, client):
    params = {"amount": 2500, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True}
    stand_in.slow_down("/v1/payment_intents", seconds=1.5)
    first: dict[str, Any] = {}

    def slow_first() -> None:
        first["intent"] = client.v1.payment_intents.create(params, options={"idempotency_key": "busy"})

    worker = threading.Thread(target=slow_first)
    worker.start()
    time.sleep(0.4)
    with pytest.raises(stripe.APIError) as caught:
        client.v1.payment_intents.create(params, options={"idempotency_key": "busy"})
    worker.join()

    # Stripe's SDK maps a 409 to APIError (not IdempotencyError); the code is on error.code.
    assert caught.value.http_status == 409
    assert caught.value.error.type == "idempotency_error"
    assert caught.value.error.code == "idempotency_key_in_use"
    assert first["intent"].status == "succeeded"
    again = client.v1.payment_intents.create(params, options={"idempotency_key": "busy"})
    assert again.id == first["intent"].id
    assert replayed(again.last_response.headers)
    assert stand_in.money_taken() == 2500


def test_with_retries_on_the_sdk_waits_out_a_409_and_gets_the_first_answer(stand_in, client):
    params = {"amount": 2500, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True}
    stand_in.slow_down("/v1/payment_intents", seconds=0.6)
    patient = client_for(stand_in, max_network_retries=3)
    results: list[Any] = []
    worker = threading.Thread(
        target=lambda: results.append(client.v1.payment_intents.create(params, options={"idempotency_key": "k"}))
    )
    worker.start()
    time.sleep(0.2)

    second = patient.v1.payment_intents.create(params, options={"idempotency_key": "k"})
    worker.join()

    assert second.id == results[0].id
    assert 409 in [r.status for r in stand_in.requests]
    assert stand_in.money_taken() == 2500


# -- lost answers ----------------------------------------------------------------------------------


def test_a_dropped_answer_is_a_connection_error_though_the_payment_went_through(stand_in, client):
    params = {"amount": 2500, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True}
    stand_in.drop_responses("/v1/payment_intents")

    with pytest.raises(stripe.APIConnectionError) as caught:
        client.v1.payment_intents.create(params, options={"idempotency_key": "lost-1"})

    assert caught.value.should_retry is True
    assert caught.value.http_status is None
    [intent] = stand_in.payment_intents
    assert intent["status"] == "succeeded"
    assert stand_in.requests[-1].dropped
    assert stand_in.requests[-1].status == 200

    again = client.v1.payment_intents.create(params, options={"idempotency_key": "lost-1"})

    assert again.id == intent["id"]
    assert replayed(again.last_response.headers)
    assert stand_in.money_taken() == 2500


def test_a_dropped_confirm_is_settled_by_resending_it_with_the_same_key(stand_in, client):
    intent = client.v1.payment_intents.create({"amount": 2500, "currency": "eur", "payment_method": "pm_card_visa"})
    stand_in.drop_responses("/confirm")

    with pytest.raises(stripe.APIConnectionError):
        client.v1.payment_intents.confirm(intent.id, options={"idempotency_key": "confirm-1"})
    again = client.v1.payment_intents.confirm(intent.id, options={"idempotency_key": "confirm-1"})

    assert again.status == "succeeded"
    assert replayed(again.last_response.headers)
    # Under a new key the same confirm is a new request, refused because the first one succeeded.
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.confirm(intent.id, options={"idempotency_key": "confirm-2"})
    assert caught.value.code == "payment_intent_unexpected_state"
    assert stand_in.money_taken() == 2500


def test_the_sdk_retries_a_dropped_answer_under_its_own_key_when_retries_are_on(stand_in):
    patient = client_for(stand_in, max_network_retries=1)
    stand_in.drop_responses("/v1/payment_intents")

    intent = pay(patient)

    first, retry = stand_in.requests
    assert (first.dropped, retry.dropped, retry.replayed) == (True, False, True)
    assert first.idempotency_key is not None
    assert retry.idempotency_key == first.idempotency_key
    assert intent.id == stand_in.payment_intents[0]["id"]
    assert stand_in.money_taken() == 2500


def test_drop_responses_hits_only_matching_paths_as_many_times_as_asked(stand_in, client):
    intent = pay(client)
    stand_in.drop_responses("/v1/refunds", count=2)

    assert client.v1.payment_intents.retrieve(intent.id).id == intent.id
    for _ in range(2):
        with pytest.raises(stripe.APIConnectionError):
            client.v1.refunds.create({"payment_intent": intent.id, "amount": 100})
    client.v1.refunds.create({"payment_intent": intent.id, "amount": 100})

    assert [r.dropped for r in stand_in.requests] == [False, False, True, True, False]
    assert stand_in.money_taken() == 2200


# -- events and webhooks ---------------------------------------------------------------------------


def test_a_webhook_from_the_stand_in_passes_the_sdk_signature_check(stand_in, client):
    intent = pay(client)

    body, headers = stand_in.webhook(stand_in.last_event("payment_intent.succeeded"))
    event = client.construct_event(body, headers["Stripe-Signature"], stand_in.webhook_secret)

    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert event.type == "payment_intent.succeeded"
    assert event.data.object.id == intent.id
    assert event.data.object.status == "succeeded"


def test_a_tampered_webhook_payload_is_refused(stand_in, client):
    pay(client)
    body, headers = stand_in.webhook(stand_in.last_event("payment_intent.succeeded"))
    tampered = body.replace(b'"status": "succeeded"', b'"status": "canceled"')
    assert tampered != body

    with pytest.raises(stripe.SignatureVerificationError):
        client.construct_event(tampered, headers["Stripe-Signature"], stand_in.webhook_secret)


def test_a_webhook_signed_with_another_secret_is_refused(stand_in, client):
    pay(client)
    body, headers = stand_in.webhook(stand_in.last_event("payment_intent.succeeded"), secret="whsec_other")

    with pytest.raises(stripe.SignatureVerificationError):
        client.construct_event(body, headers["Stripe-Signature"], stand_in.webhook_secret)


def test_a_webhook_signed_more_than_five_minutes_ago_is_refused(stand_in, client):
    pay(client)
    event = stand_in.last_event("payment_intent.succeeded")
    stale_body, stale = stand_in.webhook(event, timestamp=int(time.time()) - 301)
    recent_body, recent = stand_in.webhook(event, timestamp=int(time.time()) - 200)

    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        client.construct_event(stale_body, stale["Stripe-Signature"], stand_in.webhook_secret)
    assert client.construct_event(recent_body, recent["Stripe-Signature"], stand_in.webhook_secret).id == event["id"]


def test_the_signature_is_an_hmac_of_the_timestamp_and_the_body(stand_in):
    header = stand_in.sign(b'{"id": "evt_1"}', timestamp=1_700_000_000)

    timestamp, signature = header.split(",")
    assert timestamp == "t=1700000000"
    assert re.fullmatch(r"v1=[0-9a-f]{64}", signature)
    assert stripe.WebhookSignature.verify_header('{"id": "evt_1"}', header, stand_in.webhook_secret, tolerance=None)


def test_events_carry_the_api_version_and_the_request_that_caused_them(stand_in):
    pinned = client_for(stand_in, stripe_version="2025-03-31.basil")

    intent = pinned.v1.payment_intents.create(
        {"amount": 2500, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True},
        options={"idempotency_key": "pinned-1"},
    )

    event = stand_in.last_event("payment_intent.succeeded")
    assert event["api_version"] == "2025-03-31.basil"
    assert event["request"] == {"id": intent.last_response.request_id, "idempotency_key": "pinned-1"}
    assert re.fullmatch(r"req_\w+", event["request"]["id"])


def test_events_without_a_version_header_get_the_sdk_default_and_are_snapshots(stand_in, client):
    intent = client.v1.payment_intents.create({"amount": 2500, "currency": "eur", "payment_method": "pm_card_visa"})
    client.v1.payment_intents.confirm(intent.id)

    created = stand_in.last_event("payment_intent.created")
    assert created["api_version"] == "2026-10-28.endive"
    assert created["data"]["object"]["status"] == "requires_confirmation"
    assert stand_in.last_event("payment_intent.succeeded")["data"]["object"]["status"] == "succeeded"


def test_an_event_can_be_fetched_back_through_the_api(stand_in, client):
    pay(client)
    event_id = stand_in.last_event("payment_intent.succeeded")["id"]

    assert client.v1.events.retrieve(event_id).type == "payment_intent.succeeded"


def test_asking_for_an_event_that_never_happened_names_the_ones_that_did(stand_in, client):
    pay(client)

    with pytest.raises(KeyError) as caught:
        stand_in.last_event("charge.refunded")

    assert isinstance(caught.value, NoSuchObjectError)
    assert "charge.refunded" in str(caught.value)
    assert "payment_intent.succeeded" in str(caught.value)


def test_the_inspection_helpers_return_copies(stand_in, client):
    intent = pay(client)

    stand_in.payment_intent(intent.id)["status"] = "canceled"
    stand_in.events[0]["type"] = "tampered"

    assert stand_in.payment_intent(intent.id)["status"] == "succeeded"
    assert stand_in.events[0]["type"] == "payment_intent.created"


def test_asking_for_an_unknown_payment_intent_is_a_clear_key_error(stand_in):
    with pytest.raises(KeyError, match="pi_missing"):
        stand_in.payment_intent("pi_missing")
    with pytest.raises(KeyError, match="pi_missing"):
        stand_in.money_taken("pi_missing")


# -- lifecycle and threads -------------------------------------------------------------------------


def test_close_releases_the_port_and_may_be_called_twice():
    stand_in = StripeStandIn().start()
    port = int(stand_in.url.rsplit(":", 1)[1])

    stand_in.close()
    stand_in.close()

    with pytest.raises(RuntimeError):
        _ = stand_in.url
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


def test_many_threads_can_pay_at_once(stand_in):
    clients = [client_for(stand_in) for _ in range(8)]
    failures: list[BaseException] = []

    def buy(one: Any, n: int) -> None:
        try:
            pay(one, amount=1000 + n, metadata={"n": str(n)})
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=buy, args=(one, n)) for n, one in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert stand_in.money_taken() == sum(1000 + n for n in range(8))
    assert len({intent["id"] for intent in stand_in.payment_intents}) == 8


def test_the_answers_are_plain_json(stand_in, client):
    intent = pay(client)

    assert json.loads(intent.last_response.body)["id"] == intent.id
    assert intent.last_response.headers["content-type"] == "application/json"


# -- the return_url rule of current API versions ----------------------------------------------------


def test_confirming_from_the_server_needs_a_return_url_unless_redirects_are_ruled_out():
    with StripeStandIn() as strict:
        client = client_for(strict)
        with pytest.raises(stripe.InvalidRequestError) as refused:
            pay(client)
        assert refused.value.param == "return_url"
        assert strict.payment_intents == []

        unconfirmed = client.v1.payment_intents.create(
            {"amount": 2500, "currency": "eur", "payment_method": "pm_card_visa"}
        )
        with pytest.raises(stripe.InvalidRequestError, match="return_url"):
            client.v1.payment_intents.confirm(unconfirmed.id)

        assert pay(client, automatic_payment_methods={"enabled": True, "allow_redirects": "never"}).status == (
            "succeeded"
        )
        assert pay(client, payment_method_types=["card"]).status == "succeeded"
        assert pay(client, return_url="https://shop.example/done").status == "succeeded"


def test_refunds_are_listed_newest_first_and_filtered_by_payment_intent(stand_in, client):
    first, second = pay(client), pay(client)
    stand_in.dashboard_refund(first.id)
    client.v1.refunds.create({"payment_intent": second.id, "amount": 1000})
    client.v1.refunds.create({"payment_intent": second.id})

    listed = client.v1.refunds.list({"payment_intent": second.id})
    assert [r.amount for r in listed.data] == [1500, 1000]
    assert [r.payment_intent for r in client.v1.refunds.list({"limit": 1}).data] == [second.id]


# -- the browser's side: the publishable key, CORS and the Stripe.js stand-in ------------------------


def browser_call(stand_in: StripeStandIn, method: str, path: str, fields: dict[str, str] | None = None) -> Any:
    import urllib.error
    import urllib.parse
    import urllib.request

    data = urllib.parse.urlencode(fields or {}).encode() if method == "POST" else None
    url = stand_in.url + path + ("" if method == "POST" else "?" + urllib.parse.urlencode(fields or {}))
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {stand_in.publishable_key}")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_the_publishable_key_may_only_make_cards_and_finish_its_own_intents(stand_in, client):
    status, headers, card = browser_call(
        stand_in,
        "POST",
        "/v1/payment_methods",
        {"type": "card", "card[number]": "4000002760003184", "card[exp_month]": "12", "card[exp_year]": "2040"},
    )
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "*"
    intent = pay(client, payment_method=card["id"])
    assert intent.status == "requires_action"

    assert browser_call(stand_in, "GET", f"/v1/payment_intents/{intent.id}", {"client_secret": "wrong"})[0] == 404
    status, _, seen = browser_call(
        stand_in, "GET", f"/v1/payment_intents/{intent.id}", {"client_secret": intent.client_secret}
    )
    assert (status, seen["status"]) == (200, "requires_action")
    for path in ("/v1/refunds", f"/v1/payment_intents/{intent.id}/cancel"):
        assert browser_call(stand_in, "POST", path, {"payment_intent": intent.id})[0] == 401
    status, _, finished = browser_call(
        stand_in,
        "POST",
        f"/v1/payment_intents/{intent.id}/_authenticate",
        {"client_secret": intent.client_secret, "success": "true"},
    )
    assert (status, finished["status"]) == (200, "succeeded")
    assert stand_in.last_event("payment_intent.succeeded")["data"]["object"]["id"] == intent.id


def test_the_stand_in_serves_its_stripe_js_to_any_origin(stand_in):
    import urllib.request

    from eventhive_core.testing.stripe_stand_in import STRIPE_JS_PATH

    with urllib.request.urlopen(stand_in.url + STRIPE_JS_PATH) as response:
        script = response.read().decode()
        assert response.headers["Content-Type"].startswith("application/javascript")
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    for offered in ("createPaymentMethod", "confirmCardPayment", "window.Stripe = Stripe"):
        assert offered in script
    preflight = urllib.request.Request(stand_in.url + "/v1/payment_methods", method="OPTIONS")
    with urllib.request.urlopen(preflight) as response:
        assert response.status == 204
        assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
