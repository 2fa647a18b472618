"""Build Hives for tests: frozen clock, fast password hashing, no background threads."""

from __future__ import annotations

from typing import Any

from eventhive_core.bootstrap import bootstrap
from eventhive_core.clock import Clock
from eventhive_core.hive import Hive
from eventhive_core.settings import HiveSettings
from eventhive_core.testing.fakes import FrozenClock

#: A JWT secret long enough for HS256, for tests only.
TEST_JWT_SECRET = "test-secret-0123456789abcdef0123456789abcdef"  # noqa: S105 - tests only


def fast_hasher() -> Any:
    """Return a scrypt hasher with a tiny cost, so tests that sign many users up stay fast."""
    from eventhive_core.adapters.passwords import ScryptPasswordHasher

    return ScryptPasswordHasher(n=2**4, r=1, p=1)


def make_test_hive(clock: Clock | None = None, *, plugins: tuple[object, ...] = (), **settings: Any) -> Hive:
    """Return a Hive on memory storage (unless settings say otherwise) with a frozen clock.

    Keyword arguments are settings (``reservation_ttl=2``, ``storage="sqlalchemy"``, ...); the
    scheduler defaults to ``none`` so nothing fires behind the test's back.
    """
    settings.setdefault("scheduler", "none")
    settings.setdefault("jwt_secret", TEST_JWT_SECRET)
    adapters: dict[str, Any] = {}
    for name in ("storage", "event_bus", "payment_gateway", "token_service", "denylist"):
        if name in settings and not isinstance(settings[name], str):
            adapters[name] = settings.pop(name)
    return bootstrap(
        HiveSettings(**settings),
        plugins=plugins,
        clock=clock or FrozenClock(),
        password_hasher=fast_hasher(),
        **adapters,
    )
