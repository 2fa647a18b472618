"""A user authentication has just read is not read again by the command that follows."""

from __future__ import annotations

import pytest

from eventhive_core import CreateTicket, Hive, NotAuthorized, PlaceOrder, SignUp
from eventhive_core.adapters import memory
from eventhive_core.service_layer.known_users import KnownUsers


@pytest.fixture
def user_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    # The test Hive's storage is the in-memory one: its user repository, counted.
    real_get = memory._Users.get

    def counted(self: memory._Users, user_id: str) -> object:
        reads.append(user_id)
        return real_get(self, user_id)

    monkeypatch.setattr(memory._Users, "get", counted)
    return reads


def test_an_order_after_authentication_does_not_read_the_buyer_again(
    hive: Hive, gig: str, user_reads: list[str]
) -> None:
    signed_in = hive.handle(SignUp(email="cat@example.com", password="password"))
    identity = hive.authenticate(signed_in.token.token)
    user_reads.clear()

    hive.handle(PlaceOrder(ticket_id=gig, buyer_id=identity.user_id))

    assert user_reads == []


def test_a_buyer_never_authenticated_in_this_process_is_read_once_then_known(
    hive: Hive, seller: str, ann: str, user_reads: list[str]
) -> None:
    first = hive.handle(CreateTicket(owner_id=seller, title="One", price="5", capacity=5)).id
    user_reads.clear()

    hive.handle(PlaceOrder(ticket_id=first, buyer_id=ann))
    hive.handle(PlaceOrder(ticket_id=first, buyer_id=ann))

    assert user_reads == [ann]


def test_an_unknown_buyer_is_refused_every_time_and_never_remembered(hive: Hive, gig: str) -> None:
    stranger = "01a23776-647a-7099-8747-732f6dc37786"
    for _ in range(2):
        with pytest.raises(NotAuthorized):
            hive.handle(PlaceOrder(ticket_id=gig, buyer_id=stranger))

    assert stranger not in hive.services.known_users


def test_known_users_start_afresh_past_their_capacity() -> None:
    known = KnownUsers(capacity=2)
    known.add("u1")
    known.add("u2")
    known.add("u3")

    assert "u3" in known
    assert len(known) == 1
    with pytest.raises(ValueError, match="at least 1"):
        KnownUsers(capacity=0)
