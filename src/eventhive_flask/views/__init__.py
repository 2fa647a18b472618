"""The original's JSON API as one blueprint, mounted at ``<EVENTHIVE_URL_PREFIX>/api``.

Importing the package attaches every route to :data:`api` (defined in
:mod:`~eventhive_flask.views.blueprint`, which the route modules import).
"""

from __future__ import annotations

from eventhive_flask.views import api_orders, api_payments, api_tickets, api_users, health
from eventhive_flask.views.blueprint import SIGNED_ENDPOINTS, WEBHOOK_MAX_CONTENT_LENGTH, api

__all__ = [
    "SIGNED_ENDPOINTS",
    "WEBHOOK_MAX_CONTENT_LENGTH",
    "api",
    "api_orders",
    "api_payments",
    "api_tickets",
    "api_users",
    "health",
]
