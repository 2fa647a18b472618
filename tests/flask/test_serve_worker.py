"""The gunicorn worker of ``eventhive serve`` stops at a point of its own choosing on Ctrl-C."""

from __future__ import annotations

import logging
import signal
from typing import Any

import pytest

pytest.importorskip("gunicorn", reason="the server extra (gunicorn) is not installed")

from gunicorn.config import Config

from eventhive_flask.serve_worker import ServeWorker


def make_worker(interrupts: list[Any]) -> ServeWorker:
    config = Config()
    config.set("worker_int", lambda worker: interrupts.append(worker))
    worker = ServeWorker(age=1, ppid=1, sockets=[], app=None, timeout=30, cfg=config, log=logging.getLogger("test"))
    worker.tpool = None  # gthread makes its pool in init_process; handle_quit shuts it down once booted
    return worker


def test_ctrl_c_while_booting_marks_the_worker_stopping_instead_of_raising_into_the_app() -> None:
    interrupts: list[Any] = []
    worker = make_worker(interrupts)
    assert worker.booted is False

    worker.handle_quit(signal.SIGINT, None)  # gunicorn's own worker raises SystemExit here

    assert worker.alive is False
    assert interrupts == [worker]


def test_once_booted_the_first_quit_signal_exits_and_a_second_one_is_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    interrupts: list[Any] = []
    worker = make_worker(interrupts)
    worker.booted = True
    shut: list[bool] = []
    worker.tpool = type("Pool", (), {"shutdown": lambda self, wait: shut.append(wait)})()
    monkeypatch.setattr("time.sleep", lambda seconds: None)

    with pytest.raises(SystemExit) as exited:
        worker.handle_quit(signal.SIGINT, None)
    worker.handle_quit(signal.SIGQUIT, None)  # the arbiter's relay of the same Ctrl-C: no second SystemExit

    assert exited.value.code == 0
    assert worker.alive is False
    assert shut == [False]
    assert interrupts == [worker]
