"""``eventhive plugins``: what is loaded, what each plugin registered, and what failed to load."""

from __future__ import annotations

import click

from eventhive_core.cli.context import source_of
from eventhive_core.plugins.manager import HivePluginManager
from eventhive_core.plugins.registry import AdapterRegistry, Registries
from eventhive_core.settings import HiveSettings


@click.command("plugins")
@click.pass_context
def plugins(ctx: click.Context) -> None:
    """List plugins, what they register, and what failed to load.

    Under ``eventhive`` the settings come from the ``EVENTHIVE_*`` environment variables, under
    ``flask eventhive`` from the app; ``*`` marks the name each setting currently picks.
    """
    source = source_of(ctx)
    for line in _report(source.plugins, source.registries, source.settings):
        click.echo(line)


def _report(pm: HivePluginManager, registries: Registries, settings: HiveSettings) -> list[str]:
    lines = ["Plugins:"]
    for name, plugin in sorted(pm.list_name_plugin()):
        if plugin is None:  # a blocked name
            continue
        origin = pm.origins.get(name)
        if origin is None or origin.source == "builtin":
            source = "built in" if origin else "registered later"
        elif origin.source == "code":
            source = "passed in code"
        else:
            source = f"{origin.distribution} {origin.version}"
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        lines.append(f"  {name} ({source})")
        lines.append(f"    hooks: {', '.join(hooks) or 'none'}")
    blocked = sorted(name for name, plugin in pm.list_name_plugin() if plugin is None)
    if blocked:
        lines.append(f"  blocked: {', '.join(blocked)}")

    for registry, chosen in registries.chosen(settings):
        lines.extend(_registry_lines(registry, chosen))

    lines.append("Subscribers:")
    lines.extend(
        f"  {subscription.name} on {subscription.event_type} (role {subscription.role}) from {subscription.plugin}"
        for subscription in registries.subscribers
    )
    if not registries.subscribers:
        lines.append("  none")
    lines.append("Commands:")
    lines.extend(f"  {spec.command.name} from {spec.plugin}" for spec in registries.commands)
    if not registries.commands:
        lines.append("  none")

    if pm.unavailable:
        lines.append("Unavailable:")
        for item in pm.unavailable:
            lines.append(f"  {item.name} ({item.distribution} {item.version}): {item.error}")
            lines.append(f"    fix: {item.fix()}")
    return lines


def _registry_lines(registry: AdapterRegistry, chosen: str) -> list[str]:
    lines = [f"{registry.kind.capitalize()} ({registry.setting}={chosen}):"]
    for entry in registry.registrations():
        mark = "*" if entry.name == chosen else " "
        lines.append(f"  {mark} {entry.name} from {entry.plugin}")
    return lines


__all__ = ["plugins"]
