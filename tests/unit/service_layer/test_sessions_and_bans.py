"""The denylist and the events that feed it, on one Hive (docs/concepts/sessions-and-bans.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from eventhive_core import (
    BanUser,
    HiveSettings,
    NotAuthorized,
    SignIn,
    SignOut,
    SignUp,
    bootstrap,
)
from eventhive_core.adapters.memory_denylist import MemoryDenylist
from eventhive_core.testing.fakes import FrozenClock, RecordingBus
from eventhive_core.testing.hives import make_test_hive


def test_a_token_on_the_denylist_is_refused_though_the_storage_knows_nothing_against_it(clock: FrozenClock) -> None:
    denylist = MemoryDenylist(clock)
    with make_test_hive(clock, denylist=denylist) as hive:
        signed = hive.handle(SignUp(email="ann@example.com", password="password"))
        other = hive.handle(SignIn(email="ann@example.com", password="password"))

        denylist.deny_token(signed.token.claims.jti, signed.token.claims.expires_at)

        with pytest.raises(NotAuthorized):
            hive.authenticate(signed.token.token)
        assert hive.authenticate(other.token.token).user_id == signed.user.id


def test_a_user_on_the_denylist_has_every_token_refused(clock: FrozenClock) -> None:
    denylist = MemoryDenylist(clock)
    with make_test_hive(clock, denylist=denylist) as hive:
        signed = hive.handle(SignUp(email="ann@example.com", password="password"))

        denylist.deny_user(signed.user.id, clock.now() + timedelta(hours=1))

        with pytest.raises(NotAuthorized):
            hive.authenticate(signed.token.token)


def test_a_delivered_ban_keeps_the_user_on_the_denylist_for_one_token_lifetime(clock: FrozenClock) -> None:
    denylist = MemoryDenylist(clock)
    with make_test_hive(clock, denylist=denylist, token_ttl=3600) as hive:
        user = hive.handle(SignUp(email="ann@example.com", password="password")).user
        hive.handle(BanUser(email="ann@example.com"))
        hive.relay_outbox()

        assert denylist.is_denied("any", user.id)
        clock.advance(seconds=3599)
        assert denylist.is_denied("any", user.id)
        clock.advance(seconds=1)
        assert not denylist.is_denied("any", user.id)


def test_a_delivered_sign_out_keeps_the_token_on_the_denylist_until_it_would_have_expired(
    clock: FrozenClock,
) -> None:
    denylist = MemoryDenylist(clock)
    with make_test_hive(clock, denylist=denylist, token_ttl=3600) as hive:
        signed = hive.handle(SignUp(email="ann@example.com", password="password"))
        clock.advance(seconds=600)
        hive.handle(SignOut(token=signed.token.token))
        hive.relay_outbox()

        assert denylist.is_denied(signed.token.claims.jti, "someone")
        clock.advance(seconds=2999)
        assert denylist.is_denied(signed.token.claims.jti, "someone")
        clock.advance(seconds=1)
        assert not denylist.is_denied(signed.token.claims.jti, "someone")


def test_the_denylist_subscribers_take_their_role_and_names_from_the_settings(clock: FrozenClock) -> None:
    bus = RecordingBus()
    with make_test_hive(clock, event_bus=bus, denylist_role="orders"):
        feeding = {(s.name, s.event_type, s.role) for s in bus.subscriptions if s.role == "orders"}

    assert feeding == {
        ("orders.deny_banned_user", "user:banned", "orders"),
        ("orders.deny_signed_out_token", "user:signed_out", "orders"),
    }


def test_the_default_denylist_is_in_memory_and_the_redis_one_needs_a_url() -> None:
    with bootstrap() as hive:
        assert isinstance(hive.services.denylist, MemoryDenylist)
    with pytest.raises(ValueError, match="EVENTHIVE_DENYLIST=redis needs it"):
        HiveSettings(denylist="redis")
