"""Events per second through the NATS bus end to end: EventHive's relay and consumer against raw nats-py.

Core: a publisher process runs the outbox relay of a Hive on PostgreSQL with the ``nats`` bus
(claim a batch of outbox rows, publish each with ``Nats-Msg-Id`` and await JetStream's ack,
mark them sent), draining a backlog of ``ticket:created`` events written to the outbox before
the phase; a consumer process runs a second Hive's durable pull consumer for one role, whose
subscriber does nothing but is delivered the usual way (parse the envelope against its
contract, record the event id in ``processed_messages``, commit, then ack).

Baseline: a raw nats-py loop doing the same durable work on the same NATS server and database:
one process publishes the same envelopes with ``Nats-Msg-Id`` and awaits each ack; another pulls
from a durable consumer (same batch size), inserts the message id into ``processed_messages``
and commits, one transaction per message, then acks.

Throughput is rows committed in ``processed_messages`` per second during the phase, counted
by the parent process from the database. Phases alternate (baseline, core, baseline, core...) on
one database to even out a noisy machine; each side reports the median of its phases. The run
uses its own database and its own subject prefix per phase (each phase's stream is deleted
after it), and drops the database at the end.

Usage: ``python benchmarks/bus_throughput.py [--seconds 4] [--rounds 3] [--backlog 60000]
[--url URL] [--nats URL]`` (``EVENTHIVE_BENCH_PG_URL`` and ``EVENTHIVE_BENCH_NATS_URL`` also set
the servers). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

from _machine import cpu_model, load_average
from _postgres import psycopg_dsn, scratch_database  # benchmarks/ is on sys.path when a script runs

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_NATS = "nats://127.0.0.1:4222"
JWT_SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
ROLE = "bench"
CORE_SUBSCRIBER = "bench.core"
RAW_SUBSCRIBER = "bench.raw"
EVENT_TYPE = "ticket:created"
TARGET_RATIO = 0.5


def _hive(url: str, nats_url: str, prefix: str, batch_size: int, *plugins: object, **settings: Any) -> Any:
    from eventhive_core import HiveSettings, bootstrap

    return bootstrap(
        HiveSettings(
            storage="sqlalchemy",
            database_url=url,
            storage_options={"migrate": "off"},
            scheduler="none",
            jwt_secret=JWT_SECRET,
            load_plugins=(),
            event_bus="nats",
            nats_url=nats_url,
            nats_prefix=prefix,
            nats_batch_size=batch_size,
            **settings,
        ),
        plugins=plugins,
    )


def _envelope_body(event_id: str) -> str:
    """One ``ticket:created`` envelope, as the outbox stores it."""
    from eventhive_core.contracts.codec import to_envelope
    from eventhive_core.domain.events import TicketCreated

    event = TicketCreated(
        id=event_id, version=0, title="Bench", price_minor=1000, currency="USD", capacity=100, owner_id=event_id
    )
    return to_envelope(event, producer="bench", occurred_at=datetime.now(UTC), event_id=event_id).to_json()


def _fill_outbox(url: str, count: int) -> None:
    import psycopg

    from eventhive_core.domain.ids import new_id

    now = datetime.now(UTC)
    rows = []
    for _ in range(count):
        event_id = new_id()
        rows.append((event_id, EVENT_TYPE, _envelope_body(event_id), now))
    copy_rows = "COPY outbox (id, type, body, occurred_at, attempts, dead) FROM STDIN"
    with psycopg.connect(psycopg_dsn(url)) as conn, conn.cursor() as cur, cur.copy(copy_rows) as copy:
        for row in rows:
            copy.write_row((*row, 0, False))


# --- core ----------------------------------------------------------------------------------------


def _core_publisher(url: str, nats_url: str, prefix: str, batch: int, ready: Any, go: Any, stop: Any) -> None:
    hive = _hive(url, nats_url, prefix, batch)
    hive.bus._run(hive.bus._jetstream(), 10)  # connect and create the stream before the clock starts
    ready.release()
    go.wait()
    while not stop.is_set():
        if hive.relay_once() == 0:
            time.sleep(0.01)
    hive.close()


def _core_consumer(url: str, nats_url: str, prefix: str, batch: int, ready: Any, go: Any, stop: Any) -> None:
    from eventhive_core import hookimpl

    class Noop:
        @hookimpl
        def eventhive_register_subscribers(self, register: Any) -> None:
            register(CORE_SUBSCRIBER, EVENT_TYPE, ROLE, lambda envelope, uow: None)

    hive = _hive(url, nats_url, prefix, batch, Noop(), nats_roles=(ROLE,))
    hive.start(background=False)  # the consumer only: this process relays nothing
    ready.release()
    go.wait()
    stop.wait()
    hive.close()


# --- baseline: raw nats-py ---------------------------------------------------------------------


async def _raw_publish(nats_url: str, prefix: str, ready: Any, go: Any, stop: Any) -> None:
    import nats

    from eventhive_core.domain.ids import new_id

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    stream = prefix.upper()
    await js.add_stream(name=stream, subjects=[f"{prefix}.>"], duplicate_window=120)
    subject = f"{prefix}.ticket.created"
    ready.release()
    await asyncio.get_running_loop().run_in_executor(None, go.wait)
    while not stop.is_set():
        event_id = new_id()
        body = _envelope_body(event_id).encode()
        await js.publish(subject, body, headers={"Nats-Msg-Id": event_id}, stream=stream)
    await nc.close()


async def _raw_consume(url: str, nats_url: str, prefix: str, batch: int, ready: Any, go: Any, stop: Any) -> None:
    import nats
    import nats.errors
    import psycopg
    from nats.js import api

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    stream = prefix.upper()
    for _ in range(100):  # the publisher creates the stream
        try:
            await js.stream_info(stream)
            break
        except nats.js.errors.NotFoundError:
            await asyncio.sleep(0.05)
    durable = f"{prefix}_raw"
    await js.add_consumer(
        stream,
        api.ConsumerConfig(
            durable_name=durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=30,
            filter_subject=f"{prefix}.>",
            max_ack_pending=1000,
        ),
    )
    pull = await js.pull_subscribe_bind(durable=durable, stream=stream)
    insert = "INSERT INTO processed_messages (subscriber, message_id, processed_at) VALUES (%s, %s, %s)"
    with psycopg.connect(psycopg_dsn(url)) as conn:
        ready.release()
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        while not stop.is_set():
            try:
                msgs = await pull.fetch(batch, timeout=1)
            except nats.errors.TimeoutError:
                continue
            for msg in msgs:
                with conn.transaction():
                    conn.execute(insert, (RAW_SUBSCRIBER, (msg.headers or {})["Nats-Msg-Id"], datetime.now(UTC)))
                await msg.ack()
    await nc.close()


def _raw_publisher(nats_url: str, prefix: str, ready: Any, go: Any, stop: Any) -> None:
    asyncio.run(_raw_publish(nats_url, prefix, ready, go, stop))


def _raw_consumer(url: str, nats_url: str, prefix: str, batch: int, ready: Any, go: Any, stop: Any) -> None:
    asyncio.run(_raw_consume(url, nats_url, prefix, batch, ready, go, stop))


# --- phases --------------------------------------------------------------------------------------


def _committed(url: str, subscriber: str) -> int:
    import psycopg

    with psycopg.connect(psycopg_dsn(url)) as conn:
        row = conn.execute("SELECT count(*) FROM processed_messages WHERE subscriber = %s", (subscriber,)).fetchone()
    return int(row[0]) if row else 0


async def _delete_stream(nats_url: str, stream: str) -> None:
    import nats
    import nats.js.errors

    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().delete_stream(stream)
    except nats.js.errors.NotFoundError:
        pass
    finally:
        await nc.close()


def _phase(kind: str, args: argparse.Namespace, url: str, prefix: str) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    ready, go, stop = ctx.Semaphore(0), ctx.Event(), ctx.Event()
    subscriber = CORE_SUBSCRIBER if kind == "core" else RAW_SUBSCRIBER
    if kind == "core":
        _fill_outbox(url, args.backlog)
        procs = [
            ctx.Process(target=_core_publisher, args=(url, args.nats, prefix, args.batch, ready, go, stop)),
            ctx.Process(target=_core_consumer, args=(url, args.nats, prefix, args.batch, ready, go, stop)),
        ]
    else:
        procs = [
            ctx.Process(target=_raw_publisher, args=(args.nats, prefix, ready, go, stop)),
            ctx.Process(target=_raw_consumer, args=(url, args.nats, prefix, args.batch, ready, go, stop)),
        ]
    try:
        for proc in procs:
            proc.start()
        for _ in procs:
            if not ready.acquire(timeout=120):
                raise RuntimeError(f"{kind} processes did not start")
        before = _committed(url, subscriber)
        go.set()
        started = time.perf_counter()
        time.sleep(args.seconds)
        after = _committed(url, subscriber)
        elapsed = time.perf_counter() - started
        stop.set()
        for proc in procs:
            proc.join(60)
            if proc.is_alive():
                proc.kill()
    finally:
        asyncio.run(_delete_stream(args.nats, prefix.upper()))
    drained = False
    if kind == "core":
        import psycopg

        with psycopg.connect(psycopg_dsn(url)) as conn:
            row = conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()
            drained = bool(row) and row[0] == 0
            conn.execute("DELETE FROM outbox")  # the next core phase starts from its own backlog
    return {"per_s": (after - before) / elapsed, "done": after - before, "backlog_drained": drained}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each phase")
    parser.add_argument("--rounds", type=int, default=3, help="phases per side, alternating")
    parser.add_argument("--backlog", type=int, default=60_000, help="outbox rows written before each core phase")
    parser.add_argument("--batch", type=int, default=20, help="messages per pull (EVENTHIVE_NATS_BATCH_SIZE)")
    parser.add_argument("--url", default=os.environ.get("EVENTHIVE_BENCH_PG_URL", DEFAULT_URL))
    parser.add_argument("--nats", default=os.environ.get("EVENTHIVE_BENCH_NATS_URL", DEFAULT_NATS))
    args = parser.parse_args()

    load_start = load_average()
    run = secrets.token_hex(4)
    phases: dict[str, list[dict[str, Any]]] = {"baseline": [], "core": []}
    with scratch_database(args.url) as url:
        for round_no in range(args.rounds):
            for kind in ("baseline", "core"):
                prefix = f"bench_{run}_{round_no}_{kind}"
                result = _phase(kind, args, url, prefix)
                phases[kind].append(result)
                note = " (backlog drained: raise --backlog)" if result["backlog_drained"] else ""
                print(f"round {round_no + 1} {kind}: {result['per_s']:.0f} events/s{note}", file=sys.stderr)
    core = statistics.median(r["per_s"] for r in phases["core"])
    baseline = statistics.median(r["per_s"] for r in phases["baseline"])
    report = {
        "benchmark": "bus_throughput",
        "seconds_per_phase": args.seconds,
        "rounds": args.rounds,
        "batch": args.batch,
        "core_per_s": round(core, 1),
        "baseline_per_s": round(baseline, 1),
        "ratio": round(core / baseline, 3),
        "target_ratio": TARGET_RATIO,
        "core_rounds_per_s": [round(r["per_s"], 1) for r in phases["core"]],
        "baseline_rounds_per_s": [round(r["per_s"], 1) for r in phases["baseline"]],
        "core_backlog_drained": any(r["backlog_drained"] for r in phases["core"]),
        "loadavg_start": load_start,
        "loadavg_end": load_average(),
        "cpu": cpu_model(),
        "nproc": os.cpu_count(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
