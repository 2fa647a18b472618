"""Expiry lag on Celery: how long after ``expires_at`` a real worker cancels each hold.

Places 10,000 holds on PostgreSQL whose TTLs are chosen so that their ``expires_at`` spread
uniformly over a 30 s window, which opens once all of them can have been placed and scheduled (a
warm-up measures how fast this machine does that). This process is the "web" side: its Hive runs
the outbox relay, whose ``schedule_expiry`` subscriber sends one ``eventhive.expire_order`` ETA task
per hold to Redis, after the commit. One ``eventhive worker --pool threads --concurrency 2``
process consumes them; there is no beat and no sweeper, so what is measured is the ETA path alone,
and a hold it misses stays missed ("never expired" counts the holds still open 30 s after the
window closed). ``expired_per_s`` is the worker's rate from the first due hold to the last
cancellation, and ``load_average_1m`` the machine's load before and after (other work on a shared
machine shows there).

The lag of a hold is the commit time of its ``order:cancelled`` event (the worker's clock) minus
its ``expires_at``; both clocks are this machine's. The grace added to the ETA is 0 here
(``--grace``; deployments default to 2 s, which every figure would then include).

Usage: ``python benchmarks/expiry_lag.py [--holds 10000] [--spread 30] [--grace 0] [--workers 1]
[--url PG_URL] [--redis REDIS_URL]`` (``EVENTHIVE_BENCH_PG_URL`` / ``EVENTHIVE_BENCH_REDIS_URL`` also
set the servers). Needs PostgreSQL and Redis; uses its own database and Redis key prefix and
removes both. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _postgres import psycopg_dsn  # benchmarks/ is on sys.path when a script runs

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
JWT_SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
TARGET_P99_S = 1.0


class SpreadTtl:
    """A plugin choosing each hold's TTL so that the holds' ``expires_at`` spread uniformly over a window.

    Until :meth:`open_window` is called every hold gets ``warmup_ttl`` (the warm-up's holds).
    """

    from eventhive_core import hookimpl

    def __init__(self, spread: float, seed: int, warmup_ttl: float = 3600.0) -> None:
        self.spread = spread
        self.warmup_ttl = warmup_ttl
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.window_start: datetime | None = None

    def open_window(self, start: datetime) -> None:
        self.window_start = start

    @hookimpl
    def eventhive_reservation_ttl(self, ticket: Any, quantity: int, settings: Any) -> timedelta:
        with self.lock:
            if self.window_start is None:
                return timedelta(seconds=self.warmup_ttl)
            due = self.window_start + timedelta(seconds=self.spread * self.random.random())
        return max(timedelta(seconds=1), due - datetime.now(UTC))


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _settings(url: str, redis_url: str, queue: str, prefix: str, grace: float) -> dict[str, Any]:
    options = {"queue": queue, "broker_url": redis_url, "transport_options": {"global_keyprefix": prefix}}
    return {
        "storage": "sqlalchemy",
        "database_url": url,
        "scheduler": "celery",
        "scheduler_options": options,
        "event_bus": "inprocess",
        "expiry_grace": grace,
        "sweep_interval": 86400,
        "outbox_poll_interval": 0.2,
        "outbox_batch_size": 500,
        "jwt_secret": JWT_SECRET,
    }


def _start_worker(settings: dict[str, Any], redis_url: str, log: Path, name: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTHIVE_", "CELERY_"))}
    for key, value in settings.items():
        env[f"EVENTHIVE_{key.upper()}"] = json.dumps(value) if isinstance(value, dict) else str(value)
    env["CELERY_BROKER_URL"] = redis_url
    command = [
        str(Path(sys.executable).with_name("eventhive")),
        "worker",
        "--hostname",
        f"{name}@%h",
        "--concurrency",
        "2",
        "--loglevel",
        os.environ.get("EVENTHIVE_BENCH_WORKER_LOGLEVEL", "WARNING"),
    ]
    with log.open("wb") as out:
        worker = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return worker


def _wait_ready(worker: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    # At WARNING the worker prints its banner and little else: the queue list means it is about to consume.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit(f"the worker exited with {worker.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        if "[queues]" in log.read_text(errors="replace"):
            time.sleep(1.0)
            return
        time.sleep(0.1)
    raise SystemExit(f"the worker did not start within {timeout} s:\n{log.read_text(errors='replace')[-3000:]}")


def _scalar(url: str, sql: str, **params: Any) -> Any:
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar_one()
    finally:
        engine.dispose()


def _results(url: str, tickets: list[str]) -> dict[str, Any]:
    """Lag of each cancelled hold of ``tickets``, holds never cancelled, holds whose ETA task left late."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            orders = {
                row.id: row
                for row in conn.execute(
                    sa.text("SELECT id, status, expires_at FROM orders WHERE ticket_id = ANY(:t)"), {"t": tickets}
                )
            }
            outbox = conn.execute(
                sa.text(
                    "SELECT type, body, occurred_at, sent_at FROM outbox "
                    "WHERE type IN ('order:cancelled', 'order:created')"
                )
            ).all()
    finally:
        engine.dispose()
    lags: list[float] = []
    cancelled_at: list[datetime] = []
    late = 0
    for kind, body, occurred_at, sent_at in outbox:
        order = orders.get(json.loads(body)["data"]["id"])
        if order is None:
            continue
        if kind == "order:cancelled":
            lags.append((occurred_at - order.expires_at).total_seconds())
            cancelled_at.append(occurred_at)
        elif sent_at is None or sent_at > order.expires_at:
            late += 1
    never = sum(1 for order in orders.values() if order.status in ("created", "awaiting:payment"))
    first_due = min((order.expires_at for order in orders.values()), default=None)
    busy = (max(cancelled_at) - first_due).total_seconds() if cancelled_at and first_due else 0.0
    return {
        "lags": lags,
        "never": never,
        "total": len(orders),
        "scheduled_late": late,
        "per_s": len(cancelled_at) / busy if busy > 0 else None,
    }


def _place(hive: Any, buyer: str, tickets: list[str], count: int, threads: int) -> float:
    from eventhive_core import PlaceOrder

    started = time.perf_counter()
    errors: list[BaseException] = []

    def place(share: range) -> None:
        try:
            for n in share:
                hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=tickets[n % len(tickets)]))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=place, args=(range(i, count, threads),)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holds", type=int, default=10_000)
    parser.add_argument("--spread", type=float, default=30.0, help="TTLs are spread uniformly over this many seconds")
    parser.add_argument(
        "--min-lead", type=float, default=10.0, help="seconds at least between the start of placing and the window"
    )
    parser.add_argument("--grace", type=float, default=0.0, help="seconds added to each ETA")
    parser.add_argument("--place-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (each with 2 threads)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--url", default=os.environ.get("EVENTHIVE_BENCH_PG_URL", DEFAULT_URL))
    parser.add_argument("--redis", default=os.environ.get("EVENTHIVE_BENCH_REDIS_URL", DEFAULT_REDIS))
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    import psycopg
    import redis
    from sqlalchemy.engine import make_url

    from eventhive_core import CreateTicket, HiveSettings, SignUp, bootstrap
    from eventhive_core.adapters.sqlalchemy import upgrade

    run = secrets.token_hex(4)
    name, queue, prefix = f"eventhive_bench_{run}", f"eventhive-bench-{run}", f"eventhive-bench-{run}:"
    admin = psycopg_dsn(args.url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.url).set(database=name).render_as_string(hide_password=False)
    logs = [Path(f"/tmp/{queue}-{n}.log") for n in range(args.workers)]
    workers: list[subprocess.Popen[bytes]] = []
    try:
        print(f"database {name}: migrating", file=sys.stderr)
        upgrade(url)
        settings = _settings(url, args.redis, queue, prefix, args.grace)
        for n, log in enumerate(logs):
            workers.append(_start_worker(settings, args.redis, log, f"bench{n}-{run}"))
        for worker, log in zip(workers, logs, strict=True):
            _wait_ready(worker, log)
        ttl = SpreadTtl(args.spread, args.seed)
        with bootstrap(HiveSettings(**settings), plugins=[ttl]) as hive:
            seller = hive.handle(SignUp(email="seller@example.com", password="password")).user.id
            buyer = hive.handle(SignUp(email="buyer@example.com", password="password")).user.id

            def tickets(count: int) -> list[str]:
                return [
                    hive.handle(CreateTicket(owner_id=seller, title=f"Gig {n}", price="10", capacity=1000)).id
                    for n in range(count)
                ]

            # The relay thread publishes order:created after each commit; schedule_expiry sends the ETA task.
            hive.start(background=True)
            # Warm-up: how fast this machine places and schedules holds (their expiries are an hour away).
            warmup = max(50, args.holds // 50)
            warm_ticket = tickets(1)
            warm_started = time.perf_counter()
            _place(hive, buyer, warm_ticket, warmup, args.place_threads)
            while _scalar(url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") > 0:
                time.sleep(0.05)
            per_hold = (time.perf_counter() - warm_started) / warmup
            lead = max(args.min_lead, 1.5 * per_hold * args.holds)
            window = datetime.now(UTC) + timedelta(seconds=lead)
            ttl.open_window(window)
            print(
                f"placing {args.holds} holds ({per_hold * 1000:.1f} ms each in the warm-up); they expire "
                f"from {lead:.0f} s to {lead + args.spread:.0f} s from now",
                file=sys.stderr,
            )
            measured = tickets(args.holds // 1000 + 1)
            placed_in = _place(hive, buyer, measured, args.holds, args.place_threads)
            print(f"placed in {placed_in:.1f} s; waiting for the expiries", file=sys.stderr)
            deadline = time.monotonic() + (window - datetime.now(UTC)).total_seconds() + args.spread + 30
            open_sql = "SELECT count(*) FROM orders WHERE status = 'created' AND ticket_id = ANY(:t)"
            while time.monotonic() < deadline and _scalar(url, open_sql, t=measured) > 0:
                time.sleep(0.5)
            # Let the relay publish the last cancellations' events (not needed for the figures).
            time.sleep(1.0)
            results = _results(url, measured)
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        client = redis.Redis.from_url(args.redis)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    lags = results["lags"]
    p99 = _percentile(lags, 0.99) if lags else float("nan")
    report = {
        "benchmark": "expiry_lag",
        "holds": results["total"],
        "expiry_window_s": args.spread,
        "grace_s": args.grace,
        "broker": "redis",
        "worker": f"{args.workers} x eventhive worker --pool threads --concurrency 2",
        "placed_in_s": round(placed_in, 2),
        "p50_lag_s": round(statistics.median(lags), 3) if lags else None,
        "p99_lag_s": round(p99, 3) if lags else None,
        "max_lag_s": round(max(lags), 3) if lags else None,
        "min_lag_s": round(min(lags), 3) if lags else None,
        "never_expired": results["never"],
        "expired_per_s": round(results["per_s"], 1) if results["per_s"] else None,
        "eta_sent_after_expiry": results["scheduled_late"],
        "target_p99_s": TARGET_P99_S,
        "ratio_to_target": round(p99 / TARGET_P99_S, 3) if lags else None,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_1m": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
