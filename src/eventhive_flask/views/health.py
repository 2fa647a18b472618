"""``GET /api/health``: the process answers and its storage is reachable (liveness).

``GET /api/health/ready``: the storage, the event bus (its broker or server) and a Redis denylist
all answer now (readiness); 503 naming the check that did not, with the reason in the log only.
"""

from __future__ import annotations

import logging

from flask import Response

from eventhive_core import EventHiveError, TransientStorageError, __version__
from eventhive_flask.responses import json_response, json_text_response
from eventhive_flask.schemas import HealthOut, NotReadyOut, ReadyOut
from eventhive_flask.state import current_hive, current_state
from eventhive_flask.views.blueprint import api

log = logging.getLogger("eventhive_flask")
_NOBODY = "00000000-0000-7000-8000-000000000000"


@api.get("/health", endpoint="health")
def health() -> Response:
    """200 ``{"status": "ok", "version"}`` once a storage round trip succeeds (errors give 5xx)."""
    try:
        with current_hive.uow() as uow:
            uow.users.get(_NOBODY)
    except EventHiveError:
        raise
    except Exception as exc:
        # Whatever the storage raised, the answer a load balancer needs is "not now".
        log.warning("Health check failed: %s", exc)
        raise TransientStorageError() from exc
    return json_response(HealthOut(version=__version__))


@api.get("/health/ready", endpoint="health_ready")
def ready() -> Response:
    """200 ``{"status": "ready", "checks"}`` when every backend answered in time, else 503 naming which did not."""
    readiness = current_hive.readiness(timeout=current_state().flask.readiness_timeout)
    if readiness.ready:
        return json_response(ReadyOut(checks={name: "ok" for name in readiness.checks}))
    # The outcomes are "ok", "failed" or "timeout": no URL, password or exception text can get here.
    down = ", ".join(f"{name} ({outcome})" for name, outcome in readiness.checks.items() if outcome != "ok")
    body = NotReadyOut.model_validate(
        {"errors": [{"message": f"Not ready: {down}; retry shortly"}], "checks": dict(readiness.checks)}
    )
    return json_text_response(body.model_dump_json(by_alias=True, exclude_none=True), 503)
