"""The read models moved from eventhive_core.ports.views; the old module serves them for one release, with a warning."""

from __future__ import annotations

import importlib
import warnings

import pytest

from eventhive_core.domain import read_models


@pytest.mark.parametrize("name", read_models.__all__)
def test_a_name_imported_from_ports_views_is_the_read_model_and_warns(name: str) -> None:
    views = importlib.import_module("eventhive_core.ports.views")

    with pytest.warns(
        DeprecationWarning, match=f"ports.views.{name} is deprecated; use eventhive_core.domain.read_models.{name}"
    ):
        moved = getattr(views, name)

    assert moved is getattr(read_models, name)


def test_from_import_of_ports_views_works_and_warns() -> None:
    with pytest.warns(DeprecationWarning, match="use eventhive_core.domain.read_models.OrderView"):
        from eventhive_core.ports.views import OrderView

    assert OrderView is read_models.OrderView


def test_importing_the_old_module_alone_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(importlib.import_module("eventhive_core.ports.views"))
