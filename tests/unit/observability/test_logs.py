"""EventHive's log lines: JSON or console, the request id on each, secrets masked, stdlib records included."""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from eventhive_core import ConfigurationError
from eventhive_core.observability import logs
from eventhive_core.observability.logs import (
    REDACTED,
    configure_logging,
    configured_formatter,
    forget_configuration,
    is_configured,
    make_formatter,
    redact,
    resolve_format,
    scrub_text,
)
from eventhive_core.observability.request_context import request_id_bound


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def configured() -> Iterator[None]:
    """Put the root logger back as pytest had it after a test that configures logging."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    forget_configuration()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_standard_library_record_becomes_one_json_line_with_the_bound_request_id(configured: None) -> None:
    out = io.StringIO()
    configure_logging("json", "INFO", stream=out)

    with request_id_bound("purchase-1"):
        logging.getLogger("eventhive_core.somewhere").info("Published %s (%s)", "order:created", "e1")
    logging.getLogger("eventhive_core.somewhere").info("no request here")

    first, second = lines(out)
    assert first["message"] == "Published order:created (e1)"
    assert first["request_id"] == "purchase-1"
    assert (first["level"], first["logger"]) == ("info", "eventhive_core.somewhere")
    assert first["timestamp"].endswith("Z")
    assert "request_id" not in second


def test_the_level_setting_drops_what_is_below_it(configured: None) -> None:
    out = io.StringIO()
    configure_logging("json", environ={"EVENTHIVE_LOG_LEVEL": "warning"}, stream=out)

    logging.getLogger("x").info("quiet")
    logging.getLogger("x").warning("loud")

    assert [line["message"] for line in lines(out)] == ["loud"]


def test_a_chatty_library_s_info_lines_are_left_out_unless_debugging(configured: None) -> None:
    out = io.StringIO()
    configure_logging("json", "INFO", stream=out)
    logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
    logging.getLogger("alembic.runtime.migration").warning("a warning still shows")
    configure_logging("json", "DEBUG", stream=out)
    logging.getLogger("alembic.runtime.migration").info("Will assume transactional DDL.")

    assert [line["message"] for line in lines(out)] == ["a warning still shows", "Will assume transactional DDL."]


def test_an_exception_is_one_json_line_with_its_traceback_and_its_secrets_masked(configured: None) -> None:
    out = io.StringIO()
    configure_logging("json", stream=out)
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTYifQ.c2lnbmF0dXJlLWhlcmU"

    try:
        raise ValueError(f"could not verify {jwt}")
    except ValueError:
        logging.getLogger("x").exception("Request failed")

    [line] = lines(out)
    assert "ValueError" in line["exception"]
    assert jwt not in out.getvalue()
    assert REDACTED in line["exception"]


def test_warnings_are_log_lines_too(configured: None) -> None:
    out = io.StringIO()
    configure_logging("json", stream=out)

    warnings.warn("something to know", UserWarning, stacklevel=1)

    [line] = lines(out)
    assert line["logger"] == "py.warnings"
    assert "something to know" in line["message"]


def test_auto_is_console_on_a_terminal_and_json_elsewhere() -> None:
    assert resolve_format("auto", Terminal()) == "console"
    assert resolve_format("auto", io.StringIO()) == "json"
    assert resolve_format("JSON", Terminal()) == "json"


def test_a_console_line_is_readable_text_with_the_request_id(configured: None) -> None:
    out = Terminal()
    configure_logging("auto", stream=out)

    with request_id_bound("purchase-2"):
        logging.getLogger("eventhive_flask").warning("payments are simulated")

    text = out.getvalue()
    assert "payments are simulated" in text
    assert "purchase-2" in text
    with pytest.raises(json.JSONDecodeError, match="Expecting value"):
        json.loads(text)


def test_an_unknown_format_or_level_says_what_to_write(configured: None) -> None:
    with pytest.raises(ConfigurationError, match="json, console"):
        configure_logging("xml", stream=io.StringIO())
    with pytest.raises(ConfigurationError, match="DEBUG, INFO"):
        configure_logging("json", "chatty", stream=io.StringIO())


def test_configuring_again_replaces_the_handler_instead_of_doubling_lines(configured: None) -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("json", stream=first)
    configure_logging("json", stream=second)

    logging.getLogger("x").warning("once")

    assert first.getvalue() == ""
    assert len(lines(second)) == 1
    assert is_configured()
    assert configured_formatter() is logging.getLogger().handlers[0].formatter


def test_a_process_that_never_configures_keeps_its_own_logging() -> None:
    assert not is_configured()
    assert configured_formatter() is None


@pytest.mark.parametrize(
    "key",
    ["password", "new_password", "token", "refresh_token", "Authorization", "cookie", "card_number", "jwt_secret"],
)
def test_values_of_secret_named_keys_are_masked(key: str) -> None:
    assert redact(None, "info", {"event": "x", key: "value"})[key] == REDACTED


def test_secret_named_keys_are_masked_inside_nested_values_too() -> None:
    event = redact(None, "info", {"event": "x", "body": {"email": "a@example.com", "password": "p", "n": [1]}})

    assert event["body"] == {"email": "a@example.com", "password": REDACTED, "n": [1]}


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefgh here", "eyJhbGciOiJIUzI1NiJ9"),
        ("Authorization: Bearer abc123.def456", "abc123.def456"),
        ("paid with tok_visa", "tok_visa"),
        ("method pm_card_visa_debit", "pm_card_visa_debit"),
        ("card 4242424242424242 declined", "4242424242424242"),
        ("card 4000-0566-5566-5556", "4000-0566-5566-5556"),
        ("card 5555 5555 5555 4444", "5555 5555 5555 4444"),
        ("connect postgresql+psycopg://ann:pa55word@db:5432/x", "pa55word"),
    ],
)
def test_secret_looking_text_is_masked_wherever_it_appears(text: str, secret: str) -> None:
    scrubbed = scrub_text(text)

    assert secret not in scrubbed
    assert REDACTED in scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "order 0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c02 expired",
        "order 12345678-1234-1234-1234-123456789012 expired",
        "took 1234567890123 ns",  # 13 digits that fail the Luhn check
        "Published order:created (01a23776-647a-7099-8747-732f6dc37786)",
        "basic settings checked",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert scrub_text(text) == text


# Pieces of secrets and of ordinary lines, in any order and case: the quick check must let through
# every text the substitutions would change.
_PIECES = st.sampled_from(
    [
        "eyJ",
        "eyJhbGciOiJIUzI1NiJ9",
        ".",
        "-",
        "_",
        " ",
        ":",
        "/",
        "://",
        "@",
        "Bearer",
        "bearer ",
        "BEARER\t",
        "tok_",
        "pm_",
        "card_",
        "src_",
        "visa",
        "4242",
        "4242424242424242",
        "0000",
        "1",
        "9",
        "ann",
        "pa55",
        "postgresql+psycopg",
        "redis://u:p@h",
        ":pa55@",
        "order",
        "01a23776-647a-7099",
        "(",
        ")",
        "é",
    ]
)


@given(st.lists(st.one_of(_PIECES, st.text(max_size=3)), max_size=12).map("".join))
@example("x bearer abc")
@example("redis://u:p@h")
@example("eyJa.eyJb.c")
@example("pm_card")
@example("4242 4242 4242 4242")
def test_the_quick_check_before_scrubbing_never_skips_a_line_the_substitutions_would_change(text: str) -> None:
    assert scrub_text(text) == logs._substitute(text)
    assert scrub_text(text.upper()) == logs._substitute(text.upper())


def test_the_formatter_renders_records_it_did_not_configure(configured: None) -> None:
    record = logging.LogRecord("gunicorn.error", logging.WARNING, __file__, 1, "Worker %s timed out", (42,), None)

    line = json.loads(make_formatter("json").format(record))

    assert (line["message"], line["level"], line["logger"]) == ("Worker 42 timed out", "warning", "gunicorn.error")


def test_a_request_id_or_method_a_client_sent_is_scrubbed_like_any_field() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJl"

    line = redact(None, "info", {"event": "x", "request_id": token, "method": token, "level": "info"})

    assert line == {"event": "x", "request_id": "[redacted]", "method": "[redacted]", "level": "info"}
