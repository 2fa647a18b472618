"""A small, stateful stand-in for the Stripe HTTP API, so payments can be tested offline.

:class:`StripeStandIn` serves the part of Stripe's v1 API that a ticket shop needs (PaymentMethods,
PaymentIntents with 3-D Secure and declines, cancellations, refunds) on loopback, from a background
thread, using the standard library only. Point the real ``stripe`` SDK at it and the code under test
speaks real HTTP, gets real SDK objects and real SDK exceptions, while no request leaves the machine::

    with StripeStandIn() as stand_in:
        client = stripe.StripeClient(stand_in.api_key, base_addresses={"api": stand_in.url}, max_network_retries=0)
        intent = client.v1.payment_intents.create(
            {"amount": 2500, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True},
            options={"idempotency_key": "order-42-attempt-1"},
        )
        assert stand_in.money_taken(intent.id) == 2500

It enforces Stripe's idempotency rules, because they are what a payment gateway leans on when an
answer goes missing: a replayed key returns the first answer (``Idempotent-Replayed: true``) and
changes nothing; the same key with other parameters is refused; a key still in flight gets a 409;
and, as on Stripe, a request refused before the endpoint ran (bad parameters, bad API key) stores
nothing, so it may be retried under the same key.

It can also lose an answer on purpose (:meth:`StripeStandIn.drop_responses`): the request takes
full effect and then the connection is closed unanswered, which is the case a gateway gets wrong
most easily. What the buyer and the dashboard do happens through :meth:`StripeStandIn.authenticate`
and :meth:`StripeStandIn.dashboard_refund`, and every event is kept, ready to be delivered as a
signed webhook (:meth:`StripeStandIn.webhook`).

This module never imports ``stripe``: the core package stays importable without it.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import hmac
import importlib.resources
import json
import re
import secrets
import string
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final

__all__ = ["DEFAULT_API_VERSION", "STRIPE_JS_PATH", "NoSuchObjectError", "RecordedRequest", "StripeStandIn"]

#: The API version stamped on events when the request that caused them sent no ``Stripe-Version``.
DEFAULT_API_VERSION: Final = "2026-10-28.endive"

_ALPHANUMERIC: Final = string.ascii_letters + string.digits
_IDEMPOTENCY_KEY_MAX_LENGTH: Final = 255

# Stripe's minimum charge per currency, in minor units; 50 elsewhere.
_MINIMUM_AMOUNTS: Final[Mapping[str, int]] = {
    "usd": 50,
    "eur": 50,
    "gbp": 30,
    "cad": 50,
    "aud": 50,
    "chf": 50,
    "jpy": 50,
}
_ZERO_DECIMAL_CURRENCIES: Final = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
_CURRENCY_SYMBOLS: Final[Mapping[str, str]] = {
    "usd": "$",
    "cad": "$",
    "aud": "$",
    "eur": "€",
    "gbp": "£",
    "jpy": "¥",
}

_CANCELABLE: Final = frozenset({"requires_payment_method", "requires_confirmation", "requires_action"})
_CANCELLATION_REASONS: Final = frozenset({"duplicate", "fraudulent", "requested_by_customer", "abandoned"})
_REFUND_REASONS: Final = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
_AUTHENTICATION_FAILED: Final = (
    "We are unable to authenticate your payment method. Please choose a different payment method and try again."
)


class NoSuchObjectError(KeyError):
    """Raised by the inspection helpers when the asked-for object or event does not exist.

    A :class:`KeyError`, so ``except KeyError`` works, but its message reads as a sentence.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such object"


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request the stand-in answered (or dropped on purpose), as it understood it.

    Attributes:
        method: ``"GET"`` or ``"POST"`` (any other method is recorded too, and got a 404).
        path: The URL path, e.g. ``"/v1/payment_intents/pi_123/confirm"``.
        params: The form body (or query string) parsed from Stripe's bracket notation into nested
            dicts and lists; values stay strings, as they travel.
        idempotency_key: The ``Idempotency-Key`` header, if any.
        status: The HTTP status of the answer (for a dropped answer: the one that was not sent).
        replayed: Whether the answer was a stored one, replayed for a repeated idempotency key.
        dropped: Whether the connection was closed instead of answering (see
            :meth:`StripeStandIn.drop_responses`).
    """

    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    status: int
    replayed: bool = False
    dropped: bool = False


@dataclass(frozen=True)
class _Card:
    """How a test card behaves when charged."""

    brand: str
    last4: str
    outcome: str  # "succeed", "authenticate" or "decline"
    code: str = "card_declined"
    decline_code: str = ""
    message: str = ""


_VISA: Final = _Card("visa", "4242", "succeed")
_GENERIC_DECLINE: Final = _Card(
    "visa", "0002", "decline", decline_code="generic_decline", message="Your card was declined."
)
_INSUFFICIENT_FUNDS: Final = _Card(
    "visa", "9995", "decline", decline_code="insufficient_funds", message="Your card has insufficient funds."
)
# Stripe reports these two with their own error code rather than card_declined.
_EXPIRED_CARD: Final = _Card(
    "visa", "0069", "decline", code="expired_card", decline_code="expired_card", message="Your card has expired."
)
_INCORRECT_CVC: Final = _Card(
    "visa",
    "0127",
    "decline",
    code="incorrect_cvc",
    decline_code="incorrect_cvc",
    message="Your card's security code is incorrect.",
)

_CARD_NUMBERS: Final[Mapping[str, _Card]] = {
    "4242424242424242": _VISA,
    "5555555555554444": _Card("mastercard", "4444", "succeed"),
    "4000000000000002": _GENERIC_DECLINE,
    "4000000000009995": _INSUFFICIENT_FUNDS,
    "4000000000000069": _EXPIRED_CARD,
    "4000000000000127": _INCORRECT_CVC,
    "4000002760003184": _Card("visa", "3184", "authenticate"),
    "4000002500003155": _Card("visa", "3155", "authenticate"),
    "4000000000000341": _Card(
        "visa", "0341", "decline", decline_code="generic_decline", message="Your card was declined."
    ),
}

# Stripe's test PaymentMethods are named pm_card_<name>, its legacy tokens tok_<name>.
_TEST_CARD_NAMES: Final[Mapping[str, _Card]] = {
    "visa": _VISA,
    "mastercard": _Card("mastercard", "4444", "succeed"),
    "amex": _Card("amex", "8431", "succeed"),
    "chargeDeclined": _GENERIC_DECLINE,
    "chargeDeclinedInsufficientFunds": _INSUFFICIENT_FUNDS,
    "chargeDeclinedExpiredCard": _EXPIRED_CARD,
    "chargeDeclinedIncorrectCvc": _INCORRECT_CVC,
    "threeDSecure2Required": _Card("visa", "3220", "authenticate"),
    "authenticationRequired": _Card("visa", "3184", "authenticate"),
}


class _ApiError(Exception):
    """A Stripe error answer; ``stored`` says whether the idempotency layer keeps it."""

    def __init__(self, status: int, error: dict[str, Any], *, stored: bool) -> None:
        super().__init__(error.get("message"))
        self.status = status
        self.error = error
        self.stored = stored


def _invalid_request(
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    status: int = 400,
    stored: bool = False,
    payment_intent: dict[str, Any] | None = None,
) -> _ApiError:
    error: dict[str, Any] = {"type": "invalid_request_error", "message": message}
    if code is not None:
        error["code"] = code
    if param is not None:
        error["param"] = param
    if payment_intent is not None:
        error["payment_intent"] = copy.deepcopy(payment_intent)
    return _ApiError(status, error, stored=stored)


def _resource_missing(kind: str, object_id: str, *, param: str, status: int = 400) -> _ApiError:
    return _invalid_request(f"No such {kind}: '{object_id}'", param=param, code="resource_missing", status=status)


@dataclass(frozen=True)
class _Call:
    """The API request an action belongs to, for the ``request`` and ``api_version`` of its events."""

    request_id: str | None
    idempotency_key: str | None
    api_version: str


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class _StoredResult:
    endpoint: tuple[str, str]
    params: dict[str, Any]
    status: int
    body: bytes
    request_id: str


class _InFlight:
    """Marks an idempotency key whose first request is still being processed."""


_IN_FLIGHT: Final = _InFlight()


@dataclass
class _Fault:
    """A pending fault: applies to the next ``count`` requests whose path contains ``path_contains``."""

    path_contains: str
    count: int
    seconds: float = 0.0


def _new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def _now() -> int:
    return int(time.time())


def _to_json(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, indent=2).encode("utf-8")


_FORM_KEY: Final = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_FORM_SEGMENT: Final = re.compile(r"\[([^\[\]]*)\]")


def _parse_form(raw: str) -> dict[str, Any]:
    """Parse Stripe's bracket notation (``a[b][0]=x``) into nested dicts and lists of strings.

    Raises:
        ValueError: When a key is used both as a value and as a container.
    """
    root: dict[str, Any] = {}
    for key, value in urllib.parse.parse_qsl(raw, keep_blank_values=True):
        match = _FORM_KEY.match(key)
        segments = [match.group(1), *_FORM_SEGMENT.findall(match.group(2))] if match else [key]
        node = root
        for depth, segment in enumerate(segments):
            if segment == "":
                # ``a[]=x`` appends; index by position so it merges with ``a[0]`` the same way.
                segment = str(len(node))
            if depth == len(segments) - 1:
                if isinstance(node.get(segment), dict):
                    raise ValueError(key)
                node[segment] = value
            else:
                child = node.setdefault(segment, {})
                if not isinstance(child, dict):
                    raise ValueError(key)
                node = child
    return _lists_from_indexes(root, under_metadata=False)


def _lists_from_indexes(node: dict[str, Any], *, under_metadata: bool) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in node.items():
        if isinstance(value, dict):
            inner = _lists_from_indexes(value, under_metadata=key == "metadata")
            # Metadata keys are free text: ``metadata[0]=x`` names a key, it is not a list.
            if inner and key != "metadata" and not under_metadata and all(k.isdigit() for k in inner):
                result[key] = [inner[k] for k in sorted(inner, key=int)]
            else:
                result[key] = inner
        else:
            result[key] = value
    return result


def _mask_key(key: str) -> str:
    match = re.match(r"^([a-z]{2,4}_(?:test|live)_)(.*)$", key)
    prefix, rest = (match.group(1), match.group(2)) if match else ("", key)
    # Showing the last four of a short secret would give most of it away.
    if len(rest) <= 8:
        return prefix + "*" * 4
    return prefix + "*" * (len(rest) - 4) + rest[-4:]


def _format_amount(amount: int, currency: str) -> str:
    symbol = _CURRENCY_SYMBOLS.get(currency, "")
    major = str(amount) if currency in _ZERO_DECIMAL_CURRENCIES else f"{amount // 100}.{amount % 100:02d}"
    return f"{symbol}{major}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], stand_in: StripeStandIn) -> None:
        super().__init__(address, _Handler)
        self.stand_in = stand_in


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "StripeStandIn/1"

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_OPTIONS(self) -> None:
        # The CORS preflight of the Stripe.js stand-in's calls from the shop's pages.
        self.send_response(204)
        for name, value in _CORS_HEADERS:
            self.send_header(name, value)
        self.send_header("Access-Control-Allow-Methods", "GET, POST")
        self.send_header("Access-Control-Allow-Headers", "Authorization, Content-Type, Stripe-Version")
        self.send_header("Access-Control-Max-Age", "600")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        # The test output is no place for an access log.
        pass

    def _serve(self, method: str) -> None:
        target = urllib.parse.urlsplit(self.path)
        if method == "GET" and target.path.rstrip("/") == STRIPE_JS_PATH.rstrip("/"):
            self._send_script()
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        raw = body if method == "POST" else target.query
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer = self.server.stand_in._answer(method, target.path, raw, headers)
        if answer is None:
            # A lost answer: the work is done, but the client only sees the connection close.
            self.close_connection = True
            return
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in (*answer.headers, *_CORS_HEADERS):
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body)

    def _send_script(self) -> None:
        script = _stripe_js()
        self.send_response(200)
        self.send_header("Content-Type", "application/javascript; charset=utf-8")
        self.send_header("Content-Length", str(len(script)))
        for name, value in _CORS_HEADERS:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(script)


#: Where the stand-in serves its Stripe.js stand-in: point ``EVENTHIVE_STRIPE_JS_URL`` at ``<url>/v3/``.
STRIPE_JS_PATH: Final = "/v3/"

#: Browsers call the stand-in from the shop's pages, another origin: allow them, as Stripe does.
_CORS_HEADERS: Final = (("Access-Control-Allow-Origin", "*"),)


@functools.cache
def _stripe_js() -> bytes:
    return importlib.resources.files("eventhive_core.testing").joinpath("stripe_js_stand_in.js").read_bytes()


_Endpoint = Callable[[dict[str, Any], _Call, str], dict[str, Any]]


_RETURN_URL_NEEDED = (
    "A `return_url` must be specified because this Payment Intent is configured to automatically accept the "
    "payment methods enabled in the Dashboard, some of which may require a full page redirect to succeed. If you "
    "do not want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and "
    "`automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and Payment Intents."
)


class StripeStandIn:
    """A stateful Stripe v1 API on loopback, for the real ``stripe`` SDK to talk to in tests.

    All state sits behind one lock, so the stand-in may be driven from several threads at once,
    both through HTTP and through the helper methods.

    Args:
        api_key: The only secret key accepted (``Authorization: Bearer <key>``).
        publishable_key: The browser's key: the Stripe.js stand-in (served at :data:`STRIPE_JS_PATH`)
            may create PaymentMethods, and read and finish the 3-D Secure of an intent whose client
            secret it holds, nothing else.
        webhook_secret: The endpoint secret that :meth:`sign` and :meth:`webhook` sign with.
        host: The IPv4 address to bind; keep it on loopback.
        port: The port to bind; 0 picks a free one.
        require_return_url: Refuse, as current Stripe API versions do, to confirm a PaymentIntent
            from the server without a ``return_url`` unless it rules out redirects
            (``automatic_payment_methods[allow_redirects]=never``) or lists its
            ``payment_method_types``. Off, any PaymentIntent may be confirmed.

    Attributes:
        api_key: The accepted secret key.
        publishable_key: The accepted publishable key.
        webhook_secret: The webhook signing secret.
    """

    def __init__(
        self,
        *,
        api_key: str = "sk_test_eventhive",
        publishable_key: str = "pk_test_eventhive",
        # Test-only values, made up: nothing real is protected by them.
        webhook_secret: str = "whsec_eventhive",  # noqa: S107
        host: str = "127.0.0.1",
        port: int = 0,
        require_return_url: bool = True,
    ) -> None:
        self.api_key = api_key
        self.publishable_key = publishable_key
        self._require_return_url = require_return_url
        self.webhook_secret = webhook_secret
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._payment_intents: dict[str, dict[str, Any]] = {}
        self._payment_methods: dict[str, dict[str, Any]] = {}
        self._cards: dict[str, _Card] = {}
        self._charges: dict[str, dict[str, Any]] = {}
        self._refunds: dict[str, dict[str, Any]] = {}
        self._events: list[dict[str, Any]] = []
        self._requests: list[RecordedRequest] = []
        self._idempotency: dict[tuple[str, str], _StoredResult | _InFlight] = {}
        self._drops: list[_Fault] = []
        self._listeners: list[Callable[[dict[str, Any]], object]] = []
        self._needs_return_url: dict[str, bool] = {}
        self._slowdowns: list[_Fault] = []
        self._routes: list[tuple[str, re.Pattern[str], _Endpoint]] = [
            ("POST", re.compile(r"/v1/payment_methods"), self._create_payment_method),
            ("GET", re.compile(r"/v1/payment_methods/([^/]+)"), self._retrieve_payment_method),
            ("POST", re.compile(r"/v1/payment_intents"), self._create_payment_intent),
            ("GET", re.compile(r"/v1/payment_intents/([^/]+)"), self._retrieve_payment_intent),
            ("POST", re.compile(r"/v1/payment_intents/([^/]+)/confirm"), self._confirm_payment_intent),
            ("POST", re.compile(r"/v1/payment_intents/([^/]+)/cancel"), self._cancel_payment_intent),
            ("POST", re.compile(r"/v1/payment_intents/([^/]+)/_authenticate"), self._authenticate_payment_intent),
            ("GET", re.compile(r"/v1/charges/([^/]+)"), self._retrieve_charge),
            ("POST", re.compile(r"/v1/refunds"), self._create_refund),
            ("GET", re.compile(r"/v1/refunds"), self._list_refunds),
            ("GET", re.compile(r"/v1/refunds/([^/]+)"), self._retrieve_refund),
            ("GET", re.compile(r"/v1/events/([^/]+)"), self._retrieve_event),
        ]

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> StripeStandIn:
        """Bind the port and serve from a daemon thread; a no-op when already serving.

        Returns:
            The stand-in itself, so ``stand_in = StripeStandIn().start()`` reads naturally.

        Raises:
            RuntimeError: If the stand-in was closed; make a new one instead.
        """
        if self._closed:
            raise RuntimeError("This StripeStandIn is closed; create a new one")
        if self._server is None:
            self._server = _Server(self._address, self)
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="stripe-stand-in", kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port; safe to call more than once."""
        self._closed = True
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join()

    def __enter__(self) -> StripeStandIn:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The base address to give the SDK, e.g. ``"http://127.0.0.1:54321"``.

        Raises:
            RuntimeError: If the stand-in is not serving.
        """
        if self._server is None:
            raise RuntimeError("The StripeStandIn is not serving: call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- what happened ---------------------------------------------------------------------------

    @property
    def payment_intents(self) -> list[dict[str, Any]]:
        """Copies of every PaymentIntent, in creation order."""
        with self._lock:
            return copy.deepcopy(list(self._payment_intents.values()))

    def payment_intent(self, pi_id: str) -> dict[str, Any]:
        """Return a copy of one PaymentIntent as the API would.

        Raises:
            NoSuchObjectError: If there is no PaymentIntent with that id.
        """
        with self._lock:
            return copy.deepcopy(self._known_payment_intent(pi_id))

    @property
    def refunds(self) -> list[dict[str, Any]]:
        """Copies of every Refund, API-made or dashboard-made, oldest first."""
        with self._lock:
            return copy.deepcopy(list(self._refunds.values()))

    @property
    def requests(self) -> list[RecordedRequest]:
        """Copies of every HTTP request received, in the order they were answered (or dropped)."""
        with self._lock:
            return copy.deepcopy(self._requests)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Copies of every event generated, oldest first."""
        with self._lock:
            return copy.deepcopy(self._events)

    def last_event(self, event_type: str) -> dict[str, Any]:
        """Return a copy of the newest event of a type, e.g. ``"payment_intent.succeeded"``.

        Raises:
            NoSuchObjectError: If no event of that type was generated.
        """
        with self._lock:
            for event in reversed(self._events):
                if event["type"] == event_type:
                    return copy.deepcopy(event)
            seen = sorted({event["type"] for event in self._events})
        raise NoSuchObjectError(f"No {event_type!r} event was generated; the events so far are of types {seen}")

    def money_taken(self, pi_id: str | None = None) -> int:
        """Return the minor units taken: succeeded charges minus their refunds.

        Args:
            pi_id: Count only this PaymentIntent's charges; all of them when ``None``.

        Raises:
            NoSuchObjectError: If ``pi_id`` names no PaymentIntent.
        """
        with self._lock:
            if pi_id is not None:
                self._known_payment_intent(pi_id)
            return sum(
                charge["amount"] - charge["amount_refunded"]
                for charge in self._charges.values()
                if charge["status"] == "succeeded" and pi_id in (None, charge["payment_intent"])
            )

    # -- fault injection -------------------------------------------------------------------------

    def drop_responses(self, path_contains: str = "", count: int = 1) -> None:
        """Lose the answers to the next ``count`` requests whose path contains ``path_contains``.

        Such a request is processed in full (objects change, events fire, its idempotency result
        is stored) exactly as if it were answered; then the connection is closed without a byte
        of response, so the SDK raises ``stripe.APIConnectionError``. It is recorded with
        ``dropped=True``.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._drops.append(_Fault(path_contains, count))

    def slow_down(self, path_contains: str, seconds: float, count: int = 1) -> None:
        """Make the next ``count`` matching requests take ``seconds`` longer, while their key is in flight.

        The pause comes after the request's idempotency key is marked as in progress and before
        its endpoint runs, with the lock released: a second request with the same key sent during
        the pause gets Stripe's 409 ``idempotency_key_in_use``, and other requests go through.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        with self._lock:
            self._slowdowns.append(_Fault(path_contains, count, seconds))

    def deliver_events(self, listener: Callable[[dict[str, Any]], object]) -> None:
        """Call ``listener`` with every new event, in the request's thread, before that request is answered.

        So a test can deliver a webhook *before* the API client sees the answer of the request
        that caused it (as Stripe sometimes does), e.g. ``stand_in.deliver_events(post_webhook)``.
        Events of :meth:`authenticate` and :meth:`dashboard_refund` are delivered before those return.
        """
        with self._lock:
            self._listeners.append(listener)

    def _notify(self, first_new: int) -> None:
        """Hand the events from index ``first_new`` on to the listeners (called without the lock)."""
        with self._lock:
            events = copy.deepcopy(self._events[first_new:])
            listeners = list(self._listeners)
        for event in events:
            for listener in listeners:
                listener(event)

    # -- what the buyer or the dashboard does ---------------------------------------------------

    def authenticate(self, pi_id: str, *, succeed: bool = True) -> dict[str, Any]:
        """Let the buyer pass (or fail) 3-D Secure for a PaymentIntent in ``requires_action``.

        Passing charges the card (``succeeded``, event ``payment_intent.succeeded``); failing sends the
        PaymentIntent back to ``requires_payment_method`` with ``last_payment_error.code``
        ``payment_intent_authentication_failure`` (event ``payment_intent.payment_failed``). The
        events carry no ``request`` id, as the buyer's browser, not the API client, acted.

        Returns:
            A copy of the PaymentIntent afterwards.

        Raises:
            NoSuchObjectError: If there is no such PaymentIntent.
            ValueError: If it is not in ``requires_action``.
        """
        call = _Call(request_id=None, idempotency_key=None, api_version=DEFAULT_API_VERSION)
        with self._lock:
            events_before = len(self._events)
            intent = self._known_payment_intent(pi_id)
            if intent["status"] != "requires_action":
                raise ValueError(
                    f"{pi_id} is {intent['status']}, not requires_action: there is nothing to authenticate"
                )
            self._finish_authentication(intent, succeed, call)
            result = copy.deepcopy(intent)
        self._notify(events_before)
        return result

    def _finish_authentication(self, intent: dict[str, Any], succeed: bool, call: _Call) -> None:
        intent["next_action"] = None
        if succeed:
            self._charge(intent, call)
            return
        payment_method = self._payment_methods[intent["payment_method"]]
        intent.update(
            status="requires_payment_method",
            payment_method=None,
            last_payment_error={
                "type": "invalid_request_error",
                "code": "payment_intent_authentication_failure",
                "message": _AUTHENTICATION_FAILED,
                "payment_method": copy.deepcopy(payment_method),
            },
        )
        self._emit("payment_intent.payment_failed", intent, call)

    def dashboard_refund(self, pi_id: str) -> dict[str, Any]:
        """Refund what remains of a PaymentIntent's charge, as someone in the Stripe dashboard would.

        Fires ``charge.refunded`` and ``refund.created``, with no idempotency key on their request.

        Returns:
            A copy of the new Refund.

        Raises:
            NoSuchObjectError: If there is no such PaymentIntent.
            ValueError: If it has no succeeded charge, or nothing of it is left to refund.
        """
        call = _Call(request_id=_new_id("req_", 14), idempotency_key=None, api_version=DEFAULT_API_VERSION)
        with self._lock:
            events_before = len(self._events)
            intent = self._known_payment_intent(pi_id)
            try:
                refund = self._refund(intent, None, reason=None, metadata={}, call=call)
            except _ApiError as exc:
                raise ValueError(exc.error["message"]) from None
            result = copy.deepcopy(refund)
        self._notify(events_before)
        return result

    # -- webhooks -----------------------------------------------------------------------------

    def sign(self, payload: bytes, *, timestamp: int | None = None, secret: str | None = None) -> str:
        """Return the ``Stripe-Signature`` header value Stripe would send with this webhook body.

        Args:
            payload: The exact body bytes.
            timestamp: Unix time of signing; now when ``None`` (an old one tests the SDK's 300 s tolerance).
            secret: The signing secret; :attr:`webhook_secret` when ``None`` (another one tests rejection).

        Examples:
            >>> StripeStandIn(webhook_secret="whsec_doc").sign(b"{}", timestamp=1700000000)
            't=1700000000,v1=...'
        """
        signed_at = _now() if timestamp is None else timestamp
        key = (self.webhook_secret if secret is None else secret).encode("utf-8")
        digest = hmac.new(key, f"{signed_at}.".encode() + payload, hashlib.sha256).hexdigest()
        return f"t={signed_at},v1={digest}"

    def webhook(
        self, event: Mapping[str, Any], *, timestamp: int | None = None, secret: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """Return the body and headers with which Stripe would POST an event to a webhook endpoint.

        Args:
            event: An event, e.g. from :meth:`last_event`.
            timestamp: See :meth:`sign`.
            secret: See :meth:`sign`.

        Returns:
            ``(body, headers)``: the JSON bytes, and ``Content-Type`` and ``Stripe-Signature``.
        """
        body = _to_json(event)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": self.sign(body, timestamp=timestamp, secret=secret),
        }
        return body, headers

    # -- HTTP plumbing ------------------------------------------------------------------------

    def _answer(self, method: str, path: str, raw: str, headers: Mapping[str, str]) -> _Answer | None:
        """Answer one request; ``None`` means the answer is to be dropped."""
        request_id = _new_id("req_", 14)
        key = headers.get("idempotency-key") or None
        version = headers.get("stripe-version") or DEFAULT_API_VERSION
        with self._lock:
            # Faults are claimed on arrival so that "the next n requests" means the next n to arrive.
            drop = self._claim(self._drops, path) is not None
            slowdown = self._claim(self._slowdowns, path)
            events_before = len(self._events)
        params: dict[str, Any] = {}
        unparsable: str | None = None
        try:
            params = _parse_form(raw)
        except ValueError as exc:
            unparsable = str(exc)
        replayed = False
        try:
            publishable = self._check_api_key(headers.get("authorization", ""))
            if unparsable is not None:
                raise _invalid_request(f"Invalid parameters: {unparsable}", param=unparsable)
            endpoint, object_id = self._route(method, path)
            if publishable:
                self._check_browser_call(endpoint, object_id, params)
            call = _Call(request_id=request_id, idempotency_key=key, api_version=version)
            if method == "POST" and key is not None:
                status, body, replayed, original = self._idempotent(
                    key, (method, path), params, call, object_id, endpoint, slowdown
                )
            else:
                original = None
                status, body = self._execute(endpoint, params, call, object_id, slowdown)
        except _ApiError as exc:
            status, body = exc.status, _to_json({"error": exc.error})
            original = None
        response_headers = [("Request-Id", request_id), ("Stripe-Version", version)]
        if method == "POST" and key is not None:
            response_headers.append(("Idempotency-Key", key))
        if replayed:
            response_headers.append(("Idempotent-Replayed", "true"))
        if original is not None:
            response_headers.append(("Original-Request", original))
        with self._lock:
            self._requests.append(RecordedRequest(method, path, params, key, status, replayed, drop))
        self._notify(events_before)
        return None if drop else _Answer(status, body, tuple(response_headers))

    @staticmethod
    def _claim(faults: list[_Fault], path: str) -> _Fault | None:
        for fault in faults:
            if fault.path_contains in path:
                fault.count -= 1
                if fault.count == 0:
                    faults.remove(fault)
                return fault
        return None

    def _check_api_key(self, authorization: str) -> bool:
        """Check the key; True when it is the publishable one (the browser's), False for the secret one."""
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "basic":
            # curl -u sk_test_...: sends the key as the user name of Basic auth.
            try:
                credentials = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")[0]
            except ValueError:
                credentials = ""
        elif scheme.lower() != "bearer":
            credentials = ""
        credentials = credentials.strip()
        if not credentials:
            raise _invalid_request(
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
                status=401,
            )
        if hmac.compare_digest(credentials.encode("utf-8"), self.publishable_key.encode("utf-8")):
            return True
        if not hmac.compare_digest(credentials.encode("utf-8"), self.api_key.encode("utf-8")):
            raise _invalid_request(f"Invalid API Key provided: {_mask_key(credentials)}", status=401)
        return False

    def _check_browser_call(self, endpoint: _Endpoint, object_id: str, params: Mapping[str, Any]) -> None:
        """Allow the publishable key only what Stripe.js may do: make a card, read or finish its own intent."""
        if endpoint == self._create_payment_method:
            return
        if endpoint in (self._retrieve_payment_intent, self._authenticate_payment_intent):
            with self._lock:
                intent = self._payment_intents.get(object_id)
            if intent is not None and hmac.compare_digest(
                str(params.get("client_secret", "")).encode(), str(intent["client_secret"]).encode()
            ):
                return
            raise _resource_missing("payment_intent", object_id, param="intent", status=404)
        raise _invalid_request(
            "This API call cannot be made with a publishable API key. Please use a secret API key.", status=401
        )

    def _route(self, method: str, path: str) -> tuple[_Endpoint, str]:
        for route_method, pattern, endpoint in self._routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return endpoint, (match.group(1) if match.groups() else "")
        raise _invalid_request(f"Unrecognized request URL ({method}: {path}).", status=404)

    def _idempotent(
        self,
        key: str,
        endpoint_key: tuple[str, str],
        params: dict[str, Any],
        call: _Call,
        object_id: str,
        endpoint: _Endpoint,
        slowdown: _Fault | None,
    ) -> tuple[int, bytes, bool, str | None]:
        """Run a POST under its idempotency key: replay, refuse, or execute and maybe store."""
        if len(key) > _IDEMPOTENCY_KEY_MAX_LENGTH:
            raise _invalid_request(
                f"Idempotency-Key must be at most {_IDEMPOTENCY_KEY_MAX_LENGTH} characters long.",
                param="Idempotency-Key",
            )
        scope = (self.api_key, key)
        with self._lock:
            entry = self._idempotency.get(scope)
            if isinstance(entry, _InFlight):
                raise _ApiError(
                    409,
                    {
                        "type": "idempotency_error",
                        "code": "idempotency_key_in_use",
                        "message": "There is currently another in-progress request using this Idempotent Key (that "
                        f"probably means you submitted twice, and the other request is still going through): {key}. "
                        "Please try again later.",
                    },
                    stored=False,
                )
            if entry is not None:
                if entry.endpoint != endpoint_key or entry.params != params:
                    raise _ApiError(
                        400,
                        {
                            "type": "idempotency_error",
                            "message": "Keys for idempotent requests can only be used with the same parameters they "
                            f"were first used with. Try using a key other than '{key}' if you meant to execute a "
                            "different request.",
                        },
                        stored=False,
                    )
                return entry.status, entry.body, True, entry.request_id
            self._idempotency[scope] = _IN_FLIGHT
        stored: _StoredResult | None = None
        try:
            status, body = self._execute(endpoint, params, call, object_id, slowdown)
            stored = _StoredResult(endpoint_key, copy.deepcopy(params), status, body, call.request_id or "")
            return status, body, False, None
        except _ApiError as exc:
            if exc.stored:
                stored = _StoredResult(
                    endpoint_key,
                    copy.deepcopy(params),
                    exc.status,
                    _to_json({"error": exc.error}),
                    call.request_id or "",
                )
            raise
        finally:
            with self._lock:
                if stored is None:
                    del self._idempotency[scope]
                else:
                    self._idempotency[scope] = stored

    def _execute(
        self, endpoint: _Endpoint, params: dict[str, Any], call: _Call, object_id: str, slowdown: _Fault | None
    ) -> tuple[int, bytes]:
        if slowdown is not None:
            time.sleep(slowdown.seconds)
        with self._lock:
            try:
                result = endpoint(params, call, object_id)
            except _ApiError:
                raise
            except Exception as exc:
                # A stand-in bug must surface as an answer, not a hang. Unlike Stripe's own 500s it is not
                # stored: the fault is the stand-in's, not the request's.
                raise _ApiError(
                    500, {"type": "api_error", "message": f"StripeStandIn failed: {exc!r}"}, stored=False
                ) from exc
        return 200, _to_json(result)

    # -- state helpers (called with the lock held) ---------------------------------------------

    def _known_payment_intent(self, pi_id: str) -> dict[str, Any]:
        try:
            return self._payment_intents[pi_id]
        except KeyError:
            raise NoSuchObjectError(f"No such payment_intent: {pi_id!r}") from None

    def _emit(self, event_type: str, obj: Mapping[str, Any], call: _Call | None) -> None:
        self._events.append(
            {
                "id": _new_id("evt_"),
                "object": "event",
                "api_version": call.api_version if call else DEFAULT_API_VERSION,
                "created": _now(),
                "type": event_type,
                "livemode": False,
                "pending_webhooks": 1,
                "data": {"object": copy.deepcopy(dict(obj))},
                "request": {
                    "id": call.request_id if call else None,
                    "idempotency_key": call.idempotency_key if call else None,
                },
            }
        )

    def _new_payment_method(self, card: _Card, exp_month: int = 12, exp_year: int | None = None) -> dict[str, Any]:
        payment_method: dict[str, Any] = {
            "id": _new_id("pm_"),
            "object": "payment_method",
            "type": "card",
            "card": {
                "brand": card.brand,
                "last4": card.last4,
                "exp_month": exp_month,
                "exp_year": exp_year if exp_year is not None else time.gmtime().tm_year + 3,
                "funding": "credit",
                "country": "US",
            },
            "billing_details": {"address": None, "email": None, "name": None, "phone": None},
            "customer": None,
            "metadata": {},
            "created": _now(),
            "livemode": False,
        }
        self._payment_methods[payment_method["id"]] = payment_method
        self._cards[payment_method["id"]] = card
        return payment_method

    def _card_from_details(self, details: Any, param: str) -> tuple[_Card, int, int]:
        if not isinstance(details, dict):
            raise _invalid_request(f"Missing required param: {param}[number].", param=f"{param}[number]")
        for field in ("number", "exp_month", "exp_year"):
            if not details.get(field):
                raise _invalid_request(
                    f"Missing required param: {param}[{field}].", param=f"{param}[{field}]", code="parameter_missing"
                )
        number = re.sub(r"[\s-]", "", str(details["number"]))
        if number in _CARD_NUMBERS:
            card = _CARD_NUMBERS[number]
        elif number.isdigit() and 12 <= len(number) <= 19 and _luhn_valid(number):
            brand = {"4": "visa", "5": "mastercard", "3": "amex"}.get(number[0], "unknown")
            card = _Card(brand, number[-4:], "succeed")
        else:
            raise _ApiError(
                402,
                {
                    "type": "card_error",
                    "code": "incorrect_number",
                    "message": "Your card number is incorrect.",
                    "param": f"{param}[number]",
                },
                stored=True,
            )
        month = _integer(details, "exp_month", f"{param}[exp_month]")
        year = _integer(details, "exp_year", f"{param}[exp_year]")
        return card, month, year

    def _resolve_payment_method(self, params: dict[str, Any]) -> str | None:
        """Return the id of the PaymentMethod a request names, creating one for test names and tokens."""
        pm_id = params.get("payment_method")
        data = params.get("payment_method_data")
        if pm_id and data:
            raise _invalid_request(
                "You cannot provide both payment_method and payment_method_data.", param="payment_method_data"
            )
        if pm_id:
            if not isinstance(pm_id, str):
                raise _invalid_request("Invalid string: payment_method", param="payment_method")
            if pm_id in self._payment_methods:
                return pm_id
            if pm_id.startswith("pm_card_") and pm_id[len("pm_card_") :] in _TEST_CARD_NAMES:
                # Stripe clones a test PaymentMethod into a fresh pm_... for each use.
                return str(self._new_payment_method(_TEST_CARD_NAMES[pm_id[len("pm_card_") :]])["id"])
            raise _resource_missing("PaymentMethod", pm_id, param="payment_method")
        if data:
            if not isinstance(data, dict) or data.get("type") != "card":
                raise _invalid_request(
                    "The stand-in only supports payment_method_data[type]=card.", param="payment_method_data[type]"
                )
            card_data = data.get("card")
            token = card_data.get("token") if isinstance(card_data, dict) else None
            if token is not None:
                if not isinstance(token, str) or not token.startswith("tok_"):
                    raise _resource_missing("token", str(token), param="payment_method_data[card][token]")
                card = _TEST_CARD_NAMES.get(token[len("tok_") :], _VISA)
                return str(self._new_payment_method(card)["id"])
            card, month, year = self._card_from_details(card_data, "payment_method_data[card]")
            return str(self._new_payment_method(card, month, year)["id"])
        return None

    def _charge(self, intent: dict[str, Any], call: _Call) -> None:
        charge = {
            "id": _new_id("ch_"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"],
            "amount_refunded": 0,
            "captured": True,
            "currency": intent["currency"],
            "description": intent["description"],
            "metadata": copy.deepcopy(intent["metadata"]),
            "paid": True,
            "payment_intent": intent["id"],
            "payment_method": intent["payment_method"],
            "refunded": False,
            "status": "succeeded",
            "created": _now(),
            "livemode": False,
        }
        self._charges[charge["id"]] = charge
        intent.update(
            status="succeeded",
            amount_received=intent["amount"],
            latest_charge=charge["id"],
            last_payment_error=None,
            next_action=None,
        )
        self._emit("charge.succeeded", charge, call)
        self._emit("payment_intent.succeeded", intent, call)

    def _confirm(self, intent: dict[str, Any], call: _Call) -> None:
        card = self._cards[intent["payment_method"]]
        if card.outcome == "succeed":
            self._charge(intent, call)
        elif card.outcome == "authenticate":
            intent.update(
                status="requires_action",
                last_payment_error=None,
                next_action={"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect"}},
            )
            self._emit("payment_intent.requires_action", intent, call)
        else:
            payment_method = copy.deepcopy(self._payment_methods[intent["payment_method"]])
            failure = {
                "type": "card_error",
                "code": card.code,
                "decline_code": card.decline_code,
                "message": card.message,
                "payment_method": payment_method,
            }
            # After a failed attempt Stripe detaches the method: the buyer must bring another one.
            intent.update(
                status="requires_payment_method",
                payment_method=None,
                last_payment_error=failure,
                next_action=None,
            )
            self._emit("payment_intent.payment_failed", intent, call)
            error = {**copy.deepcopy(failure), "payment_intent": copy.deepcopy(intent)}
            raise _ApiError(402, error, stored=True)

    def _refund(
        self,
        intent: dict[str, Any],
        amount: int | None,
        *,
        reason: str | None,
        metadata: dict[str, Any],
        call: _Call,
    ) -> dict[str, Any]:
        if intent["status"] != "succeeded" or intent["latest_charge"] is None:
            raise _invalid_request(
                f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                param="payment_intent",
                stored=True,
            )
        charge = self._charges[intent["latest_charge"]]
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining == 0:
            raise _invalid_request(
                f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded", stored=True
            )
        if amount is None:
            amount = remaining
        elif amount > remaining:
            raise _invalid_request(
                f"Refund amount ({_format_amount(amount, charge['currency'])}) is greater than unrefunded amount on "
                f"charge ({_format_amount(remaining, charge['currency'])})",
                param="amount",
                code="amount_too_large",
                stored=True,
            )
        refund = {
            "id": _new_id("re_"),
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "currency": charge["currency"],
            "metadata": metadata,
            "payment_intent": intent["id"],
            "reason": reason,
            "status": "succeeded",
            "created": _now(),
            "livemode": False,
        }
        self._refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        self._emit("charge.refunded", charge, call)
        self._emit("refund.created", refund, call)
        return refund

    # -- endpoints (called with the lock held) -------------------------------------------------

    def _create_payment_method(self, params: dict[str, Any], call: _Call, object_id: str) -> dict[str, Any]:
        if params.get("type") != "card":
            raise _invalid_request("The stand-in only supports type=card.", param="type")
        card, month, year = self._card_from_details(params.get("card"), "card")
        payment_method = self._new_payment_method(card, month, year)
        payment_method["metadata"] = _metadata(params)
        return payment_method

    def _retrieve_payment_method(self, params: dict[str, Any], call: _Call, object_id: str) -> dict[str, Any]:
        if object_id not in self._payment_methods:
            raise _resource_missing("PaymentMethod", object_id, param="payment_method", status=404)
        return self._payment_methods[object_id]

    def _create_payment_intent(self, params: dict[str, Any], call: _Call, object_id: str) -> dict[str, Any]:
        amount = _required_integer(params, "amount")
        currency = params.get("currency")
        if not currency:
            raise _invalid_request("Missing required param: currency.", param="currency", code="parameter_missing")
        currency = str(currency).lower()
        if not re.fullmatch(r"[a-z]{3}", currency):
            raise _invalid_request(f"Invalid currency: {currency}.", param="currency", code="parameter_invalid_string")
        minimum = _MINIMUM_AMOUNTS.get(currency, 50)
        if amount < minimum:
            raise _invalid_request(
                f"Amount must be at least {_format_amount(minimum, currency)} {currency}",
                param="amount",
                code="amount_too_small",
            )
        capture_method = params.get("capture_method", "automatic")
        if capture_method not in ("automatic", "automatic_async"):
            raise _invalid_request(
                "The stand-in only supports capture_method=automatic (it captures every charge at once).",
                param="capture_method",
            )
        types = params.get("payment_method_types", ["card"])
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise _invalid_request("Invalid array: payment_method_types", param="payment_method_types")
        # Like current API versions: without explicit types, payment methods are automatic, and
        # unless redirects are ruled out, a confirmation from the server needs a return_url.
        automatic = params.get("automatic_payment_methods")
        redirects = (
            self._require_return_url
            and "payment_method_types" not in params
            and not (
                isinstance(automatic, dict)
                and str(automatic.get("enabled")).lower() == "true"
                and automatic.get("allow_redirects") == "never"
            )
        )
        confirm = _boolean(params, "confirm")
        if confirm and redirects and not params.get("return_url"):
            raise _invalid_request(_RETURN_URL_NEEDED, param="return_url")
        metadata = _metadata(params)
        description = params.get("description")
        pm_id = self._resolve_payment_method(params)
        if confirm and pm_id is None:
            raise _invalid_request(
                "A PaymentIntent can only be confirmed with a payment method: pass payment_method or "
                "payment_method_data.",
                param="payment_method",
                code="parameter_missing",
            )
        pi_id = _new_id("pi_")
        intent: dict[str, Any] = {
            "id": pi_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": capture_method,
            "client_secret": f"{pi_id}_secret_{_new_id('', 25)}",
            "confirmation_method": "automatic",
            "created": _now(),
            "currency": currency,
            "description": description,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": metadata,
            "next_action": None,
            "payment_method": pm_id,
            "payment_method_types": types,
            "status": "requires_payment_method" if pm_id is None else "requires_confirmation",
        }
        self._needs_return_url[pi_id] = redirects
        self._payment_intents[pi_id] = intent
        self._emit("payment_intent.created", intent, call)
        if confirm:
            self._confirm(intent, call)
        return intent

    def _authenticate_payment_intent(self, params: dict[str, Any], call: _Call, object_id: str) -> dict[str, Any]:
        # What the Stripe.js stand-in calls when the buyer answers its 3-D Secure dialog (not a Stripe API).
        intent = self._retrieve_payment_intent(params, call, object_id)
        if intent["status"] != "requires_action":
            raise _invalid_request(
                f"This PaymentIntent is {intent['status']}: there is no authentication to finish.",
                code="payment_intent_unexpected_state",
                payment_intent=intent,
            )
        self._finish_authentication(intent, _boolean(params, "success"), call)
        return intent

    def _retrieve_payment_intent(self, params: dict[str, Any], call: _Call, object_id: str) -> dict[str, Any]:
        if object_id not in self._payment_intents:
            raise _resource_missing("payment_intent", object_id, param="intent", status=404)
        return self._payment_intents[object_id]

    def _confirm_payment_intent(self, params: dict[str, Any], call: _Call, object_id: str) -> dict[str, Any]:
        intent = self._retrieve_payment_intent(params, call, object_id)
        status = intent["status"]
        new_method = params.get("payment_method") or params.get("payment_method_data")
        if status == "succeeded":
            raise _invalid_request(
                "You cannot confirm this PaymentIntent because it has already succeeded after being previously "
                "confirmed.",
                code="payment_intent_unexpected_state",
                stored=True,
                payment_intent=intent,
            )
        if status not in ("requires_confirmation", "requires_payment_method"):
            raise _invalid_request(
                f"You cannot confirm this PaymentIntent because it has a status of {status}. Only a PaymentIntent "
                "with one of the following statuses may be confirmed: requires_confirmation, requires_payment_method.",
                code="payment_intent_unexpected_state",
                stored=True,
                payment_intent=intent,
            )
        if status == "requires_payment_method" and not new_method:
            raise _invalid_request(
                "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the "
                f"PaymentIntent with {intent['id']}, specify a payment method with payment_method.",
                code="payment_intent_unexpected_state",
                param="payment_method",
                stored=True,
                payment_intent=intent,
            )
        pm_id = self._resolve_payment_method(params)
        if pm_id is not None:
            intent["payment_method"] = pm_id
        if self._needs_return_url.get(intent["id"]) and not params.get("return_url"):
            raise _invalid_request(_RETURN_URL_NEEDED, param="return_url")
        self._confirm(intent, call)
        return intent

    def _cancel_payment_intent(self, params: dict[str, Any], call: _Call, object_id: str) -> dict[str, Any]:
        intent = self._retrieve_payment_intent(params, call, object_id)
        reason = params.get("cancellation_reason")
        if reason is not None and reason not in _CANCELLATION_REASONS:
            raise _invalid_request(
                f"Invalid cancellation_reason: must be one of {', '.join(sorted(_CANCELLATION_REASONS))}",
                param="cancellation_reason",
            )
        if intent["status"] not in _CANCELABLE:
            raise _invalid_request(
                f"You cannot cancel this PaymentIntent because it has a status of {intent['status']}. Only a "
                "PaymentIntent with one of the following statuses may be canceled: requires_payment_method, "
                "requires_capture, requires_confirmation, requires_action, processing.",
                code="payment_intent_unexpected_state",
                stored=True,
                payment_intent=intent,
            )
        intent.update(status="canceled", cancellation_reason=reason, canceled_at=_now(), next_action=None)
        self._emit("payment_intent.canceled", intent, call)
        return intent

    def _retrieve_charge(self, params: dict[str, Any], call: _Call, object_id: str) -> dict[str, Any]:
        if object_id not in self._charges:
            raise _resource_missing("charge", object_id, param="id", status=404)
        return self._charges[object_id]

    def _create_refund(self, params: dict[str, Any], call: _Call, object_id: str) -> dict[str, Any]:
        pi_id, charge_id = params.get("payment_intent"), params.get("charge")
        if not pi_id and not charge_id:
            raise _invalid_request(
                "One of the following params should be provided for this request: payment_intent or charge.",
                code="parameter_missing",
            )
        if charge_id:
            if charge_id not in self._charges:
                raise _resource_missing("charge", str(charge_id), param="charge")
            charge_pi = self._charges[charge_id]["payment_intent"]
            if pi_id and pi_id != charge_pi:
                raise _invalid_request(
                    f"Charge {charge_id} does not belong to PaymentIntent {pi_id}.", param="payment_intent"
                )
            pi_id = charge_pi
        if pi_id not in self._payment_intents:
            raise _resource_missing("payment_intent", str(pi_id), param="payment_intent")
        amount = _integer(params, "amount", "amount") if "amount" in params else None
        if amount is not None and amount <= 0:
            raise _invalid_request("Invalid positive integer", param="amount", code="parameter_invalid_integer")
        reason = params.get("reason")
        if reason is not None and reason not in _REFUND_REASONS:
            raise _invalid_request(
                f"Invalid reason: must be one of {', '.join(sorted(_REFUND_REASONS))}", param="reason"
            )
        intent = self._payment_intents[pi_id]
        return self._refund(intent, amount, reason=reason, metadata=_metadata(params), call=call)

    def _list_refunds(self, params: dict[str, Any], call: _Call, object_id: str) -> dict[str, Any]:
        wanted = params.get("payment_intent")
        limit = int(params.get("limit") or 10)
        found = [r for r in reversed(self._refunds.values()) if wanted in (None, r["payment_intent"])]
        return {"object": "list", "url": "/v1/refunds", "has_more": len(found) > limit, "data": found[:limit]}

    def _retrieve_refund(self, params: dict[str, Any], call: _Call, object_id: str) -> dict[str, Any]:
        if object_id not in self._refunds:
            raise _resource_missing("refund", object_id, param="id", status=404)
        return self._refunds[object_id]

    def _retrieve_event(self, params: dict[str, Any], call: _Call, object_id: str) -> dict[str, Any]:
        for event in self._events:
            if event["id"] == object_id:
                return event
        raise _resource_missing("event", object_id, param="id", status=404)


def _luhn_valid(number: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(number)):
        value = int(digit)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _integer(params: Mapping[str, Any], name: str, param: str) -> int:
    value = params.get(name)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise _invalid_request(f"Invalid integer: {value}", param=param, code="parameter_invalid_integer")


def _required_integer(params: Mapping[str, Any], name: str) -> int:
    if params.get(name) in (None, ""):
        raise _invalid_request(f"Missing required param: {name}.", param=name, code="parameter_missing")
    return _integer(params, name, name)


def _boolean(params: Mapping[str, Any], name: str) -> bool:
    value: object = params.get(name, "false")
    if value not in ("true", "false"):
        raise _invalid_request(f"Invalid boolean: {value}", param=name, code="parameter_invalid_boolean")
    return value == "true"


def _metadata(params: Mapping[str, Any]) -> dict[str, Any]:
    metadata = params.get("metadata", {})
    # An empty string is how a form says "no metadata".
    if metadata == "":
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _invalid_request("Invalid metadata: it must be a hash of strings.", param="metadata")
    return dict(metadata)
