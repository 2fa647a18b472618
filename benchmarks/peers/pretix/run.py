"""pretix side by side: EventHive's core and ``eventhive serve`` against pretix's checkout and REST API, one hot quota.

pretix is installed from PyPI into its own virtual environment (created on first use, outside the
repository: ``$EVENTHIVE_BENCH_PRETIX_VENV`` or ``~/.cache/eventhive-bench/pretix-<version>``) and
runs from there; ``pretix_driver.py`` (beside this file) is its side. Both sides get a fresh
database on the same PostgreSQL server, dropped at the end. pretix is configured as an operator
would run it for speed (``pretix.cfg`` written here): ``debug = false``, Redis as its cache, no
Celery broker (its tasks run eagerly in the calling process), e-mail to Django's dummy backend
(rendered and recorded, never sent). Two levels, each alternating pretix and EventHive phases:

- in-process, ``--processes`` processes (8) each buying one unit at a time for ``--seconds``:
  pretix's web-shop checkout (``pretix.base.services.cart.add_items_to_cart`` -- ``CartManager``
  with the quota's advisory lock through ``pretix.base.services.locking.lock_objects`` -- then
  ``pretix.base.services.orders.perform_order`` -- ``_perform_order``; see ``pretix_driver.py``)
  against ``hive.handle(PlaceOrder(...))`` (``reserve_hot_ticket.py``'s core loop);
- over HTTP, ``--clients`` keep-alive clients (8): ``POST /api/v1/organizers/{o}/events/{e}/orders/``
  with a team API token on ``gunicorn pretix.wsgi`` against ``POST /api/orders`` with a Bearer token
  on ``eventhive serve``, both with 2 workers of 4 threads (gthread).

Every phase buys the same item (pretix: one quota of a million; EventHive: one ticket of a million).
Then the races: for each level, ``--race-runs`` times, a fresh item with a quota of ``--quota`` units
(10) is raced by the same processes or clients, ``--race-attempts`` tries each; the units sold in live
orders are counted against the quota on each side. Last, what pretix wrote per order (log entries,
mails, invoices, payments) is read from its database.

Usage: ``python benchmarks/peers/pretix/run.py [--seconds 5] [--rounds 3] [--processes 8]
[--race-runs 5] [--quota 10] [--skip-http] [--skip-inprocess] [--no-pretix-mail] [--url URL]``
(``EVENTHIVE_BENCH_PG_URL`` also sets the server, ``EVENTHIVE_BENCH_REDIS_URL`` pretix's Redis).
Progress goes to stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import secrets
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # benchmarks/: the shared helpers and the benchmarks reused here

import http_reserve  # noqa: E402
import reserve_hot_ticket  # noqa: E402
from _http_load import Call, attempts, timed  # noqa: E402
from _machine import cpu_model, load_average  # noqa: E402
from _postgres import psycopg_dsn, scratch_database  # noqa: E402

PRETIX_VERSION = "2026.8.0"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
JWT_SECRET = reserve_hot_ticket.JWT_SECRET
CAPACITY = 1_000_000
TARGETS = {"in_process_ratio_at_least": 40, "http_ratio_at_least": 20, "eventhive_oversold": 0}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- pretix: its virtual environment, its database, its driver ---------------------------------


def pretix_venv(path: Path) -> Path:
    """Return ``path``'s Python after making sure pretix ``PRETIX_VERSION`` and gunicorn are installed there."""
    python = path / "bin" / "python"
    if python.exists():
        check = subprocess.run(
            [str(python), "-c", "import gunicorn, pretix; print(pretix.__version__)"],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode == 0 and check.stdout.strip() == PRETIX_VERSION:
            return python
    _log(f"pretix {PRETIX_VERSION}: creating its virtual environment in {path} (a few minutes, once)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
    pip = [str(python), "-m", "pip", "install", "--progress-bar", "off"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True, stdout=sys.stderr)
    subprocess.run([*pip, f"pretix=={PRETIX_VERSION}", "gunicorn"], check=True, stdout=sys.stderr)
    return python


class Pretix:
    """pretix on a fresh database: its config file, its environment, and calls into ``pretix_driver.py``."""

    def __init__(self, python: Path, url: str, redis_url: str, mail: bool) -> None:
        from sqlalchemy.engine import make_url

        self.python = python
        self.mail = mail
        self.database = f"pretix_bench_{secrets.token_hex(4)}"
        self.admin = psycopg_dsn(url)
        self.workdir = Path(tempfile.mkdtemp(prefix="pretix-bench-"))
        self.cache_prefix = f"pretix-bench-{secrets.token_hex(4)}"
        self.redis_url = redis_url
        parsed = make_url(url)
        config = self.workdir / "pretix.cfg"
        config.write_text(
            "\n".join(
                [
                    "[pretix]",
                    "instance_name=pretix bench",
                    "url=http://127.0.0.1",
                    f"datadir={self.workdir / 'data'}",
                    "currency=EUR",
                    "[django]",
                    "debug=false",
                    f"secret={secrets.token_hex(32)}",
                    "[database]",
                    "backend=postgresql",
                    f"name={self.database}",
                    f"user={parsed.username or 'postgres'}",
                    f"password={parsed.password or ''}",
                    f"host={parsed.host or '127.0.0.1'}",
                    f"port={parsed.port or 5432}",
                    "[redis]",
                    f"location={redis_url}",
                    "sessions=true",
                    "[mail]",
                    "from=tickets@bench.example",
                    "",
                ]
            )
        )
        (self.workdir / "data").mkdir()
        base = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTHIVE_", "DJANGO_", "PRETIX_"))}
        self.env = {
            **base,
            "PYTHONPATH": str(HERE),
            "PRETIX_CONFIG_FILE": str(config),
            "DJANGO_SETTINGS_MODULE": "pretix_bench_settings",
            "PRETIX_BENCH_CACHE_PREFIX": self.cache_prefix,
        }
        self.seed: dict[str, Any] = {}

    def create(self, capacity: int, race_items: int, quota: int) -> dict[str, Any]:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        _log(f"database {self.database}: pretix migrating (about two minutes)")
        subprocess.run(
            [str(self.python), "-m", "pretix", "migrate", "--no-input"],
            env=self.env,
            cwd=self.workdir,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        mail = "--mail" if self.mail else "--no-mail"
        self.seed = self.driver(
            "seed", "--capacity", str(capacity), "--race-runs", str(race_items), "--race-quota", str(quota), mail
        )
        return self.seed

    def driver(self, *args: str) -> Any:
        done = subprocess.run(
            [str(self.python), str(HERE / "pretix_driver.py"), *args],
            env=self.env,
            cwd=self.workdir,
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    def close(self) -> None:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        shutil.rmtree(self.workdir, ignore_errors=True)
        with contextlib.suppress(Exception):  # a tidy Redis is a courtesy, not a result
            import redis

            client = redis.Redis.from_url(self.redis_url)
            for key in client.scan_iter(match=f"{self.cache_prefix}:*", count=1000):
                client.delete(key)
            # pretix keeps its quota availability cache in raw keys, without the prefix
            if self.seed:
                for key in client.scan_iter(match=f"quotas:{self.seed['event_id']}:*", count=1000):
                    client.delete(key)


def _read_line(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stdout is not None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RuntimeError("a pretix driver did not answer in time")
        ready, _, _ = select.select([process.stdout], [], [], remaining)
        if ready:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"a pretix driver exited with {process.wait()}")
            return line.strip()


def _pretix_phase(pretix: Pretix, item: int, processes: int, *, seconds: float = 0, tries: int = 0) -> dict[str, Any]:
    """``processes`` web-shop buyers at once, for ``seconds`` or ``tries`` checkouts each."""
    seed = pretix.seed
    command = [str(pretix.python), str(HERE / "pretix_driver.py"), "checkout", "--event", str(seed["event_id"])]
    command += ["--item", str(item), "--warm-item", str(seed["item"]), "--seconds", str(seconds)]
    command += ["--attempts", str(tries)]
    procs = [
        subprocess.Popen(
            [*command, "--buyer", str(n)],
            env=pretix.env,
            cwd=pretix.workdir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(processes)
    ]
    try:
        deadline = time.monotonic() + 300
        for proc in procs:
            while _read_line(proc, deadline) != "ready":
                pass
        load = load_average()
        started = time.perf_counter()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        deadline = time.monotonic() + seconds + 600
        results = [json.loads(_read_line(proc, deadline)) for proc in procs]
        elapsed = time.perf_counter() - started
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    done = sum(r["done"] for r in results)
    errors = [r["last_error"] for r in results if r["errors"]]
    if errors:
        _log(f"pretix checkout errors, e.g. {errors[0]}")
    return {
        "per_s": done / elapsed,
        "done": done,
        "refused": sum(r["refused"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "client_cpu_ms": sum(r["cpu_s"] for r in results) * 1000 / max(done, 1),
        "loadavg_1m_at_start": load[0],
        "loadavg_1m_at_end": load_average()[0],
    }


# --- EventHive -------------------------------------------------------------------------------


def _core_race_worker(url: str, ticket_id: str, warm_id: str, buyer_id: str, ready: Any, go: Any, tries: int, out: Any):
    from eventhive_core import HiveSettings, PlaceOrder, bootstrap

    hive = bootstrap(HiveSettings(storage="sqlalchemy", database_url=url, scheduler="none", jwt_secret=JWT_SECRET))
    hive.handle(PlaceOrder(buyer_id=buyer_id, ticket_id=warm_id))  # warm caches and the pool
    ready.release()
    go.wait()
    done, refused = 0, 0
    for _ in range(tries):
        try:
            hive.handle(PlaceOrder(buyer_id=buyer_id, ticket_id=ticket_id))
            done += 1
        except Exception:  # sold out is the expected refusal; the count below is what is judged
            refused += 1
    out.put((done, refused))
    hive.close()


def _core_race(url: str, ticket_id: str, warm_id: str, buyers: list[str], tries: int) -> dict[str, int]:
    ctx = mp.get_context("spawn")
    ready, go, out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_core_race_worker, args=(url, ticket_id, warm_id, b, ready, go, tries, out)) for b in buyers
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        if not ready.acquire(timeout=180):
            raise RuntimeError("EventHive race workers did not start")
    go.set()
    results = [out.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join(30)
    return {"succeeded": sum(r[0] for r in results), "refused": sum(r[1] for r in results)}


def _racers_saw(result: dict[Any, Any]) -> dict[str, Any]:
    """What the racers were told: purchases that succeeded and were refused, or each HTTP status's count."""
    if "done" in result:  # a pretix phase
        return {"succeeded": result["done"], "refused": result["refused"], "errors": result["errors"]}
    if "succeeded" in result:  # the core's race
        return result
    return {"statuses": {str(status): n for status, n in sorted(result.items())}}


def _eventhive_units(url: str, ticket_id: str) -> dict[str, int]:
    units = reserve_hot_ticket._units(url, ticket_id, baseline=False)
    oversold = max(0, units["counted"] - units["capacity"], units["held"] + units["sold"] - units["capacity"])
    return {"quota": units["capacity"], "sold": units["counted"], "oversold": oversold}


def _pretix_units(pretix: Pretix, item: int) -> dict[str, int]:
    counted = pretix.driver("count", "--items", str(item))[str(item)]
    return {
        "quota": counted["quota"],
        "sold": counted["ordered"],
        "oversold": max(0, counted["ordered"] - counted["quota"]),
        "in_carts": counted["in_carts"],
    }


@contextlib.contextmanager
def _eventhive_serve(url: str) -> Iterator[int]:
    port = http_reserve._free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="eventhive-bench-"))
    base = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")}
    serve = subprocess.Popen(
        [shutil.which("eventhive") or "eventhive", "serve", "--port", str(port), "--workers", "2"],
        env={
            **base,
            "EVENTHIVE_DATABASE_URL": url,
            "EVENTHIVE_DATA_DIR": str(data_dir),
            "EVENTHIVE_JWT_SECRET": JWT_SECRET,
            "EVENTHIVE_RESERVATION_TTL": "3600",
            # serve as users get it, the limiter on, with an order ceiling the benchmark never reaches
            "EVENTHIVE_RATE_LIMIT_ORDERS": "1000000 per minute",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        http_reserve._wait_healthy(port, serve)
        yield port
    finally:
        _stop(serve)
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def _pretix_gunicorn(pretix: Pretix) -> Iterator[int]:
    port = http_reserve._free_port()
    gunicorn = pretix.python.parent / "gunicorn"
    # eventhive serve's shape: 2 workers of 4 threads each (gthread)
    command = [str(gunicorn), "pretix.wsgi", "--workers", "2", "--worker-class", "gthread", "--threads", "4"]
    server = subprocess.Popen(
        [*command, "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        env=pretix.env,
        cwd=pretix.workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_up(port, server, "/healthcheck/")  # pretix's own: answers 200 once its database and cache answer
        yield port
    finally:
        _stop(server)


def _wait_up(port: int, process: subprocess.Popen[bytes], path: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server for {path} exited with {process.returncode}")
        with contextlib.suppress(OSError):
            if http_reserve._request(port, "GET", path)[0] == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"no 200 from {path} on port {port} within {timeout:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the run -----------------------------------------------------------------------------------


def _summary(phases: list[dict[str, Any]], key: str) -> dict[str, Any]:
    middle = sorted(phases, key=lambda r: r[key])[(len(phases) - 1) // 2]  # the median phase (lower one if even)
    summary = {
        "per_s": round(statistics.median(r[key] for r in phases), 1),
        "rounds_per_s": [round(r[key], 1) for r in phases],
        "rounds_loadavg_1m_start_end": [[r["loadavg_1m_at_start"], r["loadavg_1m_at_end"]] for r in phases],
        "errors": sum(int(r.get("errors", r.get("failures", 0))) for r in phases),
    }
    for extra in ("client_cpu_ms", "p50_ms", "p95_ms"):
        if extra in middle:
            summary[extra] = round(middle[extra], 2)
    return summary


def _ratio(eventhive: dict[str, Any], pretix: dict[str, Any]) -> float:
    return round(eventhive["per_s"] / pretix["per_s"], 1) if pretix["per_s"] else 0.0


def _seed_eventhive(
    url: str, buyers: int, tickets: list[tuple[str, int]]
) -> tuple[list[str], list[str], dict[str, str]]:
    from eventhive_core import CreateTicket, HiveSettings, SignUp, bootstrap

    settings = HiveSettings(storage="sqlalchemy", database_url=url, scheduler="none", jwt_secret=JWT_SECRET)
    with bootstrap(settings) as hive:
        seller = hive.handle(SignUp(email="seller@bench.example", password="password")).user.id
        users, tokens = [], []
        for n in range(buyers):
            signed_up = hive.handle(SignUp(email=f"buyer{n}@bench.example", password="password"))
            users.append(signed_up.user.id)
            tokens.append(signed_up.token.token)
        ids = {
            name: hive.handle(CreateTicket(owner_id=seller, title=name, price="10", capacity=capacity)).id
            for name, capacity in tickets
        }
    return users, tokens, ids


def _redis_reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=2):
            return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured phase")
    parser.add_argument("--rounds", type=int, default=3, help="phases per side and level, alternating")
    parser.add_argument("--processes", type=int, default=8, help="in-process buyers on each side")
    parser.add_argument("--clients", type=int, default=0, help="HTTP clients on each side (default: --processes)")
    parser.add_argument("--race-runs", type=int, default=5, help="races per side and level")
    parser.add_argument("--quota", type=int, default=10, help="units in each race's quota")
    parser.add_argument("--race-attempts", type=int, default=5, help="purchases each racer tries")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-inprocess", action="store_true")
    parser.add_argument(
        "--pretix-mail",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="pretix renders its order-placed mail per order (to a dummy backend); REST orders ask for it too",
    )
    parser.add_argument("--url", default=os.environ.get("EVENTHIVE_BENCH_PG_URL", DEFAULT_URL))
    parser.add_argument("--redis", default=os.environ.get("EVENTHIVE_BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument(
        "--pretix-venv",
        type=Path,
        default=Path(
            os.environ.get(
                "EVENTHIVE_BENCH_PRETIX_VENV", Path.home() / ".cache" / "eventhive-bench" / f"pretix-{PRETIX_VERSION}"
            )
        ),
    )
    args = parser.parse_args()
    clients = args.clients or args.processes
    if not _redis_reachable(args.redis):
        raise SystemExit(f"pretix runs with Redis as its cache, as operators run it; none answers at {args.redis}")
    python = pretix_venv(args.pretix_venv)
    levels = [name for name, skip in (("in_process", args.skip_inprocess), ("http", args.skip_http)) if not skip]
    load_start = load_average()
    report: dict[str, Any] = {
        "benchmark": "pretix_side_by_side",
        "pretix_version": PRETIX_VERSION,
        "processes": args.processes,
        "clients": clients,
        "seconds_per_phase": args.seconds,
        "rounds": args.rounds,
        "race": {"runs": args.race_runs, "quota": args.quota, "attempts_per_racer": args.race_attempts},
        "pretix_mail": args.pretix_mail,
    }
    pretix = Pretix(python, args.url, args.redis, args.pretix_mail)
    try:
        seed = pretix.create(CAPACITY, args.race_runs * len(levels), args.quota)
        _log(f"pretix {seed['pretix_version']}: organizer, event, item {seed['item']}, quota of {CAPACITY}")
        races = iter(race["item"] for race in seed["race"])
        with scratch_database(args.url) as url:
            tickets = [("hot", CAPACITY)] + [(f"race-{n}", args.quota) for n in range(args.race_runs * len(levels))]
            users, tokens, ids = _seed_eventhive(url, max(args.processes, clients), tickets)
            race_tickets = iter(ids[f"race-{n}"] for n in range(args.race_runs * len(levels)))
            oversold = {"pretix": 0, "eventhive": 0}

            def race(level: str, pretix_go: Any, eventhive_go: Any) -> dict[str, list[dict[str, int]]]:
                results: dict[str, list[dict[str, int]]] = {"pretix": [], "eventhive": []}
                for run in range(args.race_runs):
                    item, ticket = next(races), next(race_tickets)
                    seen = _racers_saw(pretix_go(item))
                    results["pretix"].append({**_pretix_units(pretix, item), **seen})
                    seen = _racers_saw(eventhive_go(ticket))
                    results["eventhive"].append({**_eventhive_units(url, ticket), **seen})
                    for side in results:
                        oversold[side] += results[side][-1]["oversold"]
                    _log(
                        f"{level} race {run + 1}: pretix sold {results['pretix'][-1]['sold']} of {args.quota}, "
                        f"EventHive sold {results['eventhive'][-1]['sold']} of {args.quota}"
                    )
                return results

            if "in_process" in levels:
                phases: dict[str, list[dict[str, Any]]] = {"pretix": [], "eventhive": []}
                buyers = users[: args.processes]
                for round_no in range(args.rounds):
                    phases["pretix"].append(_pretix_phase(pretix, seed["item"], args.processes, seconds=args.seconds))
                    result = reserve_hot_ticket._phase("core", url, ids["hot"], buyers, args.seconds)
                    result["loadavg_1m_at_end"] = load_average()[0]
                    phases["eventhive"].append(result)
                    _log(
                        f"in-process round {round_no + 1}: pretix checkout {phases['pretix'][-1]['per_s']:.1f}/s "
                        f"({phases['pretix'][-1]['errors']} errors), EventHive core {result['per_s']:.0f}/s "
                        f"({result['errors']} errors), load {load_average()[0]}"
                    )
                pretix_side, eventhive_side = (
                    _summary(phases["pretix"], "per_s"),
                    _summary(phases["eventhive"], "per_s"),
                )
                report["in_process"] = {
                    "pretix_checkout": pretix_side,
                    "eventhive_core": eventhive_side,
                    "ratio": _ratio(eventhive_side, pretix_side),
                }
                report["in_process"]["races"] = race(
                    "in-process",
                    lambda item: _pretix_phase(pretix, item, args.processes, tries=args.race_attempts),
                    lambda ticket: _core_race(url, ticket, ids["hot"], buyers, args.race_attempts),
                )

            if "http" in levels:
                org, event = seed["organizer"], seed["event"]
                pretix_path = f"/api/v1/organizers/{org}/events/{event}/orders/"

                def pretix_calls(item: int) -> list[Call]:
                    headers = {"Content-Type": "application/json", "Authorization": f"Token {seed['token']}"}
                    return [
                        Call(
                            "POST",
                            pretix_path,
                            json.dumps(
                                {
                                    "email": f"buyer{n}@bench.example",
                                    "locale": "en",
                                    "sales_channel": "web",
                                    "payment_provider": "banktransfer",
                                    "send_email": args.pretix_mail,
                                    "positions": [{"item": item}],
                                }
                            ).encode(),
                            headers,
                        )
                        for n in range(clients)
                    ]

                def eventhive_calls(ticket: str) -> list[Call]:
                    body = json.dumps({"ticketId": ticket}).encode()
                    return [
                        Call(
                            "POST",
                            "/api/orders",
                            body,
                            {"Content-Type": "application/json", "Authorization": f"Bearer {t}"},
                        )
                        for t in tokens[:clients]
                    ]

                with _pretix_gunicorn(pretix) as pretix_port, _eventhive_serve(url) as eventhive_port:
                    _log(f"servers up: pretix on {pretix_port}, eventhive serve on {eventhive_port}")
                    timed(pretix_port, pretix_calls(seed["item"]), 1.0)  # warm-up: pools, caches
                    timed(eventhive_port, eventhive_calls(ids["hot"]), 1.0)
                    http_phases: dict[str, list[dict[str, Any]]] = {"pretix": [], "eventhive": []}
                    for round_no in range(args.rounds):
                        for side, port, calls in (
                            ("pretix", pretix_port, pretix_calls(seed["item"])),
                            ("eventhive", eventhive_port, eventhive_calls(ids["hot"])),
                        ):
                            start = load_average()[0]
                            result = timed(port, calls, args.seconds)
                            http_phases[side].append(
                                {**result, "loadavg_1m_at_start": start, "loadavg_1m_at_end": load_average()[0]}
                            )
                        _log(
                            f"http round {round_no + 1}: pretix REST {http_phases['pretix'][-1]['rps']}/s "
                            f"({http_phases['pretix'][-1]['failures']} failures), eventhive serve "
                            f"{http_phases['eventhive'][-1]['rps']}/s ({http_phases['eventhive'][-1]['failures']} "
                            f"failures), load {load_average()[0]}"
                        )
                    pretix_side, eventhive_side = (
                        _summary(http_phases["pretix"], "rps"),
                        _summary(http_phases["eventhive"], "rps"),
                    )
                    report["http"] = {
                        "pretix_rest": pretix_side,
                        "eventhive_serve": eventhive_side,
                        "ratio": _ratio(eventhive_side, pretix_side),
                    }
                    report["http"]["races"] = race(
                        "http",
                        lambda item: attempts(pretix_port, pretix_calls(item), args.race_attempts),
                        lambda ticket: attempts(eventhive_port, eventhive_calls(ticket), args.race_attempts),
                    )
        report["oversold_units"] = oversold
        report["pretix_per_order"] = pretix.driver("audit")
    finally:
        pretix.close()
    report["pretix_per_order"]["notes"] = {
        "log_entries": "on (pretix always writes them; EventHive writes none)",
        "order_placed_mail": (
            "on: rendered per order and stored as an outgoing mail, handed to Django's dummy backend"
            if args.pretix_mail
            else "off (mail_sales_channel_placed_paid emptied, REST send_email false)"
        ),
        "invoices": "off (pretix's default invoice_generate=False)",
        "payment": "one bank-transfer payment per order (pending)",
        "celery": "no broker: pretix's tasks ran eagerly in the calling process",
        "eventhive_per_order": "one order row (a hold until paid) and one order:created outbox event, one transaction",
    }
    report["targets"] = TARGETS
    report["meets_targets"] = {
        "in_process_ratio": report.get("in_process", {}).get("ratio", 0) >= TARGETS["in_process_ratio_at_least"],
        "http_ratio": report.get("http", {}).get("ratio", 0) >= TARGETS["http_ratio_at_least"],
        "eventhive_oversold": report["oversold_units"]["eventhive"] == 0,
    }
    report |= {"loadavg_start": load_start, "loadavg_end": load_average(), "cpu": cpu_model(), "nproc": os.cpu_count()}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
