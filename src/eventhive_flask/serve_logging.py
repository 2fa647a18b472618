"""gunicorn's own lines in EventHive's log format, for ``eventhive serve`` and ``eventhive service``.

gunicorn writes its error log (and the access log, with ``EVENTHIVE_ACCESS_LOG``) through
handlers of its own, with its own text format. :class:`StructuredGunicornLogger` keeps those
handlers and where they write, and gives them the formatter
:func:`~eventhive_core.observability.logs.configure_logging` installed, so that every line the
server writes is a JSON (or console) line like the application's.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from eventhive_core.observability.logs import configured_formatter


class StructuredGunicornLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger with EventHive's formatter on its handlers (when the process configured one)."""

    def setup(self, cfg: Any) -> None:
        """Set gunicorn's handlers up as usual, then render their lines in EventHive's format.

        Args:
            cfg: gunicorn's configuration.
        """
        super().setup(cfg)
        formatter = configured_formatter()
        if formatter is None:
            return
        for handler in (*self.error_log.handlers, *self.access_log.handlers):
            handler.setFormatter(formatter)


__all__ = ["StructuredGunicornLogger"]
