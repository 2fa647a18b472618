"""``publish_all``: how the relay hands a claimed batch to any bus, with or without a batch method of its own."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from eventhive_core.ports.event_bus import Delivery, publish_all
from eventhive_core.ports.messages import Message


def messages(count: int) -> list[Message]:
    return [Message(id=f"e{n}", type="ticket:created", body="{}") for n in range(count)]


class OneAtATime:
    """A bus with ``publish`` alone, refusing the ids it is told to."""

    def __init__(self, refused: set[str]) -> None:
        self.refused = refused
        self.published: list[str] = []

    def subscribe(self, name: str, event_type: str, role: str, deliver: Delivery) -> None:
        raise NotImplementedError

    def publish(self, message: Message) -> None:
        if message.id in self.refused:
            raise ConnectionError(f"broker refused {message.id}")
        self.published.append(message.id)

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass


class Batched(OneAtATime):
    """A bus with a ``publish_all`` of its own."""

    def __init__(self, answer: object) -> None:
        super().__init__(set())
        self.answer = answer
        self.batches: list[list[str]] = []

    def publish_all(self, batch: Sequence[Message]) -> list[Exception | None]:
        self.batches.append([m.id for m in batch])
        if isinstance(self.answer, Exception):
            raise self.answer
        assert isinstance(self.answer, list)
        return self.answer


def test_a_bus_without_a_batch_method_gets_each_message_in_order_and_one_refusal_stops_nothing() -> None:
    bus = OneAtATime(refused={"e1"})

    failures = publish_all(bus, messages(3))

    assert bus.published == ["e0", "e2"]
    assert [type(f).__name__ if f else None for f in failures] == [None, "ConnectionError", None]


def test_a_bus_with_a_batch_method_gets_the_whole_batch_once_and_its_answer_is_kept() -> None:
    refused = RuntimeError("no ack")
    bus = Batched([None, refused, None])

    assert publish_all(bus, messages(3)) == [None, refused, None]
    assert bus.batches == [["e0", "e1", "e2"]]
    assert bus.published == []


def test_a_batch_method_that_raises_fails_every_message_of_the_batch() -> None:
    down = ConnectionError("server down")

    assert publish_all(Batched(down), messages(2)) == [down, down]


def test_a_batch_method_answering_for_another_number_of_messages_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"publish_all answered for 1 of 2 messages"):
        publish_all(Batched([None]), messages(2))
