"""Identifiers: time-ordered UUIDv7 text, so new rows sort by creation and index well."""

from __future__ import annotations

import os
import time
import uuid
from typing import NewType

UserId = NewType("UserId", str)
TicketId = NewType("TicketId", str)
OrderId = NewType("OrderId", str)
PaymentId = NewType("PaymentId", str)


def new_id() -> str:
    """Return a new UUIDv7 as canonical text.

    The first 48 bits are the Unix time in milliseconds, so ids created later sort later
    (within one millisecond the order is random). Python 3.11 has no ``uuid.uuid7``.

    Examples:
        >>> len(new_id()), new_id()[14]
        (36, '7')
    """
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a: 12 bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)  # rand_b: 62 bits
    return str(uuid.UUID(int=value))


def is_valid_id(value: object) -> bool:
    """Tell whether ``value`` has the shape of an EventHive id (any UUID in canonical text).

    A malformed id is treated as "no such thing" (404), never as an unexpected failure.

    Examples:
        >>> is_valid_id("0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c01")
        True
        >>> is_valid_id("123"), is_valid_id(None)
        (False, False)
    """
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False
