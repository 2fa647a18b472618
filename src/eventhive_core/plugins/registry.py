"""Name registries that the registration hooks fill, and the collection of them from a plugin manager.

Every name remembers the plugin that registered it, so a clash or a typo in a setting can be
reported with what is known and where it came from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeAlias, TypeVar

import click
import pluggy
from pydantic import BaseModel

from eventhive_core.deprecation import deprecated_names
from eventhive_core.domain.errors import ConfigurationError
from eventhive_core.plugins.factories import (
    EventBusFactory,
    PaymentProviderFactory,
    SchedulerFactory,
    StorageFactory,
    SubscriberHandler,
)
from eventhive_core.plugins.manager import HivePluginManager
from eventhive_core.ports.event_bus import Subscription
from eventhive_core.settings import HiveSettings

F = TypeVar("F")


@dataclass(frozen=True, slots=True)
class Registration(Generic[F]):
    """One registered name.

    Attributes:
        name: The name a setting refers to.
        factory: What builds the adapter.
        plugin: The name of the plugin that registered it.
    """

    name: str
    factory: F
    plugin: str


class Registry(Generic[F]):
    """Factories of one kind (storage, event bus, ...) by name.

    Args:
        kind: What is registered, singular, for messages (``"storage"``, ``"event bus"``).
        setting: The setting that picks a name, for messages (``"EVENTHIVE_STORAGE"``).
    """

    def __init__(self, kind: str, setting: str) -> None:
        self.kind = kind
        self.setting = setting
        self._entries: dict[str, Registration[F]] = {}
        #: Extra lines for the unknown-name message (e.g. plugins that failed to import).
        self.notes: list[str] = []

    def register(self, name: str, factory: F, *, plugin: str) -> None:
        """Add ``name``.

        Raises:
            ConfigurationError: The name is empty, or already registered (the message names both plugins).
        """
        if not name or name != name.strip():
            raise ConfigurationError(
                f"Plugin {plugin!r} registered a {self.kind} with an invalid name {name!r}; "
                "use a non-empty name without surrounding spaces."
            )
        if name in self._entries:
            first = self._entries[name].plugin
            raise ConfigurationError(
                f"Two plugins register a {self.kind} named {name!r}: {first!r} and {plugin!r}. "
                f"Uninstall one, or block one with EVENTHIVE_BLOCK_PLUGINS."
            )
        self._entries[name] = Registration(name=name, factory=factory, plugin=plugin)

    def get(self, name: str) -> F:
        """Return the factory registered as ``name``.

        Raises:
            ConfigurationError: No such name; the message lists the known ones, the plugin behind
                each, and the setting to fix.
        """
        try:
            return self._entries[name].factory
        except KeyError:
            raise ConfigurationError(self._unknown(name)) from None

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        return sorted(self._entries)

    def owner(self, name: str) -> str:
        """Return the name of the plugin that registered ``name``.

        Raises:
            ConfigurationError: No such name.
        """
        try:
            return self._entries[name].plugin
        except KeyError:
            raise ConfigurationError(self._unknown(name)) from None

    def registrations(self) -> list[Registration[F]]:
        """Return every registration, sorted by name."""
        return [self._entries[name] for name in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={self.names()!r})"

    def _unknown(self, name: str) -> str:
        known = ", ".join(f"{entry.name} ({entry.plugin})" for entry in self.registrations()) or "none"
        message = f"No {self.kind} named {name!r}. Known: {known}. Fix {self.setting} or install its plugin."
        return " ".join([message, *self.notes])


#: Any of the four adapter registries.
AdapterRegistry: TypeAlias = (
    Registry[StorageFactory] | Registry[EventBusFactory] | Registry[PaymentProviderFactory] | Registry[SchedulerFactory]
)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A CLI command a plugin added.

    Attributes:
        command: The click command or group.
        plugin: The plugin that added it.
    """

    command: click.Command
    plugin: str


@dataclass(frozen=True, slots=True)
class SettingsSpec:
    """``EVENTHIVE_*`` environment variables a plugin reads.

    Attributes:
        model: The pydantic model; its field ``name`` is the variable ``EVENTHIVE_NAME``.
        plugin: The plugin that declared it.
    """

    model: type[BaseModel]
    plugin: str

    def variables(self) -> list[str]:
        """Return the declared variable names."""
        return [f"EVENTHIVE_{name.upper()}" for name in self.model.model_fields]


def _storage() -> Registry[StorageFactory]:
    return Registry("storage", "EVENTHIVE_STORAGE")


def _event_buses() -> Registry[EventBusFactory]:
    return Registry("event bus", "EVENTHIVE_EVENT_BUS")


def _payment_providers() -> Registry[PaymentProviderFactory]:
    return Registry("payment provider", "EVENTHIVE_PAYMENT_PROVIDER")


def _schedulers() -> Registry[SchedulerFactory]:
    return Registry("scheduler", "EVENTHIVE_SCHEDULER")


@dataclass
class Registries:
    """Everything the registration hooks registered.

    Attributes:
        storage: Storage factories (``EVENTHIVE_STORAGE``).
        event_buses: Event-bus factories (``EVENTHIVE_EVENT_BUS``).
        payment_providers: Payment-gateway factories (``EVENTHIVE_PAYMENT_PROVIDER``).
        schedulers: Expiry-scheduler factories (``EVENTHIVE_SCHEDULER``).
        subscribers: Extra subscribers, all of which are wired.
        commands: Extra ``eventhive`` subcommands.
        settings: The ``EVENTHIVE_*`` variables plugins declared, as validation models.
    """

    storage: Registry[StorageFactory] = field(default_factory=_storage)
    event_buses: Registry[EventBusFactory] = field(default_factory=_event_buses)
    payment_providers: Registry[PaymentProviderFactory] = field(default_factory=_payment_providers)
    schedulers: Registry[SchedulerFactory] = field(default_factory=_schedulers)
    subscribers: list[Subscription[SubscriberHandler]] = field(default_factory=list)
    commands: list[CommandSpec] = field(default_factory=list)
    settings: list[SettingsSpec] = field(default_factory=list)

    def add_subscriber(self, subscription: Subscription[SubscriberHandler]) -> None:
        """Add a subscriber (``subscription.plugin`` names the plugin that registered it).

        Raises:
            ConfigurationError: Another subscriber has the same name (the message names both plugins).
        """
        for existing in self.subscribers:
            if existing.name == subscription.name:
                raise ConfigurationError(
                    f"Two subscribers are named {subscription.name!r}: "
                    f"from {existing.plugin!r} and {subscription.plugin!r}. "
                    "Subscriber names must be unique; rename one, or block a plugin with EVENTHIVE_BLOCK_PLUGINS."
                )
        self.subscribers.append(subscription)

    def add_command(self, spec: CommandSpec) -> None:
        """Add a command.

        Raises:
            ConfigurationError: The command has no name, or another plugin added one of the same name.
        """
        if not spec.command.name:
            raise ConfigurationError(f"Plugin {spec.plugin!r} added a command without a name; give it one.")
        for existing in self.commands:
            if existing.command.name == spec.command.name:
                raise ConfigurationError(
                    f"Two plugins add an eventhive command named {spec.command.name!r}: "
                    f"{existing.plugin!r} and {spec.plugin!r}. Block one with EVENTHIVE_BLOCK_PLUGINS."
                )
        self.commands.append(spec)

    def adapter_registries(self) -> list[AdapterRegistry]:
        """Return the four adapter registries, in a stable order (for listings)."""
        return [self.storage, self.event_buses, self.payment_providers, self.schedulers]

    def chosen(self, settings: HiveSettings) -> list[tuple[AdapterRegistry, str]]:
        """Pair each adapter registry (in the order of :meth:`adapter_registries`) with the name ``settings`` picks."""
        picked = [settings.storage, settings.event_bus, settings.payment_provider, settings.scheduler]
        return list(zip(self.adapter_registries(), picked, strict=True))


def collect_registries(pm: pluggy.PluginManager) -> Registries:
    """Call every registration hook and return what the plugins registered.

    Each plugin's implementation is called through pluggy (a subset hook caller holding that
    plugin alone) with a ``register`` bound to the plugin's name, so every name records who
    registered it. Plugins are called in registration order (built-ins first), which makes the
    first registrant of a duplicate name the built-in.

    Raises:
        ConfigurationError: A duplicate name, or a registration hook implemented as a wrapper.
    """
    registries = Registries()
    notes = _unavailable_notes(pm)
    for registry in registries.adapter_registries():
        registry.notes.extend(notes)

    adapter_hooks: list[tuple[str, AdapterRegistry]] = [
        ("eventhive_register_storage", registries.storage),
        ("eventhive_register_event_buses", registries.event_buses),
        ("eventhive_register_payment_providers", registries.payment_providers),
        ("eventhive_register_schedulers", registries.schedulers),
    ]
    for hook_name, registry in adapter_hooks:
        for plugin, call in _calls_per_plugin(pm, hook_name):
            call(register=_adapter_register(registry, plugin))

    for plugin, call in _calls_per_plugin(pm, "eventhive_register_subscribers"):
        call(register=_subscriber_register(registries, plugin))

    for plugin, call in _calls_per_plugin(pm, "eventhive_register_commands"):
        call(add=_command_add(registries, plugin))

    for plugin, call in _calls_per_plugin(pm, "eventhive_register_settings"):
        call(register=_settings_register(registries, plugin))
    return registries


def _adapter_register(
    registry: AdapterRegistry,
    plugin: str,
) -> Callable[[str, object], None]:
    def register(name: str, factory: object) -> None:
        if not callable(factory):
            raise ConfigurationError(
                f"Plugin {plugin!r} registered {registry.kind} {name!r} with {factory!r}, which is not callable; "
                "pass a factory(settings, options)."
            )
        # The hook's signature types the factory for plugin authors; here it is stored as given.
        registry.register(name, factory, plugin=plugin)

    return register


def _subscriber_register(registries: Registries, plugin: str) -> Callable[[str, str, str, SubscriberHandler], None]:
    def register(name: str, event_type: str, role: str, handler: SubscriberHandler) -> None:
        if not callable(handler):
            raise ConfigurationError(
                f"Plugin {plugin!r} registered subscriber {name!r} with a handler that is not callable."
            )
        registries.add_subscriber(
            Subscription(name=name, event_type=event_type, role=role, handler=handler, plugin=plugin)
        )

    return register


def _command_add(registries: Registries, plugin: str) -> Callable[[click.Command], None]:
    def add(command: click.Command) -> None:
        if not isinstance(command, click.Command):
            raise ConfigurationError(f"Plugin {plugin!r} added {command!r} as a command; pass a click.Command.")
        registries.add_command(CommandSpec(command=command, plugin=plugin))

    return add


def _settings_register(registries: Registries, plugin: str) -> Callable[[type[BaseModel]], None]:
    def register(model: type[BaseModel]) -> None:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise ConfigurationError(
                f"Plugin {plugin!r} declared settings with {model!r}; pass a pydantic model class."
            )
        registries.settings.append(SettingsSpec(model=model, plugin=plugin))

    return register


def _calls_per_plugin(pm: pluggy.PluginManager, hook_name: str) -> list[tuple[str, pluggy.HookCaller]]:
    """Return, for each plugin implementing ``hook_name`` in registration order, its name and a caller of it alone.

    pluggy calls implementations in one go and does not say which plugin returned what; a
    subset hook caller that leaves out every other plugin keeps pluggy's own calling (only the
    arguments an implementation declares, its errors as they are) and tells us whose call it is.
    """
    caller: pluggy.HookCaller | None = getattr(pm.hook, hook_name, None)
    if caller is None:
        return []
    impls = caller.get_hookimpls()
    for impl in impls:
        if impl.wrapper or impl.hookwrapper:
            raise ConfigurationError(
                f"Plugin {impl.plugin_name!r} implements {hook_name} as a wrapper; registration hooks take "
                "plain implementations only."
            )
    # get_hookimpls lists plugins in registration order (pluggy itself calls them last first):
    # the built-ins come first, so a name a plugin registers again is reported against the built-in.
    calls: list[tuple[str, pluggy.HookCaller]] = []
    for impl in impls:
        others = [other.plugin for other in impls if other is not impl]
        calls.append((impl.plugin_name, pm.subset_hook_caller(hook_name, remove_plugins=others)))
    return calls


def _unavailable_notes(pm: pluggy.PluginManager) -> list[str]:
    # A storage whose plugin failed to import is the likeliest reason for an unknown name: say so.
    if not isinstance(pm, HivePluginManager) or not pm.unavailable:
        return []
    parts = [f"{item.name} ({item.fix()})" for item in pm.unavailable]
    return [f"Plugins that failed to load: {'; '.join(parts)}."]


__getattr__ = deprecated_names(
    __name__, {"SubscriberSpec": (Subscription, "eventhive_core.ports.event_bus.Subscription")}
)
