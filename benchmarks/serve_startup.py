"""Time from ``eventhive serve`` to its first 200: a fresh data folder, then a restart on the same one.

Each run starts the real command on a free port and polls ``GET /api/health`` until it answers
200. A fresh start creates the data folder, the signing secret and the SQLite database (with its
migrations); a restart finds them. The target (issue 5) is under 2 s; no test asserts a time.

Usage: ``python benchmarks/serve_startup.py [--runs 3] [--workers 2]``. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 2.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/api/health")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def time_to_first_200(data_dir: Path, workers: int) -> float:
    """Start ``eventhive serve``, return the seconds until ``/api/health`` answers 200, then stop it."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")}
    began = time.perf_counter()
    process = subprocess.Popen(
        [
            shutil.which("eventhive") or "eventhive",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--data-dir",
            str(data_dir),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not _healthy(port):
            if process.poll() is not None:
                raise SystemExit(f"eventhive serve exited with {process.returncode}")
            if time.perf_counter() - began > 60:
                raise SystemExit("eventhive serve did not answer within 60 s")
            time.sleep(0.01)
        return time.perf_counter() - began
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    fresh, restart = [], []
    for _ in range(args.runs):
        folder = Path(tempfile.mkdtemp(prefix="eventhive-startup-"))
        try:
            fresh.append(time_to_first_200(folder / "data", args.workers))
            restart.append(time_to_first_200(folder / "data", args.workers))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    report = {
        "benchmark": "serve_startup",
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "fresh_seconds": [round(x, 3) for x in fresh],
        "restart_seconds": [round(x, 3) for x in restart],
        "fresh_median_seconds": round(statistics.median(fresh), 3),
        "restart_median_seconds": round(statistics.median(restart), 3),
        "target_seconds": TARGET_SECONDS,
        "meets_target": statistics.median(fresh) < TARGET_SECONDS,
    }
    print(
        f"first 200 after {report['fresh_median_seconds']} s on a fresh data folder, "
        f"{report['restart_median_seconds']} s on a restart (target < {TARGET_SECONDS} s)"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
