"""Reservations over HTTP through the split's front, against ``eventhive serve``, on one PostgreSQL.

Two deployments of EventHive run side by side for the whole run, each on fresh databases of its own:

- ``split``: the five ``eventhive service ROLE`` processes on PostgreSQL and NATS behind the nginx
  front, started exactly as ``examples/nats-services/run.py`` starts them (this script runs that
  command, with private database names, NATS prefix, data folder and ports). A reservation goes
  client -> nginx -> the orders service; its ``order:created`` then crosses NATS to the others.
- ``serve``: ``eventhive serve --workers 2`` (as ``http_reserve.py`` runs it) with
  ``EVENTHIVE_DATABASE_URL`` on a fresh database of the same server, reached directly.

Each side gets a seller and one buyer per client over HTTP (sign-up, then a Bearer token from
``POST /api/users/tokens``), and one ticket with a large capacity; on the split the script waits
until the orders service has heard of the ticket (its ``ticket:created`` arrives over NATS). Then
``C`` client threads with keep-alive connections (``http_reserve.py``'s load generator, which this
one follows and extends to count each status) ``POST /api/orders`` for one unit of that ticket as
fast as they can for ``S`` seconds: phases alternate serve, split, serve, split... for ``R``
rounds. Before each phase both deployments are left to go idle (the split's consumers work off
the events of the previous phase in the background; that work must not be billed to the next
one), and before the first the machine must be quiet: 1-minute load average below 1.

Each side reports the median of its rounds (requests per second answered 201, p50 and p95
latency of every request) and each round on its own. No target is asserted; the ratio is the
figure to quote, with its load averages.

Usage: ``python benchmarks/split_reserve.py [--seconds 4] [--rounds 3] [--concurrency 8] [--url URL]``
(``EVENTHIVE_BENCH_PG_URL`` also sets the server, ``EVENTHIVE_NATS_URL`` the NATS server). Needs
PostgreSQL, NATS with JetStream, nginx and honcho, as the example does. The last line is one JSON
object.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# benchmarks/ is on sys.path when a script runs; http_reserve's module level needs nothing but the stdlib.
from _machine import cpu_model, load_average, settle, wait_for_quiet
from http_reserve import DEFAULT_URL, _admin, _free_port, _request, _tree_memory_mb, _wait_healthy

from eventhive_flask.testing import UNREACHED_RATE_LIMITS

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "nats-services"
# run.py imports front.py as a top-level module, so the folder itself goes on the path, not the repository.
sys.path.insert(0, str(EXAMPLE))
import run as split_example  # noqa: E402

CAPACITY = 1_000_000  # the most a ticket may have; no run comes near it
PASSWORD = "secret1"
# Holds that never lapse during a run: otherwise each side's expiry work would land in some phases and not others.
# Sign-up, sign-in and orders come from one address and few accounts, far faster than people do.
COMMON_ENV = {**UNREACHED_RATE_LIMITS, "EVENTHIVE_RESERVATION_TTL": "3600", "PYTHONUNBUFFERED": "1"}
START_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0


def _log(message: str) -> None:
    """Progress goes to stderr: stdout's last line is the report."""
    print(message, file=sys.stderr, flush=True)


# --- the machine and the processes -------------------------------------------------------------


class Split:
    """The example's five services and front, run with the example's one command on private names and ports."""

    def __init__(self, pg_url: str, nats_url: str, folder: Path, tag: str) -> None:
        """Choose the run's names and ports; nothing starts yet."""
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")}
        self.env.update(COMMON_ENV)
        self.env.update(
            {
                "PG_SERVER_URL": pg_url,
                "DB_PREFIX": f"eventhive_bench_split_{tag}_",
                "EVENTHIVE_NATS_URL": nats_url,
                # The stream is this prefix in upper case; reset deletes it, so it must be this run's alone.
                "EVENTHIVE_NATS_PREFIX": f"eventhive_bench_{tag}",
                "DATA_DIR": str(folder / "split"),
                "FRONT_PORT": str(_free_port()),
                # The client runs there too; the benchmark never asks the front for pages.
                "EVENTHIVE_CLIENT_PORT": str(_free_port()),
                "FRONT_INTERNAL_PORT": str(_free_port()),
            }
        )
        for role in split_example.ROLES:
            self.env[f"PORT_{role.upper()}"] = str(_free_port())
        self.settings = split_example.Settings(self.env)
        self.port = self.settings.front_port
        self.log = folder / "split.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Run ``run.py`` (it prepares, then becomes honcho) and wait until each service answers behind the front."""
        with self.log.open("wb") as out:
            # A session of its own, as a terminal gives it, so that stop() can Ctrl-C honcho's group alone.
            self.process = subprocess.Popen(
                [sys.executable, str(EXAMPLE / "run.py")],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        paths = ("/api/users/currentuser", "/api/tickets", "/api/orders")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the split exited with {self.process.returncode}:\n{self.tail()}")
            try:
                # nginx answers 502 for a service that does not listen yet.
                if all(_request(self.port, "GET", path)[0] != 502 for path in paths):
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"the split did not answer within {START_TIMEOUT:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 60) -> str:
        """The last lines of honcho's output (every service's log and nginx's errors)."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Ctrl-C honcho as a terminal would; SIGKILL whatever is left after STOP_TIMEOUT."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=STOP_TIMEOUT)
        # honcho gives each process a session of its own: one it failed to stop would outlive it.
        with contextlib.suppress(OSError):
            for pid in re.findall(r"started \(pid=(\d+)\)", self.log.read_text(errors="replace")):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(int(pid), signal.SIGKILL)

    def reset(self) -> None:
        """The example's own reset: drop the five databases, delete the NATS stream, remove the data folder."""
        with contextlib.redirect_stdout(sys.stderr):
            split_example.reset(self.settings)


class Serve:
    """``eventhive serve`` on a fresh database of the same PostgreSQL server."""

    def __init__(self, pg_url: str, folder: Path, tag: str) -> None:
        """Choose the database's name and the port; nothing starts yet."""
        from sqlalchemy.engine import make_url

        self.pg_url = pg_url
        self.database = f"eventhive_bench_split_{tag}_serve"
        self.url = make_url(pg_url).set(database=self.database).render_as_string(hide_password=False)
        self.folder = folder / "serve"
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Create the database and start serve on it (serve migrates it before its workers start)."""
        with _admin(self.pg_url) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        self.folder.mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")}
        env.update(COMMON_ENV)
        env.update({"EVENTHIVE_DATABASE_URL": self.url, "EVENTHIVE_DATA_DIR": str(self.folder)})
        self.process = subprocess.Popen(
            [shutil.which("eventhive") or "eventhive", "serve", "--port", str(self.port), "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_healthy(self.port, self.process, timeout=START_TIMEOUT)

    def stop(self) -> None:
        """Ctrl-C serve (it drains its workers); SIGKILL it after STOP_TIMEOUT."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)

    def reset(self) -> None:
        """Drop the database; FORCE closes what a killed worker left connected."""
        with _admin(self.pg_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


# --- users, the ticket, the load ---------------------------------------------------------------


def _token(port: int, email: str) -> str:
    """Sign up ``email`` and return a Bearer token for it, as a client without cookies gets one."""
    status, body = _request(port, "POST", "/api/users/signup", {"email": email, "password": PASSWORD})
    if status != 201:
        raise SystemExit(f"sign-up of {email} on port {port}: {status} {body}")
    status, body = _request(port, "POST", "/api/users/tokens", {"email": email, "password": PASSWORD})
    if status != 200:
        raise SystemExit(f"token for {email} on port {port}: {status} {body}")
    return str(body["token"])


def _prepare(port: int, buyers: int, timeout: float = 60.0) -> tuple[str, list[str]]:
    """Sign up a seller and ``buyers`` buyers, list one ticket and wait until orders can be placed for it.

    The first order is the probe: on the split the orders service answers 404 until the
    ticket's ``ticket:created`` has reached it over NATS; on serve it succeeds at once.
    """
    seller = _token(port, "seller@bench.example")
    tokens = [_token(port, f"buyer{n}@bench.example") for n in range(buyers)]
    status, ticket = _request(
        port, "POST", "/api/tickets", {"title": "Bench night", "price": 10, "capacity": CAPACITY}, token=seller
    )
    if status != 201:
        raise SystemExit(f"listing the ticket on port {port}: {status} {ticket}")
    deadline = time.monotonic() + timeout
    while True:
        status, body = _request(port, "POST", "/api/orders", {"ticketId": ticket["id"]}, token=tokens[0])
        if status == 201:
            return str(ticket["id"]), tokens
        if status != 404 or time.monotonic() > deadline:
            raise SystemExit(f"the first order on port {port}: {status} {body}")
        time.sleep(0.1)


def _drive(port: int, ticket: str, tokens: list[str], seconds: float) -> dict[str, Any]:
    """One phase: each token's thread places orders on a keep-alive connection until ``seconds`` are over.

    ``http_reserve._load``'s generator (a barrier start, one connection per thread, latency of
    every request), but it tallies each status and survives a dropped connection: through a
    proxy a failure may be nginx's 502 or a closed socket, and which one is the finding.
    """
    latencies: list[list[float]] = [[] for _ in tokens]
    statuses: list[collections.Counter[str]] = [collections.Counter() for _ in tokens]
    start = threading.Barrier(len(tokens) + 1)
    stop_at = [0.0]

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {tokens[index]}"}
        body = json.dumps({"ticketId": ticket})
        start.wait()
        while time.perf_counter() < stop_at[0]:
            began = time.perf_counter()
            try:
                conn.request("POST", "/api/orders", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                statuses[index][str(response.status)] += 1
            except (OSError, http.client.HTTPException) as error:
                statuses[index][type(error).__name__] += 1
                conn.close()  # http.client reconnects on the next request
            latencies[index].append(time.perf_counter() - began)
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(tokens))]
    for thread in threads:
        thread.start()
    load = load_average()
    stop_at[0] = time.perf_counter() + seconds
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    every = sorted(x for per in latencies for x in per)
    counts = sum(statuses, collections.Counter())
    ok = counts.pop("201", 0)
    return {
        "per_s": round(ok / elapsed, 1),
        "requests": len(every),
        "ok": ok,
        "errors": dict(sorted(counts.items())),
        "p50_ms": round(statistics.median(every) * 1000, 2) if every else None,
        "p95_ms": round(every[max(int(len(every) * 0.95) - 1, 0)] * 1000, 2) if every else None,
        "loadavg_1m_at_start": load[0],
    }


def _summary(phases: list[dict[str, Any]]) -> dict[str, Any]:
    """A side's figures: the median of its rounds (robust to one disturbed phase), and every round."""

    def median(key: str) -> float | None:
        values = [p[key] for p in phases if p[key] is not None]
        return round(statistics.median(values), 2) if values else None

    errors: collections.Counter[str] = collections.Counter()
    for phase in phases:
        errors.update(phase["errors"])
    return {
        "per_s": median("per_s"),
        "p50_ms": median("p50_ms"),
        "p95_ms": median("p95_ms"),
        "ok": sum(p["ok"] for p in phases),
        "errors": dict(sorted(errors.items())),
        "rounds": phases,
    }


# --- the run -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each phase")
    parser.add_argument("--rounds", type=int, default=3, help="phases per side, alternating")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads, one buyer each")
    parser.add_argument("--url", default=os.environ.get("EVENTHIVE_BENCH_PG_URL", DEFAULT_URL))
    parser.add_argument("--nats-url", default=os.environ.get("EVENTHIVE_NATS_URL", "nats://127.0.0.1:4222"))
    parser.add_argument("--max-load", type=float, default=1.0, help="1-minute load average to wait below")
    parser.add_argument("--quiet-timeout", type=float, default=600.0, help="seconds to wait for it at most")
    args = parser.parse_args()
    load_start = load_average()

    tag = secrets.token_hex(4)
    folder = Path(tempfile.mkdtemp(prefix="eventhive-bench-split-"))
    split = Split(args.url, args.nats_url, folder, tag)
    serve = Serve(args.url, folder, tag)
    sides = {"serve": serve, "split": split}
    phases: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    settled: dict[str, list[float]] = {side: [] for side in sides}
    failed = True
    try:
        _log(f"starting serve (database {serve.database}) and the split (prefix {split.settings.db_prefix})")
        serve.start()
        split.start()
        roots = [serve.process.pid, split.process.pid]  # type: ignore[union-attr]
        targets = {}
        for side, runner in sides.items():
            targets[side] = _prepare(runner.port, args.concurrency)
            _drive(runner.port, *targets[side], 1.0)  # warm-up: pools, caches, nginx's workers
        # Wait after starting: the servers' own start-up (migrations, imports) must not count as load either.
        settle(roots)
        quiet, waited = wait_for_quiet(args.max_load, timeout=args.quiet_timeout, say=_log)
        load_measure = load_average()
        for round_no in range(args.rounds):
            for side, runner in sides.items():
                settled[side].append(settle(roots))
                result = _drive(runner.port, *targets[side], args.seconds)
                phases[side].append(result)
                _log(
                    f"round {round_no + 1} {side:5s}: {result['per_s']:.0f}/s, p50 {result['p50_ms']} ms, "
                    f"p95 {result['p95_ms']} ms, errors {result['errors'] or 0} (load {result['loadavg_1m_at_start']})"
                )
        rss, pss = {}, {}
        for side, runner in sides.items():
            rss[side], pss[side] = _tree_memory_mb(runner.process.pid)  # type: ignore[union-attr]
        failed = False
    finally:
        if failed:
            _log(f"the split's output, last lines:\n{split.tail()}")
        for runner in (split, serve):
            runner.stop()
        for runner in (split, serve):
            try:
                runner.reset()
            except Exception as error:  # one failed clean-up must not skip the others
                _log(f"cleaning up {type(runner).__name__}: {error!r}")
        shutil.rmtree(folder, ignore_errors=True)

    summary = {side: _summary(runs) for side, runs in phases.items()}
    ratio = summary["split"]["per_s"] / summary["serve"]["per_s"] if summary["serve"]["per_s"] else 0.0
    report = {
        "benchmark": "split_reserve",
        "concurrency": args.concurrency,
        "seconds_per_phase": args.seconds,
        "rounds": args.rounds,
        "split": summary["split"] | {"tree_rss_mb": round(rss["split"], 1), "tree_pss_mb": round(pss["split"], 1)},
        "serve": summary["serve"] | {"tree_rss_mb": round(rss["serve"], 1), "tree_pss_mb": round(pss["serve"], 1)},
        "ratio": round(ratio, 3),
        "setup": {
            "split": "nginx front -> eventhive service orders (1 worker, 4 threads), four more services, NATS",
            "serve": "eventhive serve --workers 2 (4 threads each), reached directly",
        },
        "settle_s_before_phase": settled,
        "quiet_at_first_phase": quiet,
        "waited_for_quiet_s": round(waited, 1),
        "loadavg_start": load_start,
        "loadavg_at_first_phase": load_measure,
        "loadavg_end": load_average(),
        "cpu": cpu_model(),
        "nproc": os.cpu_count(),
    }
    split_s, serve_s = summary["split"], summary["serve"]
    print(
        f"split {split_s['per_s']} req/s (p50 {split_s['p50_ms']} ms, p95 {split_s['p95_ms']} ms) vs serve "
        f"{serve_s['per_s']} req/s (p50 {serve_s['p50_ms']} ms, p95 {serve_s['p95_ms']} ms): {ratio:.2f}x"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
