from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import click
import pytest

from eventhive_core.domain.errors import ConfigurationError
from eventhive_core.domain.ids import TicketId, UserId
from eventhive_core.domain.money import Money
from eventhive_core.domain.ticket import Ticket
from eventhive_core.plugins.manager import BUILTIN_PLUGINS, extras_hint, make_plugin_manager
from eventhive_core.plugins.markers import hookimpl, hookspec
from eventhive_core.plugins.registry import collect_registries
from eventhive_core.settings import HiveSettings

NOW = datetime(2026, 1, 1, tzinfo=UTC)
GIG = Ticket(id=TicketId("t1"), title="Gig", price=Money(1500), owner_id=UserId("u1"), created_at=NOW, capacity=10)


def test_every_built_in_adapter_name_is_registered_by_its_built_in_plugin(no_entry_points: HiveSettings) -> None:
    registries = collect_registries(make_plugin_manager(no_entry_points))

    owners = {
        (registry.kind, entry.name): entry.plugin
        for registry in registries.adapter_registries()
        for entry in registry.registrations()
    }
    expected = {
        ("storage", "memory"): "builtin.memory_storage",
        ("storage", "sqlalchemy"): "builtin.sqlalchemy_storage",
        ("event bus", "inprocess"): "builtin.inprocess_bus",
        ("payment provider", "fake"): "builtin.fake_payments",
        ("scheduler", "inprocess"): "builtin.inprocess_scheduler",
        ("scheduler", "none"): "builtin.inprocess_scheduler",
    }
    assert {key: owners.get(key) for key in expected} == expected
    assert all(owner.startswith("builtin.") for owner in owners.values())


def test_each_call_builds_a_new_manager_that_shares_no_plugins(no_entry_points: HiveSettings) -> None:
    class Extra:
        @hookimpl
        def eventhive_register_storage(self, register):  # type: ignore[no-untyped-def]
            register("extra", lambda settings, options: object())

    with_extra = make_plugin_manager(no_entry_points, [Extra()])
    without = make_plugin_manager(no_entry_points)

    assert with_extra is not without
    assert "extra" in collect_registries(with_extra).storage
    assert "extra" not in collect_registries(without).storage


HEAVY = ("sqlalchemy", "alembic", "stripe", "celery", "nats", "psycopg", "flask")


#: The built-in adapters that need nothing beyond the core: each is its own plugin, so listing imports it.
SELF_REGISTERING = (
    "eventhive_core.adapters.fake_payments",
    "eventhive_core.adapters.inprocess_bus",
    "eventhive_core.adapters.inprocess_scheduler",
    "eventhive_core.adapters.memory",
)


def test_listing_the_built_ins_imports_no_heavy_library_and_no_adapter_that_needs_one() -> None:
    # A fresh interpreter, so modules imported by other tests do not hide an eager import.
    script = textwrap.dedent(
        f"""
        import sys
        from eventhive_core.plugins.manager import make_plugin_manager
        from eventhive_core.plugins.registry import collect_registries
        from eventhive_core.settings import HiveSettings
        collect_registries(make_plugin_manager(HiveSettings(load_plugins=())))
        print(sorted(m for m in sys.modules if m.startswith("eventhive_core.adapters.") or m in {HEAVY!r}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == repr(sorted(SELF_REGISTERING))


@pytest.mark.parametrize(
    ("registry_name", "adapter_name", "module"),
    [
        ("storage", "memory", "eventhive_core.adapters.memory"),
        ("event_buses", "inprocess", "eventhive_core.adapters.inprocess_bus"),
        ("payment_providers", "fake", "eventhive_core.adapters.fake_payments"),
        ("schedulers", "inprocess", "eventhive_core.adapters.inprocess_scheduler"),
        ("schedulers", "none", "eventhive_core.adapters.inprocess_scheduler"),
    ],
)
def test_each_built_in_factory_builds_its_adapter(
    no_entry_points: HiveSettings, registry_name: str, adapter_name: str, module: str
) -> None:
    # The adapters land in parallel with the plugins; until one exists its factory cannot run.
    pytest.importorskip(module, reason=f"{module} is not written yet")
    registry = getattr(collect_registries(make_plugin_manager(no_entry_points)), registry_name)

    adapter = registry.get(adapter_name)(no_entry_points, {})

    assert type(adapter).__module__ == module
    close = getattr(adapter, "close", None)
    if callable(close):
        close()


def test_the_default_policies_answer_from_the_settings() -> None:
    settings = HiveSettings(load_plugins=(), reservation_ttl=90, late_payment_policy="accept_if_available")
    pm = make_plugin_manager(settings)

    assert pm.hook.eventhive_reservation_ttl(ticket=GIG, quantity=1, settings=settings) == timedelta(seconds=90)
    assert pm.hook.eventhive_late_payment_policy(order=None, payment=None, settings=settings) == "accept_if_available"


class LongHoldsForGroups:
    """Holds big orders for ten minutes, leaves small ones to the default."""

    @hookimpl
    def eventhive_reservation_ttl(self, quantity: int) -> timedelta | None:
        return timedelta(minutes=10) if quantity >= 4 else None


def test_a_plugin_overrides_the_ttl_and_passing_none_falls_back_to_the_setting(no_entry_points: HiveSettings) -> None:
    pm = make_plugin_manager(no_entry_points, [LongHoldsForGroups()])

    assert pm.hook.eventhive_reservation_ttl(ticket=GIG, quantity=4, settings=no_entry_points) == timedelta(minutes=10)
    assert pm.hook.eventhive_reservation_ttl(ticket=GIG, quantity=1, settings=no_entry_points) == timedelta(seconds=60)


def _send_receipt(envelope: object, uow: object) -> None:
    return None


@click.command("receipts")
def receipts_command() -> None:
    """Resend receipts."""


class Mailer:
    @hookimpl
    def eventhive_register_subscribers(self, register):  # type: ignore[no-untyped-def]
        register("mailer.send_receipt", "payment:created", "mail", _send_receipt)

    @hookimpl
    def eventhive_register_commands(self, add):  # type: ignore[no-untyped-def]
        add(receipts_command)


def test_a_plugins_subscriber_and_command_are_registered_under_its_name(no_entry_points: HiveSettings) -> None:
    registries = collect_registries(make_plugin_manager(no_entry_points, [Mailer()]))

    [subscriber] = registries.subscribers
    assert (subscriber.name, subscriber.event_type, subscriber.role) == (
        "mailer.send_receipt",
        "payment:created",
        "mail",
    )
    assert subscriber.handler is _send_receipt
    assert subscriber.plugin == "Mailer"
    assert [spec.command for spec in registries.commands if spec.plugin == "Mailer"] == [receipts_command]


def test_two_plugins_adding_a_command_of_the_same_name_fail(no_entry_points: HiveSettings) -> None:
    class Copycat:
        @hookimpl
        def eventhive_register_commands(self, add):  # type: ignore[no-untyped-def]
            add(click.Command("receipts"))

    with pytest.raises(ConfigurationError, match=r"'Mailer' and 'Copycat'"):
        collect_registries(make_plugin_manager(no_entry_points, [Mailer(), Copycat()]))


def test_a_plugin_reusing_a_built_in_name_fails_at_collection_naming_both(no_entry_points: HiveSettings) -> None:
    class Impostor:
        @hookimpl
        def eventhive_register_payment_providers(self, register):  # type: ignore[no-untyped-def]
            register("fake", lambda settings, options: object())

    with pytest.raises(ConfigurationError, match=r"'builtin\.fake_payments' and 'Impostor'"):
        collect_registries(make_plugin_manager(no_entry_points, [Impostor()]))


def test_a_non_callable_factory_is_refused_with_the_plugin_named(no_entry_points: HiveSettings) -> None:
    class Careless:
        @hookimpl
        def eventhive_register_storage(self, register):  # type: ignore[no-untyped-def]
            register("careless", "not a factory")

    with pytest.raises(ConfigurationError, match=r"Plugin 'Careless' registered storage 'careless'"):
        collect_registries(make_plugin_manager(no_entry_points, [Careless()]))


def test_a_plugin_implementing_an_unknown_hook_fails_when_the_manager_is_built(no_entry_points: HiveSettings) -> None:
    class Typo:
        @hookimpl
        def eventhive_register_storages(self, register):  # type: ignore[no-untyped-def]
            pass

    with pytest.raises(ConfigurationError, match=r"eventhive_register_storages.*docs/plugins/hooks\.md"):
        make_plugin_manager(no_entry_points, [Typo()])


def test_a_plugin_with_an_argument_the_hook_does_not_have_is_refused(no_entry_points: HiveSettings) -> None:
    class WrongArgs:
        @hookimpl
        def eventhive_reservation_ttl(self, ticket, buyer):  # type: ignore[no-untyped-def]
            return None

    with pytest.raises(ConfigurationError, match=r"'WrongArgs' does not match the hook specifications"):
        make_plugin_manager(no_entry_points, [WrongArgs()])


class FlaskLikeSpecs:
    @hookspec
    def eventhive_flask_register_blueprints(self, app: object) -> str:
        """A hook another package defines."""
        raise NotImplementedError


class AddsItsOwnHooks:
    @hookimpl
    def eventhive_add_hookspecs(self, plugin_manager):  # type: ignore[no-untyped-def]
        plugin_manager.add_hookspecs(FlaskLikeSpecs)


class UsesThoseHooks:
    @hookimpl
    def eventhive_flask_register_blueprints(self, app: object) -> str:
        return f"blueprints for {app}"


def test_a_package_can_add_hooks_that_other_plugins_then_implement(no_entry_points: HiveSettings) -> None:
    pm = make_plugin_manager(no_entry_points, [UsesThoseHooks(), AddsItsOwnHooks()])

    assert pm.hook.eventhive_flask_register_blueprints.has_spec()
    assert pm.hook.eventhive_flask_register_blueprints(app="shop") == ["blueprints for shop"]


def test_a_blocked_built_in_registers_nothing() -> None:
    settings = HiveSettings(load_plugins=(), block_plugins=("builtin.fake_payments",))

    registries = collect_registries(make_plugin_manager(settings))

    assert registries.payment_providers.names() == ["stripe"]
    with pytest.raises(ConfigurationError, match="No payment provider named 'fake'"):
        registries.payment_providers.get("fake")


def test_load_plugins_naming_a_plugin_that_is_not_installed_fails_listing_what_is() -> None:
    with pytest.raises(ConfigurationError, match=r"EVENTHIVE_LOAD_PLUGINS names nosuchplugin"):
        make_plugin_manager(HiveSettings(load_plugins=("nosuchplugin",)))


def test_the_same_plugin_object_passed_twice_is_registered_once(no_entry_points: HiveSettings) -> None:
    mailer = Mailer()

    registries = collect_registries(make_plugin_manager(no_entry_points, [mailer, mailer]))

    assert len(registries.subscribers) == 1


def test_two_instances_of_one_plugin_class_get_distinct_names(no_entry_points: HiveSettings) -> None:
    pm = make_plugin_manager(no_entry_points, [LongHoldsForGroups(), LongHoldsForGroups()])

    assert {"LongHoldsForGroups", "LongHoldsForGroups#2"} <= {name for name, _ in pm.list_name_plugin()}
    assert pm.origins["LongHoldsForGroups#2"].source == "code"


def test_the_built_ins_are_all_listed_in_load_order(no_entry_points: HiveSettings) -> None:
    pm = make_plugin_manager(no_entry_points)

    assert [name for name, _ in pm.list_name_plugin()] == [f"builtin.{module}" for module in BUILTIN_PLUGINS]
    assert {origin.source for origin in pm.origins.values()} == {"builtin"}


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("flask", 'pip install "eventhive-tickets[flask]"'),
        ("werkzeug.routing", 'pip install "eventhive-tickets[flask]"'),
        ("celery.app", 'pip install "eventhive-tickets[celery]"'),
        ("stripe", 'pip install "eventhive-tickets[stripe]"'),
        ("psycopg", 'pip install "eventhive-tickets[postgres]"'),
        ("nats.js", 'pip install "eventhive-tickets[nats]"'),
        ("gunicorn.app.base", 'pip install "eventhive-tickets[server]"'),
        ("numpy", None),
        (None, None),
    ],
)
def test_extras_hint_names_the_extra_that_installs_a_missing_module(module: str | None, line: str | None) -> None:
    assert extras_hint(module) == line


@dataclasses.dataclass
class EqualityPlugin:
    """A dataclass with eq=True: Python sets its __hash__ to None."""

    label: str = "x"

    @hookimpl
    def eventhive_register_storage(self, register):  # type: ignore[no-untyped-def]
        return None


def test_a_plugin_object_that_cannot_be_hashed_is_refused_at_once_with_the_fix(no_entry_points: HiveSettings) -> None:
    with pytest.raises(ConfigurationError, match=r"cannot be hashed .* use @dataclass\(eq=False\)"):
        make_plugin_manager(no_entry_points, plugins=(EqualityPlugin(),))


def test_a_hashable_instance_plugin_registers_its_names(no_entry_points: HiveSettings) -> None:
    registries = collect_registries(make_plugin_manager(no_entry_points, plugins=(HashableMemory(),)))

    assert registries.storage.owner("memory-too") == "HashableMemory"


@dataclasses.dataclass(eq=False)
class HashableMemory:
    @hookimpl
    def eventhive_register_storage(self, register):  # type: ignore[no-untyped-def]
        from eventhive_core.adapters.memory import MemoryStorage

        register("memory-too", lambda settings, options: MemoryStorage())
