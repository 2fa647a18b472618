"""Build the plugin manager of one Hive: built-ins, installed entry points, then plugins from code.

There is no module-level manager: each call of :func:`make_plugin_manager` returns a new one, so
two Hives in one process (two Flask apps, or tests) never share plugins.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

import pluggy

from eventhive_core.domain.errors import ConfigurationError
from eventhive_core.plugins import hookspecs
from eventhive_core.plugins.markers import PROJECT_NAME
from eventhive_core.settings import HiveSettings

#: The entry-point group installed plugins are published under.
ENTRY_POINT_GROUP: Final = PROJECT_NAME

#: Package holding the built-in plugins whose adapter needs an extra (SQL, Stripe, Celery) or that are no adapter.
BUILTIN_PACKAGE: Final = "eventhive_core.plugins.builtin"

#: The built-in plugins, registered first and in this order, as ``builtin.<key>``: each key's module.
#: Adapters that need nothing beyond the core carry their own registration; the others register a
#: factory that imports their library only when chosen, so the core imports without its extras.
BUILTIN_PLUGINS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "memory_storage": "eventhive_core.adapters.memory",
        "sqlalchemy_storage": f"{BUILTIN_PACKAGE}.sqlalchemy_storage",
        "inprocess_bus": "eventhive_core.adapters.inprocess_bus",
        "fake_payments": "eventhive_core.adapters.fake_payments",
        "stripe_payments": f"{BUILTIN_PACKAGE}.stripe_payments",
        "inprocess_scheduler": "eventhive_core.adapters.inprocess_scheduler",
        "celery_adapters": f"{BUILTIN_PACKAGE}.celery_adapters",
        "nats_bus": f"{BUILTIN_PACKAGE}.nats_bus",
        "policies": f"{BUILTIN_PACKAGE}.policies",
    }
)

#: Top-level modules our extras install, and the extra that brings each.
EXTRA_FOR_MODULE: Final[Mapping[str, str]] = {
    "flask": "flask",
    "werkzeug": "flask",
    "jinja2": "flask",
    "itsdangerous": "flask",
    "celery": "celery",
    "kombu": "celery",
    "redis": "celery",
    "stripe": "stripe",
    "psycopg": "postgres",
    "psycopg_binary": "postgres",
    "nats": "nats",
    "gunicorn": "server",
}


def extras_hint(module_name: str | None) -> str | None:
    """Return the ``pip install`` line that provides ``module_name``, if one of our extras does.

    Examples:
        >>> extras_hint("psycopg.pq")
        'pip install "eventhive-tickets[postgres]"'
        >>> extras_hint("left_pad") is None
        True
    """
    if not module_name:
        return None
    extra = EXTRA_FOR_MODULE.get(module_name.partition(".")[0])
    return f'pip install "eventhive-tickets[{extra}]"' if extra else None


@dataclass(frozen=True, slots=True)
class PluginOrigin:
    """Where a registered plugin came from.

    Attributes:
        source: ``"builtin"``, ``"entry point"`` or ``"code"`` (passed to ``make_plugin_manager``).
        distribution: For entry points: the installed distribution that publishes it.
        version: That distribution's version.
    """

    source: Literal["builtin", "entry point", "code"]
    distribution: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class UnavailablePlugin:
    """An installed entry point that could not be imported (usually a missing extra).

    Attributes:
        name: The entry point's name (what ``EVENTHIVE_LOAD_PLUGINS`` / ``BLOCK_PLUGINS`` use).
        target: What it points at (``module`` or ``module:attribute``).
        distribution: The distribution that publishes it.
        version: That distribution's version.
        error: The import error, as text.
        hint: The ``pip install`` line that fixes it, when the missing module is one of our extras.
    """

    name: str
    target: str
    distribution: str | None
    version: str | None
    error: str
    hint: str | None

    def fix(self) -> str:
        """Say how to make the plugin load, or how to silence it."""
        if self.hint:
            return self.hint
        return f"install what it needs, or set EVENTHIVE_BLOCK_PLUGINS={self.name} to skip it"


class HivePluginManager(pluggy.PluginManager):
    """A pluggy manager for project ``eventhive`` that also remembers where each plugin came from.

    Attributes:
        origins: Plugin name → where it came from (built-in, entry point with its distribution, code).
        unavailable: Entry points that failed to import, with the error and the fix.
    """

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        self.origins: dict[str, PluginOrigin] = {}
        self.unavailable: list[UnavailablePlugin] = []


def make_plugin_manager(settings: HiveSettings, plugins: Sequence[object] = ()) -> HivePluginManager:
    """Return a new plugin manager with every plugin the settings allow.

    Load order: the names in ``settings.block_plugins`` are blocked first (so a blocked entry
    point is never even imported), then the built-ins (``BUILTIN_PLUGINS``), then the entry
    points of group ``eventhive`` (only those in ``settings.load_plugins`` unless it is None),
    then ``plugins`` given in code. Then other packages may add hook specifications
    (``eventhive_add_hookspecs``) and every implementation must match a known hook.

    Args:
        settings: The Hive's settings (``load_plugins``, ``block_plugins``).
        plugins: Extra plugins (modules, classes or instances with ``@hookimpl`` functions).

    Raises:
        ConfigurationError: A plugin implements an unknown hook or a hook with wrong arguments,
            two distributions publish the same plugin name, a name in ``load_plugins`` is not
            installed, or an entry point fails with something other than an ImportError.
    """
    pm = HivePluginManager()
    pm.add_hookspecs(hookspecs)
    for name in settings.block_plugins:
        pm.set_blocked(name)
    for name, module_name in BUILTIN_PLUGINS.items():
        _register(pm, importlib.import_module(module_name), f"builtin.{name}", PluginOrigin("builtin"))
    _load_entry_points(pm, settings.load_plugins)
    for plugin in plugins:
        if not pm.is_registered(plugin):
            _register(pm, plugin, _name_for(pm, plugin), PluginOrigin("code"))
    pm.hook.eventhive_add_hookspecs(plugin_manager=pm)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConfigurationError(
            f"{exc}. The hook does not exist in this version of EventHive: check its spelling against "
            "docs/plugins/hooks.md, or upgrade eventhive-tickets."
        ) from exc
    return pm


def _load_entry_points(pm: HivePluginManager, allowed: tuple[str, ...] | None) -> None:
    found = sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    if allowed is not None:
        missing = sorted(set(allowed) - {ep.name for ep in found})
        if missing:
            installed = ", ".join(ep.name for ep in found) or "none"
            raise ConfigurationError(
                f"EVENTHIVE_LOAD_PLUGINS names {', '.join(missing)}, which no installed package provides "
                f"(installed: {installed}). Install it or remove it from EVENTHIVE_LOAD_PLUGINS."
            )
    for ep in found:
        if (allowed is not None and ep.name not in allowed) or pm.is_blocked(ep.name):
            continue
        dist = ep.dist
        distribution = dist.name if dist is not None else None
        version = dist.version if dist is not None else None
        if pm.has_plugin(ep.name):
            first = pm.origins[ep.name].distribution if ep.name in pm.origins else "another plugin"
            raise ConfigurationError(
                f"Two installed packages publish an eventhive plugin named {ep.name!r}: {first} and "
                f"{distribution}. Uninstall one."
            )
        try:
            plugin = ep.load()
        except ImportError as exc:
            # A missing optional dependency must not take the CLI down: list it with its fix.
            pm.unavailable.append(
                UnavailablePlugin(
                    name=ep.name,
                    target=ep.value,
                    distribution=distribution,
                    version=version,
                    error=str(exc),
                    hint=extras_hint(exc.name),
                )
            )
            continue
        except Exception as exc:
            raise ConfigurationError(
                f"Plugin {ep.name!r} ({ep.value} from {distribution}) failed to import: {exc!r}. Fix or upgrade "
                f"it, or set EVENTHIVE_BLOCK_PLUGINS={ep.name} to skip it."
            ) from exc
        _register(pm, plugin, ep.name, PluginOrigin("entry point", distribution, version))


def _register(pm: HivePluginManager, plugin: object, name: str, origin: PluginOrigin) -> None:
    try:
        hash(plugin)
    except TypeError:
        # collect_registries calls each plugin's registration hooks apart, through pluggy's
        # subset_hook_caller, which keeps plugins in a set: say so now, not as a TypeError later.
        raise ConfigurationError(
            f"Plugin {name!r} is a {type(plugin).__name__} that cannot be hashed (a dataclass with eq=True, say); "
            "plugin objects must be hashable: use @dataclass(eq=False), or define __hash__."
        ) from None
    try:
        registered = pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise ConfigurationError(
            f"Plugin {name!r} does not match the hook specifications: {exc}. See docs/plugins/hooks.md."
        ) from exc
    except ValueError as exc:
        raise ConfigurationError(f"Plugin {name!r} could not be registered: {exc}") from exc
    if registered is not None:
        pm.origins[registered] = origin


def _name_for(pm: HivePluginManager, plugin: object) -> str:
    # Modules and classes have a readable name; an instance takes its class's.
    base = getattr(plugin, "__name__", None) or type(plugin).__name__
    name, n = base, 1
    while pm.has_plugin(name):
        n += 1
        name = f"{base}#{n}"
    return name


__all__ = [
    "BUILTIN_PACKAGE",
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "EXTRA_FOR_MODULE",
    "HivePluginManager",
    "PluginOrigin",
    "UnavailablePlugin",
    "extras_hint",
    "make_plugin_manager",
]
