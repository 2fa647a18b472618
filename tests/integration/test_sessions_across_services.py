"""Two Hives as two services of a split platform, each on its own SQLite file, joined by relaying events.

``auth`` holds the private key and the users; ``orders`` holds the public key alone, trusts a
verified token for the user's identity, and learns of sign-outs and bans only from events. One
delivery of the event is all it takes for ``orders`` to refuse the token or the user.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from eventhive_core import (
    BanUser,
    CreateTicket,
    Hive,
    NotAuthorized,
    PlaceOrder,
    SignIn,
    SigningKeyMissing,
    SignOut,
    SignUp,
)
from eventhive_core.adapters.jwt_tokens import generate_ed25519_keypair
from eventhive_core.testing.fakes import FrozenClock, RecordingBus
from eventhive_core.testing.hives import make_test_hive

PRIVATE_KEY, PUBLIC_KEY = generate_ed25519_keypair()


def _service(clock: FrozenClock, tmp_path: Path, role: str, bus: RecordingBus, **key: str) -> Hive:
    """One service on its own SQLite file and bus, holding ``key`` (the private or the public key)."""
    return make_test_hive(
        clock,
        storage="sqlalchemy",
        database_url=f"sqlite:///{tmp_path / f'{role}.sqlite3'}",
        event_bus=bus,
        jwt_algorithm="EdDSA",
        denylist_role=role,
        producer=role,
        **key,
    )


class Platform:
    """The two services and the one-way link that carries auth's events to orders."""

    def __init__(self, tmp_path: Path, clock: FrozenClock) -> None:
        self.auth_bus = RecordingBus()
        self.orders_bus = RecordingBus()
        self.auth = _service(clock, tmp_path, "auth", self.auth_bus, jwt_private_key=PRIVATE_KEY)
        self.orders = _service(clock, tmp_path, "orders", self.orders_bus, jwt_public_key=PUBLIC_KEY)
        self._forwarded = 0

    def relay_to_orders(self) -> int:
        """Publish auth's outbox, then hand what was published to the orders bus; return how many."""
        self.auth.relay_outbox()
        published = self.auth_bus.published
        for message in published[self._forwarded :]:
            self.orders_bus.publish(message)
        self._forwarded = len(published)
        return self.orders_bus.deliver_pending()

    def close(self) -> None:
        self.auth.close()
        self.orders.close()


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    made = Platform(tmp_path, FrozenClock())
    yield made
    made.close()


def sign_up(hive: Hive, email: str) -> tuple[str, str]:
    signed = hive.handle(SignUp(email=email, password="password"))
    return signed.user.id, signed.token.token


def test_orders_trusts_a_token_auth_signed_for_a_user_it_has_never_stored(platform: Platform) -> None:
    ann, token = sign_up(platform.auth, "ann@example.com")

    identity = platform.orders.authenticate(token)

    assert (identity.user_id, identity.email) == (ann, "ann@example.com")
    with platform.orders.uow() as uow:
        assert uow.users.get(ann) is None


def test_orders_cannot_sign_anyone_up_or_in(platform: Platform) -> None:
    sign_up(platform.auth, "ann@example.com")

    with pytest.raises(SigningKeyMissing):
        platform.orders.handle(SignIn(email="ann@example.com", password="password"))
    with pytest.raises(SigningKeyMissing):
        platform.orders.handle(SignUp(email="bob@example.com", password="password"))


def test_a_token_signed_out_on_auth_is_refused_by_orders_after_one_delivery(platform: Platform) -> None:
    _, token = sign_up(platform.auth, "ann@example.com")
    other = platform.auth.handle(SignIn(email="ann@example.com", password="password")).token.token

    platform.auth.handle(SignOut(token=token))
    assert platform.orders.authenticate(token)  # not delivered yet: orders cannot know

    assert platform.relay_to_orders() == 1
    with pytest.raises(NotAuthorized):
        platform.orders.authenticate(token)
    with pytest.raises(NotAuthorized):
        platform.auth.authenticate(token)
    assert platform.orders.authenticate(other).email == "ann@example.com"


def test_a_user_banned_on_auth_has_their_next_request_refused_by_orders_after_one_delivery(
    platform: Platform,
) -> None:
    ann, token = sign_up(platform.auth, "ann@example.com")
    _, bobs = sign_up(platform.auth, "bob@example.com")
    assert platform.orders.authenticate(token).user_id == ann

    platform.auth.handle(BanUser(email="ann@example.com"))
    assert platform.relay_to_orders() == 1

    with pytest.raises(NotAuthorized):
        platform.orders.authenticate(token)
    assert platform.orders.authenticate(bobs).email == "bob@example.com"


def test_a_redelivered_event_changes_nothing_more(platform: Platform) -> None:
    _, token = sign_up(platform.auth, "ann@example.com")
    platform.auth.handle(SignOut(token=token))
    platform.relay_to_orders()

    [message] = platform.auth_bus.of_type("user:signed_out")
    platform.orders_bus.publish(message)
    platform.orders_bus.deliver_pending()

    with platform.orders.uow() as uow:
        assert not uow.processed.add("orders.deny_signed_out_token", message.id, platform.orders.services.clock.now())
    with pytest.raises(NotAuthorized):
        platform.orders.authenticate(token)


def test_orders_lists_and_sells_for_users_it_knows_only_from_their_tokens_and_auth_still_checks_its_own(
    platform: Platform,
) -> None:
    seller, seller_token = sign_up(platform.auth, "seller@example.com")
    buyer, buyer_token = sign_up(platform.auth, "buyer@example.com")
    sells = platform.orders.authenticate(seller_token).user_id
    buys = platform.orders.authenticate(buyer_token).user_id

    ticket = platform.orders.handle(CreateTicket(owner_id=sells, title="Gig", price="10"))
    order = platform.orders.handle(PlaceOrder(buyer_id=buys, ticket_id=ticket.id))

    assert (ticket.owner_id, order.buyer_id) == (seller, buyer)
    # Where the accounts live, a command for an account that does not exist is still refused.
    stranger = "01890a5d-ac96-774b-bcce-b302099a8057"
    with pytest.raises(NotAuthorized):
        platform.auth.handle(CreateTicket(owner_id=stranger, title="Gig", price="10"))
    gig = platform.auth.handle(CreateTicket(owner_id=seller, title="Gig", price="10"))
    with pytest.raises(NotAuthorized):
        platform.auth.handle(PlaceOrder(buyer_id=stranger, ticket_id=gig.id))
