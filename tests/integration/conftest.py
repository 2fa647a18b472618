"""Fixtures for the multi-process tests: a database of each kind and a pool of Hive worker processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from eventhive_core import Hive

WORKER = Path(__file__).with_name("hive_worker.py")
#: Worker processes racing in every round.
WORKERS = 16
SRC = Path(__file__).parents[2] / "src"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database: a SQLite file, then the session's PostgreSQL database."""
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "clean_postgres_url"))


class Worker:
    """One worker process (see hive_worker.py)."""

    def __init__(self, url: str, ttl: float, env: dict[str, str] | None = None) -> None:
        env = {
            **os.environ,
            **(env or {}),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
        }
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), url, str(ttl)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.pid} died (exit code {self.process.wait(5)})")
        return dict(json.loads(line))

    def ask_to_quit(self) -> None:
        if self.process.poll() is None:
            try:
                self.send(op="quit")
            except OSError:
                self.process.kill()

    def stop(self) -> None:
        self.ask_to_quit()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


class Workers:
    """A pool of worker processes that start each command at (nearly) the same moment."""

    def __init__(self, url: str, count: int, ttl: float = 60.0, env: dict[str, str] | None = None) -> None:
        self.all = [Worker(url, ttl, env) for _ in range(count)]
        try:
            for worker in self.all:
                assert "ready" in worker.receive()
        except BaseException:
            self.stop()
            raise

    def run(self, commands: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send one command per worker (all sent before any answer is read); return the answers in order."""
        for worker, command in zip(self.all, commands, strict=True):
            worker.send(**command)
        return [worker.receive() for worker in self.all]

    def stop(self) -> None:
        for worker in self.all:
            worker.ask_to_quit()
        for worker in self.all:
            worker.stop()


@dataclass
class RaceArena:
    """A database of one kind shared by the race tests, with a parent Hive and 16 worker processes.

    Starting 16 Python processes costs seconds on a busy 2-core machine, so they are started
    once per backend and session; every round of every test works on its own new ticket.
    """

    url: str
    hive: Hive
    workers: Workers
    seller: str
    filler: str
    users: list[str]


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def arena(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RaceArena]:
    """The race arena of each backend: a SQLite file, then a private PostgreSQL database."""
    from eventhive_core import SignUp
    from eventhive_core.adapters.sqlalchemy import upgrade
    from eventhive_core.clock import SystemClock
    from eventhive_core.testing.hives import make_test_hive

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('race') / 'race.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_database_factory")()
    upgrade(url)
    hive = make_test_hive(SystemClock(), storage="sqlalchemy", database_url=url)

    def sign_up(name: str) -> str:
        return hive.handle(SignUp(email=f"{name}@example.com", password="password")).user.id

    workers = Workers(url, WORKERS)
    try:
        yield RaceArena(url, hive, workers, sign_up("seller"), sign_up("filler"), [sign_up(f"u{n}") for n in range(16)])
    finally:
        workers.stop()
        hive.close()


def ticket_units(url: str, ticket_id: str) -> dict[str, int]:
    """Read a ticket's counters (summed over its stripes) and recount its holds and sales from its orders.

    Holds are recounted ignoring expiry. ``stripes_consistent`` tells whether every stripe's own
    counters equal what its orders hold and sold, and its share stays within bounds.
    """
    from eventhive_core.adapters.sqlalchemy.tables import orders, ticket_stripes, tickets

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    stripe = ticket_stripes.c
    try:
        with engine.connect() as conn:
            columns = (
                tickets.c.capacity,
                sa.select(sa.func.sum(stripe.held)).where(stripe.ticket_id == tickets.c.id).scalar_subquery(),
                sa.select(sa.func.sum(stripe.sold)).where(stripe.ticket_id == tickets.c.id).scalar_subquery(),
                sa.select(sa.func.sum(stripe.capacity)).where(stripe.ticket_id == tickets.c.id).scalar_subquery(),
            )
            capacity, held, sold, shared = conn.execute(sa.select(*columns).where(tickets.c.id == ticket_id)).one()
            per_stripe = conn.execute(
                sa.select(stripe.stripe, stripe.capacity, stripe.held, stripe.sold).where(stripe.ticket_id == ticket_id)
            ).all()
            by_stripe: dict[tuple[int, str], int] = {
                (row.stripe, row.status): int(row.units)
                for row in conn.execute(
                    sa.select(orders.c.stripe, orders.c.status, sa.func.sum(orders.c.quantity).label("units"))
                    .where(orders.c.ticket_id == ticket_id)
                    .group_by(orders.c.stripe, orders.c.status)
                )
            }
            counted = dict(
                conn.execute(
                    sa.select(orders.c.status, sa.func.sum(orders.c.quantity))
                    .where(orders.c.ticket_id == ticket_id)
                    .group_by(orders.c.status)
                ).all()
            )
    finally:
        engine.dispose()
    stripes_consistent = shared == capacity and all(
        row.held == by_stripe.get((row.stripe, "created"), 0) + by_stripe.get((row.stripe, "awaiting:payment"), 0)
        and row.sold == by_stripe.get((row.stripe, "complete"), 0)
        and 0 <= row.held + row.sold <= row.capacity
        for row in per_stripe
    )
    return {
        "capacity": capacity,
        "units_held": int(held),
        "units_sold": int(sold),
        "orders_holding": int(counted.get("created", 0) + counted.get("awaiting:payment", 0)),
        "orders_complete": int(counted.get("complete", 0)),
        "stripes": len(per_stripe),
        "stripes_consistent": stripes_consistent,
    }
