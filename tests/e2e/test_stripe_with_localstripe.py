"""The real ``eventhive serve`` paying through localstripe, a stateful Stripe fake run as a separate process.

localstripe (PyPI, GPL-3.0) is a third-party test tool: these tests start its command and talk to
it over HTTP, never import it. The official stripe SDK inside the server reaches it through
``EVENTHIVE_STRIPE_API_BASE``; it sends signed webhooks to ``/api/payments/webhooks/stripe`` one
second after each event and logs each delivery, which is how these tests see them accepted.

What localstripe does not do like Stripe: it refuses ``automatic_payment_methods`` (hence the
payment option turning it off), it accepts only secret keys as Bearer tokens (so PaymentMethods are
made with the secret key, where Stripe.js would use the publishable one), and 3-D Secure is
finished by its private ``_authenticate`` route, which its Stripe.js stand-in calls.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

Server = Any  # the fixture's Server (tests/e2e/conftest.py); conftest modules are not importable here
Browser = Any  # Server.browser()'s Browser, likewise

LOCALSTRIPE = shutil.which("localstripe", path=os.path.dirname(sys.executable))
START_TIMEOUT = 20.0
#: localstripe waits 1 s before sending a webhook; the rest is headroom for a loaded machine.
WEBHOOK_TIMEOUT = 15.0

# Made-up test keys: localstripe accepts any ``sk_…`` key and signs webhooks with the secret we give it.
SECRET_KEY = "sk_test_eventhive_e2e_localstripe"
PUBLISHABLE_KEY = "pk_test_eventhive_e2e_localstripe"
WEBHOOK_SECRET = "whsec_eventhive_e2e_localstripe"

VISA = "4242424242424242"
DECLINED_WHEN_CHARGED = "4000000000000341"
ASKS_3D_SECURE = "4000002760003184"

_FAILED_WEBHOOK = re.compile(r'^webhook "[^"]+" failed.*$', re.MULTILINE)


def require(available: bool, reason: str) -> None:
    """Skip when a tool is missing, or fail under ``CI=true`` (the rule of tests/conftest.py's require_service)."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: every service must be running)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass (the pattern of tests/e2e/conftest.py)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@dataclass
class LocalStripe:
    """A running ``localstripe`` process and the few calls the tests make to it directly."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, form: dict[str, str] | None = None, key: str | None = SECRET_KEY) -> Any:
        """Send ``form`` (url-encoded, as Stripe's clients do) and return ``(status, JSON body or None)``."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        return response.status, json.loads(payload) if payload.strip() else None

    def answers(self) -> bool:
        try:
            # Listing events changes nothing (GET /v1/balance would create the balance and its event).
            return bool(self.request("GET", "/v1/events")[0] == 200)
        except OSError:
            return False

    def register_webhook(self, url: str, secret: str) -> None:
        status, body = self.request("POST", "/_config/webhooks/eventhive", {"url": url, "secret": secret}, key=None)
        assert status == 200, body

    def payment_method(self, card_number: str) -> str:
        """Create a card PaymentMethod, as Stripe.js would in the buyer's browser; return its ``pm_…`` id."""
        card = {"number": card_number, "exp_month": "12", "exp_year": "2030", "cvc": "123"}
        status, body = self.request(
            "POST", "/v1/payment_methods", {"type": "card", **{f"card[{k}]": v for k, v in card.items()}}
        )
        assert status == 200, body
        assert body["id"].startswith("pm_"), body
        return str(body["id"])

    def authenticate(self, client_secret: str, *, success: bool) -> Any:
        """Pass (or fail) 3-D Secure the way localstripe's Stripe.js stand-in does, with the publishable key."""
        intent_id = client_secret.split("_secret_")[0]
        form = {"key": PUBLISHABLE_KEY, "client_secret": client_secret, "success": str(success).lower()}
        return self.request("POST", f"/v1/payment_intents/{intent_id}/_authenticate", form, key=None)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def delivered(self, event_type: str) -> bool:
        """Tell whether a webhook of ``event_type`` got a 2xx from its endpoint (localstripe logs each delivery)."""
        return f'webhook "{event_type}" successfully delivered' in self.log_text()

    def failed_webhooks(self) -> list[str]:
        """The log lines of webhooks refused (``failed with response code N``) or not delivered at all."""
        return _FAILED_WEBHOOK.findall(self.log_text())

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=5)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def localstripe(tmp_path: Path) -> Iterator[LocalStripe]:
    """Run ``localstripe --from-scratch`` on a free port; its output goes to ``tmp_path/localstripe.log``."""
    require(LOCALSTRIPE is not None, 'localstripe is not installed in this venv: pip install "localstripe>=1.15"')
    assert LOCALSTRIPE is not None
    port = free_port()
    log = tmp_path / "localstripe.log"
    with log.open("wb") as out:
        # A file, not a pipe: nobody reads a pipe while the test runs, and a full one would block it.
        process = subprocess.Popen(
            [LOCALSTRIPE, "--port", str(port), "--from-scratch"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    fake = LocalStripe(process, port, log)
    try:
        if not wait_until(lambda: fake.answers() or process.poll() is not None, START_TIMEOUT):
            pytest.fail(f"localstripe did not answer within {START_TIMEOUT} s:\n{fake.log_text()}")
        if process.poll() is not None:
            pytest.fail(f"localstripe exited with {process.returncode}:\n{fake.log_text()}")
        yield fake
    finally:
        fake.stop()


@dataclass
class Shop:
    server: Server
    stripe: LocalStripe


@pytest.fixture
def shop(localstripe: LocalStripe, start_server: Callable[..., Server]) -> Shop:
    """``eventhive serve`` with the stripe provider pointed at localstripe, which sends it its webhooks.

    Requested in this order, so the server stops before localstripe does.
    """
    require(importlib.util.find_spec("stripe") is not None, 'the stripe SDK is missing: pip install -e ".[stripe]"')
    server = start_server(
        EVENTHIVE_PAYMENT_PROVIDER="stripe",
        EVENTHIVE_STRIPE_SECRET_KEY=SECRET_KEY,
        EVENTHIVE_STRIPE_PUBLISHABLE_KEY=PUBLISHABLE_KEY,
        EVENTHIVE_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        EVENTHIVE_STRIPE_API_BASE=localstripe.url,
        # localstripe answers 400 "Unexpected automatic_payment_methods"; no retries keep failures quick.
        EVENTHIVE_PAYMENT_OPTIONS=json.dumps({"automatic_payment_methods": False, "max_network_retries": 0}),
    )
    localstripe.register_webhook(f"http://127.0.0.1:{server.port}/api/payments/webhooks/stripe", WEBHOOK_SECRET)
    return Shop(server, localstripe)


def an_order_to_pay(server: Server) -> tuple[Browser, dict[str, Any]]:
    """A seller lists a ticket at 20; a buyer orders it. Return the buyer and the order."""
    seller, buyer = server.browser(), server.browser()
    for user, email in ((seller, "seller@example.com"), (buyer, "buyer@example.com")):
        signup = user.request("POST", "/api/users/signup", {"email": email, "password": "secret1"})
        assert signup.status == 201, signup.body
    ticket = seller.request("POST", "/api/tickets", {"title": "Concert", "price": 20})
    assert ticket.status == 201, ticket.body
    order = buyer.request("POST", "/api/orders", {"ticketId": ticket.body["id"]})
    assert order.status == 201, order.body
    assert order.body["status"] == "created"
    return buyer, order.body


def order_status(buyer: Browser, order_id: str) -> str:
    shown = buyer.request("GET", f"/api/orders/{order_id}")
    assert shown.status == 200, shown.body
    return str(shown.body["status"])


def assert_no_trouble(shop: Shop) -> None:
    """No webhook refused by the server, and no traceback in its log."""
    assert shop.stripe.failed_webhooks() == [], shop.stripe.log_text()
    serve_log = shop.server.log.read_text()
    assert "Traceback" not in serve_log, serve_log


def test_a_payment_method_made_on_localstripe_pays_an_order_over_http_and_its_webhooks_are_accepted(
    shop: Shop,
) -> None:
    buyer, order = an_order_to_pay(shop.server)
    card = shop.stripe.payment_method(VISA)

    paid = buyer.request("POST", "/api/payments", {"orderId": order["id"], "token": card})

    assert paid.status == 201, paid.body
    assert paid.body["status"] == "succeeded"
    assert paid.body["orderId"] == order["id"]
    assert "clientSecret" not in paid.body
    assert order_status(buyer, order["id"]) == "complete"
    # The money as localstripe holds it: the price in cents, on the buyer's card, tagged with the order.
    status, intent = shop.stripe.request("GET", f"/v1/payment_intents/{paid.body['stripeId']}")
    assert status == 200, intent
    assert (intent["status"], intent["amount"], intent["payment_method"]) == ("succeeded", 2000, card)
    assert intent["metadata"]["order_id"] == order["id"]
    # Its webhook arrives after the pay request settled the order: signed, accepted, and changing nothing.
    assert wait_until(lambda: shop.stripe.delivered("payment_intent.succeeded"), WEBHOOK_TIMEOUT), (
        shop.stripe.log_text()
    )
    assert order_status(buyer, order["id"]) == "complete"
    assert_no_trouble(shop)


def test_a_card_asking_for_3d_secure_on_localstripe_completes_the_order_through_its_webhook(shop: Shop) -> None:
    buyer, order = an_order_to_pay(shop.server)
    card = shop.stripe.payment_method(ASKS_3D_SECURE)

    paid = buyer.request("POST", "/api/payments", {"orderId": order["id"], "token": card})

    assert paid.status == 201, paid.body
    assert paid.body["status"] == "pending"
    assert paid.body["clientSecret"].startswith(f"{paid.body['stripeId']}_secret_")
    assert order_status(buyer, order["id"]) == "awaiting:payment"

    status, intent = shop.stripe.authenticate(paid.body["clientSecret"], success=True)
    assert status == 200, intent
    assert intent["status"] == "succeeded"

    # Nobody tells the server but the webhook.
    assert shop.server.wait_until(lambda: order_status(buyer, order["id"]) == "complete", WEBHOOK_TIMEOUT), (
        shop.stripe.log_text()
    )
    assert shop.stripe.delivered("payment_intent.succeeded"), shop.stripe.log_text()
    assert_no_trouble(shop)


def test_a_declined_card_on_localstripe_reaches_the_buyer_and_the_order_stays_payable(shop: Shop) -> None:
    buyer, order = an_order_to_pay(shop.server)
    declined = shop.stripe.payment_method(DECLINED_WHEN_CHARGED)

    refused = buyer.request("POST", "/api/payments", {"orderId": order["id"], "token": declined})

    assert refused.status == 400, refused.body
    assert refused.body["errors"][0]["message"] == "Your card was declined."  # Stripe's (localstripe's) words
    assert order_status(buyer, order["id"]) == "created"

    paid = buyer.request("POST", "/api/payments", {"orderId": order["id"], "token": shop.stripe.payment_method(VISA)})

    assert paid.status == 201, paid.body
    assert paid.body["status"] == "succeeded"
    assert order_status(buyer, order["id"]) == "complete"
    # The decline's webhook comes late, after the second card paid: accepted, and the order stays paid.
    assert wait_until(
        lambda: (
            shop.stripe.delivered("payment_intent.payment_failed") and shop.stripe.delivered("payment_intent.succeeded")
        ),
        WEBHOOK_TIMEOUT,
    ), shop.stripe.log_text()
    assert order_status(buyer, order["id"]) == "complete"
    assert_no_trouble(shop)
