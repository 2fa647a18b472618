"""The ``eventhive`` console script's first module: a quiet Ctrl-C from the first instant.

Importing the command line (pydantic, SQLAlchemy, the plugins) takes about half a second. Under
Python's own handler a Ctrl-C in that time prints a ``KeyboardInterrupt`` traceback from
whichever import it lands in, and one a little later click's "Aborted!". This module imports
nothing but :mod:`signal` and lives outside ``eventhive_core`` (whose package import is the slow
part), so its handler is in place before any of that: a Ctrl-C before the command starts exits
quietly with status 130, the shell's "interrupted". Commands that need their own handling
replace the handler (``serve`` stops the server cleanly, ``worker`` hands over to Celery).
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

#: The exit status of a command interrupted before it started (128 + SIGINT, as shells report it).
INTERRUPTED = 128 + signal.SIGINT


class _QuietCtrlC:
    """SIGINT handler: remember a Ctrl-C during the imports, stop at once after them."""

    def __init__(self) -> None:
        self.pressed = False
        self.importing = True

    def __call__(self, sig: int, frame: FrameType | None) -> None:
        # Raising inside an import could land in a garbage-collection callback, which swallows the
        # exception with an "Exception ignored" message and goes on: while importing, only note it.
        # A second press still stops at once, for an import that hangs.
        if self.importing and not self.pressed:
            self.pressed = True
            return
        raise SystemExit(INTERRUPTED)


def main() -> None:
    """Run the ``eventhive`` command line, stopping quietly on a Ctrl-C that comes before a command starts."""
    ctrl_c = _QuietCtrlC()
    signal.signal(signal.SIGINT, ctrl_c)
    from eventhive_core.cli.main import main as run_cli

    ctrl_c.importing = False
    if ctrl_c.pressed:
        sys.exit(INTERRUPTED)
    run_cli()


__all__ = ["INTERRUPTED", "main"]
