"""The test groups a change can break: the pytest paths a pull request runs.

Usage::

    python .ci/changed_tests.py --base origin/main    # the files changed since the merge base
    git diff --name-only main... | python .ci/changed_tests.py

It prints the pytest paths to run, one a line, and nothing when no test group is concerned (a
change to the licence, say); why each group is in goes to standard error, for the CI log. Lint,
typing, the import contracts, the docs build and the core-only check are not chosen here: the
pull-request workflow always runs them. A path no rule knows runs everything: a forgotten rule
must cost time, never a missed failure. The push to main runs everything whatever this says.

Standard library only: it runs before the project is installed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The folders under tests/, in the order they are printed.
GROUPS = ("unit", "contract", "integration", "flask", "browser", "e2e", "stripe", "fuzz", "docs", "deploy")

#: Stands for every test: pytest's own testpaths (tests/ and the core's doctests).
EVERYTHING = ("*",)

#: The groups that serve HTTP through the Flask extension's views (tests/integration: readiness
#: routes and the reference deployment; tests/stripe: the payments API).
SERVES_HTTP = ("integration", "flask", "browser", "e2e", "stripe", "fuzz")

#: The groups that import the Flask extension or run ``eventhive``: the ones above, and tests/unit
#: (logs, the plugin manager) and tests/docs (the documented configuration keys).
USES_FLASK = ("unit", *SERVES_HTTP, "docs")


@dataclass(frozen=True)
class Rule:
    """Changed paths matching ``patterns`` (``fnmatch``: ``*`` crosses ``/``) can break ``groups``."""

    patterns: tuple[str, ...]
    groups: tuple[str, ...]
    why: str


#: The first rule that matches a path decides (so narrow rules come before broad ones). A file
#: under tests/GROUP/ runs its group before any rule is read; tests/'s own files are below.
RULES = (
    Rule(("tests/*",), EVERYTHING, "tests/'s own files (conftest.py, private_servers.py) serve every group"),
    Rule(("src/eventhive_core/*",), EVERYTHING, "the core is under every group, and holds doctests"),
    Rule(
        ("src/eventhive_flask/views/*", "src/eventhive_flask/templates/*", "src/eventhive_flask/static/*"),
        SERVES_HTTP,
        "the JSON API and the pages",
    ),
    Rule(("src/eventhive_flask/*", "src/eventhive_launch.py"), USES_FLASK, "the Flask extension and `eventhive`"),
    Rule(("docs/*", "mkdocs.yml", "CHANGELOG.md"), ("docs",), "the documentation, which the docs check also builds"),
    Rule(("README.md",), ("docs", "e2e"), "tests/docs run its commands, tests/e2e its walk-through"),
    Rule(
        ("examples/*",),
        ("unit", "contract", "integration", "e2e", "fuzz", "docs"),
        "the examples, which these groups run or import",
    ),
    Rule(("tools/*",), ("unit",), "the import-contract types (tests/unit/test_import_contracts.py)"),
    Rule(("benchmarks/report.py",), ("docs",), "tests/docs/test_performance_report.py writes its page from a fixture"),
    Rule(("benchmarks/*",), (), "no test runs the benchmarks (lint always checks them)"),
    Rule(
        ("deploy/*", "Containerfile", ".containerignore", ".dockerignore", "skaffold.yaml", ".github/*"),
        ("deploy",),
        "the deployment files and the workflows",
    ),
    Rule((".ci/install-browser",), ("browser",), "Chromium for the browser tests"),
    Rule((".ci/install-nginx",), ("e2e",), "nginx for tests/e2e/test_behind_a_proxy.py"),
    Rule((".ci/*",), ("docs", "deploy"), "tests/docs check .ci/run's README command, tests/deploy its stages"),
    Rule(("pyproject.toml",), EVERYTHING, "the dependencies and pytest's settings"),
    Rule(("tox.ini",), (), "the checks' environments: the checks always run"),
    Rule(("LICENSE", ".gitignore"), (), "no test reads it"),
)


def groups_for(path: str) -> tuple[tuple[str, ...], str]:
    """Return the test groups a change to ``path`` can break, and why.

    Args:
        path: A changed file, relative to the repository root, with ``/`` separators.

    Returns:
        The groups (names of folders under tests/, or ``EVERYTHING``) and the reason.
    """
    parts = path.split("/")
    if parts[0] == "tests" and len(parts) > 2:
        return (parts[1],), "a test of this group changed"
    for rule in RULES:
        if any(fnmatchcase(path, pattern) for pattern in rule.patterns):
            return rule.groups, rule.why
    return EVERYTHING, "no rule knows this path, so everything runs"


def everything(root: Path = ROOT) -> list[str]:
    """Return pytest's own ``testpaths``: what a run with no path collects."""
    with (root / "pyproject.toml").open("rb") as file:
        settings = tomllib.load(file)
    return list(settings["tool"]["pytest"]["ini_options"]["testpaths"])


def pytest_paths(changed: Iterable[str], root: Path = ROOT, log: list[str] | None = None) -> list[str]:
    """Return the pytest paths to run for a set of changed files.

    Args:
        changed: Changed files, relative to the repository root.
        root: The repository root (the paths printed are the ones that exist under it).
        log: When given, receives one ``path: groups (why)`` line per changed file.

    Returns:
        pytest's testpaths when a change can break anything, else ``tests/GROUP`` for each group
        concerned, in the order of ``GROUPS`` (other folders after, by name); empty when none is.
    """
    wanted: set[str] = set()
    for path in (line.strip() for line in changed):
        if not path:
            continue
        groups, why = groups_for(path)
        if log is not None:
            log.append(f"{path}: {'everything' if groups == EVERYTHING else ', '.join(groups) or 'no test'} ({why})")
        wanted.update(groups)
    if "*" in wanted:
        return everything(root)
    ordered = [group for group in GROUPS if group in wanted] + sorted(wanted.difference(GROUPS))
    # A group removed (or not written yet) has no folder: pytest would fail on the missing path.
    return [f"tests/{group}" for group in ordered if (root / "tests" / group).is_dir()]


def changed_since(base: str, root: Path = ROOT) -> list[str]:
    """Return the files changed between the merge base of ``base`` and HEAD (both sides of a rename)."""
    done = subprocess.run(  # noqa: S603
        # git from PATH, as CI has it; base is one argument, never read by a shell.
        ["git", "diff", "--name-only", "--no-renames", f"{base}...HEAD"],  # noqa: S607
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


def main(argv: Sequence[str] | None = None) -> int:
    """Print the pytest paths for the changed files (``--base REF``, or one a line on stdin)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="compare HEAD with this ref's merge base (else read paths from stdin)")
    args = parser.parse_args(argv)
    changed = changed_since(args.base) if args.base else sys.stdin.read().splitlines()
    log: list[str] = []
    paths = pytest_paths(changed, log=log)
    for line in log:
        print(line, file=sys.stderr)
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
