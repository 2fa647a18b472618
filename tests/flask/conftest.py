"""Fixtures for the Flask extension tests: an app on memory storage, a frozen clock, fake payments."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from eventhive_core.adapters.fake_payments import FakePaymentGateway
from eventhive_core.testing.fakes import FrozenClock
from eventhive_flask.testing import ApiHarness


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def gateway() -> FakePaymentGateway:
    return FakePaymentGateway()


@pytest.fixture
def make_api(clock: FrozenClock, gateway: FakePaymentGateway) -> Iterator[Callable[..., ApiHarness]]:
    """Build a harness with extra config keys; every Hive built is closed after the test."""
    built: list[ApiHarness] = []

    def build(**config: Any) -> ApiHarness:
        harness = ApiHarness.build(clock=clock, gateway=gateway, **config)
        built.append(harness)
        return harness

    yield build
    for harness in built:
        harness.hive.close()


@pytest.fixture
def api(make_api: Callable[..., ApiHarness]) -> ApiHarness:
    return make_api()
