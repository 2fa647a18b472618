"""The JSON API's blueprint and what every API request goes through: size limit, CSRF, draining, errors.

The route modules (``api_orders``, ``api_tickets``...) attach to :data:`api`; the package
(``eventhive_flask.views``) imports them all so that the routes exist once it is imported.

Registered with ``role=<EVENTHIVE_ROLE>``, the blueprint adds only that service's routes
(:mod:`eventhive_flask.roles`): another service's path then has no rule at all and answers 404
like any unknown path, before CSRF checks, rate limits or the body are looked at.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request
from flask.blueprints import BlueprintSetupState
from flask.sansio.app import App
from flask.typing import RouteCallable

from eventhive_flask.auth import check_csrf
from eventhive_flask.draining import drain_body
from eventhive_flask.errors import handle_any
from eventhive_flask.roles import serves
from eventhive_flask.state import current_state


class _RoleSetupState(BlueprintSetupState):
    """Adds a route only if the role the blueprint is registered for serves it (every route without one)."""

    def add_url_rule(
        self, rule: str, endpoint: str | None = None, view_func: RouteCallable | None = None, **options: Any
    ) -> None:
        """Add ``rule`` to the app, unless the ``role`` option names a service that does not serve it."""
        if serves(self.options.get("role"), rule):
            super().add_url_rule(rule, endpoint, view_func, **options)


class ApiBlueprint(Blueprint):
    """A blueprint whose ``register_blueprint(..., role=...)`` keeps only that service's routes."""

    def make_setup_state(
        self, app: App, options: dict[str, Any], first_registration: bool = False
    ) -> BlueprintSetupState:
        """Return the setup state that filters the routes by the ``role`` option (Flask's documented hook)."""
        return _RoleSetupState(self, app, options, first_registration)


#: The API blueprint (registered by ``EventHive.init_app``; its endpoints are ``eventhive_api.*``).
api = ApiBlueprint("eventhive_api", __name__)


#: Endpoints whose caller is authenticated by a signature over the body, not by the cookie.
SIGNED_ENDPOINTS = frozenset({"eventhive_api.payment_webhook"})

#: Webhook bodies are the provider's, not our clients': allow at least this much (Stripe events are a few KiB).
WEBHOOK_MAX_CONTENT_LENGTH = 1024 * 1024


@api.before_request
def _guard() -> None:
    # The size limit is ours (EVENTHIVE_MAX_CONTENT_LENGTH), not the whole app's MAX_CONTENT_LENGTH.
    limit = current_state().flask.max_content_length
    if request.endpoint in SIGNED_ENDPOINTS:
        request.max_content_length = max(limit, WEBHOOK_MAX_CONTENT_LENGTH)
        return  # CSRF protects cookie sessions; a webhook carries its provider's signature instead
    request.max_content_length = limit
    check_csrf()


@api.after_request
def _finish(response: Response) -> Response:
    drain_body()  # an early answer must not leave half a body on a keep-alive connection
    return response


api.register_error_handler(Exception, handle_any)


__all__ = ["SIGNED_ENDPOINTS", "WEBHOOK_MAX_CONTENT_LENGTH", "ApiBlueprint", "api"]
