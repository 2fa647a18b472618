"""The gunicorn worker ``eventhive serve`` runs: gunicorn's threaded worker, safe to stop at any instant.

gunicorn's own worker answers Ctrl-C (SIGINT) and SIGQUIT by raising ``SystemExit`` from its
signal handler, wherever the worker happens to be. Two cases go wrong:

* While a worker is still booting, that exception can land inside ``threading`` (the app starts
  threads as it is built) and break a lock; the worker then dies with an ordinary exception,
  gunicorn takes it for a worker that cannot boot and stops with exit code 3 and a traceback.
* A terminal's Ctrl-C reaches the worker and the arbiter, and the arbiter then sends SIGQUIT to
  the worker as well; a second ``SystemExit`` can cut short the first one's clean exit.

This worker stops the same way in both cases, at a point of its own choosing: a signal during
boot only marks the worker as stopping, so it finishes booting and then leaves its serving loop
at once, closing cleanly; after boot the first signal exits as gunicorn's worker does, and any
later one is ignored because the worker is already on its way out.

Use it in your own gunicorn command line with
``--worker-class eventhive_flask.serve_worker.ServeWorker`` (it takes ``--threads`` like
``gthread``).
"""

from __future__ import annotations

from types import FrameType
from typing import Any

from gunicorn.workers.gthread import ThreadWorker


class ServeWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's ``gthread`` worker whose quit signals never interrupt booting or a clean exit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stopping = False

    def handle_quit(self, sig: int, frame: FrameType | None) -> None:
        """Stop on SIGINT or SIGQUIT without ever raising into booting code or into a running exit.

        Args:
            sig: The signal number.
            frame: The interrupted frame (unused).
        """
        if self.stopping:
            return  # already leaving: a second signal must not interrupt that
        self.stopping = True
        if not self.booted:
            # Booting: do not raise into the app's start-up; ``run`` sees ``alive`` is false and
            # returns at once, and the worker then exits through its normal path.
            self.alive = False
            self.cfg.worker_int(self)
            return
        super().handle_quit(sig, frame)


__all__ = ["ServeWorker"]
