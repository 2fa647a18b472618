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

It also spreads connections across workers. gunicorn's workers race to accept each new connection
and a kept-alive connection stays with the worker that won it, so whichever worker happened to be
awake first can end up holding every client while the others idle (seen here: eight clients, all
eight on one of two workers, the throughput of one). A worker that already holds a connection per
thread therefore steps aside for a few milliseconds when a new one arrives, leaving it to a less
busy worker, and takes it itself if no other worker did in that time.

Use it in your own gunicorn command line with
``--worker-class eventhive_flask.serve_worker.ServeWorker`` (it takes ``--threads`` like
``gthread``).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
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


class _Waker:
    """A daemon thread that calls ``wake()`` once the deadline ``until()`` gives has passed, each time it is armed.

    The serving loop may sleep up to a second with nothing to do; a worker stepping aside must
    listen again when its pause ends all the same.
    """

    def __init__(self, until: Callable[[], float], wake: Callable[[], None]) -> None:
        self._until = until
        self._wake = wake
        self._armed = threading.Event()
        self._thread: threading.Thread | None = None

    def arm(self) -> None:
        """Call ``wake()`` once the current deadline has passed (a later arming waits for its own)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="eventhive-accept-waker", daemon=True)
            self._thread.start()
        self._armed.set()

    def _run(self) -> None:
        while True:
            self._armed.wait()
            self._armed.clear()
            while (left := self._until() - time.monotonic()) > 0:
                time.sleep(left)
            self._wake()


class ServeWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's ``gthread`` worker whose quit signals are never lost and never raise into running code.

    Attributes:
        step_aside_seconds: How long a busy worker leaves a new connection to the other workers
            before taking it itself (a few milliseconds: long enough for an idle worker to wake).
    """

    step_aside_seconds: float = 0.005

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stopping = False
        # Monotonic deadlines: no accepting before the first, no stepping aside before the second.
        self._aside_until = 0.0
        self._take_until = 0.0
        self._accept_waker: _Waker | None = None
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

    def accept(self, listener: Any) -> None:
        """Accept a new connection, unless this worker is busy and another may take it.

        Busy means holding at least one connection per thread. Then the worker stops listening
        for :attr:`step_aside_seconds` (less if it holds fewer connections meanwhile; 0 turns
        stepping aside off) and listens again; a connection still waiting by then is its own to
        take, at once.

        Args:
            listener: The listening socket that is ready.
        """
        now = time.monotonic()
        if now < self._take_until:
            self._take_until = 0.0  # back from stepping aside: this one is ours, the next is judged anew
        elif self.step_aside_seconds > 0 and self.cfg.workers > 1 and self.nr_conns >= self.cfg.threads:
            self._aside_until = now + self.step_aside_seconds
            # Once back, take what waits without stepping aside again, even from a slow pass of the
            # serving loop: a connection must not bounce between busy workers.
            self._take_until = self._aside_until + 4 * self.step_aside_seconds
            super().set_accept_enabled(False)
            self._waker().arm()
            return
        super().accept(listener)

    def finish_request(self, conn: Any, fs: Any) -> None:
        """Finish a request as gthread does; stepping aside ends once fewer connections than threads are held.

        A closed connection frees a thread for the one waiting: with clients that connect for each
        request (a proxy without upstream keep-alive), waiting out the whole pause would leave that
        thread idle. (Stepping aside cost such clients 7% of requests per second with a timer thread
        per pause and no early end, 5% with the waker and this.)

        Args:
            conn: The connection whose request ended.
            fs: The future of the request's handling.
        """
        super().finish_request(conn, fs)
        if self.nr_conns < self.cfg.threads and time.monotonic() < self._aside_until:
            self._aside_until = 0.0
            self._listen_again()

    def set_accept_enabled(self, enabled: bool) -> None:
        """Listen for new connections or stop, except that a worker stepping aside stays deaf until its time is up.

        Args:
            enabled: Listen (True) or stop (False).
        """
        if enabled and time.monotonic() < self._aside_until:
            return
        super().set_accept_enabled(enabled)

    def _waker(self) -> _Waker:
        # One thread per worker, made the first time it steps aside (a thread per pause cost 4%
        # more CPU a request with clients that connect for every request).
        if self._accept_waker is None:
            self._accept_waker = _Waker(lambda: self._aside_until, self._wake_to_listen)
        return self._accept_waker

    def _wake_to_listen(self) -> None:
        # From the waker's thread. A worker on its way out may have closed the queue's pipe already.
        if self.alive:
            self.method_queue.defer(self._listen_again)

    def _listen_again(self) -> None:
        # From the serving loop; it would do the same on its next pass, this pass may be a second away.
        if self.alive and self.nr_conns < self.worker_connections:
            self.set_accept_enabled(True)

    def _leave(self) -> None:
        # gunicorn's quick stop, from the serving loop: take no more requests and exit; requests
        # already running finish while the interpreter waits for the pool's threads.
        self.tpool.shutdown(wait=False)
        raise SystemExit(0)


__all__ = ["EXIT_SIGNALS", "ServeWorker"]
