"""The Redis denylist against a real server (EVENTHIVE_TEST_REDIS_URL, default 127.0.0.1:6379).

Each test writes under a key prefix of its own and deletes its keys at the end. Without a server
the tests skip with the reason, or fail under CI=true (tests/conftest.py's ``redis_server_url``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from eventhive_core import BanUser, Hive, NotAuthorized, SignOut, SignUp, TransientStorageError
from eventhive_core.adapters.jwt_tokens import generate_ed25519_keypair
from eventhive_core.adapters.redis_denylist import RedisDenylist
from eventhive_core.testing.fakes import FrozenClock, RecordingBus
from eventhive_core.testing.hives import make_test_hive

redis = pytest.importorskip("redis")

KEYS = generate_ed25519_keypair()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def client(redis_server_url: str) -> Iterator[redis.Redis]:
    made = redis.Redis.from_url(redis_server_url)
    yield made
    made.close()


@pytest.fixture
def denylist(redis_server_url: str, redis_key_prefix: str, clock: FrozenClock) -> Iterator[RedisDenylist]:
    made = RedisDenylist(redis_server_url, prefix=redis_key_prefix, clock=clock)
    yield made
    made.close()


def ttl_ms(client: redis.Redis, key: str) -> int:
    return int(client.pttl(key))


def test_a_denied_token_gets_a_key_that_lives_as_long_as_the_token_has_left(
    denylist: RedisDenylist, client: redis.Redis, clock: FrozenClock
) -> None:
    denylist.deny_token("jti-1", clock.now() + timedelta(minutes=10))

    assert denylist.is_denied("jti-1", "user-1")
    assert not denylist.is_denied("jti-2", "user-1")
    assert 599_000 < ttl_ms(client, denylist.token_key("jti-1")) <= 600_000


def test_a_denied_user_has_every_token_refused(denylist: RedisDenylist, clock: FrozenClock) -> None:
    denylist.deny_user("user-1", clock.now() + timedelta(hours=1))

    assert denylist.is_denied("any-token", "user-1")
    assert not denylist.is_denied("any-token", "user-2")


def test_an_entry_is_gone_once_its_key_expires(denylist: RedisDenylist, clock: FrozenClock) -> None:
    denylist.deny_token("jti-1", clock.now() + timedelta(milliseconds=50))

    time.sleep(0.2)
    assert not denylist.is_denied("jti-1", "user-1")


def test_denying_until_a_time_already_past_writes_no_key(
    denylist: RedisDenylist, client: redis.Redis, clock: FrozenClock
) -> None:
    denylist.deny_token("jti-1", clock.now())

    assert client.exists(denylist.token_key("jti-1")) == 0


def test_denying_again_keeps_the_later_time(denylist: RedisDenylist, client: redis.Redis, clock: FrozenClock) -> None:
    denylist.deny_user("user-1", clock.now() + timedelta(hours=2))
    denylist.deny_user("user-1", clock.now() + timedelta(hours=1))

    assert ttl_ms(client, denylist.user_key("user-1")) > 7_000_000


def test_installations_with_different_prefixes_do_not_see_each_others_entries(
    denylist: RedisDenylist, redis_server_url: str, clock: FrozenClock
) -> None:
    other = RedisDenylist(redis_server_url, prefix=denylist.prefix + "other:", clock=clock)
    try:
        other.deny_token("jti-1", clock.now() + timedelta(minutes=1))

        assert other.is_denied("jti-1", "user-1")
        assert not denylist.is_denied("jti-1", "user-1")
    finally:
        other.close()


def test_a_redis_that_does_not_answer_makes_the_check_fail_as_unavailable_not_as_allowed(clock: FrozenClock) -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    unreachable = RedisDenylist("redis://127.0.0.1:1/0", clock=clock)

    with pytest.raises(TransientStorageError):
        unreachable.is_denied("jti-1", "user-1")
    with pytest.raises(TransientStorageError):
        unreachable.deny_token("jti-1", clock.now() + timedelta(minutes=1))
    unreachable.close()


def hive_on_redis(clock: FrozenClock, url: str, prefix: str, **settings: object) -> Hive:
    return make_test_hive(clock, denylist="redis", redis_url=url, denylist_prefix=prefix, **settings)


def test_services_sharing_one_redis_refuse_what_the_signer_published_once_it_is_delivered(
    redis_server_url: str, redis_key_prefix: str, client: redis.Redis, clock: FrozenClock
) -> None:
    bus = RecordingBus()
    auth = hive_on_redis(
        clock, redis_server_url, redis_key_prefix, event_bus=bus, jwt_algorithm="EdDSA", jwt_private_key=KEYS[0]
    )
    orders = hive_on_redis(clock, redis_server_url, redis_key_prefix, jwt_algorithm="EdDSA", jwt_public_key=KEYS[1])
    with auth, orders:
        ann = auth.handle(SignUp(email="ann@example.com", password="password"))
        bob = auth.handle(SignUp(email="bob@example.com", password="password"))
        assert orders.authenticate(ann.token.token).user_id == ann.user.id

        auth.handle(SignOut(token=ann.token.token))
        auth.handle(BanUser(email="bob@example.com"))
        auth.relay_outbox()
        assert orders.authenticate(bob.token.token).user_id == bob.user.id  # published, not yet delivered
        bus.deliver_pending()

        for token in (ann.token.token, bob.token.token):
            with pytest.raises(NotAuthorized):
                orders.authenticate(token)
        ttl = auth.settings.token_ttl.total_seconds() * 1000
        assert ttl - 1000 < ttl_ms(client, f"{redis_key_prefix}user:{bob.user.id}") <= ttl
