from __future__ import annotations

import pytest

from eventhive_core.contracts import codec


def test_names_imported_from_the_old_contracts_registry_module_still_work_and_warn() -> None:
    with pytest.warns(
        DeprecationWarning,
        match="contracts.registry.to_envelope is deprecated; use eventhive_core.contracts.codec.to_envelope",
    ):
        from eventhive_core.contracts.registry import to_envelope

    assert to_envelope is codec.to_envelope
