"""Every ``pip install`` line of the README, the docs and the examples names this project by a name or path that works.

The distribution is ``eventhive-tickets``: ``eventhive`` on the package index is an unrelated project, so a
documented ``pip install "eventhive[all]"`` would install someone else's code. A line may install this project
from a path to the checkout (``-e .``, ``".[server]"``, ``../..``) or as ``eventhive-tickets[...]``, and the example
plugin by its own name or path; every extra it names must exist. Other packages (honcho, localstripe...) are not
checked.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PLUGIN = ROOT / "examples" / "eventhive-acme-pay"

# CHANGELOG.md is shown in the docs site (docs/changelog.md includes it), so it is read like a page.
SCANNED = (ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "docs", ROOT / "examples")
# What installing or building an example may leave behind: none of it is documentation.
SKIPPED_DIRS = frozenset({"__pycache__", "build", "dist", "site", ".venv", "node_modules", ".mypy_cache"})

PIP_INSTALL = re.compile(r"\bpip3?\s+install\b(?P<args>.*)")
# pip options that take the next word as their value; -e/--editable is handled apart (its value is a requirement).
OPTIONS_WITH_VALUE = frozenset(
    {
        "-r",
        "--requirement",
        "-c",
        "--constraint",
        "-t",
        "--target",
        "--prefix",
        "--root",
        "--src",
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "--platform",
        "--python-version",
        "--implementation",
        "--abi",
        "--upgrade-strategy",
        "-C",
        "--config-settings",
        "--global-option",
        "--no-binary",
        "--only-binary",
        "--progress-bar",
        "--report",
        "--root-user-action",
        "--cache-dir",
        "--log",
        "--python",
    }
)
COMMAND_ENDS = frozenset({"&&", "||", ";", "|", "&", ")", "(", ">", "<", ">>"})
PATH_WITH_EXTRAS = re.compile(r"^(?P<path>.*?)(?:\[(?P<extras>[^\]]*)\])?$")


@dataclass(frozen=True)
class InstallLine:
    """One ``pip install`` command found in a file, where it was found and its requirement words."""

    file: Path
    line: int
    command: str

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"


def _project_extras(pyproject: Path) -> frozenset[str]:
    with pyproject.open("rb") as file:
        optional = tomllib.load(file)["project"].get("optional-dependencies", {})
    # pip compares extras by their normalised names (PEP 685), so `.[Server]` would work too.
    return frozenset(canonicalize_name(extra) for extra in optional)


def _project_name(pyproject: Path) -> str:
    with pyproject.open("rb") as file:
        return canonicalize_name(tomllib.load(file)["project"]["name"])


THIS_PROJECT = _project_name(ROOT / "pyproject.toml")
PLUGIN_NAME = _project_name(EXAMPLE_PLUGIN / "pyproject.toml")
EXTRAS = {
    ROOT: _project_extras(ROOT / "pyproject.toml"),
    EXAMPLE_PLUGIN: _project_extras(EXAMPLE_PLUGIN / "pyproject.toml"),
}
PATH_OF_NAME = {THIS_PROJECT: ROOT, PLUGIN_NAME: EXAMPLE_PLUGIN}


def scanned_files() -> Iterator[Path]:
    """Yield every readable text file of the README, the changelog, ``docs/`` and ``examples/``.

    Every file is read, whatever its kind (Markdown, shell, Procfile, TOML, Dockerfile, ``.env.sample``...), so
    an install line in a kind of file added later is checked too.
    """
    for start in SCANNED:
        candidates = [start] if start.is_file() else sorted(start.rglob("*"))
        for path in candidates:
            relative_dirs = path.relative_to(ROOT).parts[:-1]
            if not path.is_file() or any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in relative_dirs):
                continue
            try:
                path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            yield path


def install_lines_in(path: Path) -> Iterator[InstallLine]:
    """Yield each ``pip install`` command of one file, joining lines continued with a backslash."""
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        first, text = index, lines[index]
        while text.endswith("\\") and index + 1 < len(lines):
            index += 1
            text = text[:-1] + " " + lines[index].strip()
        index += 1
        for match in PIP_INSTALL.finditer(text):
            yield InstallLine(path, first + 1, "pip install" + match.group("args"))


def requirement_words(command: str) -> list[str]:
    """Return the requirements (names or paths) a ``pip install ...`` command names, editable ones included.

    The command ends where Markdown's inline code ends (a backtick), at a comment, or at the shell's next
    operator (``&&``, ``;``, ``|``...). Options and their values are dropped.

    Examples:
        >>> requirement_words('pip install -e ".[server]" && eventhive serve')
        ['.[server]']
        >>> requirement_words('pip install --no-deps --target "$TMP" path/to/plugin`, then')
        ['path/to/plugin']
    """
    args = command.removeprefix("pip install").split("`", 1)[0]
    lexer = shlex.shlex(args, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    words = list(lexer)
    found: list[str] = []
    position = 0
    while position < len(words):
        word = words[position]
        position += 1
        if word in COMMAND_ENDS:
            break
        if word in {"-e", "--editable"}:
            if position < len(words):
                found.append(words[position])
                position += 1
        elif word.startswith("--editable="):
            found.append(word.removeprefix("--editable="))
        elif word in OPTIONS_WITH_VALUE:
            position += 1
        elif not word.startswith("-"):
            found.append(word)
    return found


def _is_path(word: str) -> bool:
    return word == "." or word.startswith((".", "/", "~", "file:")) or "/" in word or "\\" in word


def _resolved(path_text: str, file: Path) -> list[Path]:
    """Where a local path can point: docs are run from the checkout's root, a README also from its own folder."""
    path = Path(path_text.removeprefix("file:")).expanduser()
    if path.is_absolute():
        return [path.resolve()]
    return [(ROOT / path).resolve(), (file.parent / path).resolve()]


def _covers(target: Path, extras: list[str]) -> bool:
    return all(canonicalize_name(extra) in EXTRAS[target] for extra in extras)


def problems(line: InstallLine) -> list[str]:
    """Return what is wrong with the requirements of one install line that are this project or its example plugin."""
    found: list[str] = []
    for word in requirement_words(line.command):
        if _is_path(word):
            parts = PATH_WITH_EXTRAS.match(word)
            assert parts is not None  # the pattern matches any text
            targets = [target for target in _resolved(parts.group("path"), line.file) if target in EXTRAS]
            if not targets:
                continue  # a path to some other package (a placeholder such as path/to/your-plugin)
            named = [extra.strip() for extra in (parts.group("extras") or "").split(",") if extra.strip()]
            # `-e .` in the example plugin's README may mean the checkout or the plugin: either reading will do.
            target = next((target for target in targets if _covers(target, named)), targets[0])
        else:
            try:
                requirement = Requirement(word)
            except InvalidRequirement:
                if "eventhive" in word.lower():
                    found.append(f"{line.where}: {word!r} in `{line.command.strip()}` is not a requirement pip reads")
                continue
            name = canonicalize_name(requirement.name)
            if not name.startswith("eventhive"):
                continue  # another project's package: honcho, localstripe, mkdocs-material...
            if name == "eventhive":
                found.append(
                    f"{line.where}: {word!r} installs the unrelated 'eventhive' project from the package index; "
                    f"this project's distribution is '{THIS_PROJECT}' (write \"{THIS_PROJECT}[...]\" or a path "
                    f'to the checkout such as -e ".[...]")'
                )
                continue
            if name not in PATH_OF_NAME:
                found.append(
                    f"{line.where}: {word!r} names no distribution of this repository "
                    f"(they are {THIS_PROJECT!r} and the example plugin {PLUGIN_NAME!r})"
                )
                continue
            target = PATH_OF_NAME[name]
            named = sorted(requirement.extras)
        unknown = sorted(extra for extra in named if canonicalize_name(extra) not in EXTRAS[target])
        if unknown:
            found.append(
                f"{line.where}: {word!r} names extras that {target.relative_to(ROOT).as_posix() or '.'}/pyproject.toml "
                f"does not define: {', '.join(unknown)} (it has: {', '.join(sorted(EXTRAS[target])) or 'none'})"
            )
    return found


INSTALL_LINES = [line for path in scanned_files() for line in install_lines_in(path) if requirement_words(line.command)]


@pytest.mark.parametrize("line", INSTALL_LINES, ids=[line.where for line in INSTALL_LINES])
def test_each_documented_install_line_names_this_project_correctly(line: InstallLine) -> None:
    assert not problems(line), "\n".join(problems(line))


def test_the_scan_finds_the_install_lines_of_the_readme_the_docs_and_the_examples() -> None:
    # Guards the finder itself: were it to find nothing, every check above would pass vacuously.
    commands = {(line.where.split(":")[0], line.command.strip()) for line in INSTALL_LINES}

    assert ("README.md", 'pip install -e ".[server]" && eventhive serve') in commands
    assert any(where.startswith("docs/") for where, _ in commands)
    assert ("examples/eventhive-acme-pay/README.md", "pip install -e examples/eventhive-acme-pay") in commands


def _problems_of(command: str, file: Path = ROOT / "docs" / "page.md") -> list[str]:
    return problems(InstallLine(file, 1, command))


@pytest.mark.parametrize(
    "command",
    ['pip install "eventhive[all]"', "pip install eventhive", "python -m pip install -U eventhive==0.1.0"],
)
def test_the_old_distribution_name_is_refused_and_the_message_says_why(command: str) -> None:
    [message] = _problems_of(command)

    assert "unrelated 'eventhive' project" in message
    assert "eventhive-tickets" in message


@pytest.mark.parametrize(
    "command",
    [
        'pip install -e ".[nosuchextra]"',
        'pip install "eventhive-tickets[server,nosuchextra]"',
        'pip install "../..[nosuchextra]"',
    ],
)
def test_an_extra_this_project_does_not_define_is_refused(command: str) -> None:
    [message] = _problems_of(command, file=ROOT / "examples" / "reference" / "README.md")

    assert "nosuchextra" in message
    assert "server" in message  # the extras that do exist are listed


@pytest.mark.parametrize(
    "command",
    [
        'pip install -e ".[server]" && eventhive serve',
        'pip install "eventhive-tickets[all]" honcho',
        "pip install -e examples/eventhive-acme-pay",
        "pip install eventhive-acme-pay",
        "pip install localstripe  # eventhive[all] in a comment is not installed",
    ],
)
def test_the_path_form_the_new_name_the_example_plugin_and_other_packages_pass(command: str) -> None:
    assert _problems_of(command) == []


def test_a_path_to_the_checkout_counts_from_the_folder_of_the_readme_that_shows_it() -> None:
    reference_readme = ROOT / "examples" / "reference" / "README.md"

    assert _problems_of('pip install "../..[nosuchextra]"', file=reference_readme)
    assert _problems_of('pip install "../..[all]"', file=reference_readme) == []


def test_a_dot_in_the_example_plugins_readme_may_be_the_checkout_or_the_plugin() -> None:
    plugin_readme = EXAMPLE_PLUGIN / "README.md"

    assert _problems_of('pip install -e ".[server]"', file=plugin_readme) == []
    assert _problems_of('pip install -e ".[nosuchextra]"', file=plugin_readme)


def test_another_name_starting_with_eventhive_is_refused() -> None:
    [message] = _problems_of("pip install eventhive-tickets-extras")

    assert "names no distribution of this repository" in message
