"""The nats bus across processes: several consumers of a role, a consumer killed mid-batch, a relay killed.

The consumers are ``nats_worker.py`` processes on a PostgreSQL replica database; their subscriber
records one row per application under a fresh id, so an event applied twice would show two rows.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from eventhive_core import CreateTicket, Hive, SignUp
from eventhive_core.service_layer.relay import LEASE

from .conftest import NatsWorker, stored, wait_until
from .helpers import Recorder, nats_hive

pytestmark = pytest.mark.postgres

APPLIED_TYPE = "tests:applied"


def applied_rows(url: str) -> Counter[str]:
    """Event id -> how many times the replica applied it (its rows of type tests:applied)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT body FROM outbox WHERE type = :t"), {"t": APPLIED_TYPE})
            return Counter(body for (body,) in rows)
    finally:
        engine.dispose()


def attempts(log: Path) -> list[tuple[int, str]]:
    if not log.exists():
        return []
    return [(int(pid), event_id) for pid, event_id in (line.split() for line in log.read_text().splitlines())]


def list_and_relay(hive: Hive, count: int) -> None:
    seller = hive.handle(SignUp(email="seller@example.com", password="password")).user.id
    for n in range(count):
        hive.handle(CreateTicket(owner_id=seller, title=f"Gig {n}", price="10"))
    assert hive.relay_outbox() == count


def test_two_processes_of_one_role_share_its_events_and_apply_each_once(
    sqlite_url: str,
    clean_postgres_url: str,
    nats_url: str,
    nats_prefix: str,
    workers: Callable[..., NatsWorker],
    tmp_path: Path,
) -> None:
    log = tmp_path / "attempts.log"
    started = [workers("consume", clean_postgres_url, nats_url, nats_prefix, "replica", str(log), "0.02")]
    started.append(workers("consume", clean_postgres_url, nats_url, nats_prefix, "replica", str(log), "0.02"))
    for worker in started:
        assert "ready" in worker.receive()
    with nats_hive(sqlite_url, nats_url, nats_prefix) as publisher:
        list_and_relay(publisher, 60)
    wait_until(lambda: len(applied_rows(clean_postgres_url)) == 60, timeout=60, what="60 events applied")
    rows = applied_rows(clean_postgres_url)
    assert set(rows.values()) == {1}
    by_pid = Counter(pid for pid, _ in attempts(log))
    assert set(by_pid) == {worker.pid for worker in started}, by_pid  # both did work


def test_a_consumer_killed_in_the_middle_of_a_batch_loses_nothing_and_applies_nothing_twice(
    sqlite_url: str,
    clean_postgres_url: str,
    nats_url: str,
    nats_prefix: str,
    workers: Callable[..., NatsWorker],
    tmp_path: Path,
) -> None:
    log = tmp_path / "attempts.log"
    first = workers("consume", clean_postgres_url, nats_url, nats_prefix, "replica", str(log), "0.05")
    assert "ready" in first.receive()
    with nats_hive(sqlite_url, nats_url, nats_prefix) as publisher:
        list_and_relay(publisher, 60)
    wait_until(lambda: len(applied_rows(clean_postgres_url)) >= 15, timeout=60, what="a few events applied")
    first.kill()
    assert first.process.returncode == -signal.SIGKILL
    done_by_first = len(applied_rows(clean_postgres_url))
    assert done_by_first < 60  # killed with work left, in the middle of a batch of 10
    second = workers("consume", clean_postgres_url, nats_url, nats_prefix, "replica", str(log), "0")
    assert "ready" in second.receive()
    wait_until(lambda: len(applied_rows(clean_postgres_url)) == 60, timeout=60, what="all 60 events applied")
    assert set(applied_rows(clean_postgres_url).values()) == {1}
    assert {pid for pid, _ in attempts(log)} == {first.pid, second.pid}


class LaterClock:
    """The system clock, ``ahead`` in the future: a relay restarted after the dead one's claim ran out."""

    def __init__(self, ahead: timedelta) -> None:
        self.ahead = ahead

    def now(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@pytest.mark.parametrize("when", ["after_commit", "after_ack"])
def test_a_relay_killed_between_the_commit_and_the_publish_ack_publishes_the_event_once_after_restart(
    when: str,
    sqlite_url: str,
    nats_url: str,
    nats_prefix: str,
    workers: Callable[..., NatsWorker],
    tmp_path: Path,
) -> None:
    relay = workers("publish", sqlite_url, nats_url, nats_prefix, when)
    assert "committed" in relay.receive()
    if when == "after_commit":
        relay.kill()
        assert stored(nats_url, nats_prefix, "ticket.created") == []
    else:
        relay.process.wait(30)  # it kills itself once JetStream acknowledged
        assert len(stored(nats_url, nats_prefix, "ticket.created")) == 1
    assert relay.process.returncode == -signal.SIGKILL

    recorder = Recorder("tests.audit", "ticket:created", "audit")
    restarted = nats_hive(sqlite_url, nats_url, nats_prefix, recorder, clock=LaterClock(LEASE + timedelta(seconds=1)))
    with restarted:
        assert restarted.relay_outbox() == 1
        assert restarted.relay_outbox() == 0
        [(_, headers, _)] = stored(nats_url, nats_prefix, "ticket.created")
        restarted.start(background=False)
        wait_until(lambda: len(recorder.applied) == 1, what="the event")
        assert list(recorder.applied) == [headers["Nats-Msg-Id"]]
        with restarted.uow() as uow:
            assert uow.outbox.pending() == 0
