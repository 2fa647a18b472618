"""The README's set-up commands are the ones CI really runs, and a failing or empty test run fails CI."""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
CI_RUN = ROOT / ".ci" / "run"


def code_block_under(heading: str) -> list[str]:
    """Return the lines of the first fenced code block after the ``## heading`` of the README."""
    text = README.read_text(encoding="utf-8")
    section = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    assert section, f"README.md has no '## {heading}' section"
    block = re.search(r"^```[^\n]*\n(.*?)^```", section.group(1), flags=re.MULTILINE | re.DOTALL)
    assert block, f"README.md's '{heading}' section has no code block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def readme_command(heading: str) -> str:
    lines = code_block_under(heading)
    assert len(lines) == 1, f"the '{heading}' block should hold exactly one command line, found {lines}"
    return lines[0]


def shell_function(name: str) -> str:
    """Return the source of one top-level bash function of .ci/run."""
    match = re.search(
        rf"^{name}\(\) \{{\n.*?^\}}\n", CI_RUN.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL
    )
    assert match, f".ci/run defines no function {name}()"
    return match.group(0)


def ci_code_lines() -> list[str]:
    return [
        line.strip()
        for line in CI_RUN.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    command = readme_command("Run the tests")
    assert command in ci_code_lines(), f".ci/run must run {command!r} on a line of its own, word for word"


def test_the_readme_test_command_installs_every_extra_and_the_test_tools_then_runs_pytest() -> None:
    words = shlex.split(readme_command("Run the tests"))
    assert words[:3] == ["pip", "install", "-e"]
    assert set(words[3].removeprefix(".[").removesuffix("]").split(",")) >= {"all", "test"}
    assert words[-2:] == ["&&", "pytest"]


def test_the_readme_run_command_installs_the_server_extra_and_starts_the_platform() -> None:
    # The walk-through under it is run word for word by tests/e2e/test_readme_walkthrough.py.
    words = shlex.split(readme_command("Run it"))
    assert words == ["pip", "install", "-e", ".[server]", "&&", "eventhive", "serve"]


def test_the_quickstart_shows_the_example_file_itself() -> None:
    quickstart = (ROOT / "docs" / "quickstart.md").read_text(encoding="utf-8")
    assert '--8<-- "examples/embedded.py"' in quickstart
    assert "pip install -e ." in quickstart
    assert "python examples/embedded.py" in quickstart


def test_the_ci_script_is_executable_and_stops_on_errors() -> None:
    assert CI_RUN.stat().st_mode & stat.S_IXUSR, ".ci/run must be executable"
    assert "set -euo pipefail" in ci_code_lines()


def run_readme_tests_stage(tmp_path: Path, pytest_exit: int, pip_exit: int = 0) -> subprocess.CompletedProcess[str]:
    """Run .ci/run's own stage machinery around its README test command, with pip and pytest stubbed."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool, code in (("pip", pip_exit), ("pytest", pytest_exit)):
        stub = bin_dir / tool
        stub.write_text(f"#!/bin/sh\necho {tool} ran\nexit {code}\n", encoding="utf-8")
        stub.chmod(0o755)
    script = "\n".join(
        [
            "set -euo pipefail",
            "timings=()",
            "failed=()",
            shell_function("stage"),
            shell_function("check"),
            shell_function("readme_tests"),
            "check tests readme_tests",
            'echo "failed: ${failed[*]}"',
            "((${#failed[@]} == 0))",
        ]
    )
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, check=False)


def test_a_passing_test_run_passes_the_stage(tmp_path: Path) -> None:
    result = run_readme_tests_stage(tmp_path, pytest_exit=0)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pytest ran" in result.stdout


@pytest.mark.parametrize(
    ("pytest_exit", "meaning"),
    [(1, "a test failed"), (5, "no test was collected"), (2, "pytest was interrupted")],
)
def test_a_failing_or_empty_test_run_fails_the_stage(tmp_path: Path, pytest_exit: int, meaning: str) -> None:
    result = run_readme_tests_stage(tmp_path, pytest_exit=pytest_exit)
    assert result.returncode != 0, f"{meaning} (pytest exit {pytest_exit}) must fail CI"
    assert "failed: tests" in result.stdout


def test_a_failed_install_fails_the_stage_without_running_pytest(tmp_path: Path) -> None:
    result = run_readme_tests_stage(tmp_path, pytest_exit=0, pip_exit=1)
    assert result.returncode != 0
    assert "pytest ran" not in result.stdout
