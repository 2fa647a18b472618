"""Reservations over HTTP: ``eventhive serve`` against a bare Flask app doing the same SQL, on PostgreSQL.

Both servers run under gunicorn with the same settings (``--workers 2``, ``serve``'s gthread worker, 4 threads)
on one fresh database. A load generator on loopback (threads with keep-alive connections) has
each buyer ``POST /api/orders`` for one unit of its own large-capacity ticket as fast as it can
(one hot ticket measures PostgreSQL's row lock and commit latency, not HTTP; see
``reserve_hot_ticket.py`` for that):

- ``eventhive``: the real platform (``eventhive serve``): Bearer auth (JWT, revoked-token and
  ban lookups), JSON parsing, validation, the atomic reservation in a stripe, the order row and its
  outbox event in one transaction, the camelCase response; plus its relay, expiry scheduler and
  sweeper threads in each worker.
- ``bare``: a minimal Flask app (defined below) doing the same SQL by hand with SQLAlchemy Core:
  JWT check, revoked-token and user lookups, ticket lookup, the conditional UPDATE of one of the
  ticket's stripes (picked at random), INSERT order, INSERT outbox, one transaction.

After an unmeasured phase of each, phases alternate (bare, eventhive, eventhive, bare, ...;
``--rounds`` of each: each side goes first every other round) to even out a noisy machine, and
each side keeps its best phase (every phase is listed too, with the load average at its start).
Before each phase both servers and PostgreSQL go quiet (under a tenth of a CPU), so what one phase
leaves running (autovacuum after its writes, the relay's last batch) never slows the next. After
the run it measures the resident memory of the whole ``eventhive serve`` process tree. Targets:
at least 0.8x the bare app's requests per second, p95 under 50 ms, the serve tree under 300 MB.

Usage: ``python benchmarks/http_reserve.py [--seconds 6] [--rounds 2] [--concurrency 8] [--url URL]``
(``EVENTHIVE_BENCH_PG_URL`` also sets the server). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _http_load import Call, timed  # benchmarks/ is on sys.path when a script runs
from _machine import process_tree, settle

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
JWT_SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
HERE = Path(__file__).resolve().parent


# --- the bare app ------------------------------------------------------------------------------


def bare_app() -> Any:
    """A Flask app reserving like EventHive, by hand: the baseline (``gunicorn 'http_reserve:bare_app()'``)."""
    import jwt
    import sqlalchemy as sa
    from flask import Flask, jsonify, request

    engine = sa.create_engine(os.environ["BENCH_DATABASE_URL"], pool_size=8, max_overflow=4)
    app = Flask("bare")

    @app.post("/api/orders")
    def place_order() -> Any:
        header = request.headers.get("Authorization", "")
        try:
            claims = jwt.decode(header.removeprefix("Bearer "), JWT_SECRET, algorithms=["HS256"], issuer="eventhive")
        except jwt.PyJWTError:
            return jsonify(errors=[{"message": "Not authorized"}]), 401
        body = request.get_json(silent=True) or {}
        ticket_id = str(body.get("ticketId", ""))
        now = datetime.now(UTC)
        with engine.begin() as conn:
            if conn.execute(sa.text("SELECT 1 FROM revoked_tokens WHERE jti = :j"), {"j": claims["jti"]}).first():
                return jsonify(errors=[{"message": "Not authorized"}]), 401
            user = conn.execute(sa.text("SELECT banned_at FROM users WHERE id = :u"), {"u": claims["sub"]}).first()
            if user is None or user.banned_at is not None:
                return jsonify(errors=[{"message": "Not authorized"}]), 401
            ticket = conn.execute(
                sa.text("SELECT id, title, price_minor, currency, owner_id, version FROM tickets WHERE id = :t"),
                {"t": ticket_id},
            ).first()
            if ticket is None:
                return jsonify(errors=[{"message": "Not Found"}]), 404
            # The same design as the core's: one stripe with room, picked at random.
            stripe = conn.execute(
                sa.text(
                    "UPDATE ticket_stripes SET held = held + 1 WHERE ticket_id = :t AND stripe = ("
                    "SELECT stripe FROM ticket_stripes WHERE ticket_id = :t AND held + sold + 1 <= capacity "
                    "ORDER BY random() LIMIT 1) AND held + sold + 1 <= capacity RETURNING stripe"
                ),
                {"t": ticket_id},
            ).scalar()
            if stripe is None:
                return jsonify(errors=[{"message": "Ticket is already reserved"}]), 400
            order_id, expires_at = str(uuid.uuid4()), now + timedelta(seconds=60)
            conn.execute(
                sa.text(
                    "INSERT INTO orders (id, ticket_id, buyer_id, status, quantity, amount_minor, currency, "
                    "expires_at, created_at, version, stripe) "
                    "VALUES (:id, :t, :b, 'created', 1, :amount, :cur, :exp, :now, 0, :stripe)"
                ),
                {
                    "id": order_id,
                    "t": ticket_id,
                    "b": claims["sub"],
                    "amount": ticket.price_minor,
                    "cur": ticket.currency,
                    "exp": expires_at,
                    "now": now,
                    "stripe": stripe,
                },
            )
            event = {"id": str(uuid.uuid4()), "type": "order:created", "version": 1, "data": {"id": order_id}}
            conn.execute(
                sa.text("INSERT INTO outbox (id, type, body, occurred_at) VALUES (:id, :type, :body, :now)"),
                {"id": event["id"], "type": event["type"], "body": json.dumps(event), "now": now},
            )
        return jsonify(
            id=order_id,
            userId=claims["sub"],
            status="created",
            expiresAt=expires_at.isoformat(),
            ticket={
                "id": ticket.id,
                "title": ticket.title,
                "price": ticket.price_minor / 100,
                "version": ticket.version,
            },
            version=0,
            quantity=1,
        ), 201

    return app


# --- servers, clients, measurements ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(port: int, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        data = response.read()
        try:
            return response.status, json.loads(data) if data else None
        except ValueError:
            return response.status, data.decode(errors="replace")
    finally:
        conn.close()


def _wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if _request(port, "GET", "/api/health")[0] in (200, 404):
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"server on port {port} did not start")


def _tree_memory_mb(pid: int) -> tuple[float, float]:
    """Resident (RSS) and proportional (PSS: shared pages split between sharers) memory of a process tree, in MB.

    RSS counts pages the forked workers share with the master once per process, so it
    overstates what the tree really uses; PSS does not.
    """
    rss_kb, pss_kb = 0, 0
    for current in process_tree([pid]):
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss_kb += int(line.split()[1])
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss_kb += int(line.split()[1])
        except OSError:
            continue
    return rss_kb / 1024, pss_kb / 1024


def _load(port: int, tickets: list[str], tokens: list[str], seconds: float) -> dict[str, float]:
    calls = [
        Call(
            "POST",
            "/api/orders",
            json.dumps({"ticketId": ticket}).encode(),
            {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        for ticket, token in zip(tickets, tokens, strict=True)
    ]
    return timed(port, calls, seconds)


def _seed(url: str, buyers: int) -> tuple[list[str], list[str]]:
    """Migrate a database and fill it through the core: one ticket and one signed-in buyer per client thread."""
    from eventhive_core import CreateTicket, HiveSettings, SignUp, bootstrap

    settings = HiveSettings(
        storage="sqlalchemy",
        storage_options={"migrate": "upgrade"},
        database_url=url,
        scheduler="none",
        jwt_secret=JWT_SECRET,
    )
    with bootstrap(settings) as hive:
        seller = hive.handle(SignUp(email="seller@bench.example", password="secret1")).user
        tickets, tokens = [], []
        for n in range(buyers):
            ticket = hive.handle(CreateTicket(owner_id=seller.id, title=f"Gig {n}", price="10", capacity=1_000_000))
            tickets.append(ticket.id)
            tokens.append(hive.handle(SignUp(email=f"buyer{n}@bench.example", password="secret1")).token.token)
    return tickets, tokens


def _admin(url: str) -> Any:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return psycopg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        dbname=parsed.database or "postgres",
        autocommit=True,
    )


METRICS_TOKEN = "bench-metrics-" + secrets.token_hex(16)


def _scrape_orders(port: int) -> dict[str, float]:
    """Scrape ``/metrics`` once: what every worker counted of ``POST /api/orders`` and its reservations."""
    from prometheus_client.parser import text_string_to_metric_families

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        answer = conn.getresponse()
        text = answer.read().decode()
    finally:
        conn.close()
    if answer.status != 200:
        raise SystemExit(f"/metrics answered {answer.status}: {text[:200]}")
    counted: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "eventhive_http_requests_total" and labels.get("route") == "/api/orders":
                key = f"POST /api/orders {labels['status']}"
                counted[key] = counted.get(key, 0.0) + sample.value
            elif sample.name == "eventhive_reservations_total":
                counted[f"reservations {labels['outcome']}"] = sample.value
    return counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="phases per side, alternating")
    parser.add_argument("--url", default=os.environ.get("EVENTHIVE_BENCH_PG_URL", DEFAULT_URL))
    args = parser.parse_args()
    load_start = [round(value, 2) for value in os.getloadavg()]
    from sqlalchemy.engine import make_url

    names = [f"eventhive_bench_http_{secrets.token_hex(4)}_{side}" for side in ("eventhive", "bare")]
    with _admin(args.url) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    urls = [make_url(args.url).set(database=name).render_as_string(hide_password=False) for name in names]
    seeded = {"eventhive": _seed(urls[0], args.concurrency), "bare": _seed(urls[1], args.concurrency)}
    data_dir = Path(tempfile.mkdtemp(prefix="eventhive-bench-"))
    eventhive_port, bare_port = _free_port(), _free_port()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")}
    serve = subprocess.Popen(
        [shutil.which("eventhive") or "eventhive", "serve", "--port", str(eventhive_port), "--workers", "2"],
        env={
            **base_env,
            "EVENTHIVE_DATABASE_URL": urls[0],
            "EVENTHIVE_DATA_DIR": str(data_dir),
            "EVENTHIVE_JWT_SECRET": JWT_SECRET,
            "EVENTHIVE_RESERVATION_TTL": "3600",
            # serve as users get it, the limiter on, with an order ceiling the benchmark never reaches
            "EVENTHIVE_RATE_LIMIT_ORDERS": "1000000 per minute",
            # and the metrics as users get them: always counted, scraped with the token at the end
            "EVENTHIVE_METRICS_TOKEN": METRICS_TOKEN,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    bare: subprocess.Popen[bytes] | None = None
    try:
        _wait_healthy(eventhive_port, serve)
        bare = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--chdir",
                str(HERE),
                "--workers",
                "2",
                # serve's own worker: gunicorn's gthread, which also spreads connections across
                # workers. With plain gthread the eight clients split at random (seen: 8/0 to 4/4)
                # and the bare app's phases swung by a quarter with the split.
                "--worker-class",
                "eventhive_flask.serve_worker.ServeWorker",
                "--threads",
                "4",
                "--bind",
                f"127.0.0.1:{bare_port}",
                "--log-level",
                "warning",
                "http_reserve:bare_app()",
            ],
            env={**base_env, "BENCH_DATABASE_URL": urls[1]},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_healthy(bare_port, bare)
        ports = {"bare": bare_port, "eventhive": eventhive_port}

        results: dict[str, list[dict[str, float]]] = {"bare": [], "eventhive": []}
        # A whole phase each, unmeasured: pools and caches fill, and the machine leaves the burst
        # a quiet spell gives (the first phase after the wait for a quiet machine ran ~5% faster
        # than the next of the same side, in every run here, whichever side it was).
        warm_up = {side: _load(port, *seeded[side], args.seconds)["rps"] for side, port in ports.items()}
        print(f"warm-up   {warm_up} (not counted)", file=sys.stderr)
        for round_number in range(args.rounds):
            # Each side goes first every other round (bare, eventhive, eventhive, bare, ...): a
            # machine that slows as it works, or tables that grow, favour neither.
            order = list(ports.items()) if round_number % 2 == 0 else list(reversed(ports.items()))
            for side, port in order:
                settled = settle([serve.pid, bare.pid], with_postgres=True)
                load = round(os.getloadavg()[0], 2)
                measured = _load(port, *seeded[side], args.seconds)
                results[side].append(measured | {"loadavg_1m_at_start": load, "settle_s_before": settled})
                print(f"{side:9s} {results[side][-1]}", file=sys.stderr)
        best = {side: max(runs, key=lambda r: r["rps"]) for side, runs in results.items()}
        rss, pss = _tree_memory_mb(serve.pid)
        counted = _scrape_orders(eventhive_port)
        print(f"metrics   {counted}", file=sys.stderr)
        ratio = best["eventhive"]["rps"] / best["bare"]["rps"] if best["bare"]["rps"] else 0.0
        report = {
            "benchmark": "http_reserve",
            "concurrency": args.concurrency,
            "seconds_per_phase": args.seconds,
            "cpus": os.cpu_count(),
            "bare": best["bare"],
            "eventhive": best["eventhive"],
            "ratio": round(ratio, 3),
            "serve_tree_rss_mb": round(rss, 1),
            "serve_tree_pss_mb": round(pss, 1),
            "metrics": counted,
            "rounds": results,
            "warm_up_rps": warm_up,
            "loadavg_start": load_start,
            "loadavg_end": [round(value, 2) for value in os.getloadavg()],
            "targets": {"ratio_at_least": 0.8, "p95_ms_under": 50, "rss_mb_under": 300},
            "meets_targets": {
                "ratio": ratio >= 0.8,
                "p95": best["eventhive"]["p95_ms"] < 50,
                "rss": rss < 300,
            },
        }
        print(
            f"eventhive {best['eventhive']['rps']} req/s (p50 {best['eventhive']['p50_ms']} ms, p95 "
            f"{best['eventhive']['p95_ms']} ms) vs bare {best['bare']['rps']} req/s (p50 {best['bare']['p50_ms']} ms, "
            f"p95 {best['bare']['p95_ms']} ms): {ratio:.2f}x; serve tree {rss:.0f} MB RSS, {pss:.0f} MB PSS"
        )
        print(json.dumps(report))
    finally:
        for process in (bare, serve):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
        with _admin(args.url) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
