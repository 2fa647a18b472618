from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from eventhive_core.domain.errors import ConfigurationError
from eventhive_core.plugins.manager import make_plugin_manager
from eventhive_core.plugins.registry import collect_registries
from eventhive_core.settings import HiveSettings

MakeDistribution = Callable[..., Path]


@pytest.fixture
def stripe_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import stripe` raise ModuleNotFoundError(name="stripe"), exactly as
    # on a machine without the extra, whether or not this environment has it installed.
    monkeypatch.setitem(sys.modules, "stripe", None)


@pytest.fixture
def stripe_plugin(make_distribution: MakeDistribution, stripe_is_missing: None) -> None:
    make_distribution(
        "eventhive-stripe-lookalike",
        version="2.3.0",
        entry_points={"stripe_lookalike": "stripe_lookalike_plugin"},
        modules={
            "stripe_lookalike_plugin": """
                import stripe  # the optional dependency

                from eventhive_core.plugins.markers import hookimpl

                @hookimpl
                def eventhive_register_payment_providers(register):
                    register("stripe_lookalike", lambda settings, options: stripe)
            """
        },
    )


def test_an_entry_point_missing_an_extra_is_listed_as_unavailable_with_the_pip_line(stripe_plugin: None) -> None:
    pm = make_plugin_manager(HiveSettings(load_plugins=("stripe_lookalike",)))

    [unavailable] = pm.unavailable
    assert unavailable.name == "stripe_lookalike"
    assert unavailable.target == "stripe_lookalike_plugin"
    assert (unavailable.distribution, unavailable.version) == ("eventhive-stripe-lookalike", "2.3.0")
    assert "stripe" in unavailable.error
    assert unavailable.hint == 'pip install "eventhive-tickets[stripe]"'
    assert unavailable.fix() == 'pip install "eventhive-tickets[stripe]"'
    assert not pm.has_plugin("stripe_lookalike")


def test_choosing_the_unavailable_provider_says_why_it_is_missing_and_how_to_fix_it(stripe_plugin: None) -> None:
    registries = collect_registries(make_plugin_manager(HiveSettings(load_plugins=("stripe_lookalike",))))

    with pytest.raises(ConfigurationError) as raised:
        registries.payment_providers.get("stripe_lookalike")

    message = str(raised.value)
    known = "Known: fake (builtin.fake_payments), stripe (builtin.stripe_payments)."
    assert f"No payment provider named 'stripe_lookalike'. {known}" in message
    assert 'Plugins that failed to load: stripe_lookalike (pip install "eventhive-tickets[stripe]")' in message


def test_an_entry_point_missing_an_unknown_package_is_listed_with_a_way_to_silence_it(
    make_distribution: MakeDistribution,
) -> None:
    make_distribution(
        "eventhive-fancy",
        entry_points={"fancy": "fancy_plugin"},
        modules={"fancy_plugin": "import eventhive_test_package_that_does_not_exist\n"},
    )

    pm = make_plugin_manager(HiveSettings(load_plugins=("fancy",)))

    [unavailable] = pm.unavailable
    assert unavailable.hint is None
    assert "eventhive_test_package_that_does_not_exist" in unavailable.error
    assert unavailable.fix() == "install what it needs, or set EVENTHIVE_BLOCK_PLUGINS=fancy to skip it"


def test_a_blocked_entry_point_is_not_even_imported(stripe_plugin: None) -> None:
    pm = make_plugin_manager(HiveSettings(block_plugins=("stripe_lookalike",)))

    assert pm.unavailable == []
    assert pm.is_blocked("stripe_lookalike")
    assert "stripe_lookalike_plugin" not in sys.modules


def test_an_entry_point_that_breaks_for_another_reason_fails_loudly_naming_it(
    make_distribution: MakeDistribution,
) -> None:
    make_distribution(
        "eventhive-buggy",
        entry_points={"buggy": "buggy_plugin"},
        modules={"buggy_plugin": "raise RuntimeError('forgot to configure')\n"},
    )

    with pytest.raises(ConfigurationError, match=r"Plugin 'buggy'.*forgot to configure.*EVENTHIVE_BLOCK_PLUGINS=buggy"):
        make_plugin_manager(HiveSettings(load_plugins=("buggy",)))


def test_an_installed_entry_point_plugin_is_loaded_with_its_distribution(make_distribution: MakeDistribution) -> None:
    make_distribution(
        "eventhive-hello",
        version="0.4.2",
        entry_points={"hello": "hello_plugin"},
        modules={
            "hello_plugin": """
                from eventhive_core.plugins.markers import hookimpl

                @hookimpl
                def eventhive_register_storage(register):
                    register("hello", lambda settings, options: "a storage")
            """
        },
    )

    pm = make_plugin_manager(HiveSettings(load_plugins=("hello",)))
    registries = collect_registries(pm)

    assert registries.storage.owner("hello") == "hello"
    origin = pm.origins["hello"]
    assert (origin.source, origin.distribution, origin.version) == ("entry point", "eventhive-hello", "0.4.2")
