"""Every ``EVENTHIVE_*`` config key the extension reads, with its default and meaning.

``init_app`` sets each key of :data:`DEFAULTS` on ``app.config`` with ``setdefault`` and then
validates them once: the keys that are core settings become a
:class:`~eventhive_core.HiveSettings`, the Flask-only keys a :class:`FlaskSettings`. An
``EVENTHIVE_`` key in ``app.config`` that is not listed here fails at start, so a typo never
passes silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from eventhive_core import HiveSettings

PREFIX = "EVENTHIVE_"


class ConfigDefaults:
    """The default of each config key; each attribute is one ``app.config`` key."""

    EVENTHIVE_STORAGE = "sqlalchemy"
    """Storage backend by name: ``sqlalchemy`` (default in Flask), ``memory`` or a plugin's."""

    EVENTHIVE_STORAGE_OPTIONS: Mapping[str, object] = MappingProxyType({})
    """Extra options for the storage factory (JSON object in the environment)."""

    EVENTHIVE_DATABASE_URL: str | None = None
    """SQL database URL; unset means ``sqlite:///<instance path>/eventhive.sqlite3``."""

    EVENTHIVE_EVENT_BUS = "inprocess"
    """Event bus by name (``inprocess`` or a plugin's)."""

    EVENTHIVE_EVENT_BUS_OPTIONS: Mapping[str, object] = MappingProxyType({})
    """Extra options for the event-bus factory (URLs, stream names)."""

    EVENTHIVE_PAYMENT_PROVIDER = "fake"
    """Payment provider by name; ``fake`` never moves money (tokens as Stripe's test tokens)."""

    EVENTHIVE_PAYMENT_OPTIONS: Mapping[str, object] = MappingProxyType({})
    """Extra options for the payment-provider factory (``stripe``: ``timeout``, ``max_network_retries``)."""

    EVENTHIVE_STRIPE_SECRET_KEY: str | None = None
    """Stripe's secret API key (``sk_live_…``/``sk_test_…``); required when the provider is ``stripe``."""

    EVENTHIVE_STRIPE_PUBLISHABLE_KEY: str | None = None
    """Stripe's publishable key (``pk_…``), for pages that collect cards with Stripe.js."""

    EVENTHIVE_STRIPE_WEBHOOK_SECRET: str | None = None
    """Signing secret of the endpoint ``POST /api/payments/webhooks/stripe`` (``whsec_…``); required for ``stripe``."""

    EVENTHIVE_STRIPE_API_BASE: str | None = None
    """Stripe API address when not Stripe itself (a local stand-in such as ``localstripe``, for tests)."""

    EVENTHIVE_SCHEDULER = "inprocess"
    """Expiry scheduler by name (``inprocess``, ``none`` or a plugin's)."""

    EVENTHIVE_SCHEDULER_OPTIONS: Mapping[str, object] = MappingProxyType({})
    """Extra options for the scheduler factory."""

    EVENTHIVE_RESERVATION_TTL = 60
    """Seconds an unpaid order holds its units (the original's payment window)."""

    EVENTHIVE_EXPIRY_GRACE = 2
    """Seconds added to a hold's expiry when scheduling its cancellation."""

    EVENTHIVE_SWEEP_INTERVAL = 15
    """Seconds between two runs of the sweeper that cancels due holds."""

    EVENTHIVE_LATE_PAYMENT_POLICY = "refund"
    """Money for an order no longer live: ``refund`` or ``accept_if_available``."""

    EVENTHIVE_MAX_UNITS_PER_ORDER = 10
    """The largest quantity one order may hold."""

    EVENTHIVE_CURRENCY = "USD"
    """Currency of new tickets (ISO 4217)."""

    EVENTHIVE_OUTBOX_POLL_INTERVAL = 1
    """Seconds between two looks at the outbox when nothing nudges the relay."""

    EVENTHIVE_OUTBOX_MAX_ATTEMPTS = 20
    """Publish attempts before an outbox row is marked dead."""

    EVENTHIVE_OUTBOX_BATCH_SIZE = 100
    """Outbox rows the relay claims at once."""

    EVENTHIVE_JWT_ALGORITHM = "HS256"
    """Token signing algorithm (``HS256`` or ``EdDSA``); verification accepts only this one."""

    EVENTHIVE_JWT_SECRET: str | None = None
    """HS256 secret (at least 32 bytes); unset means the app's ``SECRET_KEY``; neither fails at start."""

    EVENTHIVE_JWT_PRIVATE_KEY: str | None = None
    """EdDSA private key (PEM), for signing."""

    EVENTHIVE_JWT_PUBLIC_KEY: str | None = None
    """EdDSA public key (PEM), for verifying."""

    EVENTHIVE_TOKEN_TTL = 86400
    """Seconds a token (and the cookie holding it) stays valid."""

    EVENTHIVE_DENYLIST = "memory"
    """Where revoked token ids and banned user ids are kept: ``memory`` (per process) or ``redis``."""

    EVENTHIVE_DENYLIST_PREFIX = "eventhive:denylist:"
    """Prefix of the ``redis`` denylist's keys, so installations can share a server."""

    EVENTHIVE_DENYLIST_ROLE = "auth"
    """Role of the subscribers that feed this app's denylist; one role per service that keeps its own."""

    EVENTHIVE_IDEMPOTENCY_TTL = 86400
    """Seconds a refusal (or a payment's response) under an ``Idempotency-Key`` is replayed."""

    EVENTHIVE_LOAD_PLUGINS: tuple[str, ...] | None = None
    """Entry-point plugins to load (names, or comma-separated text); unset loads all."""

    EVENTHIVE_BLOCK_PLUGINS: tuple[str, ...] = ()
    """Entry-point plugins never to load."""

    EVENTHIVE_ROLE: str | None = None
    """The service this app is in a split (``auth``, ``tickets``, ``orders``, ``payments``, ``expiration``)."""

    EVENTHIVE_PRODUCER = "eventhive"
    """This component's name in event envelopes (``eventhive/<producer>@<version>``)."""

    EVENTHIVE_NATS_URL = "nats://127.0.0.1:4222"
    """NATS server(s) of the ``nats`` event bus, comma-separated."""

    EVENTHIVE_NATS_PREFIX = "eventhive"
    """First token of the ``nats`` bus's subjects; its stream is named after it in upper case."""

    EVENTHIVE_NATS_ROLES: tuple[str, ...] | None = None
    """Roles whose durable consumers this process runs (``nats``); unset runs every role subscribed."""

    EVENTHIVE_NATS_MAX_DELIVER = 5
    """Deliveries of one message to a role before it goes to the role's dead letters (``nats``)."""

    EVENTHIVE_NATS_ACK_WAIT = 30
    """Seconds a delivered message may stay unacknowledged before NATS delivers it again."""

    EVENTHIVE_NATS_RETRY_DELAY = 1
    """Seconds before the first redelivery after a subscriber failed, doubled each time (at most 5 minutes)."""

    EVENTHIVE_NATS_DUPLICATE_WINDOW = 120
    """Seconds JetStream remembers a ``Nats-Msg-Id`` to drop a republished event."""

    EVENTHIVE_NATS_BATCH_SIZE = 20
    """Messages a role's consumer fetches at once (``nats``)."""

    EVENTHIVE_LOG_FORMAT = "auto"
    """Log lines of the ``eventhive`` commands (``auto``, ``json``, ``console``); an app's own logging is untouched."""

    EVENTHIVE_LOG_LEVEL = "INFO"
    """The lowest level the ``eventhive`` commands log."""

    EVENTHIVE_URL_PREFIX = ""
    """Prefix before ``/api``; empty keeps the original's ``/api/...`` paths."""

    EVENTHIVE_PAGES = True
    """Serve the server-rendered web pages (``/``, ``/auth/...``, ``/tickets/...``...) at the prefix; off for a role."""

    EVENTHIVE_PAGES_SECRET: str | None = None
    """Secret (32 characters or more) signing the pages' CSRF cookie; unset: ``SECRET_KEY``, else the token secret.

    Set it, the same in every replica, where the pages run on several machines and tokens are signed
    with an EdDSA key pair (the split's client): otherwise each machine makes its own in its data folder.
    """

    EVENTHIVE_API_URL: str | None = None
    """Where the pages call the JSON API (the front's address, ``http://front``); unset: in this process.

    Required for ``EVENTHIVE_ROLE=client`` (``eventhive service client``), the role that renders the pages alone.
    """

    EVENTHIVE_API_TIMEOUT = 10.0
    """Seconds the pages wait for each call to ``EVENTHIVE_API_URL`` (to connect, then between bytes)."""

    EVENTHIVE_STRIPE_JS_URL = "https://js.stripe.com/v3/"
    """Where the pages load Stripe.js from when the provider is ``stripe`` (a stand-in's address in tests)."""

    EVENTHIVE_COOKIE_NAME = "eventhive"
    """Name of the cookie holding the bare token (HttpOnly, SameSite=Lax)."""

    EVENTHIVE_COOKIE_SECURE = True
    """Mark the cookie ``Secure`` (HTTPS only); ``eventhive serve`` turns it off on plain-HTTP loopback."""

    EVENTHIVE_TRUSTED_ORIGINS: tuple[str, ...] = ()
    """Other origins (``https://shop.example``) allowed to send cookie-authenticated unsafe requests."""

    EVENTHIVE_MAX_CONTENT_LENGTH = 65536
    """Largest request body in bytes under the API; bigger ones get 413 in the error shape."""

    EVENTHIVE_PROXY_HOPS = 0
    """Trusted reverse-proxy hops in front of the app; their ``X-Forwarded-*`` headers are believed, nothing else."""

    EVENTHIVE_RATE_LIMITS = True
    """Limit sign-in, sign-up and order placement (429 with ``Retry-After``); off only when set false."""

    EVENTHIVE_RATE_LIMIT_SIGNIN = "30 per minute;300 per hour"
    """Sign-in attempts (API, Bearer tokens and the page together) per client address."""

    EVENTHIVE_RATE_LIMIT_SIGNIN_ACCOUNT = "5 per minute;50 per hour"
    """Sign-in attempts per account (the email asked for), from anywhere."""

    EVENTHIVE_RATE_LIMIT_SIGNUP = "10 per minute;100 per hour"
    """Sign-ups (API and page together) per client address."""

    EVENTHIVE_RATE_LIMIT_SIGNUP_ACCOUNT = "5 per minute"
    """Sign-ups per email asked for."""

    EVENTHIVE_RATE_LIMIT_ORDERS = "30 per minute"
    """Orders placed (API and page together) per signed-in user."""

    EVENTHIVE_REDIS_URL: str | None = None
    """Redis for the rate limits' counters and the ``redis`` denylist; unset keeps the counters in each process."""

    EVENTHIVE_READINESS_TIMEOUT = 2.0
    """Seconds ``GET /api/health/ready`` waits for each backend (run at once) before it answers 503."""
    EVENTHIVE_METRICS_TOKEN: str | None = None
    """Bearer token ``GET /metrics`` asks for (16 characters or more); unset: no ``/metrics`` at all (404)."""

    EVENTHIVE_RUN_BACKGROUND = False
    """Run the outbox relay, expiry scheduler and sweeper threads in this process (``serve`` sets it)."""

    EVENTHIVE_DATA_DIR = "./eventhive-data"
    """Folder of ``eventhive serve``: SQLite file and signing secret (``serve`` only)."""


#: Every ``EVENTHIVE_*`` key and its default (read-only).
DEFAULTS: Mapping[str, object] = MappingProxyType(
    {name: getattr(ConfigDefaults, name) for name in vars(ConfigDefaults) if name.startswith(PREFIX)}
)

#: Defaults that differ for a service of a split (``EVENTHIVE_ROLE`` set): the pages show the whole platform,
#: which one service cannot serve, so they are off (and ``init_app`` refuses them on)...
ROLE_DEFAULTS: Mapping[str, object] = MappingProxyType({"EVENTHIVE_PAGES": False})

#: ...except in the ``client`` role, which serves nothing but the pages (over ``EVENTHIVE_API_URL``).
CLIENT_ROLE = "client"

#: The keys that are core settings (validated into HiveSettings); the rest are Flask's own.
CORE_KEYS: frozenset[str] = frozenset(PREFIX + name.upper() for name in HiveSettings.model_fields)

#: Core settings the extension reads as well (one Redis serves the denylist and the rate limits).
SHARED_KEYS: frozenset[str] = frozenset({"EVENTHIVE_REDIS_URL"})


def _names(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class FlaskSettings(BaseModel):
    """The Flask-only keys of :data:`DEFAULTS`, validated once by ``init_app``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url_prefix: str = Field(default="", pattern=r"^(/[A-Za-z0-9._~-]+)*$")
    """``EVENTHIVE_URL_PREFIX``."""

    pages: bool = True
    """``EVENTHIVE_PAGES``."""

    pages_secret: SecretStr | None = None
    """``EVENTHIVE_PAGES_SECRET``."""

    api_url: str | None = Field(default=None, pattern=r"^https?://[^/\s?#]+(/[^\s?#]*)?$")
    """``EVENTHIVE_API_URL``."""

    api_timeout: float = Field(default=10.0, gt=0, le=300)
    """``EVENTHIVE_API_TIMEOUT``."""

    stripe_js_url: str = Field(default="https://js.stripe.com/v3/", pattern=r"^https?://[^/\s?#]+(/[^\s]*)?$")
    """``EVENTHIVE_STRIPE_JS_URL``."""

    cookie_name: str = Field(default="eventhive", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    """``EVENTHIVE_COOKIE_NAME``."""

    cookie_secure: bool = True
    """``EVENTHIVE_COOKIE_SECURE``."""

    trusted_origins: tuple[str, ...] = ()
    """``EVENTHIVE_TRUSTED_ORIGINS``."""

    max_content_length: int = Field(default=65536, ge=1, le=100 * 1024 * 1024)
    """``EVENTHIVE_MAX_CONTENT_LENGTH``."""

    proxy_hops: int = Field(default=0, ge=0, le=10)
    """``EVENTHIVE_PROXY_HOPS``."""

    rate_limits: bool = True
    """``EVENTHIVE_RATE_LIMITS``."""

    rate_limit_signin: str = "30 per minute;300 per hour"
    """``EVENTHIVE_RATE_LIMIT_SIGNIN``."""

    rate_limit_signin_account: str = "5 per minute;50 per hour"
    """``EVENTHIVE_RATE_LIMIT_SIGNIN_ACCOUNT``."""

    rate_limit_signup: str = "10 per minute;100 per hour"
    """``EVENTHIVE_RATE_LIMIT_SIGNUP``."""

    rate_limit_signup_account: str = "5 per minute"
    """``EVENTHIVE_RATE_LIMIT_SIGNUP_ACCOUNT``."""

    rate_limit_orders: str = "30 per minute"
    """``EVENTHIVE_RATE_LIMIT_ORDERS``."""

    redis_url: str | None = Field(default=None, pattern=r"^rediss?://")
    """``EVENTHIVE_REDIS_URL``."""

    readiness_timeout: float = Field(default=2.0, gt=0, le=60)
    """``EVENTHIVE_READINESS_TIMEOUT``."""
    metrics_token: SecretStr | None = None
    """``EVENTHIVE_METRICS_TOKEN``."""

    run_background: bool = False
    """``EVENTHIVE_RUN_BACKGROUND``."""

    data_dir: str = "./eventhive-data"
    """``EVENTHIVE_DATA_DIR``."""

    @field_validator(
        "rate_limit_signin",
        "rate_limit_signin_account",
        "rate_limit_signup",
        "rate_limit_signup_account",
        "rate_limit_orders",
    )
    @classmethod
    def _limits(cls, value: str) -> str:
        # Refused at start, not at the first sign-in: "5 per minute;50 per hour", "10/second"...
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit ({exc}); write e.g. '5 per minute;50 per hour'") from exc
        return value

    @field_validator("metrics_token")
    @classmethod
    def _long_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < 16:
            raise ValueError(
                "EVENTHIVE_METRICS_TOKEN is too short to keep /metrics private; use 16 characters or more "
                '(python -c "import secrets; print(secrets.token_urlsafe(32))")'
            )
        return value

    @field_validator("pages_secret")
    @classmethod
    def _long_pages_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError(
                "EVENTHIVE_PAGES_SECRET is too short to sign the pages' CSRF cookie; use 32 characters or more "
                '(python -c "import secrets; print(secrets.token_urlsafe(48))")'
            )
        return value

    @field_validator("trusted_origins", mode="before")
    @classmethod
    def _origin_list(cls, value: object) -> object:
        names = _names(value)
        if isinstance(names, tuple | list):
            return tuple(str(origin).rstrip("/").lower() for origin in names)
        return names


def defaults_for(config: Mapping[str, object]) -> Mapping[str, object]:
    """Return the defaults for ``config``: :data:`DEFAULTS`, and :data:`ROLE_DEFAULTS` over them for a role."""
    if config.get("EVENTHIVE_ROLE") and config.get("EVENTHIVE_ROLE") != CLIENT_ROLE:
        return {**DEFAULTS, **ROLE_DEFAULTS}
    return DEFAULTS


def unknown_keys(config: Mapping[str, object]) -> list[str]:
    """Return the ``EVENTHIVE_*`` keys of ``config`` that are not known config keys."""
    return sorted(key for key in config if key.startswith(PREFIX) and key not in DEFAULTS)


def hive_settings(config: Mapping[str, object], **overrides: object) -> HiveSettings:
    """Validate the core keys of ``config`` into HiveSettings."""
    core = {key: config[key] for key in CORE_KEYS if key in config}
    return HiveSettings.from_mapping(core, ignore_unknown=True, **overrides)


def flask_settings(config: Mapping[str, object]) -> FlaskSettings:
    """Validate the Flask-only keys of ``config`` into FlaskSettings."""
    values = {
        key[len(PREFIX) :].lower(): config[key]
        for key in DEFAULTS
        if (key not in CORE_KEYS or key in SHARED_KEYS) and key in config
    }
    return FlaskSettings.model_validate(values)


__all__ = [
    "CLIENT_ROLE",
    "CORE_KEYS",
    "DEFAULTS",
    "PREFIX",
    "ROLE_DEFAULTS",
    "SHARED_KEYS",
    "ConfigDefaults",
    "FlaskSettings",
    "defaults_for",
    "flask_settings",
    "hive_settings",
    "unknown_keys",
]
