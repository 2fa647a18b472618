"""Reservations per second on one hot ticket: EventHive's core API against raw psycopg.

Eight processes place orders for one unit of one large-capacity ticket on PostgreSQL for a few
seconds, first through ``hive.handle(PlaceOrder(...))`` (validation, the atomic conditional
UPDATE, the order row, the ``order:created`` event in the outbox, one transaction), then through a
raw psycopg baseline doing the minimal equivalent SQL in one transaction: the same conditional
UPDATE, an INSERT of the order and an INSERT of its outbox event. Phases alternate (baseline,
core, baseline, core...) on the same database to even out a noisy machine; each side reports
the median of its phases. The run uses its own database and drops it.

Usage: ``python benchmarks/reserve_hot_ticket.py [--processes 8] [--seconds 4] [--url URL]``
(``EVENTHIVE_BENCH_PG_URL`` also sets the server). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from _machine import cpu_model, load_average
from _postgres import psycopg_dsn, scratch_database  # benchmarks/ is on sys.path when a script runs

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
JWT_SECRET = "bench-secret-0123456789abcdef0123456789abcdef"


def _core_worker(url: str, ticket_id: str, buyer_id: str, ready: Any, go: Any, seconds: float, out: Any) -> None:
    from eventhive_core import HiveSettings, PlaceOrder, bootstrap

    hive = bootstrap(HiveSettings(storage="sqlalchemy", database_url=url, scheduler="none", jwt_secret=JWT_SECRET))
    hive.handle(PlaceOrder(buyer_id=buyer_id, ticket_id=ticket_id))  # warm caches and the pool
    ready.release()
    go.wait()
    done, errors, deadline, cpu = 0, 0, time.perf_counter() + seconds, time.process_time()
    while time.perf_counter() < deadline:
        try:
            hive.handle(PlaceOrder(buyer_id=buyer_id, ticket_id=ticket_id))
            done += 1
        except Exception:  # counted: a healthy run has none
            errors += 1
    out.put((done, errors, time.process_time() - cpu))
    hive.close()


_BASELINE_SQL = (
    "UPDATE tickets SET units_held = units_held + 1 WHERE id = %s AND units_held + units_sold + 1 <= capacity",
    "INSERT INTO orders (id, ticket_id, buyer_id, status, quantity, amount_minor, currency, expires_at, created_at, "
    "version) VALUES (%s, %s, %s, 'created', 1, 1000, 'USD', %s, %s, 0)",
    "INSERT INTO outbox (id, type, body, occurred_at, attempts, dead) VALUES (%s, 'order:created', %s, %s, 0, false)",
)


def _baseline_worker(url: str, ticket_id: str, buyer_id: str, ready: Any, go: Any, seconds: float, out: Any) -> None:
    import psycopg

    update, insert_order, insert_event = _BASELINE_SQL
    with psycopg.connect(psycopg_dsn(url)) as conn:
        ready.release()
        go.wait()
        done, errors, deadline, cpu = 0, 0, time.perf_counter() + seconds, time.process_time()
        while time.perf_counter() < deadline:
            now = datetime.now(UTC)
            order_id, event_id = str(uuid.uuid4()), str(uuid.uuid4())
            try:
                with conn.transaction():
                    if conn.execute(update, (ticket_id,)).rowcount != 1:
                        raise RuntimeError("sold out")
                    conn.execute(insert_order, (order_id, ticket_id, buyer_id, now + timedelta(seconds=60), now))
                    conn.execute(insert_event, (event_id, json.dumps({"id": order_id}), now))
                done += 1
            except Exception:
                errors += 1
    out.put((done, errors, time.process_time() - cpu))


def _phase(kind: str, url: str, ticket_id: str, buyers: list[str], seconds: float) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    ready, go, out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    target = _core_worker if kind == "core" else _baseline_worker
    procs = [ctx.Process(target=target, args=(url, ticket_id, b, ready, go, seconds, out)) for b in buyers]
    for proc in procs:
        proc.start()
    for _ in procs:
        if not ready.acquire(timeout=120):
            raise RuntimeError(f"{kind} workers did not start")
    started = time.perf_counter()
    go.set()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.join(30)
    done = sum(r[0] for r in results)
    cpu_ms = sum(r[2] for r in results) * 1000 / max(done, 1)
    return {"per_s": done / elapsed, "done": done, "errors": sum(r[1] for r in results), "client_cpu_ms": cpu_ms}


def _units(url: str, ticket_id: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(psycopg_dsn(url)) as conn:
        capacity, held, sold = conn.execute(
            "SELECT capacity, units_held, units_sold FROM tickets WHERE id = %s", (ticket_id,)
        ).fetchone()
        counted = conn.execute(
            "SELECT coalesce(sum(quantity), 0) FROM orders WHERE ticket_id = %s AND status <> 'cancelled'",
            (ticket_id,),
        ).fetchone()[0]
    return {"capacity": capacity, "held": held, "sold": sold, "counted": int(counted)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3, help="phases per side, alternating")
    parser.add_argument("--url", default=os.environ.get("EVENTHIVE_BENCH_PG_URL", DEFAULT_URL))
    args = parser.parse_args()
    load_start = load_average()

    from eventhive_core import CreateTicket, HiveSettings, SignUp, bootstrap

    with scratch_database(args.url) as url:
        settings = HiveSettings(storage="sqlalchemy", database_url=url, scheduler="none", jwt_secret=JWT_SECRET)
        with bootstrap(settings) as hive:
            seller = hive.handle(SignUp(email="seller@example.com", password="password")).user.id
            buyers = [
                hive.handle(SignUp(email=f"buyer{n}@example.com", password="password")).user.id
                for n in range(args.processes)
            ]
            tickets = {
                kind: hive.handle(CreateTicket(owner_id=seller, title=kind, price="10", capacity=1_000_000)).id
                for kind in ("core", "baseline")
            }
        phases: dict[str, list[dict[str, float]]] = {"baseline": [], "core": []}
        for round_no in range(args.rounds):
            for kind in ("baseline", "core"):
                result = _phase(kind, url, tickets[kind], buyers, args.seconds)
                phases[kind].append(result)
                line = (
                    f"round {round_no + 1} {kind}: {result['per_s']:.0f}/s, client CPU "
                    f"{result['client_cpu_ms']:.2f} ms per reservation ({result['errors']} errors)"
                )
                print(line, file=sys.stderr)
        oversold = 0
        consistent = True
        for ticket_id in tickets.values():
            units = _units(url, ticket_id)
            oversold += max(0, units["counted"] - units["capacity"], units["held"] + units["sold"] - units["capacity"])
            consistent = consistent and units["held"] + units["sold"] == units["counted"]
    core = statistics.median(r["per_s"] for r in phases["core"])
    baseline = statistics.median(r["per_s"] for r in phases["baseline"])
    report = {
        "benchmark": "reserve_hot_ticket",
        "processes": args.processes,
        "seconds_per_phase": args.seconds,
        "rounds": args.rounds,
        "core_per_s": round(core, 1),
        "baseline_per_s": round(baseline, 1),
        "ratio": round(core / baseline, 3),
        "target_ratio": 0.6,
        "core_rounds_per_s": [round(r["per_s"], 1) for r in phases["core"]],
        "baseline_rounds_per_s": [round(r["per_s"], 1) for r in phases["baseline"]],
        "core_client_cpu_ms_per_op": round(statistics.median(r["client_cpu_ms"] for r in phases["core"]), 3),
        "baseline_client_cpu_ms_per_op": round(statistics.median(r["client_cpu_ms"] for r in phases["baseline"]), 3),
        "oversold": oversold,
        "counters_match_orders": consistent,
        "core_errors": sum(int(r["errors"]) for r in phases["core"]),
        "baseline_errors": sum(int(r["errors"]) for r in phases["baseline"]),
        "loadavg_start": load_start,
        "loadavg_end": load_average(),
        "cpu": cpu_model(),
        "nproc": os.cpu_count(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
