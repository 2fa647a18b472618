from __future__ import annotations

import pytest

from eventhive_core import Hive


def test_services_payments_is_the_payment_gateway_and_warns(hive: Hive) -> None:
    services = hive.services

    with pytest.warns(DeprecationWarning, match="Services.payments is renamed Services.payment_gateway"):
        gateway = services.payments

    assert gateway is services.payment_gateway is hive.payment_gateway
