"""The core's hook specifications: every hook an EventHive plugin can implement.

Hooks are named ``eventhive_*`` and called with keyword arguments. New arguments may be added
to a hook in later releases, never removed, and an implementation may declare only the
arguments it uses, so plugins keep working across upgrades. ``docs/plugins/hooks.md`` has one
section per hook, and a test keeps it complete.
"""

# mypy: disable-error-code="empty-body"
# (Specifications are signatures with documentation; pluggy never runs their bodies.)

from __future__ import annotations

from datetime import timedelta
from typing import Literal, TypeAlias

import pluggy

from eventhive_core.domain.order import Order
from eventhive_core.domain.payment import Payment
from eventhive_core.domain.ticket import Ticket
from eventhive_core.plugins.factories import (
    AddCommand,
    RegisterEventBus,
    RegisterPaymentProvider,
    RegisterScheduler,
    RegisterSettings,
    RegisterStorage,
    RegisterSubscriber,
)
from eventhive_core.plugins.markers import hookspec
from eventhive_core.settings import HiveSettings

#: What to do with money that arrives for an order that is no longer live.
LatePaymentAction: TypeAlias = Literal["refund", "accept_if_available"]


@hookspec
def eventhive_add_hookspecs(plugin_manager: pluggy.PluginManager) -> None:
    """Add another package's hook specifications to the plugin manager.

    Called once per plugin manager, after every plugin is registered and before unknown hooks
    are reported, so a package that defines its own hooks (``eventhive_flask`` does) can make
    them known and let other plugins implement them.

    Args:
        plugin_manager: The manager being built; call ``plugin_manager.add_hookspecs(module)``.
    """


@hookspec
def eventhive_register_storage(register: RegisterStorage) -> None:
    """Register storage backends by name.

    Called at bootstrap (and by ``eventhive plugins``) while the registries are filled;
    ``EVENTHIVE_STORAGE`` then picks one name. The factory runs only for the chosen name.

    Args:
        register: ``register(name, factory)``, where ``factory(settings, options)`` returns a
            :class:`~eventhive_core.ports.storage.Storage` and ``options`` is
            ``EVENTHIVE_STORAGE_OPTIONS``. A name registered twice fails at bootstrap.
    """


@hookspec
def eventhive_register_event_buses(register: RegisterEventBus) -> None:
    """Register event buses by name.

    Called at bootstrap while the registries are filled; ``EVENTHIVE_EVENT_BUS`` picks one.

    Args:
        register: ``register(name, factory)``, where ``factory(settings, options)`` returns an
            :class:`~eventhive_core.ports.event_bus.EventBus` and ``options`` is
            ``EVENTHIVE_EVENT_BUS_OPTIONS``.
    """


@hookspec
def eventhive_register_payment_providers(register: RegisterPaymentProvider) -> None:
    """Register payment providers by name.

    Called at bootstrap while the registries are filled; ``EVENTHIVE_PAYMENT_PROVIDER`` picks one.

    Args:
        register: ``register(name, factory)``, where ``factory(settings, options)`` returns a
            :class:`~eventhive_core.ports.payments.PaymentGateway` and ``options`` is
            ``EVENTHIVE_PAYMENT_OPTIONS``.
    """


@hookspec
def eventhive_register_schedulers(register: RegisterScheduler) -> None:
    """Register expiry schedulers by name.

    Called at bootstrap while the registries are filled; ``EVENTHIVE_SCHEDULER`` picks one.

    Args:
        register: ``register(name, factory)``, where ``factory(settings, options)`` returns an
            :class:`~eventhive_core.ports.scheduler.ExpiryScheduler` and ``options`` is
            ``EVENTHIVE_SCHEDULER_OPTIONS``.
    """


@hookspec
def eventhive_register_subscribers(register: RegisterSubscriber) -> None:
    """Register extra reactions to integration events (mail, outgoing webhooks, metrics).

    Called at bootstrap; every subscriber registered is added to the event bus. Each runs after
    the change that produced the event committed, in its own unit of work (on the in-process bus,
    one unit for the events of one outbox batch, each again on its own if any fails), at least once
    per event: a redelivered event is dropped before the handler runs.

    Args:
        register: ``register(name, event_type, role, handler)``. ``name`` is stable and unique
            (it keys the processed-message record); ``event_type`` is a subject such as
            ``"order:created"``; ``role`` groups subscribers into consumers (``"orders"``,
            ``"payments"``, ...); ``handler(envelope, uow)`` reacts and raises to be retried.
    """


@hookspec
def eventhive_register_commands(add: AddCommand) -> None:
    """Add subcommands to the ``eventhive`` command line.

    Called the first time the CLI lists or looks up a command it does not define itself. A
    built-in command of the same name wins.

    Args:
        add: ``add(command)`` with a :class:`click.Command` (or group).
    """


@hookspec
def eventhive_register_settings(register: RegisterSettings) -> None:
    """Declare the ``EVENTHIVE_*`` environment variables a plugin reads, and how each is validated.

    Called once by the ``eventhive`` command line before any command runs. Each declared
    variable that is set is validated with the model, so a bad value stops every command with
    one line naming the variable, before anything starts; declared names are never reported
    as misspelt.

    Args:
        register: ``register(model)`` with a pydantic model class; its field ``name`` is the
            variable ``EVENTHIVE_NAME``. Unset variables are not validated (give defaults).
    """


@hookspec(firstresult=True)
def eventhive_reservation_ttl(ticket: Ticket, quantity: int, settings: HiveSettings) -> timedelta | None:
    """Choose how long a new order holds its units.

    Called each time an order is placed, before the units are reserved. The first
    implementation that returns a value wins; the built-in one runs last and returns
    ``settings.reservation_ttl``.

    Args:
        ticket: The ticket being reserved.
        quantity: How many units the order asks for.
        settings: The Hive's settings.

    Returns:
        The hold's length (between 1 second and 24 hours), or None to leave the choice to the
        next implementation.
    """


@hookspec(firstresult=True)
def eventhive_late_payment_policy(order: Order, payment: Payment, settings: HiveSettings) -> LatePaymentAction | None:
    """Decide what happens to money that arrives after an order stopped holding its units.

    Called when a provider reports a successful charge for an order that was cancelled or whose
    hold ran out. The first implementation that returns a value wins; the built-in one runs
    last and returns ``settings.late_payment_policy``.

    Args:
        order: The order the money is for, as stored now.
        payment: The payment that succeeded.
        settings: The Hive's settings.

    Returns:
        ``"refund"`` to give the money back, ``"accept_if_available"`` to complete the order
        when its units are still free (refunding otherwise), or None to pass.
    """


@hookspec
def eventhive_startup(hive: object) -> None:
    """React to a Hive being ready.

    Called once by ``bootstrap()`` after every adapter is built and subscribers are wired,
    before the Hive is returned. Raising here aborts the bootstrap.

    Args:
        hive: The new :class:`~eventhive_core.hive.Hive` (typed ``object`` here because plugins sit
            below the Hive in the layers; annotate it as ``Hive`` in your implementation).
    """


@hookspec
def eventhive_shutdown(hive: object) -> None:
    """React to a Hive closing.

    Called once by ``Hive.close()`` before adapters are closed, so the Hive still works.

    Args:
        hive: The :class:`~eventhive_core.hive.Hive` being closed.
    """


__all__ = [
    "LatePaymentAction",
    "eventhive_add_hookspecs",
    "eventhive_late_payment_policy",
    "eventhive_register_commands",
    "eventhive_register_event_buses",
    "eventhive_register_payment_providers",
    "eventhive_register_schedulers",
    "eventhive_register_storage",
    "eventhive_register_subscribers",
    "eventhive_reservation_ttl",
    "eventhive_shutdown",
    "eventhive_startup",
]
