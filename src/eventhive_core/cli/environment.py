"""Check the whole ``EVENTHIVE_*`` environment once, before any command runs.

Every invalid value is reported on one line that names the variable, its value (hidden for
secrets) and what is accepted, and the command line stops with exit status 2 before anything
starts. An ``EVENTHIVE_*`` name that nothing reads gets a warning with the nearest known name,
since a misspelt variable would otherwise be ignored without a word.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import click
from pydantic import BaseModel, ValidationError

from eventhive_core.domain.errors import ConfigurationError
from eventhive_core.plugins.manager import HivePluginManager, make_plugin_manager
from eventhive_core.plugins.registry import Registries, collect_registries
from eventhive_core.settings import PREFIX, HiveSettings

#: Names under these prefixes belong to the test suite and the benchmarks, never to a command.
RESERVED_PREFIXES = ("EVENTHIVE_TEST_", "EVENTHIVE_BENCH_", "EVENTHIVE_FUZZ_")

# Values of these variables never appear in a message: they are, or may carry, secrets.
_SECRET = re.compile(r"SECRET|PRIVATE|PASSWORD|_KEY$")


class SettingsError(click.ClickException):
    """An invalid ``EVENTHIVE_*`` setting: one line per problem, exit status 2 (a usage error)."""

    exit_code = 2


@dataclass(frozen=True)
class CheckedEnvironment:
    """The outcome of checking the environment.

    Attributes:
        settings: The core's settings, valid.
        plugins: The plugin manager those settings load.
        registries: What the plugins registered.
        warnings: One line per ``EVENTHIVE_*`` name that nothing reads.
    """

    settings: HiveSettings
    plugins: HivePluginManager
    registries: Registries
    warnings: list[str] = field(default_factory=list)


def check_environment(environ: Mapping[str, str]) -> CheckedEnvironment:
    """Validate every ``EVENTHIVE_*`` variable of ``environ``: the core's and those plugins declare.

    Args:
        environ: The environment (``os.environ``).

    Returns:
        The valid settings, the plugins they load, and warnings for names nothing reads.

    Raises:
        SettingsError: A value is invalid, a chosen adapter is not registered, or a plugin
            cannot be loaded; the message has one line per problem.
    """
    try:
        settings = HiveSettings.from_env(environ)
    except ValidationError as exc:
        raise SettingsError("\n".join(describe_errors(exc, environ))) from exc
    try:
        plugins = make_plugin_manager(settings)
        registries = collect_registries(plugins)
    except ConfigurationError as exc:
        raise SettingsError(exc.message) from exc

    problems: list[str] = []
    for spec in registries.settings:
        values = {name: environ[var] for name, var in _variables(spec.model) if var in environ}
        try:
            spec.model.model_validate(values)
        except ValidationError as exc:
            problems.extend(describe_errors(exc, environ))
    for registry, name in registries.chosen(settings):
        if name not in registry:
            problems.append(
                f"{registry.setting}={name!r}: no {registry.kind} of that name; choose one of: "
                f"{', '.join(registry.names())}" + (f" ({' '.join(registry.notes)})" if registry.notes else "")
            )
    if problems:
        raise SettingsError("\n".join(problems))

    known = {f"{PREFIX}{name.upper()}" for name in HiveSettings.model_fields}
    for spec in registries.settings:
        known.update(spec.variables())
    return CheckedEnvironment(settings, plugins, registries, misspelt(environ, known))


def misspelt(environ: Iterable[str], known: set[str]) -> list[str]:
    """Return a warning for each ``EVENTHIVE_*`` name that is neither known nor reserved.

    Examples:
        >>> misspelt(["EVENTHIVE_RESERVATON_TTL", "EVENTHIVE_TEST_DB", "HOME"], {"EVENTHIVE_RESERVATION_TTL"})
        ['EVENTHIVE_RESERVATON_TTL is not a setting and is ignored; did you mean EVENTHIVE_RESERVATION_TTL?']
    """
    lines = []
    for name in sorted(environ):
        if not name.startswith(PREFIX) or name in known or name.startswith(RESERVED_PREFIXES):
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]}?" if close else " (see `eventhive plugins` and the settings docs)"
        lines.append(f"{name} is not a setting and is ignored{hint}")
    return lines


def describe_errors(exc: ValidationError, environ: Mapping[str, str]) -> list[str]:
    """Turn a settings validation error into one line per invalid variable.

    Args:
        exc: pydantic's error for a settings model whose field ``name`` is ``EVENTHIVE_NAME``.
        environ: Where the values came from, to quote them.

    Returns:
        ``EVENTHIVE_NAME='value': what is wrong and what is accepted``, one per error.
    """
    lines = []
    for error in exc.errors(include_url=False):
        field_name = str(error["loc"][0]) if error["loc"] else "?"
        variable = f"{PREFIX}{field_name.upper()}"
        message = str(error["msg"]).removeprefix("Value error, ")
        if variable in environ:
            lines.append(f"{variable}={shown_value(variable, environ[variable])}: {message}")
        else:
            lines.append(f"{variable}: {message}")
    return lines


def shown_value(variable: str, value: str) -> str:
    """Quote ``value`` for a message, hiding secrets and passwords in URLs.

    Examples:
        >>> shown_value("EVENTHIVE_JWT_SECRET", "hunter2")
        '(hidden)'
        >>> shown_value("EVENTHIVE_DATABASE_URL", "postgresql://ann:pw@db/x")
        "'postgresql://ann:***@db/x'"
    """
    if _SECRET.search(variable):
        return "(hidden)"
    return repr(hide_url_password(value))


def hide_url_password(url: str) -> str:
    """Hide the password of a URL such as a database URL.

    Examples:
        >>> hide_url_password("postgresql+psycopg://ann:secret@db:5432/x")
        'postgresql+psycopg://ann:***@db:5432/x'
    """
    return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", url)


def _variables(model: type[BaseModel]) -> list[tuple[str, str]]:
    return [(name, f"{PREFIX}{name.upper()}") for name in model.model_fields]


__all__ = [
    "RESERVED_PREFIXES",
    "CheckedEnvironment",
    "SettingsError",
    "check_environment",
    "describe_errors",
    "hide_url_password",
    "misspelt",
    "shown_value",
]
