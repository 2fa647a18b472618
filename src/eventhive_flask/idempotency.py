"""``Idempotency-Key`` on ``POST /api/payments``: one key, one outcome, replayed for a while.

``POST /api/orders`` does not use this decorator: the core records its key on the order, in the
order's own transaction (see ``eventhive_core.service_layer.idempotency``), because a response
stored after the order commits is lost with a worker killed in between. A payment does not need
that: its money moves only under the provider's own idempotency keys, one per payment attempt
(``eventhive_core.service_layer.payments``), so a retry after such a crash never charges twice;
this decorator only spares it the work and gives the first answer back.

For a signed-in caller, the first request with a key runs and its response is stored (per
caller, for ``EVENTHIVE_IDEMPOTENCY_TTL``, 24 h by default). The same key again gets the stored
response back with ``Idempotent-Replayed: true``; while the first is still running, 409; with a
different request (method, path or body), 422. Responses worth retrying (409, 429, any 5xx) are
not stored, so the retry runs for real. Storage is the core's ``IdempotencyStore``, so this holds
across worker processes. A request still marked running after ``IN_FLIGHT_LEASE`` died with its
worker; the next request with its key runs instead of getting 409 for a day.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ParamSpec

from flask import Response, request

from eventhive_core import EventHiveError, IdempotencyKeyInFlight, IdempotencyKeyReused, ValidationFailed
from eventhive_core.domain.validation import idempotency_key_errors
from eventhive_core.ports.storage import IdempotencyRecord
from eventhive_flask.auth import require_identity
from eventhive_flask.bodies import fingerprint_text
from eventhive_flask.errors import from_eventhive_error
from eventhive_flask.responses import json_text_response
from eventhive_flask.state import current_state

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"

#: A request still marked running after this long is taken to have died (no request runs this long).
IN_FLIGHT_LEASE = timedelta(minutes=2)

P = ParamSpec("P")


def _stored(status: int) -> bool:
    return status < 500 and status not in (409, 429)


def abandoned(record: IdempotencyRecord, now: datetime, ttl: timedelta) -> bool:
    """Tell whether a request still marked running started longer than ``IN_FLIGHT_LEASE`` ago."""
    started = record.expires_at - ttl
    return record.status_code is None and now - started > IN_FLIGHT_LEASE


def request_fingerprint() -> str:
    """Return the hash that tells two requests with one key apart (method, path and canonical body)."""
    return hashlib.sha256(fingerprint_text().encode()).hexdigest()


def idempotent(view: Callable[P, Response]) -> Callable[P, Response]:
    """Make a view honour ``Idempotency-Key`` (the view must require a signed-in caller)."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        identity = require_identity()
        if problems := idempotency_key_errors(key):
            raise ValidationFailed(problems)
        hive = current_state().hive
        fingerprint = request_fingerprint()
        now = hive.clock.now()
        scope = identity.user_id
        ttl = hive.settings.idempotency_ttl
        with hive.uow() as uow:
            existing = uow.idempotency.begin(scope, key, fingerprint, now, now + ttl)
            if existing is not None and abandoned(existing, now, ttl):
                # The first request died mid-way (a killed worker): nothing to replay, so run it now.
                uow.idempotency.abandon(scope, key)
                existing = uow.idempotency.begin(scope, key, fingerprint, now, now + ttl)
            uow.commit()
        if existing is not None:
            if existing.fingerprint != fingerprint:
                raise IdempotencyKeyReused()
            if existing.status_code is None or existing.body is None:
                raise IdempotencyKeyInFlight()
            replay = json_text_response(existing.body, existing.status_code)
            replay.headers[REPLAYED_HEADER] = "true"
            return replay
        try:
            try:
                response = view(*args, **kwargs)
            except EventHiveError as exc:
                response = from_eventhive_error(exc)
        except BaseException:
            _abandon(scope, key)
            raise
        if _stored(response.status_code):
            with hive.uow() as uow:
                uow.idempotency.finish(scope, key, response.status_code, response.get_data(as_text=True))
                uow.commit()
        else:
            _abandon(scope, key)
        return response

    return wrapper


def _abandon(scope: str, key: str) -> None:
    with current_state().hive.uow() as uow:
        uow.idempotency.abandon(scope, key)
        uow.commit()


__all__ = ["HEADER", "IN_FLIGHT_LEASE", "REPLAYED_HEADER", "abandoned", "idempotent", "request_fingerprint"]
