"""The README's curl walk-through, run word for word against a real ``eventhive serve``.

Only the port changes (the test picks a free one instead of 8000), and curl must be installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _walkthrough() -> list[str]:
    section = re.search(r"^## Run it\s*$(.*?)(?=^## )", README.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)
    assert section, "README.md has no '## Run it' section"
    blocks = re.findall(r"^```bash\n(.*?)^```", section.group(1), re.MULTILINE | re.DOTALL)
    assert len(blocks) == 2, "the Run it section has the install line and then the curl walk-through"
    return [line for line in blocks[1].splitlines() if line.strip()]


def test_the_readme_curl_walkthrough_works_as_written(start_server: Callable[..., Any], tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    server = start_server()
    lines = [line.replace("127.0.0.1:8000", f"127.0.0.1:{server.port}") for line in _walkthrough()]
    # Echo a separator after each command so each one's output can be checked.
    script = "set -euo pipefail\n" + "\n".join(f"{line}\necho '<<end>>'" for line in lines)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    result = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr
    outputs = [chunk.strip() for chunk in result.stdout.split("<<end>>")][: len(lines)]
    seller, buyer, _, listed, _, emptied, paid, order = outputs
    assert json.loads(seller)["email"] == "seller@example.com"
    assert json.loads(buyer)["email"] == "buyer@example.com"
    assert [t["title"] for t in json.loads(listed)] == ["Jazz night"]
    assert json.loads(emptied) == []
    assert json.loads(paid)["status"] == "succeeded"
    assert json.loads(order)["status"] == "complete"
    assert json.loads(order)["ticket"]["price"] == 25.5
