"""gunicorn's own lines, under eventhive serve, in EventHive's format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest

pytest.importorskip("gunicorn")

from gunicorn.config import Config

from eventhive_core.observability.logs import configure_logging, forget_configuration
from eventhive_flask.serve import gunicorn_options
from eventhive_flask.serve_logging import StructuredGunicornLogger


@pytest.fixture
def restored_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    forget_configuration()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture
def error_log_handler() -> Iterator[Callable[[], logging.Handler]]:
    """Return ``make()``: set gunicorn's logger up as serve does and return its new error-log handler."""
    error_log = logging.getLogger("gunicorn.error")
    before = list(error_log.handlers)

    def make() -> logging.Handler:
        config = Config()
        for key in ("errorlog", "loglevel", "logger_class"):
            config.set(key, gunicorn_options("127.0.0.1", 8000, 1, 1)[key])
        assert config.logger_class is StructuredGunicornLogger
        config.logger_class(config)
        [added] = [handler for handler in error_log.handlers if handler not in before]
        return added

    yield make
    for handler in error_log.handlers[:]:
        if handler not in before:
            error_log.removeHandler(handler)


def warning(message: str) -> logging.LogRecord:
    return logging.LogRecord("gunicorn.error", logging.WARNING, __file__, 1, message, (), None)


def test_gunicorn_s_error_log_is_json_once_the_command_configured_logging(
    restored_root: None, error_log_handler: Callable[[], logging.Handler]
) -> None:
    configure_logging("json", stream=io.StringIO())

    line = json.loads(error_log_handler().format(warning("Worker (pid:7) was sent SIGKILL")))

    assert line["message"] == "Worker (pid:7) was sent SIGKILL"
    assert line["logger"] == "gunicorn.error"


def test_gunicorn_keeps_its_own_format_in_a_process_that_never_configured_logging(
    error_log_handler: Callable[[], logging.Handler],
) -> None:
    text = error_log_handler().format(warning("plain"))

    assert text.endswith("plain")
    assert not text.startswith("{")
