"""Five services of a split, each a Hive on its own database, joined by one shared stream in this process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventhive_core import CreateTicket, Hive, SignUp
from eventhive_core.adapters.jwt_tokens import generate_ed25519_keypair
from eventhive_core.service_layer.roles import ROLES
from eventhive_core.testing.fakes import FrozenClock
from eventhive_core.testing.hives import make_test_hive
from eventhive_core.testing.streams import SharedStream

PRIVATE_KEY, PUBLIC_KEY = generate_ed25519_keypair()
TTL = 60


class Split:
    """Five services, one shared stream, one clock the test moves.

    Args:
        database_url: The database of each role; None keeps every service in memory.
        clock: The clock of every service.
        settings: More settings for every service.
    """

    def __init__(self, database_url: Callable[[str], str] | None, clock: FrozenClock, **settings: Any) -> None:
        self.clock = clock
        self.stream = SharedStream()
        self.hives: dict[str, Hive] = {}
        for role in ROLES:
            key = ("jwt_private_key", PRIVATE_KEY) if role == "auth" else ("jwt_public_key", PUBLIC_KEY)
            chosen: dict[str, Any] = dict([key])
            if database_url is not None:
                chosen.update(storage="sqlalchemy", database_url=database_url(role))
            self.hives[role] = make_test_hive(
                clock,
                role=role,
                producer=role,
                event_bus=self.stream.bus(),
                jwt_algorithm="EdDSA",
                reservation_ttl=TTL,
                **chosen,
                **settings,
            )

    def __getattr__(self, role: str) -> Hive:
        if role in ROLES:
            return self.hives[role]
        raise AttributeError(role)

    def settle(self, *, shuffle: bool = False, duplicate: float = 0.0) -> None:
        """Relay every outbox and deliver until nothing moves; fail if an event stays undeliverable."""
        for _ in range(50):
            relayed = self.relay_only()
            delivered = self.stream.pump(shuffle=shuffle, duplicate=duplicate)
            if not relayed and not delivered:
                break
        assert self.stream.pending() == {}, f"undeliverable events: {self.stream.pending()}"

    def relay_only(self) -> int:
        """Relay every outbox to the stream without delivering anything; return how many events."""
        return sum(hive.relay_outbox() for hive in self.hives.values())

    def user(self, email: str) -> str:
        """Sign a user up on auth and return their id as every other service verifies it."""
        token = self.auth.handle(SignUp(email=email, password="password")).token.token
        return self.orders.authenticate(token).user_id

    def listed(self, capacity: int = 1) -> tuple[str, str, str]:
        """Sign a seller and a buyer up, list a ticket, and deliver; return their ids and the ticket's."""
        seller, buyer = self.user("seller@example.com"), self.user("buyer@example.com")
        ticket = self.tickets.handle(CreateTicket(owner_id=seller, title="Gig", price="10", capacity=capacity)).id
        self.settle()
        return seller, buyer, ticket

    def close(self) -> None:
        for hive in self.hives.values():
            hive.close()
