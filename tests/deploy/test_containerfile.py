"""The Containerfile: hadolint finds no error, it builds what it says, and the commands it runs work.

No container runtime runs here, so the build stage's steps run as they are written, outside a
container: the wheel is built from this checkout and installed into a fresh virtualenv, and the
image's entry point runs from there.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .manifests import ROOT, require_tool

CONTAINERFILE = ROOT / "Containerfile"


def _instructions() -> list[tuple[str, str]]:
    """The Containerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            found.append((keyword.upper(), " ".join(rest.split())))
    return found


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, rest in _instructions():
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, rest))
    return stages


def _hadolint(path: Path) -> tuple[int, list[dict[str, object]]]:
    hadolint = require_tool("hadolint")
    completed = subprocess.run(
        [hadolint, "--format", "json", "--failure-threshold", "error", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return completed.returncode, json.loads(completed.stdout or "[]")


def test_hadolint_finds_no_error_in_the_containerfile() -> None:
    status, findings = _hadolint(CONTAINERFILE)

    assert status == 0, findings
    assert [finding for finding in findings if finding["level"] == "error"] == []


def test_the_hadolint_check_fails_on_a_containerfile_with_an_error(tmp_path: Path) -> None:
    broken = tmp_path / "Containerfile"
    # DL3000: WORKDIR must be absolute; DL3004: no sudo. Both are errors.
    broken.write_text("FROM python:3.11-slim\nWORKDIR app\nRUN sudo true\n")

    status, findings = _hadolint(broken)

    assert status != 0
    assert {finding["code"] for finding in findings if finding["level"] == "error"} >= {"DL3000", "DL3004"}


def test_the_image_is_built_in_two_stages_on_a_slim_base_and_runs_eventhive_as_a_numeric_non_root_user() -> None:
    build, run = _stages()
    run_keywords = dict(run)

    assert build[0][1].endswith("AS build")
    assert run[0][1] == "${PYTHON_IMAGE}"
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.\d+-slim", CONTAINERFILE.read_text(encoding="utf-8"))
    user = run_keywords["USER"].split(":")[0]
    assert user.isdigit()
    assert int(user) != 0
    assert json.loads(run_keywords["ENTRYPOINT"]) == ["eventhive"]
    assert json.loads(run_keywords["CMD"])[0] == "serve"
    assert "COPY --from=build /opt/eventhive /opt/eventhive" in {f"{k} {v}" for k, v in run}


def test_the_final_stage_installs_no_compiler_and_copies_no_source() -> None:
    _, run = _stages()
    runs = " ".join(rest for keyword, rest in run if keyword == "RUN")
    copies = [rest for keyword, rest in run if keyword in {"COPY", "ADD"}]

    assert not re.search(r"\b(gcc|g\+\+|build-essential|clang|make|apt-get install)\b", runs)
    assert all(copy.startswith("--from=build ") for copy in copies), copies


def test_the_build_context_keeps_out_everything_but_what_the_wheel_is_built_from() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]

    build = [rest for keyword, rest in _stages()[0] if keyword == "COPY"]
    copied = [word for copy in build for word in copy.split()[:-1]]

    for needed in copied:
        assert not _excluded_by(patterns, needed), f"COPY {needed} but .dockerignore keeps it out"
    for private in (
        "eventhive-data/jwt-secret",
        "examples/reference/.env",
        ".git/config",
        ".venv/bin/python",
        "tests/conftest.py",
    ):
        assert _excluded_by(patterns, private), f"{private} would be sent to the builder"


def _excluded_by(patterns: list[str], path: str) -> bool:
    """Docker's rule: the last pattern matching the path (or a parent folder) decides."""
    excluded = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negated = pattern.startswith("!")
        bare = pattern.lstrip("!").rstrip("/")
        if any(
            fnmatch.fnmatch(prefix, bare) or fnmatch.fnmatch(prefix, bare.replace("**/", "")) for prefix in prefixes
        ):
            excluded = not negated
    return excluded


@pytest.mark.slow
def test_the_build_stages_wheel_installs_and_its_entry_point_runs_the_images_commands(tmp_path: Path) -> None:
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    # As the build stage: a wheel of the checkout (hatchling is a test tool, so no download)...
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("eventhive_tickets-*.whl")
    # ...installed on its own, first on the path; its dependencies come from this interpreter's
    # environment (the image's virtualenv gets them from the index).
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")}
    env["PYTHONPATH"] = str(target)
    env["EVENTHIVE_DATA_DIR"] = str(tmp_path / "data")
    eventhive = str(target / "bin" / "eventhive")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([eventhive, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)

    where = subprocess.run(
        [sys.executable, "-c", "import eventhive_flask, eventhive_core; print(eventhive_flask.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert where.stdout.startswith(str(target)), "the wheel's package, not the checkout's, must run"
    assert run("--version").returncode == 0
    # The image's commands: the default CMD, a service, a worker, and the migration (for real, on SQLite).
    for command in (["serve", "--help"], ["service", "--help"], ["worker", "--help"]):
        assert run(*command).returncode == 0, command
    env["EVENTHIVE_STORAGE"] = "sqlalchemy"
    env["EVENTHIVE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'image.sqlite3'}"
    upgraded = run("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert run("db", "current").stdout.strip(), "the wheel carries the migrations"
