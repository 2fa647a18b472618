"""Why a message cannot be read as an EventHive event."""

from __future__ import annotations

from pydantic import ValidationError


class EventContractError(ValueError):
    """Base class: a message or an event does not meet its contract."""


class UnknownEventType(EventContractError):
    """The `(type, version)` pair is not in the registry.

    A consumer meets this when a producer is newer than it (a version it does not know yet) or
    when the message is not an EventHive event at all; upgrading the consumer is the usual fix.
    """


class InvalidEnvelope(EventContractError):
    """The envelope or its `data` does not validate against the contract."""


def describe_validation_error(error: ValidationError, prefix: str = "") -> str:
    """Return a one-line summary of a pydantic error: each failing location and why.

    Args:
        error: The pydantic error.
        prefix: Prepended to each location, e.g. `data.` for payload fields.

    Returns:
        Text such as `data.quantity: Input should be greater than or equal to 1`.
    """
    parts = []
    for item in error.errors(include_url=False):
        location = ".".join(str(step) for step in item["loc"])
        parts.append(f"{prefix}{location}: {item['msg']}" if location else item["msg"])
    return "; ".join(parts)
