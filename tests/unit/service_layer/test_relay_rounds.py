"""A relay round claims batch after batch while they come full, and stops at the first one that is not."""

from __future__ import annotations

from typing import Any

from eventhive_core import CreateTicket, SignUp
from eventhive_core.testing.fakes import FrozenClock
from eventhive_core.testing.hives import make_test_hive


class _Counted:
    """A unit of work whose outbox records the size of each claim (the rest passes through)."""

    def __init__(self, unit: Any, sizes: list[int]) -> None:
        self._unit, self._sizes = unit, sizes

    def __enter__(self) -> Any:
        entered = self._unit.__enter__()
        real_claim = entered.outbox.claim

        def claim(*args: Any, **kwargs: Any) -> Any:
            claimed = real_claim(*args, **kwargs)
            self._sizes.append(len(claimed))
            return claimed

        entered.outbox.claim = claim
        return entered

    def __exit__(self, *exc_info: Any) -> Any:
        return self._unit.__exit__(*exc_info)


def _counting_claims(hive: Any) -> list[int]:
    """Make every unit of work of the hive's storage record the size of each outbox claim."""
    sizes: list[int] = []
    storage = hive.services.storage
    real_unit_of_work = storage.unit_of_work
    storage.unit_of_work = lambda: _Counted(real_unit_of_work(), sizes)
    return sizes


def _events(hive: Any, count: int) -> None:
    seller = hive.handle(SignUp(email="seller@example.com", password="password")).user.id
    for n in range(count - 1):  # sign-up records none; each ticket records ticket:created
        hive.handle(CreateTicket(owner_id=seller, title=f"Gig {n}", price="10"))


def test_a_round_that_finds_fewer_events_than_a_batch_claims_once() -> None:
    with make_test_hive(FrozenClock(), outbox_batch_size=10) as hive:
        _events(hive, 4)
        claims = _counting_claims(hive)

        published = hive.relay_outbox()

    assert claims == [published]
    assert published >= 3


def test_a_round_goes_on_while_batches_come_full_then_stops_at_the_first_partial_one() -> None:
    with make_test_hive(FrozenClock(), outbox_batch_size=2) as hive:
        _events(hive, 6)
        claims = _counting_claims(hive)

        published = hive.relay_outbox()

    assert sum(claims) == published
    assert all(size == 2 for size in claims[:-1])
    assert claims[-1] < 2
