"""Structured logs: one JSON object per line for machines, a readable line on a terminal.

:func:`configure_logging` is for programs, not libraries: the ``eventhive`` commands call it
(``serve``, ``service``, ``worker`` and the rest), and so may an application that wants
EventHive's format. An application that never calls it keeps its own logging untouched:
EventHive's modules only ever log through ``logging.getLogger(__name__)``.

Once configured, every record, EventHive's and other libraries' alike (gunicorn, Celery,
SQLAlchemy), goes through one structlog chain on the root logger: a timestamp, the level, the
logger's name, the request id bound in the context (:mod:`~eventhive_core.observability.request_context`)
and :func:`redact`, which masks whatever looks like a secret, a token or a card number.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
from collections.abc import Mapping
from typing import Final, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from eventhive_core.domain.errors import ConfigurationError
from eventhive_core.observability.request_context import current_request_id

#: The environment variable that picks the format.
FORMAT_ENV: Final = "EVENTHIVE_LOG_FORMAT"
#: The environment variable that picks the lowest level written.
LEVEL_ENV: Final = "EVENTHIVE_LOG_LEVEL"
#: ``auto`` is ``console`` on a terminal and ``json`` anywhere else (a file, a pipe, a collector).
LOG_FORMATS: Final = ("auto", "json", "console")
#: The levels one may choose.
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

LogFormat = Literal["auto", "json", "console"]

#: What replaces a masked value.
REDACTED: Final = "[redacted]"

# A key is masked when its name contains one of these words (case does not matter).
_SECRET_KEY_WORDS = ("password", "passwd", "secret", "token", "authorization", "cookie", "card", "cvc", "api_key")
# Values that are secrets whatever the key: a JWT, a bearer credential, a card or payment-method
# token, and the password part of a URL.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"\b(Bearer)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_CARD_TOKEN = re.compile(r"\b(?:tok|pm|card|src)_[A-Za-z0-9_]{2,}")
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+(?=@)")
# 13 to 19 digits in a row, or groups of four split by spaces or dashes; kept only when the
# digits pass the Luhn check, so order numbers and timestamps mostly stay readable.
_CARD_NUMBER = re.compile(r"(?<![\w-])(?:\d{13,19}|\d{4}(?:[ -]\d{4}){2}[ -]\d{1,7})(?![\w-])")
# The cheap signs of each kind above, checked before any substitution. Every secret carries one:
# a JWT "eyJ", a URL password "://", a bearer credential the word "bearer", a payment token its
# prefix and an underscore, a card number at least four digits in a row. One search of a single
# alternation over the whole line cost more (its URL branch rescans each word from every letter).
_BEARER_WORD = re.compile(r"bearer", re.IGNORECASE)
_FOUR_DIGITS = re.compile(r"\d{4}")


def _may_hold_secret(text: str) -> bool:
    if "eyJ" in text or "://" in text:
        return True
    if "_" in text and _CARD_TOKEN.search(text):
        return True
    if _BEARER_WORD.search(text):
        return True
    return _FOUR_DIGITS.search(text) is not None and _CARD_NUMBER.search(text) is not None


#: The ``extra`` keys of a standard-library record that become fields of its line (others'
#: extras, such as the task arguments Celery attaches, are left out).
EXTRA_FIELDS: Final = ("method", "path", "route", "status", "duration_ms")

#: Libraries whose INFO lines say nothing an operator acts on (alembic announces its dialect each
#: time a process checks the schema): below DEBUG, only their warnings are written.
QUIET_LIBRARIES: Final = ("alembic",)

_handler: logging.Handler | None = None


def redact(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Mask secrets in a log event: values of secret-named keys, and secret-looking text anywhere.

    Defence in depth: EventHive's own log calls never pass a password, token or card; this
    catches what a library, a plugin or an exception message might.

    Examples:
        >>> redact(None, "info", {"event": "signed in", "password": "hunter22", "user": "ann"})
        {'event': 'signed in', 'password': '[redacted]', 'user': 'ann'}
        >>> redact(None, "info", {"event": "paid with tok_visa and 4242 4242 4242 4242"})["event"]
        'paid with [redacted] and [redacted]'
    """
    for key, value in list(event_dict.items()):
        if key in _OWN_VALUES:
            continue
        if key == "event" or not _secret_key(key):
            event_dict[key] = _scrub(value)
        elif value is not None:
            event_dict[key] = REDACTED
    return event_dict


# Keys whose values the chain itself writes from code (the time, the level, the logger's name):
# nothing a client sent can be in them, so every line skips their scrubbing. (A request id or a
# method comes from the client: scrubbed like the rest.)
_OWN_VALUES = frozenset({"timestamp", "level", "logger"})


def _secret_key(key: object) -> bool:
    # A line's keys come from a small set (the chain's, the extras, a caller's fields): remembered.
    return _is_secret_name(str(key))


@functools.lru_cache(maxsize=1024)
def _is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_KEY_WORDS)


def _scrub(value: object) -> object:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {k: (REDACTED if _secret_key(k) and v is not None else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(item) for item in value)
    return value


def scrub_text(text: str) -> str:
    """Return ``text`` with JWTs, bearer credentials, card tokens and numbers and URL passwords masked.

    Examples:
        >>> scrub_text("postgresql://ann:s3cret@db/x, Authorization: Bearer abc.def")
        'postgresql://ann:[redacted]@db/x, Authorization: Bearer [redacted]'
        >>> scrub_text("order 0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c02 for 4111111111111112")
        'order 0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c02 for 4111111111111112'
    """
    if not _may_hold_secret(text):
        return text  # most lines: a few quick scans, instead of five substitutions
    return _substitute(text)


def _substitute(text: str) -> str:
    text = _JWT.sub(REDACTED, text)
    text = _BEARER.sub(lambda match: f"{match.group(1)} {REDACTED}", text)
    text = _CARD_TOKEN.sub(REDACTED, text)
    text = _URL_PASSWORD.sub(lambda match: match.group("head") + REDACTED, text)
    return _CARD_NUMBER.sub(lambda match: REDACTED if _luhn(match.group(0)) else match.group(0), text)


def _luhn(number: str) -> bool:
    digits = [int(char) for char in number if char.isdigit()]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def add_request_id(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Add the request id bound in this context (if any) as ``request_id``, unless the event has one."""
    request_id = current_request_id()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict


def _shared_processors() -> list[Processor]:
    # Run for every record, EventHive's and foreign ones; order matters: the traceback is text
    # before redact sees it, so a secret in an exception message is masked too.
    return [
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.ExtraAdder(allow=EXTRA_FIELDS),
        add_request_id,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        redact,
    ]


def resolve_format(log_format: str, stream: TextIO) -> Literal["json", "console"]:
    """Return the concrete format: ``auto`` becomes ``console`` on a terminal and ``json`` elsewhere.

    Raises:
        ConfigurationError: ``log_format`` is none of ``auto``, ``json``, ``console``.
    """
    chosen = log_format.strip().lower()
    if chosen == "auto":
        isatty = getattr(stream, "isatty", None)
        return "console" if callable(isatty) and isatty() else "json"
    if chosen == "json":
        return "json"
    if chosen == "console":
        return "console"
    raise ConfigurationError(f"{FORMAT_ENV}={log_format!r} is not a log format; write one of {', '.join(LOG_FORMATS)}.")


def resolve_level(level: str | int) -> int:
    """Return the numeric level of ``level`` (a name such as ``info``, or a number).

    Raises:
        ConfigurationError: ``level`` names no level.

    Examples:
        >>> resolve_level("info"), resolve_level(10)
        (20, 10)
    """
    if isinstance(level, int):
        return level
    name = level.strip().upper()
    if name not in LOG_LEVELS:
        raise ConfigurationError(f"{LEVEL_ENV}={level!r} is not a log level; write one of {', '.join(LOG_LEVELS)}.")
    return int(logging.getLevelName(name))


def make_formatter(log_format: Literal["json", "console"], *, colors: bool = False) -> logging.Formatter:
    """Return a ``logging`` formatter that renders any record through EventHive's structlog chain.

    Args:
        log_format: ``json`` (one object per line; the message under ``message``) or ``console``.
        colors: Colour the console lines (for a terminal).
    """
    renderer: list[Processor]
    if log_format == "json":
        renderer = [structlog.processors.EventRenamer("message"), structlog.processors.JSONRenderer(sort_keys=False)]
    else:
        renderer = [structlog.dev.ConsoleRenderer(colors=colors)]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _drop_record, *renderer],
    )


def _drop_record(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    # structlog leaves the LogRecord under "_record" for processors that want it; never render it.
    event_dict.pop("_record", None)
    event_dict.pop("_from_structlog", None)
    return event_dict


def configure_logging(
    log_format: str | None = None,
    level: str | int | None = None,
    *,
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Send every log record of this process to ``stream`` as JSON lines or readable console lines.

    Replaces the root logger's handlers with one of EventHive's and routes structlog's own
    loggers the same way; Python's warnings become log records too. Calling it again
    reconfigures (the last call wins).

    Args:
        log_format: ``auto``, ``json`` or ``console``; default: ``EVENTHIVE_LOG_FORMAT``, else ``auto``.
        level: The lowest level written; default: ``EVENTHIVE_LOG_LEVEL``, else ``INFO``.
        stream: Where lines go (default: standard error).
        environ: Where the two settings are read (default: ``os.environ``).

    Raises:
        ConfigurationError: The format or the level is not one EventHive knows.
    """
    global _handler
    env = os.environ if environ is None else environ
    out = stream if stream is not None else sys.stderr
    chosen = resolve_format(log_format or env.get(FORMAT_ENV) or "auto", out)
    threshold = resolve_level(level if level is not None else env.get(LEVEL_ENV) or "INFO")
    isatty = getattr(out, "isatty", None)
    handler = logging.StreamHandler(out)
    handler.setFormatter(make_formatter(chosen, colors=chosen == "console" and callable(isatty) and bool(isatty())))
    root = logging.getLogger()
    # The process is ours (only programs call this): earlier handlers would write each line twice.
    for previous in list(root.handlers):
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(threshold)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.NOTSET if threshold <= logging.DEBUG else logging.WARNING)
    logging.captureWarnings(True)
    structlog.configure(
        processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    _handler = handler


def configured_formatter() -> logging.Formatter | None:
    """Return the formatter :func:`configure_logging` installed, or None when it was never called.

    For handlers that others own and keep (gunicorn's error log): give them this formatter and
    their lines look like the rest.
    """
    return _handler.formatter if _handler is not None else None


def is_configured() -> bool:
    """Tell whether :func:`configure_logging` ran in this process (entry points then keep its lines)."""
    return _handler is not None


def forget_configuration() -> None:
    """Remove the handler :func:`configure_logging` installed (for tests that configure and then clean up)."""
    global _handler
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler = None
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.NOTSET)
    logging.captureWarnings(False)
    structlog.reset_defaults()


__all__ = [
    "EXTRA_FIELDS",
    "FORMAT_ENV",
    "LEVEL_ENV",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "QUIET_LIBRARIES",
    "REDACTED",
    "LogFormat",
    "add_request_id",
    "configure_logging",
    "configured_formatter",
    "forget_configuration",
    "is_configured",
    "make_formatter",
    "redact",
    "resolve_format",
    "resolve_level",
    "scrub_text",
]
