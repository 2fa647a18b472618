"""A serving worker closes its Hive at exit even when the arbiter's signal arrives meanwhile."""

from __future__ import annotations

import subprocess
import sys
import textwrap

WORKER_EXITING = textwrap.dedent(
    """
    import atexit, os, signal, sys, threading, time

    from eventhive_flask import extension


    def quit_like_gunicorn(sig, frame):
        sys.exit(0)  # what gunicorn's own workers do on SIGINT and SIGQUIT


    class Hive:
        def close(self):
            os.kill(os.getpid(), signal.SIGQUIT)  # the arbiter's relay of Ctrl-C, while closing
            time.sleep(0.1)  # room for a handler to run, were it still installed
            print("closed", flush=True)


    signal.signal(signal.SIGQUIT, quit_like_gunicorn)
    # A thread started before the exit began (a request thread, a library's timer): it does not
    # block the signals, so it can receive the one meant for the process.
    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
    atexit.register(extension._close_at_exit, Hive())
    """
)


def test_a_quit_signal_during_the_close_at_exit_neither_interrupts_it_nor_prints_an_ignored_exception() -> None:
    exited = subprocess.run(
        [sys.executable, "-c", WORKER_EXITING], capture_output=True, text=True, timeout=60, check=False
    )

    assert exited.returncode == 0, exited.stderr
    assert exited.stdout == "closed\n", exited.stderr
    assert "Exception ignored" not in exited.stderr
