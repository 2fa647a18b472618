"""Which routes of the JSON API each service of a split platform serves (``EVENTHIVE_ROLE``).

The original was five services behind one ingress, and each answered its own paths only: auth
``/api/users/*``, tickets ``/api/tickets*``, orders ``/api/orders*``, payments ``/api/payments*``
(the provider's webhook included), and expiration none. The ``client`` role (the original's Next.js
client) renders the web pages by calling that API, so it serves none of its paths either. An app
with a role serves the same, plus the health route every service keeps for its load balancer, and
``/api/openapi.json`` describing what it serves. Another service's path answers 404, as an unknown
path does. The whole platform (no role) serves everything.

The API blueprint (:mod:`eventhive_flask.views.blueprint`) and the OpenAPI document both ask
:func:`serves`, so what is routed and what is documented cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: The paths (under the API root) each service owns; a path is its own and everything below it.
ROLE_ROUTES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "auth": ("/users",),
        "tickets": ("/tickets",),
        "orders": ("/orders",),
        "payments": ("/payments",),
        "expiration": (),
        "client": (),
    }
)

#: Paths every service serves, whatever its role.
SHARED_ROUTES: tuple[str, ...] = ("/health",)


def served_paths(role: str | None) -> tuple[str, ...]:
    """Return the paths (under the API root) ``role`` serves, its own first; () for the whole platform (it serves all).

    Raises:
        KeyError: ``role`` is not a service of the split.

    Examples:
        >>> served_paths("tickets")
        ('/tickets', '/health')
    """
    if role is None:
        return ()
    return (*ROLE_ROUTES[role], *SHARED_ROUTES)


def serves(role: str | None, path: str) -> bool:
    """Tell whether the service ``role`` (None: the whole platform) answers a route.

    Args:
        role: The app's ``EVENTHIVE_ROLE``.
        path: The route under the API root, as a rule (``/tickets/<ticket_id>``) or an OpenAPI
            path (``/tickets/{ticketId}``).

    Raises:
        KeyError: ``role`` is not a service of the split.

    Examples:
        >>> serves("tickets", "/tickets/<ticket_id>"), serves("tickets", "/users/signup")
        (True, False)
        >>> serves("expiration", "/health"), serves(None, "/orders")
        (True, True)
    """
    if role is None:
        return True
    # A segment boundary, so that "/users" never claims a "/usersettings" of another service.
    return any(path == own or path.startswith(own + "/") for own in served_paths(role))


__all__ = ["ROLE_ROUTES", "SHARED_ROUTES", "served_paths", "serves"]
