"""First-page latency of the available-ticket listing with 10 thousand and with 1 million tickets.

Tickets are seeded in bulk with PostgreSQL's COPY (a progress bar on stderr). A realistic mix:
one in ten sold out, one in ten fully held by live orders, one in ten fully held by holds that
already ran out (no sweeper has run, so the counters still say "held" and only the live count
frees them), the rest with free units. The listing is read through the SQL storage's read side
(``queries.available_tickets(now, 50)``), warm, many times; the median is reported. Then the
database grows to 1 million tickets and the same is measured again. Target: the 1M figure within
2x of the 10k figure (the keyset page walks the (created_at, id) index and sums each listed ticket's
stripes on their primary key; its cost does not grow with the table).

Usage: ``python benchmarks/list_tickets.py [--small 10000] [--large 1000000] [--url URL]``
(``EVENTHIVE_BENCH_PG_URL`` also sets the server). It uses its own database and drops it. The last
line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from _postgres import psycopg_dsn  # benchmarks/ is on sys.path when a script runs

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PAGE = 50


class Progress:
    """A one-line text progress bar on stderr."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done, self._shown = label, total, 0, -1

    def advance(self, count: int = 1) -> None:
        self.done += count
        percent = self.done * 100 // self.total
        if percent != self._shown:
            self._shown = percent
            bar = "#" * (percent // 4)
            sys.stderr.write(f"\r{self.label} [{bar:<25}] {percent:3d}% {self.done:,}/{self.total:,}")
            if self.done >= self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def seed(dsn: str, start: int, count: int, owner: str) -> None:
    """COPY ``count`` tickets (numbered from ``start``) and the orders that hold some of them."""
    import psycopg

    progress = Progress(f"seeding tickets {start + 1:,}-{start + count:,}", count)
    orders: list[tuple[Any, ...]] = []
    # One stripe per ticket holding its whole capacity (a valid split; the listing sums stripes either way).
    stripes: list[tuple[Any, ...]] = []
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY tickets (id, title, price_minor, currency, owner_id, capacity, version, created_at) FROM STDIN"
        ) as copy:
            for n in range(start, start + count):
                ticket_id = str(uuid.UUID(int=n + 1))
                # Later batches are older: the 1M listing's first page is made of new rows, not the 10k ones.
                created_at = NOW - timedelta(days=1) - timedelta(milliseconds=7 * n)
                capacity, kind = 1 + n % 4, n % 10
                held, sold = 0, 0
                if kind == 0:  # sold out
                    sold = capacity
                elif kind in (1, 2):  # fully held: by a live hold (1) or one that ran out (2)
                    held = capacity
                    expires_at = NOW + timedelta(seconds=60) if kind == 1 else NOW - timedelta(seconds=60)
                    orders.append((str(uuid.uuid4()), ticket_id, owner, capacity, expires_at, created_at))
                copy.write_row((ticket_id, f"Ticket {n}", 1000, "USD", owner, capacity, 0, created_at))
                stripes.append((ticket_id, 0, capacity, held, sold))
                if (n - start) % 10_000 == 9_999:
                    progress.advance(10_000)
            progress.advance(count - progress.done)
        with cur.copy("COPY ticket_stripes (ticket_id, stripe, capacity, held, sold) FROM STDIN") as copy:
            for stripe in stripes:
                copy.write_row(stripe)
        with cur.copy(
            "COPY orders (id, ticket_id, buyer_id, status, quantity, amount_minor, currency, expires_at, "
            "created_at, version) FROM STDIN"
        ) as copy:
            for order_id, ticket_id, buyer, quantity, expires_at, created_at in orders:
                copy.write_row(
                    (order_id, ticket_id, buyer, "created", quantity, 1000 * quantity, "USD", expires_at, created_at, 0)
                )
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE tickets")
        conn.execute("VACUUM ANALYZE ticket_stripes")
        conn.execute("VACUUM ANALYZE orders")


def first_page_ms(url: str, repeats: int) -> tuple[float, int]:
    """Median latency of the first available page, warm; and how many tickets it held."""
    from eventhive_core.adapters.sqlalchemy import SqlAlchemyStorage

    storage = SqlAlchemyStorage(url)
    try:
        for _ in range(10):
            page = storage.queries.available_tickets(NOW, PAGE)
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            page = storage.queries.available_tickets(NOW, PAGE)
            samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples), len(page.items)
    finally:
        storage.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--url", default=os.environ.get("EVENTHIVE_BENCH_PG_URL", DEFAULT_URL))
    args = parser.parse_args()

    import psycopg
    from sqlalchemy.engine import make_url

    from eventhive_core.adapters.sqlalchemy import upgrade

    name = f"eventhive_bench_{secrets.token_hex(4)}"
    with psycopg.connect(psycopg_dsn(args.url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.url).set(database=name).render_as_string(hide_password=False)
    dsn = psycopg_dsn(args.url, name)
    try:
        upgrade(url)
        owner = str(uuid.uuid4())
        seed(dsn, 0, args.small, owner)
        small_ms, small_items = first_page_ms(url, args.repeats)
        print(f"{args.small:,} tickets: first page {small_ms:.2f} ms ({small_items} items)", file=sys.stderr)
        seed(dsn, args.small, args.large - args.small, owner)
        large_ms, large_items = first_page_ms(url, args.repeats)
        print(f"{args.large:,} tickets: first page {large_ms:.2f} ms ({large_items} items)", file=sys.stderr)
    finally:
        with psycopg.connect(psycopg_dsn(args.url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    report = {
        "benchmark": "list_tickets",
        "page_size": PAGE,
        "small_tickets": args.small,
        "large_tickets": args.large,
        "first_page_ms_small": round(small_ms, 3),
        "first_page_ms_large": round(large_ms, 3),
        "ratio": round(large_ms / small_ms, 3),
        "target_ratio_at_most": 2.0,
        "items_small": small_items,
        "items_large": large_items,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
