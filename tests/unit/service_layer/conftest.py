from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from eventhive_core import CreateTicket, Hive, SignUp
from eventhive_core.testing.fakes import FrozenClock
from eventhive_core.testing.hives import make_test_hive

#: Where the core is installed alone (tox -e core-only) there is no PostgreSQL driver; the full
#: run has one, and there a missing server fails under CI=true as everywhere else.
ON_POSTGRES = pytest.param(
    "postgres",
    marks=[
        pytest.mark.postgres,
        pytest.mark.skipif(
            importlib.util.find_spec("psycopg") is None, reason="no PostgreSQL driver in a core-only install"
        ),
    ],
)


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
