"""HiveSettings: every setting of the core, validated once at start.

Settings come from code (keyword arguments), from a mapping such as ``os.environ`` or a Flask
config namespace (``from_mapping``), or both. Keys may carry the ``EVENTHIVE_`` prefix and any
case: ``EVENTHIVE_RESERVATION_TTL=2`` and ``reservation_ttl=2`` mean the same.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)

PREFIX = "EVENTHIVE_"

# dialect[+driver]://rest, as SQLAlchemy's make_url reads it.
_DATABASE_URL = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\+[A-Za-z0-9_]+)?://")


class HiveSettings(BaseModel):
    """The core's settings. Each attribute is one ``EVENTHIVE_*`` key."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    storage: str = "memory"
    """Storage backend by name (``memory``, ``sqlalchemy`` or a plugin's)."""

    storage_options: dict[str, Any] = Field(default_factory=dict)
    """Extra options passed to the storage factory."""

    database_url: str | None = None
    """Database URL for SQL storage (``sqlite:///path`` or ``postgresql+psycopg://...``)."""

    event_bus: str = "inprocess"
    """Event bus by name (``inprocess`` or a plugin's)."""

    event_bus_options: dict[str, Any] = Field(default_factory=dict)
    """Extra options passed to the event-bus factory (URLs, stream names)."""

    payment_provider: str = "fake"
    """Payment provider by name (``fake`` or a plugin's)."""

    payment_options: dict[str, Any] = Field(default_factory=dict)
    """Extra options passed to the payment-provider factory (``stripe``: ``timeout``, ``max_network_retries``)."""

    stripe_secret_key: SecretStr | None = None
    """Stripe's secret API key (``sk_live_…`` or ``sk_test_…``); required by the ``stripe`` provider."""

    stripe_publishable_key: str | None = None
    """Stripe's publishable key (``pk_…``), for pages that collect cards with Stripe.js."""

    stripe_webhook_secret: SecretStr | None = None
    """Signing secret of the Stripe webhook endpoint (``whsec_…``); required by the ``stripe`` provider."""

    stripe_api_base: str | None = None
    """Where the Stripe API is, when not Stripe itself: a local stand-in such as ``localstripe`` (tests, demos)."""

    scheduler: str = "inprocess"
    """Expiry scheduler by name (``inprocess``, ``none`` or a plugin's)."""

    scheduler_options: dict[str, Any] = Field(default_factory=dict)
    """Extra options passed to the scheduler factory."""

    reservation_ttl: timedelta = timedelta(seconds=60)
    """How long an unpaid order holds its units (seconds; the original's 60 s)."""

    expiry_grace: timedelta = timedelta(seconds=2)
    """Added to a hold's expiry when scheduling its cancellation (seconds)."""

    sweep_interval: timedelta = timedelta(seconds=15)
    """How often the sweeper cancels due holds (seconds)."""

    late_payment_policy: Literal["refund", "accept_if_available"] = "refund"
    """What to do with money that arrives for an order no longer live."""

    max_units_per_order: int = Field(default=10, ge=1, le=1000)
    """The largest quantity one order may hold."""

    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    """Currency of new tickets (ISO 4217)."""

    outbox_poll_interval: timedelta = timedelta(seconds=1)
    """How often the relay looks for unsent events when nothing nudges it (seconds)."""

    outbox_max_attempts: int = Field(default=20, ge=1)
    """Publish attempts before an outbox row is marked dead."""

    outbox_batch_size: int = Field(default=100, ge=1, le=10_000)
    """Rows the relay claims at once."""

    jwt_algorithm: Literal["HS256", "EdDSA"] = "HS256"
    """Token signing algorithm; verification accepts only this one."""

    jwt_secret: SecretStr | None = None
    """HS256 signing secret. When unset in the core, an ephemeral one is generated (tokens die with the process)."""

    jwt_private_key: SecretStr | None = None
    """EdDSA private key (PEM), for signing; only the service that signs users in holds it."""

    jwt_public_key: str | None = None
    """EdDSA public key (PEM), for verifying; alone, this Hive verifies tokens but cannot issue them."""

    token_ttl: timedelta = timedelta(seconds=86400)
    """Token lifetime (seconds)."""

    denylist: Literal["memory", "redis"] = "memory"
    """Where revoked token ids and banned user ids are kept: ``memory`` (per process) or ``redis``."""

    denylist_prefix: str = Field(default="eventhive:denylist:", min_length=1)
    """Prefix of the ``redis`` denylist's keys, so installations can share a server."""

    denylist_role: str = Field(default="auth", pattern=r"^[a-z0-9_-]+$")
    """Role of the subscribers that feed this Hive's denylist; one role per service that keeps its own list."""

    redis_url: str | None = Field(default=None, pattern=r"^rediss?://")
    """Redis server (``redis://host:6379/0``) of the ``redis`` denylist (and, in Flask, of the rate limits)."""

    idempotency_ttl: timedelta = timedelta(seconds=86400)
    """How long a refusal (or a payment's response) under an Idempotency-Key is replayed (seconds)."""

    load_plugins: tuple[str, ...] | None = None
    """Entry-point plugins to load (by entry-point name); None loads all."""

    block_plugins: tuple[str, ...] = ()
    """Entry-point plugins never to load (by entry-point name)."""

    role: Literal["auth", "tickets", "orders", "payments", "expiration", "client"] | None = None
    """The service this Hive is in a split platform (``eventhive service ROLE``); None runs the whole platform.

    A role owns its records and keeps replicas of what it needs from the others, fed by their
    events (see docs/concepts/split.md); its subscribers run under the role's name. ``client``
    owns nothing and subscribes to nothing: it renders the pages by calling the others' API.
    """

    producer: str = "eventhive"
    """Name of this component in event envelopes (``eventhive/<producer>@<version>``)."""

    nats_url: str = "nats://127.0.0.1:4222"
    """NATS server(s) of the ``nats`` event bus; several are separated by commas."""

    nats_prefix: str = Field(default="eventhive", pattern=r"^[a-z0-9_-]+$")
    """First token of every subject of the ``nats`` bus; the stream is named after it in upper case."""

    nats_roles: tuple[str, ...] | None = None
    """Roles whose durable consumers this process runs (``nats``); None runs every role it has subscribers for."""

    nats_max_deliver: int = Field(default=5, ge=1, le=1000)
    """Deliveries of one message to a role before it goes to the role's dead-letter subject (``nats``)."""

    nats_ack_wait: timedelta = timedelta(seconds=30)
    """How long a delivered message may stay unacknowledged before NATS redelivers it (seconds)."""

    nats_retry_delay: timedelta = timedelta(seconds=1)
    """Delay before the first redelivery after a subscriber failed, doubled each time up to 5 minutes (seconds)."""

    nats_duplicate_window: timedelta = timedelta(minutes=2)
    """How long JetStream remembers a ``Nats-Msg-Id`` to drop a republished event (seconds)."""

    nats_batch_size: int = Field(default=20, ge=1, le=1000)
    """Messages a role's consumer fetches at once (``nats``)."""

    log_format: Literal["auto", "json", "console"] = "auto"
    """Log lines of the ``eventhive`` commands: ``json``, ``console`` or ``auto`` (console on a terminal, else JSON)."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    """The lowest level the ``eventhive`` commands log (an application that embeds EventHive keeps its own)."""

    @field_validator("storage_options", "event_bus_options", "payment_options", "scheduler_options", mode="before")
    @classmethod
    def _json_options(cls, value: object) -> object:
        # Environment variables are text: accept a JSON object there.
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except ValueError:
                raise ValueError('not JSON; write a JSON object, e.g. {"queue": "eventhive"}') from None
            if not isinstance(value, dict):
                raise ValueError('write a JSON object, e.g. {"queue": "eventhive"}')
        return value

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _any_case(cls, value: object, info: ValidationInfo) -> object:
        # `info`, `Json`: names are matched without regard to case, as logging itself does.
        if isinstance(value, str):
            return value.strip().upper() if info.field_name == "log_level" else value.strip().lower()
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        # SQLAlchemy's URL form, checked here so that a typo is one clear line, not a driver's traceback.
        if value is not None and not _DATABASE_URL.match(value):
            raise ValueError(
                "not a database URL; write e.g. sqlite:///eventhive-data/eventhive.sqlite3 or "
                "postgresql+psycopg://user@127.0.0.1:5432/eventhive"
            )
        return value

    @field_validator("load_plugins", "block_plugins", "nats_roles", mode="before")
    @classmethod
    def _name_list(cls, value: object) -> object:
        # "a,b" from the environment, or any iterable from code.
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator(
        "reservation_ttl",
        "expiry_grace",
        "sweep_interval",
        "outbox_poll_interval",
        "token_ttl",
        "idempotency_ttl",
        "nats_ack_wait",
        "nats_retry_delay",
        "nats_duplicate_window",
        mode="wrap",
    )
    @classmethod
    def _seconds(cls, value: object, handler: ValidatorFunctionWrapHandler) -> object:
        # Plain numbers (and numeric text from the environment) are seconds; ISO 8601 durations
        # (PT1M) and timedelta objects are taken as pydantic takes them.
        try:
            if isinstance(value, str):
                with contextlib.suppress(ValueError):
                    value = timedelta(seconds=float(value))
            elif isinstance(value, int | float) and not isinstance(value, bool):
                value = timedelta(seconds=value)
            return handler(value)
        except (ValidationError, OverflowError):
            raise ValueError("not a duration; write a number of seconds, e.g. 60 (or ISO 8601, e.g. PT1M)") from None

    @field_validator("reservation_ttl")
    @classmethod
    def _ttl_bounds(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= value <= timedelta(hours=24):
            raise ValueError("must be between 1 second and 24 hours")
        return value

    @field_validator("redis_url")
    @classmethod
    def _denylist_needs_redis(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Reported against EVENTHIVE_REDIS_URL, the setting to add (denylist is validated first).
        if value is None and info.data.get("denylist") == "redis":
            raise ValueError("EVENTHIVE_DENYLIST=redis needs it; write e.g. redis://127.0.0.1:6379/0")
        return value

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, object], *, ignore_unknown: bool = False, **overrides: object
    ) -> HiveSettings:
        """Build settings from a mapping of ``EVENTHIVE_*`` (or bare) keys.

        Keys without the prefix that are not settings are ignored, so ``os.environ`` or a whole
        Flask config can be passed as is. An unknown ``EVENTHIVE_`` key fails (a typo should not
        pass silently) unless ``ignore_unknown`` is set, as it is for the environment, where keys
        of other components (``EVENTHIVE_DATA_DIR``, test settings) live too.

        Raises:
            pydantic.ValidationError: A value is invalid or an ``EVENTHIVE_`` key is unknown.
        """
        known = set(cls.model_fields)
        values: dict[str, object] = {}
        for raw_key, value in mapping.items():
            key = raw_key.upper()
            if key.startswith(PREFIX):
                name = key[len(PREFIX) :].lower()
                if name in known or not ignore_unknown:
                    values[name] = value
            elif raw_key.lower() in known and raw_key.islower():
                values[raw_key] = value
        values.update(overrides)
        return cls.model_validate(values)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> HiveSettings:
        """Build settings from ``EVENTHIVE_*`` environment variables (``os.environ`` by default)."""
        import os

        return cls.from_mapping(os.environ if environ is None else environ, ignore_unknown=True, **overrides)

    def ttl_seconds(self) -> float:
        """Return the reservation TTL in seconds."""
        return self.reservation_ttl.total_seconds()
