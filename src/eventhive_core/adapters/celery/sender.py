"""Send EventHive tasks by name through a Celery app: the bound one, or a small one of our own."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from eventhive_core.adapters.celery.options import BROKER_URL_ENV, CeleryOptions
from eventhive_core.adapters.celery.request_ids import request_id_headers
from eventhive_core.adapters.celery.routing import apply_defaults
from eventhive_core.domain.errors import ConfigurationError

if TYPE_CHECKING:
    from celery import Celery


class TaskSender:
    """Publishes ``eventhive.*`` tasks to the configured queue.

    Until a Celery app is attached (:func:`~eventhive_core.adapters.celery.binding.bind_hive`),
    it lazily builds a producer-only app from the options' broker, or ``CELERY_BROKER_URL``; so a
    web process that never called ``init_celery`` can still schedule expiries. The attached app
    is held weakly: whoever built it owns it.

    Args:
        options: Queue, broker and transport options.
    """

    def __init__(self, options: CeleryOptions) -> None:
        self.options = options
        self._attached: weakref.ref[Celery] | None = None
        self._own: Celery | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TaskSender(queue={self.options.queue!r}, attached={self._attached is not None})"

    def attach(self, celery_app: Celery) -> None:
        """Send through ``celery_app`` from now on."""
        self._attached = weakref.ref(celery_app)

    @property
    def app(self) -> Celery:
        """The Celery app tasks go through (built on first use when none is attached).

        Raises:
            ConfigurationError: No app is attached and no broker URL is configured.
        """
        attached = self._attached() if self._attached is not None else None
        if attached is not None:
            return attached
        with self._lock:
            if self._own is None:
                self._own = self._build()
            return self._own

    def send(
        self, name: str, args: Sequence[object], *, eta: datetime | None = None, task_id: str | None = None
    ) -> str:
        """Publish task ``name`` with JSON ``args`` to our queue, to run at ``eta`` (aware) or at once; return its id.

        The request id bound in this context, if any, goes along as a header (see
        :mod:`~eventhive_core.adapters.celery.request_ids`).

        Raises:
            ValueError: ``eta`` is naive.
            Exception: Whatever the broker client raises when the message cannot be handed over;
                callers (the relay) retry later.
        """
        if eta is not None and eta.utcoffset() is None:
            raise ValueError(f"An ETA must be an aware datetime (UTC), got {eta!r}")
        result = self.app.send_task(
            name,
            args=list(args),
            queue=self.options.queue,
            eta=eta,
            task_id=task_id,
            serializer="json",
            # A task sent from inside another task is not its child: nobody waits for results.
            add_to_parent=False,
            headers=request_id_headers() or None,
        )
        return str(result.id)

    def check_broker(self, timeout: float) -> None:
        """Open a connection of our own to the broker and close it; return once it answered within ``timeout`` s.

        A new connection, not one from the producer pool: a pooled one may have been opened
        before the broker went away. One retry at most, with no pause, so a lost packet does not
        fail the check, and ``timeout`` bounds connecting (Redis and AMQP transports alike).

        Raises:
            ConfigurationError: No app is attached and no broker URL is configured.
            Exception: The broker refused or did not answer in time (kombu's error).
        """
        with self.app.connection_for_write(connect_timeout=timeout) as connection:
            # Each transport bounds its socket by its own option names; kombu reads them on connecting.
            connection.transport_options.update(_socket_timeouts(connection.transport.driver_type, timeout))
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)

    def close(self) -> None:
        """Release the connections of the app built here, if any (an attached app is its owner's)."""
        with self._lock:
            own, self._own = self._own, None
        if own is not None:
            own.close()

    def _build(self) -> Celery:
        from celery import Celery

        url = self.options.resolved_broker_url()
        if not url:
            raise ConfigurationError(
                f"The Celery scheduler/event bus has no broker: set {BROKER_URL_ENV}, or broker_url in "
                "EVENTHIVE_SCHEDULER_OPTIONS / EVENTHIVE_EVENT_BUS_OPTIONS, or bind a Celery app (init_celery)."
            )
        app = Celery("eventhive-producer", broker=url, set_as_current=False)
        app.conf.broker_transport_options = dict(self.options.transport_options)
        apply_defaults(app, self.options.queue)
        return app


def _socket_timeouts(driver: str, timeout: float) -> dict[str, float]:
    """The transport options that bound connecting to, and answers from, a broker of kind ``driver``."""
    if driver == "redis":
        return {"socket_connect_timeout": timeout, "socket_timeout": timeout}
    if driver == "amqp":
        return {"read_timeout": timeout, "write_timeout": timeout}
    return {}


__all__ = ["TaskSender"]
