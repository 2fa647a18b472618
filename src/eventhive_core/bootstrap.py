"""The composition root: settings + plugins → a wired :class:`~eventhive_core.hive.Hive`."""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Sequence
from datetime import timedelta

from eventhive_core.clock import Clock, SystemClock
from eventhive_core.domain.errors import ConfigurationError
from eventhive_core.domain.expiration import ExpirationPolicy
from eventhive_core.domain.order import Order
from eventhive_core.domain.payment import Payment
from eventhive_core.domain.ticket import Ticket
from eventhive_core.hive import Hive
from eventhive_core.plugins.manager import HivePluginManager, make_plugin_manager
from eventhive_core.plugins.registry import collect_registries
from eventhive_core.ports.auth import PasswordHasher, TokenService
from eventhive_core.ports.denylist import Denylist
from eventhive_core.ports.event_bus import EventBus
from eventhive_core.ports.payments import PaymentGateway
from eventhive_core.ports.scheduler import ExpiryScheduler
from eventhive_core.ports.storage import Storage, claim_role
from eventhive_core.service_layer.denylist_feed import denylist_subscribers
from eventhive_core.service_layer.messagebus import subscribe_all
from eventhive_core.service_layer.roles import role_subscribers, subscribe_role_deliveries
from eventhive_core.service_layer.services import Services
from eventhive_core.settings import HiveSettings
from eventhive_core.version import __version__

log = logging.getLogger(__name__)

#: The hooks every purchase asks; ``builtin.policies`` answers them unless it is blocked.
_POLICY_HOOKS = ("eventhive_reservation_ttl", "eventhive_late_payment_policy")


def bootstrap(
    settings: HiveSettings | None = None,
    *,
    plugins: Sequence[object] = (),
    clock: Clock | None = None,
    storage: Storage | None = None,
    event_bus: EventBus | None = None,
    scheduler: ExpiryScheduler | None = None,
    payment_gateway: PaymentGateway | None = None,
    password_hasher: PasswordHasher | None = None,
    token_service: TokenService | None = None,
    denylist: Denylist | None = None,
) -> Hive:
    """Build a Hive from settings and plugins; adapters given here win over the settings' choices.

    With no arguments everything is in memory: memory storage, in-process bus and scheduler,
    fake payments, memory denylist. Nothing starts until :meth:`Hive.start`.

    Raises:
        ConfigurationError: An unknown or duplicate backend name, or settings that cannot work.
    """
    settings = settings or HiveSettings()
    pm = make_plugin_manager(settings, plugins)
    _require_policies(pm)
    registries = collect_registries(pm)
    clock = clock or SystemClock()

    # The policy hooks always answer: the built-in plugin ``builtin.policies`` runs last and
    # returns the setting, the one place the defaults come from.
    def ttl_for(ticket: Ticket, quantity: int) -> timedelta:
        ttl = pm.hook.eventhive_reservation_ttl(ticket=ticket, quantity=quantity, settings=settings)
        if not isinstance(ttl, timedelta):
            raise ConfigurationError(_no_policy_answer("eventhive_reservation_ttl", ttl, "a timedelta"))
        return ttl

    def late_payment(order: Order, payment: Payment) -> str:
        choice = pm.hook.eventhive_late_payment_policy(order=order, payment=payment, settings=settings)
        if choice is None:
            raise ConfigurationError(_no_policy_answer("eventhive_late_payment_policy", choice, "a policy name"))
        return str(choice)

    hasher = password_hasher or _default_hasher()
    denylist = denylist or _default_denylist(settings, clock)
    services = Services(
        storage=storage or registries.storage.get(settings.storage)(settings, settings.storage_options),
        clock=clock,
        settings=settings,
        expiration=ExpirationPolicy(ttl=settings.reservation_ttl, grace=settings.expiry_grace),
        hasher=hasher,
        tokens=token_service or _default_tokens(settings),
        payment_gateway=payment_gateway
        or registries.payment_providers.get(settings.payment_provider)(settings, settings.payment_options),
        producer=f"eventhive/{settings.producer}@{__version__}",
        ttl_for=ttl_for,
        late_payment=late_payment,
        dummy_password_hash=functools.cache(lambda: hasher.hash(secrets.token_urlsafe(16))),
        denylist=denylist,
    )
    try:
        # A split's service never starts on another's database, nor the whole platform on one of theirs.
        claim_role(services.storage, settings.role, clock.now())
    except ConfigurationError:
        services.storage.close()
        raise
    bus = event_bus or registries.event_buses.get(settings.event_bus)(settings, settings.event_bus_options)
    expiry = scheduler or registries.schedulers.get(settings.scheduler)(settings, settings.scheduler_options)
    hive = Hive(services=services, bus=bus, scheduler=expiry, plugins=pm)

    # A service of a split feeds its own denylist under its own role (one durable consumer each).
    denylist_role = settings.role or settings.denylist_role
    core = [
        *role_subscribers(settings.role, services, expiry),
        *denylist_subscribers(denylist, role=denylist_role, token_ttl=settings.token_ttl, clock=clock),
    ]
    core_names = {subscriber.name for subscriber in core}
    core_names.update(subscribe_role_deliveries(settings.role, bus, services))
    for subscription in registries.subscribers:
        if subscription.name in core_names:
            raise ConfigurationError(
                f"Plugin {subscription.plugin!r} registers a subscriber named {subscription.name!r}, "
                "which EventHive's core uses; "
                "subscriber names key processed-message records, so give it a name of its own."
            )
    subscribe_all(bus, [*core, *registries.subscribers], services)
    pm.hook.eventhive_startup(hive=hive)
    return hive


def _require_policies(pm: HivePluginManager) -> None:
    # Found at start rather than at the first order: with builtin.policies blocked, a policy
    # hook nobody implements would fail every purchase.
    for hook in _POLICY_HOOKS:
        if not getattr(pm.hook, hook).get_hookimpls():
            raise ConfigurationError(
                f"Nothing implements {hook}: builtin.policies, which answers it from the settings, is blocked "
                f"(EVENTHIVE_BLOCK_PLUGINS); unblock it, or load a plugin that implements {hook}."
            )


def _no_policy_answer(hook: str, answer: object, expected: str) -> str:
    if answer is None:
        return (
            f"No plugin answered {hook}: the built-in default, builtin.policies, is blocked "
            "(EVENTHIVE_BLOCK_PLUGINS) and no other implementation returned a value."
        )
    return f"{hook} returned {answer!r}; an implementation returns {expected}, or None to pass."


def _default_hasher() -> PasswordHasher:
    from eventhive_core.adapters.passwords import ScryptPasswordHasher

    return ScryptPasswordHasher()


def _default_tokens(settings: HiveSettings) -> TokenService:
    from eventhive_core.adapters.jwt_tokens import JwtTokenService

    if settings.jwt_algorithm == "EdDSA":
        if settings.jwt_private_key is None and settings.jwt_public_key is None:
            raise ConfigurationError(
                "EVENTHIVE_JWT_ALGORITHM=EdDSA needs EVENTHIVE_JWT_PRIVATE_KEY (PEM; the public key derives from it), "
                "or EVENTHIVE_JWT_PUBLIC_KEY alone for a service that only verifies tokens."
            )
        return JwtTokenService(
            "EdDSA",
            private_key=settings.jwt_private_key.get_secret_value() if settings.jwt_private_key else None,
            public_key=settings.jwt_public_key,
            ttl=settings.token_ttl,
        )
    if settings.jwt_secret is None:
        # Fine for the in-memory default (its users vanish with the process too); persistent
        # deployments set EVENTHIVE_JWT_SECRET, which the Flask extension requires.
        if settings.storage != "memory":
            log.warning("No EVENTHIVE_JWT_SECRET set: using an ephemeral signing secret; tokens die with this process.")
        secret = secrets.token_urlsafe(48)
    else:
        secret = settings.jwt_secret.get_secret_value()
    return JwtTokenService("HS256", secret=secret, ttl=settings.token_ttl)


def _default_denylist(settings: HiveSettings, clock: Clock) -> Denylist:
    # Chosen by a setting, not through a plugin registry: two adapters, both ours, and a plugin
    # can still pass its own to bootstrap(denylist=...). A registry would add a hook, a registry
    # kind and their docs for no choice anyone has asked for yet.
    if settings.denylist == "redis":
        from eventhive_core.adapters.redis_denylist import RedisDenylist

        assert settings.redis_url is not None  # HiveSettings refuses redis without a URL
        return RedisDenylist(settings.redis_url, prefix=settings.denylist_prefix, clock=clock)
    from eventhive_core.adapters.memory_denylist import MemoryDenylist

    return MemoryDenylist(clock)
