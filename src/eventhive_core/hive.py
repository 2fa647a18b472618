"""The Hive: the one object an application holds to use EventHive."""

from __future__ import annotations

import logging
import threading
import warnings
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, overload

from eventhive_core.clock import Clock
from eventhive_core.domain import commands
from eventhive_core.domain.read_models import OrderView, PaymentView, TicketView, UserView
from eventhive_core.observability.metrics import OutboxCollector
from eventhive_core.ports.event_bus import EventBus
from eventhive_core.ports.messages import OutboxBacklog
from eventhive_core.ports.payments import PaymentGateway
from eventhive_core.ports.scheduler import ExpiryScheduler
from eventhive_core.ports.storage import Storage, UnitOfWork
from eventhive_core.service_layer.background import Loop
from eventhive_core.service_layer.expiry import ScheduledExpiries
from eventhive_core.service_layer.expiry_requests import ExpiryRequests
from eventhive_core.service_layer.messagebus import MessageBus
from eventhive_core.service_layer.orders import ExpireResult
from eventhive_core.service_layer.payment_events import WebhookOutcome
from eventhive_core.service_layer.queries import Queries
from eventhive_core.service_layer.readiness import Readiness, ReadinessProbe, readiness_checks
from eventhive_core.service_layer.relay import outbox_backlog, relay_all, relay_once
from eventhive_core.service_layer.services import Services
from eventhive_core.service_layer.users import Identity, SignedIn, authenticate
from eventhive_core.settings import HiveSettings

if TYPE_CHECKING:
    import pluggy
    from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

#: The least wait of the expiration service of a split before asking again for an unanswered expiry.
_ASK_AGAIN = timedelta(seconds=5)

#: Seconds the relay waits after a command nudges it, so a rush's events go out in batches (one
#: claim and one mark per batch) rather than one relay round per order; small beside any hold.
RELAY_SETTLE = 0.02


class Hive:
    """A running EventHive: commands in, queries out, events through the outbox.

    Build one with :func:`eventhive_core.bootstrap`; never at import time. Call :meth:`close`
    (or use it as a context manager) to stop its threads and release connections.

    Everything an application, an edge (Flask, a CLI, a worker) or a plugin needs is here:
    :meth:`handle` and :attr:`queries`, :attr:`clock`, :attr:`payment_gateway`, :meth:`expire`,
    :meth:`sweep`, :meth:`relay_once` and :meth:`relay_outbox`. ``services`` is the service
    layer's own bundle of dependencies; code outside the service layer does not read it.
    """

    def __init__(
        self,
        *,
        services: Services,
        bus: EventBus,
        scheduler: ExpiryScheduler,
        plugins: pluggy.PluginManager,
    ) -> None:
        self.services = services
        self.bus = bus
        self.scheduler = scheduler
        self.plugins = plugins
        self.queries = Queries(services.storage.queries, services.clock)
        self._relay_loop = Loop(
            "relay", self.relay_outbox, services.settings.outbox_poll_interval.total_seconds(), settle=RELAY_SETTLE
        )
        sweep_every = services.settings.sweep_interval.total_seconds()
        # Only where orders live are due holds swept; the expiration service of a split asks
        # the orders service to expire them instead (its order replica is never written here).
        self._requests: ExpiryRequests | None = None
        self._sweep_loop: Loop | None = None
        if services.owns_orders:
            self._sweep_loop = Loop("sweeper", self.sweep, sweep_every)
        elif services.settings.role == "expiration":
            self._requests = ExpiryRequests(services, repeat_after=max(services.settings.sweep_interval, _ASK_AGAIN))
            self._sweep_loop = Loop("expiry-requests", self.sweep, sweep_every)
        self._messagebus = MessageBus(services, after_command=self._relay_loop.nudge)
        self._expiries = ScheduledExpiries(self._expire_now, self.sweep, services.clock)
        self._readiness = ReadinessProbe(readiness_checks(services.storage, bus, services.denylist))
        self._started = False
        self._closed = False
        self._lock = threading.Lock()

    @property
    def settings(self) -> HiveSettings:
        """The validated settings."""
        return self.services.settings

    @property
    def storage(self) -> Storage:
        """The storage backend."""
        return self.services.storage

    @property
    def clock(self) -> Clock:
        """The Hive's clock: the only source of "now" (every process judges holds by it)."""
        return self.services.clock

    @property
    def payment_gateway(self) -> PaymentGateway:
        """The payment provider the settings (or an override) chose; its ``name`` names it."""
        return self.services.payment_gateway

    @overload
    def handle(self, command: commands.SignUp) -> SignedIn: ...
    @overload
    def handle(self, command: commands.SignIn) -> SignedIn: ...
    @overload
    def handle(self, command: commands.SignOut) -> None: ...
    @overload
    def handle(self, command: commands.BanUser) -> UserView: ...
    @overload
    def handle(self, command: commands.CreateTicket) -> TicketView: ...
    @overload
    def handle(self, command: commands.UpdateTicket) -> TicketView: ...
    @overload
    def handle(self, command: commands.PlaceOrder) -> OrderView: ...
    @overload
    def handle(self, command: commands.CancelOrder) -> OrderView: ...
    @overload
    def handle(self, command: commands.ExpireOrder) -> ExpireResult: ...
    @overload
    def handle(self, command: commands.SweepExpired) -> int: ...
    @overload
    def handle(self, command: commands.PayOrder) -> PaymentView: ...
    @overload
    def handle(self, command: commands.RefundOrder) -> OrderView: ...
    @overload
    def handle(self, command: commands.ReceivePaymentEvent) -> WebhookOutcome: ...

    def handle(self, command: commands.Command) -> object:
        """Carry out a command and return its result.

        ``ExpireOrder`` and ``SweepExpired`` still work here but are deprecated: call
        :meth:`expire` and :meth:`sweep`.

        Raises:
            EventHiveError: A rule refused the command (validation, not found, sold out...).
        """
        if isinstance(command, commands.ExpireOrder | commands.SweepExpired):
            kept = "hive.expire(order_id)" if isinstance(command, commands.ExpireOrder) else "hive.sweep(batch_size)"
            warnings.warn(
                f"hive.handle({type(command).__name__}(...)) is deprecated and will be removed in the next "
                f"release; call {kept} instead.",
                DeprecationWarning,
                stacklevel=2,
            )
        return self._messagebus.handle(command)

    def authenticate(self, token: str) -> Identity:
        """Return who a token belongs to; raise NotAuthorized for any bad, revoked or banned token."""
        return authenticate(token, self.services)

    def uow(self) -> UnitOfWork:
        """Open a unit of work on the storage (for plugins and maintenance)."""
        return self.services.storage.unit_of_work()

    def readiness(self, timeout: float = 2.0) -> Readiness:
        """Tell whether the storage, the event bus and a Redis denylist answer now, each within ``timeout`` s.

        What a readiness probe asks (``GET /api/health/ready`` in Flask); see
        :mod:`eventhive_core.service_layer.readiness`. Why a check failed is logged, not returned.
        """
        return self._readiness.check(timeout)

    def relay_outbox(self) -> int:
        """Publish every ready outbox event to the bus now; return how many were published."""
        return relay_all(self.services, self.bus)

    def relay_once(self, limit: int | None = None) -> int:
        """Publish one batch of ready outbox events (``limit``, else the batch size setting); return how many."""
        return relay_once(self.services, self.bus, limit)

    def outbox_backlog(self) -> OutboxBacklog:
        """Return how many events wait in the outbox to be published, and when the oldest occurred."""
        return outbox_backlog(self.services)

    def metrics_collectors(self) -> list[Collector]:
        """Return the collectors a metrics scrape of this Hive adds: the outbox's backlog, read then."""
        return [OutboxCollector(self.outbox_backlog, self.clock.now)]

    def sweep(self, batch_size: int | None = None) -> int:
        """Expire every due hold now, one transaction per batch; return how many orders were cancelled.

        In the expiration service of a split, where orders are a replica, ask the orders service
        to expire them instead (``expiration:due``) and return how many were asked about; in the
        split's other services (orders aside) there is nothing to sweep: 0.

        Args:
            batch_size: Holds cancelled per transaction (500 when None).
        """
        if self._requests is not None:
            return self._requests.request_due()
        if not self.services.owns_orders:
            return 0
        command = commands.SweepExpired() if batch_size is None else commands.SweepExpired(batch_size=batch_size)
        swept = self._messagebus.handle(command)
        assert isinstance(swept, int)
        return swept

    def expire(self, order_id: str, *, fire_at: datetime | None = None) -> ExpireResult:
        """Expire one order if its hold ran out (what schedulers call); idempotent.

        A hold that is not due, a final order and an unknown id are left alone (``not_due``,
        ``already_final``, ``not_found``). In a split's services but orders, whose orders are
        replicas, nothing is expired here: ``not_found``.

        Args:
            order_id: The order.
            fire_at: When a scheduler meant this expiry to run (aware). A firing that runs more
                than half a second later and cancels its order shows the process is behind: it
                then sweeps every due hold at once, and later firings for holds that ended before
                that sweep started return ``swept`` without reading the storage (one catch-up
                sweep per Hive at a time; see :mod:`eventhive_core.service_layer.expiry`).
        """
        return self._expiries.fire(order_id, fire_at)

    def start(self, *, background: bool = True) -> None:
        """Start consuming events and firing expiries; with ``background``, also the relay and sweeper threads."""
        with self._lock:
            if self._started:
                return
            self._started = True
        self.bus.start()
        self.scheduler.start(self._fire_expiry)
        if background:
            self._relay_loop.start()
            if self._sweep_loop is not None:
                self._sweep_loop.start()

    def close(self) -> None:
        """Stop threads, call shutdown hooks and release the adapters (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._relay_loop.stop()
        if self._sweep_loop is not None:
            self._sweep_loop.stop()
        self.scheduler.close()
        self.bus.close()
        try:
            self.plugins.hook.eventhive_shutdown(hive=self)
        finally:
            try:
                self.services.storage.close()
            finally:
                if self.services.denylist is not None:
                    self.services.denylist.close()

    def __enter__(self) -> Hive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _fire_expiry(self, order_id: str) -> None:
        if self._requests is not None:
            self._requests.request(order_id)
            return
        result = self.expire(order_id)
        log.debug("Expiry of %s: %s", order_id, result)

    def _expire_now(self, order_id: str) -> ExpireResult:
        if not self.services.owns_orders:
            return ExpireResult.NOT_FOUND  # a replica's order: only the orders service expires it
        result = self._messagebus.handle(commands.ExpireOrder(order_id=order_id))
        assert isinstance(result, ExpireResult)
        return result
