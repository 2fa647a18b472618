from __future__ import annotations

from collections.abc import Iterator

import pytest

from eventhive_core import CreateTicket, Hive, SignUp
from eventhive_core.testing.fakes import FrozenClock
from eventhive_core.testing.hives import make_test_hive


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def hive(clock: FrozenClock) -> Iterator[Hive]:
    with make_test_hive(clock) as built:
        yield built


def sign_up(hive: Hive, email: str) -> str:
    return hive.handle(SignUp(email=email, password="password")).user.id


@pytest.fixture
def seller(hive: Hive) -> str:
    return sign_up(hive, "seller@example.com")


@pytest.fixture
def ann(hive: Hive) -> str:
    return sign_up(hive, "ann@example.com")


@pytest.fixture
def bob(hive: Hive) -> str:
    return sign_up(hive, "bob@example.com")


@pytest.fixture
def gig(hive: Hive, seller: str) -> str:
    return hive.handle(CreateTicket(owner_id=seller, title="Gig", price="20", capacity=1)).id
