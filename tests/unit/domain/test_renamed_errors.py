"""The errors renamed to read as refusals keep their old names for one release, with a warning."""

from __future__ import annotations

import importlib

import pytest

import eventhive_core
from eventhive_core.domain import errors

RENAMED = [
    ("TicketReserved", errors.CannotEditReservedTicket),
    ("OwnTicket", errors.CannotOrderOwnTicket),
    ("OrderCancelled", errors.CannotPayCancelledOrder),
    ("OrderComplete", errors.CannotCancelCompleteOrder),
]


@pytest.mark.parametrize("module", ["eventhive_core", "eventhive_core.domain.errors"])
@pytest.mark.parametrize(("old", "new"), RENAMED)
def test_an_old_error_name_is_the_renamed_class_and_warns(module: str, old: str, new: type[Exception]) -> None:
    with pytest.warns(DeprecationWarning, match=f"{module}.{old} is deprecated; use .*{new.__name__}"):
        alias = getattr(importlib.import_module(module), old)

    assert alias is new
    with pytest.raises(alias):  # `except OldName` still catches what the core raises now
        raise new()


def test_from_import_of_an_old_error_name_works_and_warns() -> None:
    with pytest.warns(
        DeprecationWarning,
        match="eventhive_core.OrderCancelled is deprecated; use eventhive_core.CannotPayCancelledOrder",
    ):
        from eventhive_core import OrderCancelled

    assert OrderCancelled is eventhive_core.CannotPayCancelledOrder


def test_the_wire_does_not_change_with_the_names() -> None:
    assert (errors.CannotPayCancelledOrder.status_code, errors.CannotPayCancelledOrder().to_dict()) == (
        400,
        {"errors": [{"message": "Order is already cancelled. Cannot make payment."}]},
    )
    assert errors.CannotCancelCompleteOrder().message == "Cannot cancel a complete order"
    assert errors.CannotEditReservedTicket().message == "Cannot edit a reserved ticket"
    assert errors.CannotOrderOwnTicket().message == "You cannot order your own ticket"


def test_renamed_names_are_not_in_the_public_list() -> None:
    assert not {old for old, _ in RENAMED} & set(eventhive_core.__all__)
