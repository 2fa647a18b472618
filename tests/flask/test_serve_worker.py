"""The gunicorn worker of ``eventhive serve`` stops at a point of its own choosing on Ctrl-C, and never misses it."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("gunicorn", reason="the server extra (gunicorn) is not installed")

from gunicorn.config import Config

from eventhive_flask.serve_worker import ServeWorker


def make_worker(interrupts: list[Any], ppid: int = 1) -> ServeWorker:
    config = Config()
    config.set("worker_int", lambda worker: interrupts.append(worker))
    worker = ServeWorker(age=1, ppid=ppid, sockets=[], app=None, timeout=30, cfg=config, log=logging.getLogger("test"))
    worker.method_queue.init()  # gthread makes it in init_process, before the handlers are set
    return worker


@pytest.fixture
def interrupts() -> Iterator[list[Any]]:
    made: list[Any] = []
    yield made
    for worker in made:
        worker.method_queue.close()


def test_ctrl_c_while_booting_marks_the_worker_stopping_instead_of_raising_into_the_app(
    interrupts: list[Any],
) -> None:
    worker = make_worker(interrupts)
    assert worker.booted is False

    worker.handle_quit(signal.SIGINT, None)  # gunicorn's own worker raises SystemExit here

    assert worker.alive is False
    assert interrupts == [worker]


def test_once_booted_the_first_quit_signal_leaves_from_the_serving_loop_and_a_second_one_is_ignored(
    interrupts: list[Any],
) -> None:
    worker = make_worker(interrupts)
    worker.booted = True
    shut: list[bool] = []
    worker.tpool = type("Pool", (), {"shutdown": lambda self, wait: shut.append(wait)})()

    worker.handle_quit(signal.SIGINT, None)  # no exception from the handler, wherever it lands
    worker.handle_quit(signal.SIGQUIT, None)  # the arbiter's relay of the same Ctrl-C
    assert worker.alive is False
    assert shut == []

    with pytest.raises(SystemExit) as exited:
        worker.method_queue.run_callbacks(None)  # what the serving loop does when woken
    worker.method_queue.run_callbacks(None)  # nothing more was queued by the second signal

    assert exited.value.code == 0
    assert shut == [False]
    assert interrupts == [worker]


def blocked_signals() -> set[int]:
    return set(signal.pthread_sigmask(signal.SIG_BLOCK, []))


def test_a_signal_between_the_fork_and_the_workers_handlers_waits_for_those_handlers(
    interrupts: list[Any],
) -> None:
    worker = make_worker(interrupts, ppid=os.getpid())  # as the arbiter builds it, right before forking
    pid = os.fork()
    if pid == 0:  # the worker
        status = 1
        try:
            if signal.SIGINT in blocked_signals():
                status = 2
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C before the worker has its handlers
                worker.PIPE = os.pipe()
                os.set_blocking(worker.PIPE[1], False)  # as gunicorn makes it, for set_wakeup_fd
                worker.init_signals()
                if worker.stopping and signal.SIGINT not in blocked_signals():
                    status = 0
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0  # 1: not held back; 2: held back but then lost
    assert signal.SIGINT not in blocked_signals()  # the arbiter takes its signals as before


def test_a_worker_built_outside_an_arbiter_leaves_later_forks_alone(interrupts: list[Any]) -> None:
    make_worker(interrupts)  # ppid is not this process: no arbiter is about to fork it
    pid = os.fork()
    if pid == 0:
        os._exit(1 if signal.SIGINT in blocked_signals() else 0)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0


def test_ctrl_c_while_a_worker_is_just_forked_stops_gunicorn_without_killing_the_worker(tmp_path: Path) -> None:
    marker = tmp_path / "forked"
    (tmp_path / "hello.py").write_text(
        textwrap.dedent(
            """
            def app(environ, start_response):
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [b"hello"]
            """
        )
    )
    # post_fork runs in the worker before it has handlers of its own: hold it there a while.
    (tmp_path / "conf.py").write_text(
        f"import pathlib, time\n\n\ndef post_fork(server, worker):\n"
        f"    pathlib.Path({str(marker)!r}).touch()\n    time.sleep(1)\n"
    )
    command = [sys.executable, "-m", "gunicorn", "-c", str(tmp_path / "conf.py"), "--bind", "127.0.0.1:0"]
    command += ["--worker-class", "eventhive_flask.serve_worker.ServeWorker", "--graceful-timeout", "3"]
    command += ["--no-control-socket", "hello:app"]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert marker.exists(), process.communicate(timeout=30)[0] if process.poll() is not None else "no fork"
        os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl-C: arbiter and worker alike
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 0, output
    assert "SIGKILL" not in output, output  # gunicorn's worker misses both signals and is killed
    assert "Traceback" not in output, output
