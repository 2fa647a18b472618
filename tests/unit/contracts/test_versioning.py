from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

import pytest

from eventhive_core.contracts import (
    CURRENT_VERSION,
    PAYLOADS,
    UPCASTERS,
    InvalidEnvelope,
    Payload,
    UnknownEventType,
    parse_message,
    to_domain_event,
    to_envelope,
    to_message,
)
from eventhive_core.contracts.payloads import EntityId
from eventhive_core.domain.events import ExpirationComplete

COMMITTED = datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC)
ORDER = "0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c04"


class ExpirationCompleteV2(Payload):
    """A made-up version 2 that adds a required field, so it cannot stay version 1."""

    event_type: ClassVar[str] = "expiration:complete"
    schema_version: ClassVar[int] = 2

    order_id: EntityId
    trigger: str


@pytest.fixture
def release_version_two(monkeypatch):
    """Return a function registering ExpirationCompleteV2 as the current version, as a future release would."""

    def release() -> None:
        monkeypatch.setitem(PAYLOADS, ("expiration:complete", 2), ExpirationCompleteV2)
        monkeypatch.setitem(CURRENT_VERSION, "expiration:complete", 2)

    return release


@pytest.fixture
def old_message():
    """An `expiration:complete` message a version-1 producer sent."""
    return to_message(
        to_envelope(ExpirationComplete(order_id=ORDER), producer="eventhive/orders@0.1.0", occurred_at=COMMITTED)
    )


def test_current_version_is_the_newest_registered_for_each_type():
    for event_type, current in CURRENT_VERSION.items():
        assert current == max(version for name, version in PAYLOADS if name == event_type)


def test_every_version_below_the_current_one_can_be_upcast():
    for event_type, version in PAYLOADS:
        if version < CURRENT_VERSION[event_type]:
            assert (event_type, version) in UPCASTERS, f"{event_type} v{version} needs an upcaster to v{version + 1}"


def test_versions_start_at_one_and_have_no_gaps():
    for event_type, current in CURRENT_VERSION.items():
        assert {version for name, version in PAYLOADS if name == event_type} == set(range(1, current + 1))


def test_producers_publish_the_newest_version(release_version_two):
    release_version_two()

    # The domain event has no `trigger`, so only the made-up v2 refuses it: the error proves v2 was chosen.
    with pytest.raises(InvalidEnvelope, match=r"does not fit expiration:complete v2: trigger: Field required"):
        to_envelope(ExpirationComplete(order_id=ORDER), producer="eventhive/orders@0.2.0", occurred_at=COMMITTED)


def test_an_older_version_is_upcast_to_the_newest_before_becoming_a_domain_event(
    release_version_two, old_message, monkeypatch
):
    release_version_two()
    seen = []
    monkeypatch.setitem(
        UPCASTERS, ("expiration:complete", 1), lambda data: seen.append(data) or {**data, "trigger": "timer"}
    )

    envelope = parse_message(old_message)

    assert envelope.version == 1
    assert to_domain_event(envelope) == ExpirationComplete(order_id=ORDER)
    assert seen == [{"order_id": ORDER}]


def test_an_older_version_without_an_upcaster_is_refused_with_what_to_add(release_version_two, old_message):
    release_version_two()

    with pytest.raises(UnknownEventType, match=r"expiration:complete v1 and no upcaster leads to v2; add one"):
        to_domain_event(parse_message(old_message))


def test_an_upcaster_that_produces_invalid_data_is_reported(release_version_two, old_message, monkeypatch):
    release_version_two()
    monkeypatch.setitem(UPCASTERS, ("expiration:complete", 1), lambda data: data)

    with pytest.raises(
        InvalidEnvelope,
        match=r"Upcasting event .* to expiration:complete v2 gave invalid data: data\.trigger: Field required",
    ):
        to_domain_event(parse_message(old_message))
