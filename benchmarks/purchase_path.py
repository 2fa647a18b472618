"""How much of EventHive one purchase runs through: source files and functions from HTTP to expiry.

Builds the reference app (``create_app``) on a fresh SQLite file with the in-process bus and
expiry scheduler (the embedded default), signs a seller and a buyer up and lists a ticket
untraced, then traces every thread while the buyer ``POST /api/orders`` and the hold expires on
its own (the in-process scheduler cancels it, the relay publishes ``order:cancelled``). It
reports the project's source files and functions that ran in that window (module bodies run by
imports are not counted), and the project's source lines. A smaller path is easier to read and
to change; this is the figure to compare before and after a consolidation.

Usage: ``python benchmarks/purchase_path.py [--list]``. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

SRC = Path(__file__).resolve().parent.parent / "src"


def source_lines() -> dict[str, int]:
    """Count the project's Python lines: all of them, and those that are neither blank nor comments."""
    total = code = 0
    for path in SRC.rglob("*.py"):
        for line in path.read_text().splitlines():
            total += 1
            stripped = line.strip()
            code += bool(stripped) and not stripped.startswith("#")
    return {"lines": total, "non_blank_non_comment_lines": code}


class Tracer:
    """Record the project's functions called in every thread while ``recording``.

    Installed before the app starts its background threads (a profile function reaches only
    threads started after it is set); it records only between ``recording = True`` and ``False``.
    """

    def __init__(self) -> None:
        self.functions: set[tuple[str, str]] = set()
        self.recording = False
        self._root = str(SRC)

    def _trace(self, frame: FrameType, event: str, arg: Any) -> None:
        code = frame.f_code
        in_project = code.co_filename.startswith(self._root) and code.co_name != "<module>"
        if self.recording and event == "call" and in_project:
            self.functions.add((os.path.relpath(code.co_filename, self._root), code.co_qualname))

    def install(self) -> None:
        threading.setprofile(self._trace)
        sys.setprofile(self._trace)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="also print the files, one per line")
    args = parser.parse_args()
    from eventhive_flask import create_app, current_hive

    tracer = Tracer()
    tracer.install()
    with tempfile.TemporaryDirectory() as data:
        app = create_app(
            {
                "EVENTHIVE_DATA_DIR": data,
                "EVENTHIVE_RESERVATION_TTL": 1,
                "EVENTHIVE_EXPIRY_GRACE": 0,
                "EVENTHIVE_RUN_BACKGROUND": True,
                "EVENTHIVE_RATE_LIMITS": False,
            }
        )
        seller, buyer = app.test_client(), app.test_client()
        for client, email in ((seller, "seller@example.com"), (buyer, "buyer@example.com")):
            client.post("/api/users/signup", json={"email": email, "password": "correct horse"})
        ticket = seller.post("/api/tickets", json={"title": "Concert", "price": 20}).get_json()
        buyer.get("/api/tickets")  # warm lazily built parts the purchase would otherwise pay for

        tracer.recording = True
        order = buyer.post("/api/orders", json={"ticketId": ticket["id"]}).get_json()
        deadline = time.monotonic() + 30
        with app.app_context():
            hive = current_hive
            while hive.queries.order(order["id"]).status.value != "cancelled" and time.monotonic() < deadline:
                time.sleep(0.05)
        time.sleep(1.5)  # relay polls after the cancel, so publishing its event is in the window
        tracer.recording = False
        with app.app_context():
            status = current_hive.queries.order(order["id"]).status.value
            current_hive.close()

    files = sorted({path for path, _ in tracer.functions})
    if args.list:
        for path in files:
            print(path)
    result = {
        "benchmark": "purchase_path",
        "order_status": status,
        "files": len(files),
        "functions": len(tracer.functions),
        **source_lines(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
