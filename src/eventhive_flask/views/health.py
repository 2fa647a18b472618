"""``GET /api/health``: the process answers and its storage is reachable."""

from __future__ import annotations

import logging

from flask import Response

from eventhive_core import EventHiveError, TransientStorageError, __version__
from eventhive_flask.responses import json_response
from eventhive_flask.schemas import HealthOut
from eventhive_flask.state import current_hive
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
