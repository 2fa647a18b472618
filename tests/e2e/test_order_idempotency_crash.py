"""A ``serve`` worker killed between an order's commit and its answer: the retry with the key finds that order.

The kill is real: a ``sitecustomize`` module on the server's ``PYTHONPATH`` wraps the SQL unit of
work's ``commit`` in every worker, and when a unit that inserted an order has committed and a
marker file exists, it deletes the marker and SIGKILLs its own worker. No response is ever sent;
gunicorn starts a new worker, and the client, which saw only a dropped connection, sends the
same request with the same ``Idempotency-Key`` again. It must get that order back, not a 409
for a key left "in flight" and not a second order.
"""

from __future__ import annotations

import http.client
import os
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

Server = Any  # the fixture's Server (tests/e2e/conftest.py); conftest modules are not importable here

#: Environment variable naming the marker file (not EVENTHIVE_*: it is no setting of the app).
MARKER_ENV = "KILL_AFTER_ORDER_COMMIT_MARKER"

KILLER = textwrap.dedent(
    f'''
    """Test-only: SIGKILL this process right after a unit of work that inserted an order commits."""

    import os
    import signal

    from eventhive_core.adapters.sqlalchemy.repositories import SqlOrderRepository
    from eventhive_core.adapters.sqlalchemy.unit_of_work import SqlUnitOfWork

    _add, _commit = SqlOrderRepository.add, SqlUnitOfWork.commit


    def _add_and_note(self, order):
        _add(self, order)
        self._session.placed_an_order = True


    def _commit_then_die(self):
        _commit(self)
        placed = getattr(self._session, "placed_an_order", False)
        self._session.placed_an_order = False
        marker = os.environ.get("{MARKER_ENV}")
        if placed and marker and os.path.exists(marker):
            os.remove(marker)
            os.kill(os.getpid(), signal.SIGKILL)


    SqlOrderRepository.add = _add_and_note
    SqlUnitOfWork.commit = _commit_then_die
    '''
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings for the server's database: the default SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return {}
    make: Callable[[], str] = request.getfixturevalue("postgres_database_factory")
    return {"EVENTHIVE_DATABASE_URL": make()}  # ``serve`` migrates it before its workers start


def test_a_worker_killed_after_the_order_commits_leaves_one_order_that_the_retry_gets_back(
    start_server: Callable[..., Server], database_env: dict[str, str], tmp_path: Path
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(KILLER)
    marker = tmp_path / "kill-next-order"
    python_path = os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")]))
    server = start_server(workers=1, PYTHONPATH=python_path, **{MARKER_ENV: str(marker)}, **database_env)
    seller, buyer = server.browser(), server.browser()
    for browser, email in ((seller, "seller@example.com"), (buyer, "buyer@example.com")):
        assert browser.request("POST", "/api/users/signup", {"email": email, "password": "secret1"}).status == 201
    ticket = seller.request("POST", "/api/tickets", {"title": "Gig", "price": 20, "capacity": 3}).body
    order, key = {"ticketId": ticket["id"]}, {"Idempotency-Key": "checkout-7f3a"}
    marker.touch()

    with pytest.raises((http.client.HTTPException, ConnectionError)):
        buyer.request("POST", "/api/orders", order, headers=key)
    assert not marker.exists(), "the worker was not killed after the order's commit"
    assert server.wait_until(lambda: "was sent SIGKILL" in server.log.read_text(), 10)

    retry = buyer.request("POST", "/api/orders", order, headers=key)

    assert retry.status == 201, retry.body
    assert retry.headers.get("Idempotent-Replayed") == "true"
    listed = buyer.request("GET", "/api/orders").body
    assert [placed["id"] for placed in listed] == [retry.body["id"]]
    assert seller.request("GET", f"/api/tickets/{ticket['id']}").body["available"] == 2
