"""The embedding example in the README and the quickstart is a real program that works."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "embedded.py"


def test_the_embedding_example_signs_up_lists_reserves_pays_and_expires() -> None:
    done = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Listed 'Jazz night' at 25.00 USD, 2 units" in out
    assert re.search(r"Order \S+ is created, pay before", out)
    assert "Payment succeeded: order is complete" in out
    assert "A third order is refused: Ticket is already reserved" in out
    assert re.search(r"Expired holds swept: 1; order \S+ is cancelled", out)
    assert "Units free again: 1" in out


def test_the_quickstart_includes_the_example_file_itself() -> None:
    quickstart = (ROOT / "docs" / "quickstart.md").read_text()
    assert '--8<-- "examples/embedded.py"' in quickstart


def test_the_readme_shows_the_example_program_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert EXAMPLE.read_text() in blocks, "README must show examples/embedded.py exactly (copy it into a python block)"
