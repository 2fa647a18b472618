"""Identifiers: time-ordered UUIDv7 text, so new rows sort by creation and index well."""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import NewType

UserId = NewType("UserId", str)
TicketId = NewType("TicketId", str)
OrderId = NewType("OrderId", str)
PaymentId = NewType("PaymentId", str)


_lock = threading.Lock()
_last = [0, 0]  # [millis, 12-bit sequence] of the previous id in this process


def new_id() -> str:
    """Return a new UUIDv7 as canonical text.

    The first 48 bits are the Unix time in milliseconds and the next 12 a counter within that
    millisecond (RFC 9562, method 1), so within one process every id sorts after the ids made
    before it; listings ordered by id are in creation order. Python 3.11 has no ``uuid.uuid7``.

    Examples:
        >>> len(new_id()), new_id()[14]
        (36, '7')
        >>> a, b = new_id(), new_id()
        >>> a < b
        True
    """
    with _lock:
        millis = max(time.time_ns() // 1_000_000, _last[0])
        if millis == _last[0]:
            seq = _last[1] + 1
            if seq > 0xFFF:  # counter exhausted: borrow the next millisecond
                millis, seq = millis + 1, 0
        else:
            seq = int.from_bytes(os.urandom(1), "big")  # start low, leaving room to count up
        _last[0], _last[1] = millis, seq
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= seq << 64  # rand_a: the monotonic counter
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand_b
    return str(uuid.UUID(int=value))


#: An id as :func:`is_valid_id` accepts it: a UUID in canonical text, lower-case as EventHive writes it.
ID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def is_valid_id(value: object) -> bool:
    """Tell whether ``value`` has the shape of an EventHive id (a UUID in canonical text, :data:`ID_PATTERN`).

    Ids are compared as text, so only the spelling EventHive issues (lower case) can name
    anything; any other is malformed. A malformed id is treated as "no such thing" (404), never
    as an unexpected failure.

    Examples:
        >>> is_valid_id("0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c01")
        True
        >>> is_valid_id("123"), is_valid_id(None), is_valid_id("0192C1A4-7E3B-7CC2-9D1E-3F6A2B9E8C01")
        (False, False, False)
    """
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False
