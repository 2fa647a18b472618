"""Idempotency-Key in the core: a success is found through the row it made, a refusal is kept for a while.

A keyed command records the client's key on the row it creates (an order records its
buyer's key), in the transaction that creates it, under a unique index. Whatever crashes after
that commit, the key finds the row: there is no second write for a killed worker to miss, and
no "in flight" marker to outlive it, so a retry never waits out a lease and never acts twice.

The :class:`~eventhive_core.ports.storage.IdempotencyStore` keeps what no row can show:

- **refusals** (a 4xx that changed nothing: sold out, not found, invalid input), as their status
  and error body, for ``idempotency_ttl``, so the same key gets the same refusal back. 409, 429
  and 5xx are never kept: retrying them is the point;
- **a claim** on the key, taken first inside the command's own unit of work, so that a duplicate
  sent at the same time waits until the first one's transaction ends and then finds its row or
  its refusal. The claim is never committed as such: the command drops it once it goes ahead
  (its row answers from then on), or replaces it with the refusal. A crash rolls it back.

A storage that does not make the duplicate wait on the claim is still safe: the unique index
refuses the second row with ConcurrencyConflict, and the message bus runs the loser again.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from eventhive_core.domain.errors import EventHiveError, IdempotencyKeyReused, ReplayedRefusal
from eventhive_core.ports.storage import IdempotencyRecord, UnitOfWork

#: Statuses worth retrying for real: never kept under a key.
RETRYABLE_STATUSES = frozenset({409, 429})


def fingerprint(*parts: object) -> str:
    """Return the hash that tells two requests with one key apart (here: what the command asks for).

    Examples:
        >>> fingerprint("ticket-1", 2) == fingerprint("ticket-1", 2) != fingerprint("ticket-1", 3)
        True
    """
    return hashlib.sha256(json.dumps([str(part) for part in parts]).encode()).hexdigest()


def is_kept(refusal: EventHiveError) -> bool:
    """Tell whether a refusal is kept under its key: a 4xx, but not 409 or 429.

    Examples:
        >>> from eventhive_core.domain.errors import ConcurrencyConflict, SoldOut
        >>> is_kept(SoldOut()), is_kept(ConcurrencyConflict())
        (True, False)
    """
    return refusal.status_code < 500 and refusal.status_code not in RETRYABLE_STATUSES


def replay_refusal(record: IdempotencyRecord, request_fingerprint: str) -> None:
    """Give a kept refusal again; return when the record is only a claim (nothing to replay).

    Raises:
        ReplayedRefusal: The key was refused before, for the same request.
        IdempotencyKeyReused: The key was refused before, for another request.
    """
    if record.status_code is None or record.body is None:
        return
    if record.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused()
    raise ReplayedRefusal(record.status_code, record.body)


def keep_refusal(
    uow: UnitOfWork,
    scope: str,
    key: str,
    request_fingerprint: str,
    refusal: EventHiveError,
    now: datetime,
    expires_at: datetime,
) -> None:
    """Keep ``refusal`` under the key inside ``uow`` (the caller commits), unless the key already has an answer."""
    if uow.idempotency.begin(scope, key, request_fingerprint, now, expires_at) is None:
        uow.idempotency.finish(scope, key, refusal.status_code, json.dumps(refusal.to_dict()))


__all__ = ["RETRYABLE_STATUSES", "fingerprint", "is_kept", "keep_refusal", "replay_refusal"]
