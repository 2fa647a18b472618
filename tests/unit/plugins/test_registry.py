from __future__ import annotations

import pytest

from eventhive_core.domain.errors import ConfigurationError
from eventhive_core.plugins.registry import Registries, Registry
from eventhive_core.ports.event_bus import Subscription


def _factory(settings: object, options: object) -> object:
    return object()


def _other_factory(settings: object, options: object) -> object:
    return object()


def _storage_registry() -> Registry[object]:
    registry: Registry[object] = Registry("storage", "EVENTHIVE_STORAGE")
    registry.register("memory", _factory, plugin="builtin.memory_storage")
    registry.register("sqlalchemy", _other_factory, plugin="builtin.sqlalchemy_storage")
    return registry


def test_a_registered_name_gives_back_its_factory_and_its_plugin() -> None:
    registry = _storage_registry()

    assert registry.get("sqlalchemy") is _other_factory
    assert registry.owner("memory") == "builtin.memory_storage"
    assert registry.names() == ["memory", "sqlalchemy"]
    assert "memory" in registry
    assert "redis" not in registry


def test_an_unknown_name_lists_every_known_name_with_its_plugin_and_the_setting_to_fix() -> None:
    registry = _storage_registry()

    with pytest.raises(ConfigurationError) as raised:
        registry.get("mongo")

    assert str(raised.value) == (
        "No storage named 'mongo'. Known: memory (builtin.memory_storage), sqlalchemy (builtin.sqlalchemy_storage). "
        "Fix EVENTHIVE_STORAGE or install its plugin."
    )


def test_asking_for_the_owner_of_an_unknown_name_fails_the_same_way() -> None:
    with pytest.raises(ConfigurationError, match="No storage named 'mongo'"):
        _storage_registry().owner("mongo")


def test_an_unknown_name_in_an_empty_registry_says_none_is_known() -> None:
    registry: Registry[object] = Registry("event bus", "EVENTHIVE_EVENT_BUS")

    with pytest.raises(ConfigurationError, match=r"No event bus named 'nats'\. Known: none\. Fix EVENTHIVE_EVENT_BUS"):
        registry.get("nats")


def test_notes_such_as_plugins_that_failed_to_load_follow_the_unknown_name_message() -> None:
    registry = _storage_registry()
    registry.notes.append("Plugins that failed to load: pg (pip install x).")

    with pytest.raises(ConfigurationError, match=r"install its plugin\. Plugins that failed to load: pg"):
        registry.get("pg")


def test_a_name_registered_twice_fails_naming_both_plugins() -> None:
    registry = _storage_registry()

    with pytest.raises(ConfigurationError) as raised:
        registry.register("memory", _other_factory, plugin="acme_storage")

    message = str(raised.value)
    assert "'builtin.memory_storage'" in message
    assert "'acme_storage'" in message
    assert "storage named 'memory'" in message
    assert registry.get("memory") is _factory


@pytest.mark.parametrize("bad_name", ["", " memory", "memory "])
def test_an_empty_or_padded_name_is_refused(bad_name: str) -> None:
    registry: Registry[object] = Registry("storage", "EVENTHIVE_STORAGE")

    with pytest.raises(ConfigurationError, match="invalid name"):
        registry.register(bad_name, _factory, plugin="sloppy")
    assert registry.names() == []


def _handler(envelope: object, uow: object) -> None:
    return None


def test_two_subscribers_with_one_name_fail_naming_both_plugins() -> None:
    registries = Registries()
    registries.add_subscriber(Subscription("send_receipt", "payment:created", "mail", _handler, plugin="mailer"))

    with pytest.raises(ConfigurationError) as raised:
        registries.add_subscriber(Subscription("send_receipt", "order:created", "mail", _handler, plugin="other"))

    assert "'mailer'" in str(raised.value)
    assert "'other'" in str(raised.value)
    assert [spec.plugin for spec in registries.subscribers] == ["mailer"]


def test_each_registries_object_starts_empty_and_independent() -> None:
    first, second = Registries(), Registries()
    first.storage.register("memory", _factory, plugin="p")

    assert second.storage.names() == []
    assert [r.setting for r in first.adapter_registries()] == [
        "EVENTHIVE_STORAGE",
        "EVENTHIVE_EVENT_BUS",
        "EVENTHIVE_PAYMENT_PROVIDER",
        "EVENTHIVE_SCHEDULER",
    ]
