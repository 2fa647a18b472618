"""``eventhive serve`` starts on the port it says and stops cleanly on Ctrl-C, however soon it comes.

Each run is the real command in its own process group; Ctrl-C is SIGINT to the whole group, as a
terminal sends it. "Start" is the launch (the interpreter then imports the CLI for about half a
second), when the serve command begins (its data folder appears) and when it announces the
server (the banner: gunicorn and its workers start right after).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventhive_flask.testing import UNREACHED_RATE_LIMITS
from eventhive_launch import INTERRUPTED

from .conftest import EVENTHIVE, START_TIMEOUT, Browser, free_port, wait_until

pytest.importorskip("gunicorn", reason="the server extra (gunicorn) is not installed")

UNCLEAN = ("Traceback", "Exception ignored", "SIGKILL", "Aborted!")
BANNER = "Press Ctrl-C to stop."
DELAYS = (0.0, 0.125, 0.25, 0.375, 0.5)
# From the launch: the interpreter's own first ~30 ms (before any of our code runs) are left out.
LAUNCH_DELAYS = (0.1, 0.2, 0.3, 0.4, 0.5)


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")}
    env.update(UNREACHED_RATE_LIMITS)
    return env


def launch(log: Path, data_dir: Path, *arguments: str) -> subprocess.Popen[str]:
    with log.open("w") as out:
        # A file, not a pipe: nobody reads a pipe while the test waits, and a full one blocks the server.
        return subprocess.Popen(
            [EVENTHIVE, "serve", "--workers", "2", "--data-dir", str(data_dir), *arguments],
            env=environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )


def ctrl_c(process: subprocess.Popen[str]) -> int:
    os.killpg(process.pid, signal.SIGINT)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return -1  # still running: the Ctrl-C was lost


def wait_for_start(start: str, process: subprocess.Popen[str], data_dir: Path, log: Path) -> None:
    def started() -> bool:
        if start == "launch":
            return True
        if start == "command":
            return data_dir.is_dir()
        return BANNER in log.read_text()

    assert wait_until(lambda: started() or process.poll() is not None, START_TIMEOUT, interval=0.005)
    assert process.poll() is None, log.read_text()


@pytest.fixture
def leftovers() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a failed test may leave running: their whole group is killed."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.parametrize("start", ["launch", "command", "banner"])
def test_ctrl_c_within_half_a_second_of_start_exits_cleanly_every_time(
    start: str, tmp_path: Path, leftovers: list[subprocess.Popen[str]]
) -> None:
    for run, delay in enumerate(LAUNCH_DELAYS if start == "launch" else DELAYS):
        data_dir, log = tmp_path / f"data-{run}", tmp_path / f"serve-{run}.log"
        process = launch(log, data_dir, "--port", str(free_port()))
        leftovers.append(process)
        wait_for_start(start, process, data_dir, log)
        time.sleep(delay)  # where in the start-up the Ctrl-C lands, not a check of how long anything takes

        status = ctrl_c(process)

        output = log.read_text()
        # Stopped before the serve command began: "interrupted" (130); stopping the server: success.
        expected = {0, INTERRUPTED} if start == "launch" else {0}
        assert status in expected, f"run {run}, Ctrl-C {delay} s after the {start}: exit status {status}\n{output}"
        assert not [word for word in UNCLEAN if word in output], f"run {run}, {delay} s after the {start}:\n{output}"


def test_a_taken_port_is_one_line_and_the_usage_error_status(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]

        refused = subprocess.run(
            [EVENTHIVE, "serve", "--port", str(port), "--data-dir", str(tmp_path / "data")],
            env=environment(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert refused.returncode == 2
    assert refused.stdout == ""  # no banner
    assert refused.stderr.splitlines() == [f"Error: port {port} is in use; choose another with --port"]


def test_port_0_serves_on_a_free_port_and_the_banner_names_it(
    tmp_path: Path, leftovers: list[subprocess.Popen[str]]
) -> None:
    log = tmp_path / "serve.log"
    process = launch(log, tmp_path / "data", "--port", "0")
    leftovers.append(process)
    assert wait_until(lambda: BANNER in log.read_text() or process.poll() is not None, START_TIMEOUT)
    shown = re.search(r"serving on http://127\.0\.0\.1:(\d+)/", log.read_text())
    assert shown, log.read_text()
    port = int(shown.group(1))

    def healthy() -> bool:
        try:
            return Browser(port).request("GET", "/api/health").status == 200
        except OSError:
            return False

    assert port != 0
    assert wait_until(healthy, START_TIMEOUT), log.read_text()
    assert ctrl_c(process) == 0, log.read_text()
