"""Reservations per second on one hot ticket: EventHive's core API against the raw single-row baseline.

For each process count (8 and 32 by default), processes place orders for one unit of one
large-capacity ticket on PostgreSQL for a few seconds, through ``hive.handle(PlaceOrder(...))``
(validation, the reservation in one of the ticket's stripes, the order row, the
``order:created`` event in the outbox, one transaction), and through a raw psycopg baseline doing
the minimal equivalent SQL on the classic design, one transaction each: a conditional UPDATE of
a single counter row (``units_held + units_sold + 1 <= capacity`` under a CHECK), an INSERT of
the order and an INSERT of its outbox event. Phases alternate (baseline, core, baseline, core...)
on the same database to even out a noisy machine; each side reports the median of its phases
(throughput, and the p50 and p95 latency of every call in a phase, failed ones included), and
each phase records the machine's load average when it started.

``--fill N`` first gives the core's ticket N live and sold orders (and its stripes the matching
counters), then measures the same ticket empty and filled in alternating phases: the cost of a
reservation must not grow with the orders already taken.

Usage: ``python benchmarks/reserve_hot_ticket.py [--processes 8 32] [--seconds 4] [--rounds 3]
[--fill 0] [--url URL]`` (``EVENTHIVE_BENCH_PG_URL`` also sets the server). The last line is one
JSON object.
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
CAPACITY = 1_000_000


def _core_worker(url: str, ticket_id: str, buyer_id: str, ready: Any, go: Any, seconds: float, out: Any) -> None:
    from eventhive_core import HiveSettings, PlaceOrder, bootstrap

    hive = bootstrap(HiveSettings(storage="sqlalchemy", database_url=url, scheduler="none", jwt_secret=JWT_SECRET))
    hive.handle(PlaceOrder(buyer_id=buyer_id, ticket_id=ticket_id))  # warm caches and the pool
    ready.release()
    go.wait()
    done, errors, deadline, cpu = 0, 0, time.perf_counter() + seconds, time.process_time()
    latencies: list[float] = []
    while (began := time.perf_counter()) < deadline:
        try:
            hive.handle(PlaceOrder(buyer_id=buyer_id, ticket_id=ticket_id))
            done += 1
        except Exception:  # counted: a healthy run has none
            errors += 1
        latencies.append(time.perf_counter() - began)
    out.put((done, errors, time.process_time() - cpu, latencies))
    hive.close()


#: The classic design's counter row: what a reservation serialises on without stripes.
_HOT_ROW_TABLE = (
    "CREATE TABLE bench_hot_row (id varchar(36) PRIMARY KEY, capacity integer NOT NULL, "
    "units_held integer NOT NULL DEFAULT 0, units_sold integer NOT NULL DEFAULT 0, "
    "CHECK (units_held >= 0 AND units_sold >= 0 AND units_held + units_sold <= capacity))"
)
_BASELINE_SQL = (
    "UPDATE bench_hot_row SET units_held = units_held + 1 WHERE id = %s AND units_held + units_sold + 1 <= capacity",
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
        latencies: list[float] = []
        while (began := time.perf_counter()) < deadline:
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
            latencies.append(time.perf_counter() - began)
    out.put((done, errors, time.process_time() - cpu, latencies))


def _phase(kind: str, url: str, ticket_id: str, buyers: list[str], seconds: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    ready, go, out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    target = _baseline_worker if kind == "baseline" else _core_worker
    procs = [ctx.Process(target=target, args=(url, ticket_id, b, ready, go, seconds, out)) for b in buyers]
    for proc in procs:
        proc.start()
    for _ in procs:
        if not ready.acquire(timeout=180):
            raise RuntimeError(f"{kind} workers did not start")
    load = load_average()
    started = time.perf_counter()
    go.set()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.join(30)
    done = sum(r[0] for r in results)
    cpu_ms = sum(r[2] for r in results) * 1000 / max(done, 1)
    every = sorted(x for r in results for x in r[3])
    return {
        "per_s": done / elapsed,
        "done": done,
        "errors": sum(r[1] for r in results),
        "client_cpu_ms": cpu_ms,
        "p50_ms": statistics.median(every) * 1000 if every else 0.0,
        "p95_ms": every[max(int(len(every) * 0.95) - 1, 0)] * 1000 if every else 0.0,
        "loadavg_1m_at_start": load[0],
    }


def _units(url: str, ticket_id: str, *, baseline: bool) -> dict[str, int]:
    import psycopg

    counters = (
        "SELECT capacity, units_held, units_sold FROM bench_hot_row WHERE id = %s"
        if baseline
        else "SELECT t.capacity, coalesce(sum(s.held), 0), coalesce(sum(s.sold), 0) "
        "FROM tickets t JOIN ticket_stripes s ON s.ticket_id = t.id WHERE t.id = %s GROUP BY t.capacity"
    )
    with psycopg.connect(psycopg_dsn(url)) as conn:
        capacity, held, sold = conn.execute(counters, (ticket_id,)).fetchone()
        counted = conn.execute(
            "SELECT coalesce(sum(quantity), 0) FROM orders WHERE ticket_id = %s AND status <> 'cancelled'",
            (ticket_id,),
        ).fetchone()[0]
    return {"capacity": capacity, "held": int(held), "sold": int(sold), "counted": int(counted)}


def _fill(url: str, ticket_id: str, buyer_id: str, count: int) -> None:
    """Give the ticket ``count`` orders, half live holds and half sold, spread over its stripes."""
    import psycopg

    now = datetime.now(UTC)
    with psycopg.connect(psycopg_dsn(url)) as conn, conn.cursor() as cur:
        stripes = [
            row[0] for row in cur.execute("SELECT stripe FROM ticket_stripes WHERE ticket_id = %s", (ticket_id,))
        ]
        held = dict.fromkeys(stripes, 0)
        sold = dict.fromkeys(stripes, 0)
        columns = (
            "id, ticket_id, buyer_id, status, quantity, amount_minor, currency, expires_at, created_at, version, stripe"
        )
        with cur.copy(f"COPY orders ({columns}) FROM STDIN") as copy:
            for n in range(count):
                stripe = stripes[n % len(stripes)]
                live = n % 2 == 0
                (held if live else sold)[stripe] += 1
                status = "created" if live else "complete"
                expires_at = now + timedelta(days=1)
                copy.write_row(
                    (str(uuid.uuid4()), ticket_id, buyer_id, status, 1, 1000, "USD", expires_at, now, 0, stripe)
                )
        for stripe in stripes:
            cur.execute(
                "UPDATE ticket_stripes SET held = held + %s, sold = sold + %s WHERE ticket_id = %s AND stripe = %s",
                (held[stripe], sold[stripe], ticket_id, stripe),
            )
        cur.execute("ANALYZE orders")
        cur.execute("ANALYZE ticket_stripes")


def _alternate(
    kinds: dict[str, str], url: str, buyers: list[str], args: argparse.Namespace
) -> dict[str, list[dict[str, Any]]]:
    """Run ``rounds`` phases of each kind (name -> ticket id), alternating; print each phase."""
    phases: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    for round_no in range(args.rounds):
        for kind, ticket_id in kinds.items():
            result = _phase(kind, url, ticket_id, buyers, args.seconds)
            phases[kind].append(result)
            print(
                f"{len(buyers)} processes, round {round_no + 1} {kind}: {result['per_s']:.0f}/s, client CPU "
                f"{result['client_cpu_ms']:.2f} ms per reservation ({result['errors']} errors, "
                f"load {result['loadavg_1m_at_start']:.2f})",
                file=sys.stderr,
            )
    return phases


def _summary(phases: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "per_s": round(statistics.median(r["per_s"] for r in phases), 1),
        "rounds_per_s": [round(r["per_s"], 1) for r in phases],
        "rounds_loadavg_1m": [r["loadavg_1m_at_start"] for r in phases],
        "client_cpu_ms_per_op": round(statistics.median(r["client_cpu_ms"] for r in phases), 3),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in phases), 3),
        "p95_ms": round(statistics.median(r["p95_ms"] for r in phases), 3),
        "errors": sum(int(r["errors"]) for r in phases),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3, help="phases per side, alternating")
    parser.add_argument("--fill", type=int, default=0, help="orders already on the ticket (then empty vs filled)")
    parser.add_argument("--url", default=os.environ.get("EVENTHIVE_BENCH_PG_URL", DEFAULT_URL))
    args = parser.parse_args()
    load_start = load_average()

    from eventhive_core import CreateTicket, HiveSettings, SignUp, bootstrap

    report: dict[str, Any] = {
        "benchmark": "reserve_hot_ticket",
        "seconds_per_phase": args.seconds,
        "rounds": args.rounds,
    }
    with scratch_database(args.url) as url:
        settings = HiveSettings(storage="sqlalchemy", database_url=url, scheduler="none", jwt_secret=JWT_SECRET)
        with bootstrap(settings) as hive:
            seller = hive.handle(SignUp(email="seller@example.com", password="password")).user.id
            buyers = [
                hive.handle(SignUp(email=f"buyer{n}@example.com", password="password")).user.id
                for n in range(max(args.processes))
            ]
            names = ("baseline", "core", "empty", "filled") if args.fill else ("baseline", "core")
            tickets = {
                kind: hive.handle(CreateTicket(owner_id=seller, title=kind, price="10", capacity=CAPACITY)).id
                for kind in names
            }
        import psycopg

        with psycopg.connect(psycopg_dsn(url)) as conn:
            conn.execute(_HOT_ROW_TABLE)
            conn.execute("INSERT INTO bench_hot_row (id, capacity) VALUES (%s, %s)", (tickets["baseline"], CAPACITY))
        if args.fill:
            _fill(url, tickets["filled"], seller, args.fill)
            phases = _alternate(
                {"empty": tickets["empty"], "filled": tickets["filled"]}, url, buyers[: args.processes[0]], args
            )
            empty, filled = _summary(phases["empty"]), _summary(phases["filled"])
            report |= {
                "fill": args.fill,
                "processes": args.processes[0],
                "empty": empty,
                "filled": filled,
                "filled_over_empty": round(filled["per_s"] / empty["per_s"], 3),
                "target_filled_over_empty": 0.9,
            }
        else:
            report["by_processes"] = {}
            for count in args.processes:
                phases = _alternate(
                    {"baseline": tickets["baseline"], "core": tickets["core"]}, url, buyers[:count], args
                )
                core, baseline = _summary(phases["core"]), _summary(phases["baseline"])
                report["by_processes"][str(count)] = {
                    "core": core,
                    "baseline": baseline,
                    "ratio": round(core["per_s"] / baseline["per_s"], 3),
                }
            report["target_ratio"] = 1.0
        oversold = 0
        consistent = True
        for kind, ticket_id in tickets.items():
            units = _units(url, ticket_id, baseline=kind == "baseline")
            oversold += max(0, units["counted"] - units["capacity"], units["held"] + units["sold"] - units["capacity"])
            consistent = consistent and units["held"] + units["sold"] == units["counted"]
    report |= {
        "oversold": oversold,
        "counters_match_orders": consistent,
        "loadavg_start": load_start,
        "loadavg_end": load_average(),
        "cpu": cpu_model(),
        "nproc": os.cpu_count(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
