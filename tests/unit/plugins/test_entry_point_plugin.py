"""The example third-party plugin, installed as a user would, arrives through its entry point."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from eventhive_core.cli.main import cli
from eventhive_core.domain.money import Money
from eventhive_core.plugins.manager import make_plugin_manager
from eventhive_core.plugins.registry import collect_registries
from eventhive_core.ports.payments import ChargeOutcome
from eventhive_core.settings import HiveSettings

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "eventhive-acme-pay"


@pytest.fixture(scope="module")
def acme_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("acme-site")
    # --no-build-isolation builds with the hatchling of this environment (the test extra), offline.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-input",
            "--target",
            str(target),
            str(EXAMPLE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"pip could not install the example plugin:\n{result.stdout}\n{result.stderr}"
    return target


@pytest.fixture
def acme_installed(acme_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(acme_site))
    importlib.invalidate_caches()
    yield acme_site
    for name in [name for name in sys.modules if name.startswith("eventhive_acme_pay")]:
        del sys.modules[name]


def test_the_installed_example_registers_payment_provider_acme_through_its_entry_point(acme_installed: Path) -> None:
    pm = make_plugin_manager(HiveSettings(load_plugins=("acme",)))
    registries = collect_registries(pm)

    assert registries.payment_providers.owner("acme") == "acme"
    origin = pm.origins["acme"]
    assert (origin.source, origin.distribution, origin.version) == ("entry point", "eventhive-acme-pay", "0.1.0")
    assert sys.modules["eventhive_acme_pay.plugin"].__file__.startswith(str(acme_installed))


def test_the_acme_gateway_pays_acme_ok_tokens_and_declines_the_rest(acme_installed: Path) -> None:
    settings = HiveSettings(load_plugins=("acme",), payment_provider="acme")
    factory = collect_registries(make_plugin_manager(settings)).payment_providers.get("acme")
    gateway = factory(settings, {"merchant_id": "m_1"})

    paid = gateway.charge(amount=Money(1500), token="acme_ok_visa", idempotency_key="k1", metadata={})
    declined = gateway.charge(amount=Money(1500), token="tok_visa", idempotency_key="k2", metadata={})
    replayed = gateway.charge(amount=Money(1500), token="tok_visa", idempotency_key="k1", metadata={})

    assert gateway.name == "acme"
    assert paid.outcome is ChargeOutcome.SUCCEEDED
    assert declined.outcome is ChargeOutcome.FAILED
    assert replayed == paid
    assert paid.provider_ref is not None
    refund = gateway.refund(provider_ref=paid.provider_ref, amount=Money(1500), idempotency_key="r1")
    assert refund.startswith("acme_re_")


def test_blocking_acme_keeps_it_out(acme_installed: Path) -> None:
    pm = make_plugin_manager(HiveSettings(block_plugins=("acme",)))

    assert "acme" not in collect_registries(pm).payment_providers
    assert not pm.has_plugin("acme")


def test_loading_no_entry_points_leaves_only_the_built_ins(acme_installed: Path) -> None:
    pm = make_plugin_manager(HiveSettings(load_plugins=()))

    assert "acme" not in collect_registries(pm).payment_providers
    assert {origin.source for origin in pm.origins.values()} == {"builtin"}


def test_eventhive_plugins_shows_acme_with_its_version_hooks_and_provider(acme_installed: Path) -> None:
    result = CliRunner().invoke(cli, ["plugins"], env={"EVENTHIVE_LOAD_PLUGINS": "acme"})

    assert result.exit_code == 0, result.output
    assert "  acme (eventhive-acme-pay 0.1.0)\n    hooks: eventhive_register_payment_providers\n" in result.output
    assert "    acme from acme\n" in result.output
