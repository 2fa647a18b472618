"""The ``nats`` event bus: JetStream carries the outbox's events to one durable consumer per role.

nats-py is asyncio while the Hive, its relay and its subscribers are synchronous and threaded,
so the bus owns one event loop in a background thread. :meth:`NatsBus.publish` hands its
coroutine to that loop and waits for JetStream's acknowledgement; each role's consumer runs
on the loop and calls the subscribers in a thread of its own, one message at a time, so a
slow database never stalls publishing and a role's messages keep their order.

Delivery: a message is acknowledged only after every subscriber of the role committed (or
dropped it as already processed); a failure is negatively acknowledged with a growing delay,
and on the ``max_deliver``-th failed delivery the message goes to the role's dead-letter
subject, with the error in a header, before the original is terminated.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import threading
import time
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.js import api

from eventhive_core.adapters.nats.subjects import (
    DEAD,
    check_role,
    consumer_name,
    dead_subject,
    event_subject,
    retry_subject,
    stream_name,
    stream_subjects,
    type_of_subject,
)
from eventhive_core.domain.errors import ConfigurationError
from eventhive_core.ports.event_bus import (
    BusClosed,
    Delivery,
    DeliveryFailed,
    SubscriptionTable,
    deliver_to_each,
    only_later,
)
from eventhive_core.ports.messages import Message

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js.client import JetStreamContext

    from eventhive_core.ports.event_bus import Subscription

__all__ = [
    "EVENT_ID_HEADER",
    "BusClosed",
    "DeadLetter",
    "DeliveryFailed",
    "NatsBus",
    "PublishFailed",
    "ReplayReport",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: JetStream's de-duplication header; the event id for events.
MSG_ID_HEADER = "Nats-Msg-Id"
#: The event id on messages whose ``Nats-Msg-Id`` is not the event id (dead letters, retries).
EVENT_ID_HEADER = "EventHive-Event-Id"
#: Headers of a dead letter.
ROLE_HEADER = "EventHive-Role"
SUBJECT_HEADER = "EventHive-Subject"
SEQUENCE_HEADER = "EventHive-Stream-Sequence"
DELIVERIES_HEADER = "EventHive-Deliveries"
ERROR_HEADER = "EventHive-Error"

#: The longest delay before a failed message is delivered again.
MAX_RETRY_DELAY = timedelta(minutes=5)
#: How long a message that waits for another (``DeliverLater``) is delivered again before it is dead-lettered.
PARK_LIMIT = timedelta(hours=1)
#: How long one pull waits on the server before asking again (also bounds how stale a lost pull is).
FETCH_WAIT = 5.0


class PublishFailed(RuntimeError):
    """JetStream did not acknowledge a publish in time, or refused it; the relay retries the event."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message a role gave up on, as stored on its dead-letter subject.

    Attributes:
        sequence: Its sequence in the stream (what ``eventhive events dead --retry`` takes).
        role: The role that failed it.
        event_id: The event's id.
        event_type: The event's type.
        error: The last failure, one line.
        deliveries: How many times the role was given it.
        original_sequence: The failed message's own sequence in the stream.
        time: When it was dead-lettered.
        body: The envelope, as published.
    """

    sequence: int
    role: str
    event_id: str
    event_type: str
    error: str
    deliveries: int
    original_sequence: int
    time: datetime | None
    body: str


@dataclass(slots=True)
class ReplayReport:
    """What a replay did.

    Attributes:
        delivered: Messages handed to the role's subscribers (already-processed ones are dropped by them).
        skipped: Messages in the range no subscriber of the role follows.
        last_sequence: The stream sequence of the last message looked at (resume after it).
        failed_sequence: Where it stopped on a failure, or None.
        error: That failure.
    """

    delivered: int = 0
    skipped: int = 0
    last_sequence: int | None = None
    failed_sequence: int | None = None
    error: str | None = None


@dataclass(slots=True)
class _Consumer:
    role: str
    subscription: JetStreamContext.PullSubscription
    executor: concurrent.futures.ThreadPoolExecutor
    task: asyncio.Task[None] | None = None
    fetching: bool = False


def _age(msg: Msg) -> timedelta:
    """How long ago the message was stored in the stream."""
    stored = msg.metadata.timestamp
    return datetime.now(UTC) - (stored if stored.tzinfo else stored.replace(tzinfo=UTC))


def retry_delay(first: timedelta, deliveries: int) -> float:
    """Seconds before delivering again a message that failed on its ``deliveries``-th delivery.

    Examples:
        >>> retry_delay(timedelta(seconds=1), 1), retry_delay(timedelta(seconds=1), 4)
        (1.0, 8.0)
        >>> retry_delay(timedelta(seconds=1), 40)
        300.0
    """
    delay = first * (1 << max(min(deliveries, 30) - 1, 0))
    return min(delay, MAX_RETRY_DELAY).total_seconds()


def _one_line(text: str, limit: int = 1000) -> str:
    # Header values may not hold line breaks.
    return " ".join(text.split())[:limit]


class NatsBus:
    """An :class:`~eventhive_core.ports.event_bus.EventBus` on NATS JetStream.

    Args:
        url: NATS server URL(s), comma-separated.
        prefix: First token of every subject; the stream is named after it.
        roles: Roles whose consumers :meth:`start` runs; None for every role subscribed.
        max_deliver: Deliveries before a message goes to the dead letters.
        ack_wait: How long a message may stay unacknowledged before JetStream redelivers it.
        first_retry_delay: Delay after the first failure, doubled each time (at most 5 minutes).
        duplicate_window: How long the stream remembers message ids.
        batch_size: Messages a consumer fetches at once.
        connect_timeout: Seconds to wait for the connection (and the stream check).
        publish_timeout: Seconds to wait for JetStream's acknowledgement of one publish.
    """

    name = "nats"

    def __init__(
        self,
        *,
        url: str = "nats://127.0.0.1:4222",
        prefix: str = "eventhive",
        roles: Sequence[str] | None = None,
        max_deliver: int = 5,
        ack_wait: timedelta = timedelta(seconds=30),
        first_retry_delay: timedelta = timedelta(seconds=1),
        duplicate_window: timedelta = timedelta(minutes=2),
        batch_size: int = 20,
        connect_timeout: float = 5.0,
        publish_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.stream = stream_name(prefix)
        self.roles = tuple(roles) if roles is not None else None
        self.max_deliver = max_deliver
        self.ack_wait = ack_wait
        self.first_retry_delay = first_retry_delay
        self.duplicate_window = duplicate_window
        self.batch_size = batch_size
        self.connect_timeout = connect_timeout
        self.publish_timeout = publish_timeout
        self._table = SubscriptionTable()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._connect_lock: asyncio.Lock | None = None
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._consumers: list[_Consumer] = []
        self._stopping = threading.Event()
        self._connect_failed_at = -1e9
        self._started = False
        self._closed = False

    def __repr__(self) -> str:
        return f"NatsBus(url={self.url!r}, stream={self.stream!r}, subscribers={len(self._table)})"

    # --- the EventBus port ------------------------------------------------------------------

    @property
    def subscriptions(self) -> tuple[Subscription[Delivery], ...]:
        """Every subscription, in registration order."""
        return self._table.all()

    def subscribe(self, name: str, event_type: str, role: str, deliver: Delivery) -> None:
        """Register ``deliver`` for ``event_type`` under a unique ``name`` in ``role``.

        Raises:
            ValueError: The name is empty or taken.
            ConfigurationError: The role cannot name a subject token (dots, wildcards, spaces).
        """
        check_role(role)
        self._table.add(name, event_type, role, deliver)

    def publish(self, message: Message) -> None:
        """Publish ``message`` on its subject and return once JetStream stored it.

        The ``Nats-Msg-Id`` is the event id, so a republished event inside the duplicate window
        is stored once.

        Raises:
            BusClosed: The bus was closed.
            PublishFailed: No acknowledgement in time, or the server refused the message.
            ConfigurationError: The stream exists with another configuration.
        """
        ack = self._run(
            self._publish(message),
            self.publish_timeout + self.connect_timeout,
            what=f"publishing {message.type} {message.id}",
        )
        if ack.duplicate:
            log.debug("JetStream already had %s %s (seq %s)", message.type, message.id, ack.seq)

    def publish_all(self, messages: Sequence[Message]) -> list[Exception | None]:
        """Publish ``messages`` at once and wait for every acknowledgement; return each one's failure or None.

        The publishes are in flight together (JetStream acknowledges each on its own), so a relay
        batch costs about one round trip instead of one per event. Like :meth:`publish`, each
        carries its event id as ``Nats-Msg-Id``.

        Raises:
            BusClosed: The bus was closed.
            PublishFailed: The server could not be reached, or did not answer in time.
            ConfigurationError: The stream exists with another configuration.
        """
        if not messages:
            return []
        return self._run(
            self._publish_all(messages),
            self.publish_timeout + self.connect_timeout,
            what=f"publishing {len(messages)} events",
        )

    def start(self) -> None:
        """Check the stream, then run one durable pull consumer per role (``roles``, else every role).

        Raises:
            ConfigurationError: The stream or a consumer exists with another configuration, or
                a role in ``roles`` has no subscriber here.
            PublishFailed: The server could not be reached in time.
        """
        with self._lock:
            if self._started:
                return
            self._started = True
        groups = self._table.by_role()
        roles = sorted(groups) if self.roles is None else list(self.roles)
        unknown = [role for role in roles if role not in groups]
        if unknown:
            raise ConfigurationError(
                f"EVENTHIVE_NATS_ROLES names {', '.join(unknown)}, but no subscriber here has that role "
                f"(roles here: {', '.join(sorted(groups)) or 'none'})"
            )
        if roles:
            self._run(self._start_consumers(roles), self.connect_timeout * (2 + len(roles)), what="starting consumers")

    def check_reachable(self, timeout: float) -> None:
        """Return once the connection (made now if there is none yet) answered a ping within ``timeout`` seconds.

        While the client reconnects after losing the server, the check fails at once.

        Raises:
            BusClosed: The bus was closed.
            PublishFailed: Not connected, or no answer in time.
            ConfigurationError: The stream exists with another configuration (found on connecting).
        """
        self._run(self._ping(timeout), timeout, what="checking the connection")

    def close(self) -> None:
        """Finish the message in hand, give back the rest, close the connection; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            future.result(self.ack_wait.total_seconds() + self.connect_timeout)
        except Exception:  # closing must go on: the server forgets unacknowledged messages for us
            log.warning("Closing the NATS bus did not finish cleanly", exc_info=True)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            if not thread.is_alive():
                loop.close()
            for consumer in self._consumers:
                consumer.executor.shutdown(wait=False)

    # --- dead letters and replay (``eventhive events``) -------------------------------------------

    def dead_letters(self, role: str | None = None, limit: int = 1000) -> list[DeadLetter]:
        """Return stored dead letters, oldest first (of ``role``, else of every role).

        Raises:
            PublishFailed: The server could not be reached in time.
        """
        subject = dead_subject(self.prefix, check_role(role)) if role else f"{self.prefix}.{DEAD}.>"
        return self._run(self._dead_letters(subject, limit), self.connect_timeout * 4 + limit, what="reading")

    def retry_dead(self, sequences: Iterable[int] | None = None, role: str | None = None) -> list[DeadLetter]:
        """Deliver dead letters again to their role alone, then delete them from the dead letters.

        Args:
            sequences: Which dead letters (stream sequences); None for all (of ``role``).
            role: Only this role's.

        Returns:
            The dead letters sent again.
        """
        wanted = None if sequences is None else set(sequences)
        letters = [
            letter for letter in self.dead_letters(role, limit=100_000) if wanted is None or letter.sequence in wanted
        ]
        self._run(self._retry(letters), self.connect_timeout * 2 + len(letters), what="retrying dead letters")
        return letters

    def replay(
        self,
        role: str,
        *,
        subject: str = ">",
        start_sequence: int | None = None,
        start_time: datetime | None = None,
        end_sequence: int | None = None,
    ) -> ReplayReport:
        """Deliver the stored events of a range again to ``role``'s subscribers, in this thread.

        A fresh ephemeral consumer reads the range (from ``start_sequence`` or ``start_time`` to
        ``end_sequence``, else to the stream's last message when the replay began); subscribers
        drop what they already processed, so a replica rebuilt on an empty database gets
        everything and a live one gets only what it missed. Stops at the first failure.

        Args:
            role: Whose subscribers run.
            subject: Which subjects, under the prefix: ``>`` (all), ``order.*``, ``order:created``.
            start_sequence: First stream sequence.
            start_time: First message stored at or after this time (aware).
            end_sequence: Last stream sequence.

        Raises:
            ConfigurationError: No subscriber here has ``role``.
            ValueError: Both or neither of ``start_sequence`` and ``start_time``.
        """
        if (start_sequence is None) == (start_time is None):
            raise ValueError("give exactly one of start_sequence and start_time")
        subscriptions = self._table.by_role().get(role)
        if not subscriptions:
            raise ConfigurationError(f"No subscriber here has role {role!r}; nothing to replay into")
        filter_subject = f"{self.prefix}.{subject.replace(':', '.')}"
        report = ReplayReport()
        pull, end = self._run(
            self._replay_consumer(filter_subject, start_sequence, start_time, end_sequence),
            self.connect_timeout * 3,
            what="creating the replay consumer",
        )
        try:
            while True:
                batch: list[Msg] = self._run(self._fetch_for_replay(pull), FETCH_WAIT + self.connect_timeout)
                if not batch:
                    return report
                for msg in batch:
                    sequence = msg.metadata.sequence.stream
                    if end is not None and sequence > end:
                        return report
                    report.last_sequence = sequence
                    routed_role, event_type = type_of_subject(self.prefix, msg.subject)
                    targets = [s for s in subscriptions if s.event_type == event_type]
                    if routed_role is not None or event_type is None or not targets:
                        report.skipped += 1
                        continue
                    try:
                        deliver_to_each(targets, self._message_of(msg, event_type))
                    except DeliveryFailed as exc:
                        report.failed_sequence, report.error = sequence, str(exc)
                        return report
                    report.delivered += 1
                    if msg.metadata.num_pending == 0:
                        return report
        finally:
            self._run(self._drop_consumer(pull), self.connect_timeout, what="deleting the replay consumer")

    # --- the loop thread ----------------------------------------------------------------------

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout: float, *, what: str = "talking to NATS") -> T:
        loop = self._ensure_loop(coroutine)
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise PublishFailed(f"NATS at {self.url} did not answer within {timeout:g} s while {what}") from None
        except (nats.errors.Error, OSError) as exc:
            raise PublishFailed(f"NATS at {self.url} failed while {what}: {type(exc).__name__}: {exc}") from exc

    def _ensure_loop(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                coroutine.close()
                raise BusClosed("The NATS event bus is closed")
            if self._loop is None:
                # Lazily: a process that only publishes (a web process) never calls start().
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=f"eventhive-nats-{self.stream}", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    async def _jetstream(self) -> JetStreamContext:
        if self._js is not None:
            return self._js
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        async with self._connect_lock:
            if self._js is None:
                # A relay publishing a batch while the server is down fails each event at once
                # for a while after a failed connect, instead of waiting out every attempt.
                since = time.monotonic() - self._connect_failed_at
                if since < self.connect_timeout:
                    raise PublishFailed(f"NATS at {self.url} was unreachable {since:.1f} s ago; not retrying yet")
                try:
                    # nats-py keeps retrying a first connection with unlimited reconnects: bound it.
                    nc = await asyncio.wait_for(
                        nats.connect(
                            servers=[part.strip() for part in self.url.split(",") if part.strip()],
                            name=f"eventhive-{self.prefix}",
                            connect_timeout=int(max(self.connect_timeout, 1)),
                            max_reconnect_attempts=-1,
                            error_cb=self._on_error,
                            disconnected_cb=self._on_disconnected,
                            reconnected_cb=self._on_reconnected,
                        ),
                        self.connect_timeout,
                    )
                except (TimeoutError, OSError, nats.errors.Error) as exc:
                    self._connect_failed_at = time.monotonic()
                    raise PublishFailed(
                        f"Could not connect to NATS at {self.url} within {self.connect_timeout:g} s: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                js = nc.jetstream(timeout=self.publish_timeout)
                try:
                    await self._ensure_stream(js)
                except BaseException:
                    await nc.close()
                    raise
                self._nc, self._js = nc, js
        assert self._js is not None
        return self._js

    async def _on_error(self, exc: Exception) -> None:
        log.warning("NATS connection error: %s: %s", type(exc).__name__, exc)

    async def _on_disconnected(self) -> None:
        if not self._stopping.is_set():
            log.warning("Disconnected from NATS at %s; reconnecting", self.url)

    async def _on_reconnected(self) -> None:
        log.info("Reconnected to NATS at %s", self.url)

    def _wanted_stream(self) -> api.StreamConfig:
        return api.StreamConfig(
            name=self.stream,
            description="EventHive's integration events (created by eventhive_core's nats bus)",
            subjects=stream_subjects(self.prefix),
            retention=api.RetentionPolicy.LIMITS,
            storage=api.StorageType.FILE,
            duplicate_window=self.duplicate_window.total_seconds(),
        )

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        wanted = self._wanted_stream()
        try:
            info = await js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            try:
                await js.add_stream(wanted)
            except nats.js.errors.BadRequestError as exc:
                # Two processes starting at once both create; an equal config is accepted, so
                # what remains is a real conflict (subjects taken by another stream...).
                raise ConfigurationError(
                    f"NATS refused to create stream {self.stream} for {', '.join(wanted.subjects or [])}: "
                    f"{exc.description}"
                ) from exc
            log.info("Created JetStream stream %s (%s)", self.stream, ", ".join(wanted.subjects or []))
            return
        differences = _stream_differences(info.config, wanted)
        if differences:
            raise ConfigurationError(
                f"NATS stream {self.stream} exists with another configuration than EVENTHIVE_NATS_* asks for: "
                f"{'; '.join(differences)}. EventHive never changes an existing stream: edit it "
                "(nats stream edit), or choose another EVENTHIVE_NATS_PREFIX, or set the settings to match."
            )

    async def _ping(self, timeout: float) -> None:
        await self._jetstream()
        nc = self._nc
        if nc is None or not nc.is_connected:
            raise PublishFailed(f"Not connected to NATS at {self.url} (reconnecting)")
        # PING/PONG: the server itself answered, not only the socket's buffer. nats-py takes whole
        # seconds; the caller's own wait (``_run``) holds the exact timeout.
        await nc.flush(timeout=max(math.ceil(timeout), 1))

    async def _publish(self, message: Message) -> api.PubAck:
        # On the event's subject, its id as Nats-Msg-Id (the stream's de-duplication key).
        js = await self._jetstream()
        subject, headers = event_subject(self.prefix, message.type), {MSG_ID_HEADER: message.id}
        return await js.publish(
            subject, message.body.encode(), headers=headers, stream=self.stream, timeout=self.publish_timeout
        )

    async def _publish_all(self, messages: Sequence[Message]) -> list[Exception | None]:
        await self._jetstream()  # connect (or fail) once for the batch
        results = await asyncio.gather(*(self._publish(message) for message in messages), return_exceptions=True)
        failures: list[Exception | None] = []
        for message, result in zip(messages, results, strict=True):
            if isinstance(result, api.PubAck):
                failures.append(None)
            elif isinstance(result, Exception):
                failures.append(
                    PublishFailed(
                        f"NATS at {self.url} failed while publishing {message.type} {message.id}: "
                        f"{type(result).__name__}: {result}"
                    )
                )
            else:
                raise result
        return failures

    # --- consuming ----------------------------------------------------------------------------

    def _wanted_consumer(self, role: str) -> api.ConsumerConfig:
        return api.ConsumerConfig(
            durable_name=consumer_name(self.prefix, role),
            description=f"EventHive role {role}",
            deliver_policy=api.DeliverPolicy.ALL,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait.total_seconds(),
            # Unlimited on the server: the bus dead-letters after max_deliver failures itself, and a
            # server limit would drop a message silently when a process died on its last delivery.
            max_deliver=-1,
            # Every event subject (retries for one role included); a role skips what it does not follow.
            filter_subject=f"{self.prefix}.>",
            max_ack_pending=max(1000, self.batch_size * 10),
        )

    async def _start_consumers(self, roles: list[str]) -> None:
        js = await self._jetstream()
        for role in roles:
            wanted = self._wanted_consumer(role)
            durable = wanted.durable_name
            assert durable is not None
            try:
                info = await js.consumer_info(self.stream, durable)
            except nats.js.errors.NotFoundError:
                await js.add_consumer(self.stream, wanted)
                log.info("Created durable consumer %s on %s", durable, self.stream)
            else:
                differences = _consumer_differences(info.config, wanted)
                if differences:
                    try:
                        await js.add_consumer(self.stream, wanted)
                    except nats.js.errors.APIError as exc:
                        raise ConfigurationError(
                            f"NATS consumer {durable} exists with another configuration ({'; '.join(differences)}) "
                            f"and could not be updated: {exc.description}"
                        ) from exc
                    log.info("Updated durable consumer %s: %s", durable, "; ".join(differences))
            pull = await js.pull_subscribe_bind(durable=durable, stream=self.stream)
            consumer = _Consumer(
                role=role,
                subscription=pull,
                executor=concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"eventhive-nats-{role}"),
            )
            consumer.task = asyncio.get_running_loop().create_task(self._consume(consumer), name=f"nats-{role}")
            self._consumers.append(consumer)

    async def _consume(self, consumer: _Consumer) -> None:
        while not self._stopping.is_set():
            consumer.fetching = True
            try:
                batch = await consumer.subscription.fetch(self.batch_size, timeout=FETCH_WAIT)
            except TimeoutError:
                # Nothing to fetch. nats-py raises its own TimeoutError, or asyncio's (the
                # built-in) when the pull request itself times out: both mean "ask again".
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a lost connection: the client reconnects; try again shortly
                log.warning("Fetching for role %s failed: %s: %s", consumer.role, type(exc).__name__, exc)
                await asyncio.sleep(1)
                continue
            finally:
                consumer.fetching = False
            # The batch goes to the role's thread in one hop (a hop per message cost more CPU than
            # the subscriber's own transaction), and comes back when done or once a third of
            # ack_wait has passed: what was delivered is acknowledged, what waits is marked in
            # progress (which restarts its ack wait), so a slow batch is never redelivered to
            # another process of the role meanwhile. A process killed before the acks has those
            # messages redelivered, and the subscribers drop them.
            loop = asyncio.get_running_loop()
            done = 0
            while done < len(batch) and not self._stopping.is_set():
                outcomes = await loop.run_in_executor(
                    consumer.executor, self._deliver_batch, consumer.role, batch[done:]
                )
                for msg, (message, error) in zip(batch[done:], outcomes, strict=False):
                    await self._settle(consumer, msg, message, error)
                done += len(outcomes)
                if done < len(batch) and not self._stopping.is_set():
                    for waiting in batch[done:]:
                        await waiting.in_progress()
            for rest in batch[done:]:
                await rest.nak()  # the bus is stopping: give the rest back at once rather than after ack_wait

    def _deliver_batch(self, role: str, batch: list[Msg]) -> list[tuple[Message | None, Exception | None]]:
        # In the role's thread: deliver messages in order until the bus stops or the time is up
        # (at least one); report each outcome (the message, None when the role does not follow
        # it; the error, None when delivered).
        outcomes: list[tuple[Message | None, Exception | None]] = []
        deadline = time.monotonic() + self.ack_wait.total_seconds() / 3
        for msg in batch:
            if self._stopping.is_set() or (outcomes and time.monotonic() > deadline):
                break
            routed_role, event_type = type_of_subject(self.prefix, msg.subject)
            targets = (
                [s for s in self._table.of_type(event_type) if s.role == role]
                if event_type is not None and routed_role in (None, role)
                else []
            )
            if not targets:
                # Dead letters, another role's retries, or a type this role does not follow.
                outcomes.append((None, None))
                continue
            assert event_type is not None
            message = self._message_of(msg, event_type)
            try:
                deliver_to_each(targets, message)
            except Exception as exc:
                outcomes.append((message, exc))
            else:
                outcomes.append((message, None))
        return outcomes

    async def _settle(self, consumer: _Consumer, msg: Msg, message: Message | None, error: Exception | None) -> None:
        if error is None:
            await msg.ack()
            return
        assert message is not None
        deliveries = msg.metadata.num_delivered
        # An event waiting for its predecessor is kept much longer than a failure: after a crash
        # the predecessor comes back only once its ack wait is over, maybe after max_deliver
        # quick retries of this one.
        parked = only_later(error) and _age(msg) < PARK_LIMIT
        if deliveries < self.max_deliver or parked:
            delay = retry_delay(self.first_retry_delay, deliveries)
            log.warning(
                "Role %s failed on %s %s (delivery %d of %d); again in %.1f s: %s",
                consumer.role, message.type, message.id, deliveries, self.max_deliver, delay, error,
            )  # fmt: skip
            await msg.nak(delay=delay)
            return
        await self._dead_letter(consumer.role, msg, message, error)

    async def _dead_letter(self, role: str, msg: Msg, message: Message, exc: Exception) -> None:
        metadata = msg.metadata
        sequence = metadata.sequence.stream
        error = exc.details if isinstance(exc, DeliveryFailed) else f"{type(exc).__name__}: {exc}"
        headers = {
            # One dead letter per failed stored message, even if this process dies before term().
            MSG_ID_HEADER: f"{message.id}.{DEAD}.{role}.{sequence}",
            EVENT_ID_HEADER: message.id,
            ROLE_HEADER: role,
            SUBJECT_HEADER: msg.subject,
            SEQUENCE_HEADER: str(sequence),
            DELIVERIES_HEADER: str(metadata.num_delivered),
            ERROR_HEADER: _one_line(error),
        }
        try:
            js = await self._jetstream()
            await js.publish(dead_subject(self.prefix, role), msg.data, headers=headers, stream=self.stream)
        except Exception:
            # Not stored as a dead letter: keep the original, and try again later.
            log.warning("Could not dead-letter %s %s for %s", message.type, message.id, role, exc_info=True)
            await msg.nak(delay=retry_delay(self.first_retry_delay, metadata.num_delivered))
            return
        log.error(
            "Role %s gave up on %s %s after %d deliveries; dead letter on %s: %s",
            role, message.type, message.id, metadata.num_delivered, dead_subject(self.prefix, role), exc,
        )  # fmt: skip
        await msg.term()

    def _message_of(self, msg: Msg, event_type: str) -> Message:
        headers = msg.headers or {}
        event_id = headers.get(EVENT_ID_HEADER) or headers.get(MSG_ID_HEADER) or ""
        return Message(id=event_id, type=event_type, body=msg.data.decode())

    async def _shutdown(self) -> None:
        self._stopping.set()
        # A consumer waiting on a pull holds nothing: stop it now. One handling a message
        # finishes it (ack or nak), gives the rest of its batch back and ends.
        for consumer in self._consumers:
            if consumer.task is not None and consumer.fetching:
                consumer.task.cancel()
        tasks = [consumer.task for consumer in self._consumers if consumer.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._nc is not None:
            try:
                await self._nc.flush(timeout=int(max(self.connect_timeout, 1)))
            except Exception:  # acks not flushed are redelivered and dropped as duplicates
                log.debug("Flushing NATS before closing failed", exc_info=True)
            await self._nc.close()

    # --- dead letters, retries, replay (coroutines) ----------------------------------------------------

    async def _dead_letters(self, subject: str, limit: int) -> list[DeadLetter]:
        js = await self._jetstream()
        letters: list[DeadLetter] = []
        sequence = 1
        while len(letters) < limit:
            try:
                raw = await js.get_msg(self.stream, seq=sequence, subject=subject, next=True)
            except nats.js.errors.NotFoundError:
                break
            headers = raw.headers or {}
            role, _ = type_of_subject(self.prefix, raw.subject or "")
            _, event_type = type_of_subject(self.prefix, headers.get(SUBJECT_HEADER, ""))
            letters.append(
                DeadLetter(
                    sequence=raw.seq or sequence,
                    role=role or headers.get(ROLE_HEADER, ""),
                    event_id=headers.get(EVENT_ID_HEADER, ""),
                    event_type=event_type or "",
                    error=headers.get(ERROR_HEADER, ""),
                    deliveries=int(headers.get(DELIVERIES_HEADER, "0") or 0),
                    original_sequence=int(headers.get(SEQUENCE_HEADER, "0") or 0),
                    time=raw.time,
                    body=(raw.data or b"").decode(),
                )
            )
            sequence = (raw.seq or sequence) + 1
        return letters

    async def _retry(self, letters: list[DeadLetter]) -> None:
        js = await self._jetstream()
        for letter in letters:
            headers = {
                MSG_ID_HEADER: f"{letter.event_id}.retry.{letter.role}.{letter.sequence}",
                EVENT_ID_HEADER: letter.event_id,
            }
            await js.publish(
                retry_subject(self.prefix, letter.role, letter.event_type),
                letter.body.encode(),
                headers=headers,
                stream=self.stream,
            )
            # After the retry is stored: a crash in between leaves the letter listed, and retrying
            # it again is dropped by the duplicate window or by the subscribers.
            await js.delete_msg(self.stream, letter.sequence)

    async def _replay_consumer(
        self,
        filter_subject: str,
        start_sequence: int | None,
        start_time: datetime | None,
        end_sequence: int | None,
    ) -> tuple[JetStreamContext.PullSubscription, int | None]:
        js = await self._jetstream()
        info = await js.stream_info(self.stream)
        end = info.state.last_seq if end_sequence is None else end_sequence
        config = api.ConsumerConfig(
            description="EventHive replay",
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE
            if start_sequence is not None
            else api.DeliverPolicy.BY_START_TIME,
            opt_start_seq=start_sequence,
            opt_start_time=start_time.astimezone(UTC) if start_time is not None else None,
            ack_policy=api.AckPolicy.NONE,
            filter_subject=filter_subject,
            inactive_threshold=max(self.ack_wait.total_seconds(), 60.0),
        )
        created = await js.add_consumer(self.stream, config)
        pull = await js.pull_subscribe_bind(consumer=created.name, stream=self.stream)
        return pull, end

    async def _fetch_for_replay(self, pull: JetStreamContext.PullSubscription) -> list[Msg]:
        try:
            return await pull.fetch(self.batch_size, timeout=1.0)
        except nats.errors.TimeoutError:
            return []

    async def _drop_consumer(self, pull: JetStreamContext.PullSubscription) -> None:
        js = await self._jetstream()
        info = await pull.consumer_info()
        await pull.unsubscribe()
        await js.delete_consumer(self.stream, info.name)


def _stream_differences(found: api.StreamConfig, wanted: api.StreamConfig) -> list[str]:
    differences = []
    if sorted(found.subjects or []) != sorted(wanted.subjects or []):
        differences.append(f"subjects {found.subjects} (needs {wanted.subjects})")
    if found.retention != wanted.retention:
        differences.append(f"retention {_name(found.retention)} (needs {_name(wanted.retention)})")
    if found.storage != wanted.storage:
        differences.append(f"storage {_name(found.storage)} (needs {_name(wanted.storage)})")
    if abs((found.duplicate_window or 0) - wanted.duplicate_window) > 0.001:
        differences.append(
            f"duplicate window {found.duplicate_window:g} s (needs {wanted.duplicate_window:g} s, "
            "EVENTHIVE_NATS_DUPLICATE_WINDOW)"
        )
    return differences


def _consumer_differences(found: api.ConsumerConfig, wanted: api.ConsumerConfig) -> list[str]:
    differences = []
    for name in ("ack_policy", "ack_wait", "max_deliver", "filter_subject", "deliver_policy", "max_ack_pending"):
        have, want = getattr(found, name), getattr(wanted, name)
        if isinstance(want, float) and isinstance(have, int | float):
            if abs(have - want) > 0.001:
                differences.append(f"{name} {have:g} (wanted {want:g})")
        elif have != want:
            differences.append(f"{name} {_name(have)} (wanted {_name(want)})")
    return differences


def _name(value: object) -> str:
    return str(getattr(value, "value", value))
