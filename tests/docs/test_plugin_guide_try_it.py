"""The plugin guide's "Try it" snippet runs as written: the example plugin passed in code, not installed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "plugins" / "writing.md"


def _try_it_blocks() -> tuple[str, str]:
    """Return the section's Python snippet and the shell line that runs it."""
    section = re.search(r"^## 5\. Try it\n(.*?)(?=^## )", GUIDE.read_text(encoding="utf-8"), flags=re.M | re.S)
    assert section, "docs/plugins/writing.md has no '## 5. Try it' section"
    blocks = dict(re.findall(r"^```(python|bash)\n(.*?)^```", section.group(1), flags=re.M | re.S))
    assert set(blocks) == {"python", "bash"}, "the section shows the snippet, then the command that runs it"
    return blocks["python"], blocks["bash"].strip()


def test_the_try_it_command_runs_the_snippet_and_chooses_acme(tmp_path: Path) -> None:
    snippet, command = _try_it_blocks()
    assert "try_acme.py" in command, "the command runs the file the guide says to save"
    # The checkout's root, as the guide has it, without writing into the real one: the snippet's file plus examples/.
    (tmp_path / "try_acme.py").write_text(snippet, encoding="utf-8")
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    # `python` is this interpreter, the one with EventHive installed; PYTHONPATH comes from the command alone.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"

    done = subprocess.run(
        ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "acme"
