"""A process of the NATS bus tests: a Hive on a database, with the ``nats`` bus.

``python nats_worker.py consume DATABASE_URL NATS_URL PREFIX ROLE LOG [DELAY]``
    Runs ROLE's consumer. Its subscriber ``tests.nats.apply`` follows ``ticket:created``: it waits
    DELAY seconds, records a row in its own database for the event under a fresh id (applied
    twice, an event would have two), and appends ``<pid> <event id>`` to LOG (one line per attempt).
    Prints ``{"ready": pid}``, then runs until its stdin closes.

``python nats_worker.py publish DATABASE_URL NATS_URL PREFIX WHEN``
    Lists a ticket (its ``ticket:created`` commits in the outbox), prints ``{"committed": ticket id}``,
    then with WHEN ``after_commit`` waits to be killed, and with ``after_ack`` relays and kills
    itself with SIGKILL the moment JetStream acknowledged the publish, before the relay marks it sent.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any

APPLIED_TYPE = "tests:applied"


def say(**answer: Any) -> None:
    print(json.dumps(answer), flush=True)


def main() -> None:
    from eventhive_core import CreateTicket, SignUp, hookimpl
    from eventhive_core.adapters.nats import NatsBus
    from eventhive_core.clock import SystemClock
    from eventhive_core.domain.ids import new_id
    from eventhive_core.ports.messages import Message
    from eventhive_core.testing.hives import make_test_hive

    mode, url, nats_url, prefix = sys.argv[1:5]
    common: dict[str, Any] = {
        "storage": "sqlalchemy",
        "database_url": url,
        "storage_options": {"migrate": "off"},
        "load_plugins": (),
        "event_bus": "nats",
        "nats_url": nats_url,
        "nats_prefix": prefix,
        "nats_ack_wait": 2,
        "nats_retry_delay": 0.1,
        "nats_batch_size": 10,
    }
    if mode == "consume":
        role, log_path = sys.argv[5:7]
        delay = float(sys.argv[7]) if len(sys.argv) > 7 else 0.0

        class Apply:
            @hookimpl
            def eventhive_register_subscribers(self, register: Any) -> None:
                register("tests.nats.apply", "ticket:created", role, self.apply)

            def apply(self, envelope: Any, uow: Any) -> None:
                time.sleep(delay)
                uow.outbox.add(Message(id=new_id(), type=APPLIED_TYPE, body=str(envelope.id)), envelope.occurred_at)
                fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, f"{os.getpid()} {envelope.id}\n".encode())
                finally:
                    os.close(fd)

        hive = make_test_hive(SystemClock(), plugins=(Apply(),), nats_roles=(role,), **common)
        hive.start(background=False)  # the consumer only: no relay (the applied rows stay put)
        say(ready=os.getpid())
        sys.stdin.read()
        hive.close()
        return

    when = sys.argv[5]

    class DiesOnAck(NatsBus):
        async def _publish(self, message: Any) -> Any:
            ack = await super()._publish(message)
            os.kill(os.getpid(), signal.SIGKILL)
            return ack

    bus: Any = None
    if when == "after_ack":
        bus = DiesOnAck(url=nats_url, prefix=prefix)
    if bus is not None:
        common["event_bus"] = bus
    hive = make_test_hive(SystemClock(), **common)
    seller = hive.handle(SignUp(email="seller@example.com", password="password")).user.id
    ticket = hive.handle(CreateTicket(owner_id=seller, title="Gig", price="10", capacity=3))
    say(committed=ticket.id)
    if when == "after_commit":
        sys.stdin.read()
        return
    hive.relay_outbox()
    say(error="the relay returned: the process should have died on the ack")


if __name__ == "__main__":
    main()
