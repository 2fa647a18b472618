"""Hooks only the Flask extension calls; plugins implement them with ``eventhive_core.hookimpl``.

``docs/flask/extension.md`` documents each one.
"""

# mypy: disable-error-code="empty-body"
# (Specifications are signatures with documentation; pluggy never runs their bodies.)

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from flask import Flask, Request

    from eventhive_core import Hive, Identity

hookspec = pluggy.HookspecMarker("eventhive")


@hookspec
def eventhive_flask_register_blueprints(app: Flask, hive: Hive) -> None:
    """Register extra blueprints on an app that uses EventHive.

    Called once by ``EventHive.init_app(app)`` after the API is registered.

    Args:
        app: The Flask app being set up.
        hive: Its Hive.
    """


@hookspec(firstresult=True)
def eventhive_flask_identity(request: Request, hive: Hive) -> Identity | None:
    """Say who is calling, instead of the built-in JWT cookie and Bearer check.

    Called at most once per request, the first time the caller's identity is needed. The first
    implementation returning an :class:`~eventhive_core.Identity` wins; None leaves the choice
    to the next one and finally to the built-in JWT check. An implementation that trusts
    cookies must protect unsafe requests from cross-site forgery itself.

    Args:
        request: The current request.
        hive: The app's Hive.

    Returns:
        The caller's identity, or None.
    """


__all__ = ["eventhive_flask_identity", "eventhive_flask_register_blueprints", "hookspec"]
