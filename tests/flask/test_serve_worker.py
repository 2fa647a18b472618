"""The gunicorn worker of ``eventhive serve`` stops at a point of its own choosing on Ctrl-C, and never misses it."""

from __future__ import annotations

import http.client
import logging
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future
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
    process = _gunicorn(command, tmp_path)
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


# --- spreading connections across workers -------------------------------------------------------


class _Listening:
    """A real listening socket on loopback, and clients connecting to it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.clients: list[socket.socket] = []

    def connect(self) -> None:
        self.clients.append(socket.create_connection(self.sock.getsockname()[:2]))

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.sock.close()


@pytest.fixture
def listening() -> Iterator[_Listening]:
    made = _Listening()
    yield made
    made.close()


def serving_worker(interrupts: list[Any], listening: _Listening, *, workers: int, threads: int) -> Any:
    worker = make_worker(interrupts)
    worker.cfg.set("workers", workers)
    worker.cfg.set("threads", threads)
    worker.sockets = [listening.sock]
    worker.poller = selectors.DefaultSelector()
    worker.alive = True
    worker.accepted = []
    # What gthread does with an accepted connection (hand it to a thread) is not under test here.
    worker.enqueue_req = worker.accepted.append
    worker.set_accept_enabled(True)
    return worker


def listens(worker: Any, listening: _Listening) -> bool:
    return listening.sock in {key.fileobj for key in worker.poller.get_map().values()}


def test_a_worker_with_a_free_thread_accepts_a_new_connection_at_once(
    interrupts: list[Any], listening: _Listening
) -> None:
    worker = serving_worker(interrupts, listening, workers=2, threads=4)
    worker.nr_conns = 3
    listening.connect()

    worker.accept(listening.sock)

    assert len(worker.accepted) == 1
    assert worker.nr_conns == 4


def test_a_busy_worker_leaves_a_new_connection_to_the_others_then_takes_it_if_nobody_did(
    interrupts: list[Any], listening: _Listening
) -> None:
    worker = serving_worker(interrupts, listening, workers=2, threads=4)
    worker.nr_conns = 4
    listening.connect()

    worker.accept(listening.sock)

    assert worker.accepted == []
    assert not listens(worker, listening)
    worker.set_accept_enabled(True)  # what the serving loop asks on each pass: not yet
    assert not listens(worker, listening)

    # The waker thread wakes the serving loop through its method queue, which runs the callback.
    deadline = time.monotonic() + 5
    while not listens(worker, listening) and time.monotonic() < deadline:
        if select.select([worker.method_queue.fileno()], [], [], 0.05)[0]:
            worker.method_queue.run_callbacks(None)
    assert listens(worker, listening)
    worker.accept(listening.sock)  # the same connection, still waiting: taken now
    assert len(worker.accepted) == 1


@pytest.mark.parametrize(("workers", "step_aside"), [(1, 0.005), (2, 0.0)], ids=["a lone worker", "turned off"])
def test_a_worker_never_steps_aside_alone_or_when_turned_off(
    interrupts: list[Any], listening: _Listening, workers: int, step_aside: float
) -> None:
    worker = serving_worker(interrupts, listening, workers=workers, threads=1)
    worker.step_aside_seconds = step_aside
    worker.nr_conns = 5
    listening.connect()

    worker.accept(listening.sock)

    assert len(worker.accepted) == 1
    assert listens(worker, listening)


def test_connections_made_one_after_another_end_up_shared_evenly_between_two_workers(tmp_path: Path) -> None:
    # Without stepping aside, whichever worker wakes first takes each connection (seen here: one
    # and three, or all four on one worker, in every round of several runs).
    (tmp_path / "pid.py").write_text(
        textwrap.dedent(
            """
            import os

            from eventhive_flask.serve_worker import ServeWorker


            class PatientWorker(ServeWorker):
                step_aside_seconds = 0.3  # plenty for the idle worker to wake, even on a busy machine


            def app(environ, start_response):
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [str(os.getpid()).encode()]
            """
        )
    )
    command = [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "2", "--threads", "2"]
    command += ["--worker-class", "pid.PatientWorker", "--no-control-socket", "--keep-alive", "30", "pid:app"]
    process = _gunicorn(command, tmp_path)
    try:
        port = _listening_port(process)
        splits = []
        for _ in range(3):
            connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(4)]
            pids = []
            for conn in connections:  # one after another, each kept open with its request answered
                conn.request("GET", "/")
                pids.append(conn.getresponse().read().decode())
            for conn in connections:
                conn.close()
            splits.append(sorted(Counter(pids).values()))
            time.sleep(0.5)  # the workers see the connections close
    finally:
        os.killpg(process.pid, signal.SIGINT)
        output = process.communicate(timeout=30)[0]

    assert splits == [[2, 2]] * 3, output


def _listening_port(process: subprocess.Popen[str]) -> int:
    # gunicorn prints "Listening at: http://127.0.0.1:PORT" once bound, then boots its workers.
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if "Listening at:" in line:
            port = int(line.rsplit(":", 1)[1].split()[0].rstrip(")"))
            _wait_for_workers(port)
            return port
    raise AssertionError("gunicorn did not start")


def _wait_for_workers(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/")
            conn.getresponse().read()
            conn.close()
            time.sleep(0.5)  # the second worker boots too
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("no worker answered")


def _gunicorn(command: list[str], folder: Path) -> subprocess.Popen[str]:
    """Start gunicorn in its own session, importing from ``folder``, its output merged and readable."""
    return subprocess.Popen(
        command,
        cwd=folder,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


class _ClosingConnection:
    """What gthread's finish_request needs of a connection whose response closed it."""

    def __init__(self) -> None:
        self.closed = False

    def close(self, graceful: bool = False) -> None:
        self.closed = True


def test_a_worker_stepping_aside_listens_again_as_soon_as_a_closed_connection_frees_a_thread(
    interrupts: list[Any], listening: _Listening
) -> None:
    worker = serving_worker(interrupts, listening, workers=2, threads=2)
    worker.step_aside_seconds = 60.0  # only the freed thread can end this pause
    worker.nr_conns = 2
    listening.connect()
    worker.accept(listening.sock)
    assert not listens(worker, listening)

    done: Future[bool] = Future()
    done.set_result(False)  # the response closed its connection
    connection = _ClosingConnection()
    worker.finish_request(connection, done)

    assert connection.closed
    assert worker.nr_conns == 1
    assert listens(worker, listening)
    worker.accept(listening.sock)  # the waiting connection: taken at once
    assert len(worker.accepted) == 1
