"""The gunicorn worker ``eventhive serve`` runs: gunicorn's threaded worker, safe to stop at any instant.

gunicorn's own worker answers Ctrl-C (SIGINT) and SIGQUIT by raising ``SystemExit`` from its
signal handler, wherever the worker happens to be, and it has no handlers of its own at all
for a moment after the fork. Three cases go wrong:

* Between the fork and the worker's own handlers, the worker still has the arbiter's, which
  only queue the signal for an arbiter that no longer runs there: Ctrl-C, and the arbiter's
  SIGQUIT after it, are lost; the worker boots and serves until the arbiter kills it with
  SIGKILL once ``graceful_timeout`` has passed ("Perhaps out of memory?").
* While a worker is still booting, the exception can land inside ``threading`` (the app starts
  threads as it is built) and break a lock; the worker then dies with an ordinary exception,
  gunicorn takes it for a worker that cannot boot and stops with exit code 3 and a traceback.
* Once booted, the exception can land in a garbage-collection callback, which swallows it
  ("Exception ignored in ..."), or in the middle of the clean exit a first signal started (a
  terminal's Ctrl-C reaches the worker and the arbiter, and the arbiter then sends SIGQUIT too).

This worker holds exit signals back from just before its fork until its own handlers are in
place, and its handlers never raise: the first quit signal marks the worker as stopping, and the
worker leaves from its serving loop (at once, like gunicorn's quick stop), or, if it is still
booting, as soon as booting is done, without serving. Later signals are ignored: the worker is
already on its way out.

Use it in your own gunicorn command line with
``--worker-class eventhive_flask.serve_worker.ServeWorker`` (it takes ``--threads`` like
``gthread``).
"""

from __future__ import annotations

import os
import signal
from types import FrameType
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

EXIT_SIGNALS = frozenset({signal.SIGINT, signal.SIGQUIT, signal.SIGTERM})


class _ForkGuard:
    """Exit signals held back from just before a worker's fork until the worker's handlers are set.

    Python runs ``os.register_at_fork`` hooks around every ``os.fork()``; this one acts only on
    the fork the arbiter makes right after building a :class:`ServeWorker` (``armed_in`` is its
    pid), so other forks in the process are left alone.
    """

    def __init__(self) -> None:
        self.armed_in: int | None = None
        self.mask_before: set[int | signal.Signals] | None = None

    def before(self) -> None:
        if self.armed_in == os.getpid():
            self.mask_before = signal.pthread_sigmask(signal.SIG_BLOCK, EXIT_SIGNALS)

    def after_in_parent(self) -> None:
        self.armed_in = None
        self.release()  # the arbiter takes its signals as before

    def after_in_child(self) -> None:
        # Keep the signals held: the worker releases them once its own handlers are in place,
        # and one that arrived meanwhile is then delivered to those.
        self.armed_in = None

    def release(self) -> None:
        mask, self.mask_before = self.mask_before, None
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)


_fork_guard = _ForkGuard()
os.register_at_fork(
    before=_fork_guard.before,
    after_in_parent=_fork_guard.after_in_parent,
    after_in_child=_fork_guard.after_in_child,
)


class ServeWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's ``gthread`` worker whose quit signals are never lost and never raise into running code."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stopping = False
        if self.ppid == os.getpid():
            # Built by the arbiter, which forks it next (a worker built elsewhere, in a test say,
            # must not hold back the signals of some later, unrelated fork).
            _fork_guard.armed_in = self.ppid

    def init_signals(self) -> None:
        """Install the worker's handlers, then take the signals held back since the fork."""
        super().init_signals()
        _fork_guard.release()

    def handle_quit(self, sig: int, frame: FrameType | None) -> None:
        """Stop on SIGINT or SIGQUIT without raising from the handler.

        The worker leaves from its serving loop, the one place where an exit interrupts nothing;
        while booting it finishes booting first and then returns without serving.

        Args:
            sig: The signal number.
            frame: The interrupted frame (unused).
        """
        if self.stopping:
            return  # already leaving: a second signal must not interrupt that
        self.stopping = True
        self.alive = False
        self.cfg.worker_int(self)
        # Thread-safe and safe from a handler (a SimpleQueue and a pipe); run by the serving loop.
        self.method_queue.defer(self._leave)

    def _leave(self) -> None:
        # gunicorn's quick stop, from the serving loop: take no more requests and exit; requests
        # already running finish while the interpreter waits for the pool's threads.
        self.tpool.shutdown(wait=False)
        raise SystemExit(0)


__all__ = ["EXIT_SIGNALS", "ServeWorker"]
