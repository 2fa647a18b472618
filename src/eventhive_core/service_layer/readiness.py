"""Readiness: whether the backends this process needs answer now (what a readiness probe asks).

Each check is one cheap round trip: the storage reads one row by its key, the event bus asks its
server (a bus without :meth:`~eventhive_core.ports.event_bus.ReachableBus.check_reachable` counts
as reachable), and a denylist that can say (Redis) pings its server. The checks run at once, each
in a thread of its own, and an answer never waits longer than the timeout: a hung database makes
its check say ``timeout`` rather than hang the probe. A check still running from an earlier probe
is waited for, not started again, so a hung backend never piles up threads however often it is
probed.

Why a check failed goes to the log (at warning level, URLs' credentials masked), never into the
answer: the answer says only which check failed.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from eventhive_core.ports.denylist import Denylist
from eventhive_core.ports.event_bus import EventBus, check_reachable
from eventhive_core.ports.storage import Storage

__all__ = ["FAILED", "OK", "TIMEOUT", "Check", "Readiness", "ReadinessProbe", "readiness_checks"]

log = logging.getLogger(__name__)

#: A check's outcome: it answered.
OK = "ok"
#: A check's outcome: it raised (the reason is logged).
FAILED = "failed"
#: A check's outcome: no answer within the timeout.
TIMEOUT = "timeout"

#: One check: returns once its backend answered, raises otherwise; given the timeout in seconds.
Check = Callable[[float], None]

#: An id no user has: the storage check reads it, a lookup by primary key that finds nothing.
_NOBODY = "00000000-0000-7000-8000-000000000000"

_CREDENTIALS_IN_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@]+@")
_PASSWORD_PARAMETER = re.compile(r"(?i)\b(password|passwd|pwd)=[^\s&;]+")


@dataclass(frozen=True, slots=True)
class Readiness:
    """The outcome of each check, by name, in the order they were asked.

    Attributes:
        checks: ``ok``, ``failed`` or ``timeout`` for each check (``storage``, ``bus``...).

    Examples:
        >>> Readiness({"storage": "ok", "bus": "ok"}).ready, Readiness({"storage": "timeout"}).ready
        (True, False)
    """

    checks: Mapping[str, str]

    @property
    def ready(self) -> bool:
        """Whether every check answered."""
        return all(outcome == OK for outcome in self.checks.values())


@dataclass(slots=True)
class _Attempt:
    """One run of one check, in its own thread; probes that come while it runs share it."""

    outcome: str = FAILED
    done: threading.Event = field(default_factory=threading.Event)


class ReadinessProbe:
    """Runs named checks at once and answers within a timeout; thread-safe.

    Args:
        checks: Each check by name (see :data:`Check`), in the order answers list them.

    Examples:
        >>> probe = ReadinessProbe({"storage": lambda timeout: None})
        >>> probe.check(timeout=1.0).checks["storage"]
        'ok'
    """

    def __init__(self, checks: Mapping[str, Check]) -> None:
        self.checks: Mapping[str, Check] = MappingProxyType(dict(checks))
        self._lock = threading.Lock()
        self._running: dict[str, _Attempt] = {}

    def __repr__(self) -> str:
        return f"ReadinessProbe(checks={list(self.checks)!r})"

    def check(self, timeout: float) -> Readiness:
        """Run every check (or join its run still under way) and return each outcome within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        attempts = {name: self._attempt(name, check, timeout) for name, check in self.checks.items()}
        outcomes: dict[str, str] = {}
        for name, attempt in attempts.items():
            if attempt.done.wait(max(deadline - time.monotonic(), 0.0)):
                outcomes[name] = attempt.outcome
            else:
                log.warning("Readiness check %s did not answer within %g s", name, timeout)
                outcomes[name] = TIMEOUT
        return Readiness(MappingProxyType(outcomes))

    def _attempt(self, name: str, check: Check, timeout: float) -> _Attempt:
        with self._lock:
            running = self._running.get(name)
            if running is not None and not running.done.is_set():
                return running
            attempt = self._running[name] = _Attempt()
        # A daemon thread: a check hung on a dead backend must not keep the process from exiting.
        threading.Thread(
            target=_run, args=(name, check, timeout, attempt), name=f"eventhive-ready-{name}", daemon=True
        ).start()
        return attempt


def _run(name: str, check: Check, timeout: float, attempt: _Attempt) -> None:
    try:
        check(timeout)
    except Exception as exc:  # whatever the backend raised, the probe's answer is "not ready"
        log.warning("Readiness check %s failed: %s", name, describe(exc))
        attempt.outcome = FAILED
    else:
        attempt.outcome = OK
    finally:
        attempt.done.set()


def describe(error: BaseException) -> str:
    """One line saying why ``error`` happened, and its cause's, with URLs' credentials and passwords masked.

    Examples:
        >>> describe(OSError("redis://user:s3cret@db:6379/0 refused"))
        'OSError: redis://***@db:6379/0 refused'
        >>> describe(ValueError("host=db password=s3cret"))
        'ValueError: host=db password=***'
    """
    parts = [f"{type(error).__name__}: {error}".rstrip(": ")]
    cause = error.__cause__ or error.__context__
    if cause is not None and cause is not error and str(cause) != str(error):
        parts.append(f"{type(cause).__name__}: {cause}".rstrip(": "))
    text = " (caused by ".join(parts) + (")" if len(parts) > 1 else "")
    text = _CREDENTIALS_IN_URL.sub(r"\1***@", " ".join(text.split()))
    return _PASSWORD_PARAMETER.sub(r"\1=***", text)[:500]


def readiness_checks(storage: Storage, bus: EventBus, denylist: Denylist | None = None) -> dict[str, Check]:
    """Return the checks of a Hive's backends: ``storage``, ``bus``, and ``denylist`` when it can say.

    Args:
        storage: Checked with a read by primary key, which finds nothing.
        bus: Checked by its ``check_reachable`` (a bus without one passes).
        denylist: Checked only when it has a ``check_reachable`` (Redis); a list in memory has
            nothing to reach.
    """

    def storage_answers(timeout: float) -> None:
        with storage.unit_of_work() as uow:
            uow.users.get(_NOBODY)

    def bus_answers(timeout: float) -> None:
        check_reachable(bus, timeout)

    checks: dict[str, Check] = {"storage": storage_answers, "bus": bus_answers}
    denylist_check = getattr(denylist, "check_reachable", None)
    if callable(denylist_check):
        checks["denylist"] = denylist_check
    return checks
