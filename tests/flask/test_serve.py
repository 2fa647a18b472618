"""``eventhive serve``'s set-up, without starting a server (tests/e2e starts the real one)."""

from __future__ import annotations

import os
import signal
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from eventhive_flask import serve


def test_the_embedded_defaults_fill_what_the_environment_does_not_set(tmp_path: Path) -> None:
    env: dict[str, str] = {}

    notes = serve.prepare_environment(env, tmp_path, "127.0.0.1")

    assert env["EVENTHIVE_STORAGE"] == "sqlalchemy"
    assert env["EVENTHIVE_DATABASE_URL"] == f"sqlite:///{tmp_path / 'eventhive.sqlite3'}"
    assert env["EVENTHIVE_JWT_SECRET"] == (tmp_path / "jwt-secret").read_text()
    assert stat.S_IMODE(os.stat(tmp_path / "jwt-secret").st_mode) == 0o600
    assert env["EVENTHIVE_RUN_BACKGROUND"] == "true"
    assert env["EVENTHIVE_COOKIE_SECURE"] == "false"
    assert any("Secure only over HTTPS" in note for note in notes)


def test_what_the_environment_sets_wins(tmp_path: Path) -> None:
    env = {
        "EVENTHIVE_DATABASE_URL": "postgresql+psycopg://db/eventhive",
        "EVENTHIVE_JWT_SECRET": "s" * 40,
        "EVENTHIVE_COOKIE_SECURE": "true",
    }

    serve.prepare_environment(env, tmp_path, "127.0.0.1")

    assert env["EVENTHIVE_DATABASE_URL"] == "postgresql+psycopg://db/eventhive"
    assert env["EVENTHIVE_JWT_SECRET"] == "s" * 40
    assert env["EVENTHIVE_COOKIE_SECURE"] == "true"
    assert not (tmp_path / "jwt-secret").exists()


def test_the_cookie_stays_secure_when_serving_beyond_loopback(tmp_path: Path) -> None:
    env: dict[str, str] = {}

    notes = serve.prepare_environment(env, tmp_path, "0.0.0.0")

    assert "EVENTHIVE_COOKIE_SECURE" not in env
    assert any("HTTPS only" in note for note in notes)


def test_the_secret_is_made_once_and_read_back(tmp_path: Path) -> None:
    first: dict[str, str] = {}
    second: dict[str, str] = {}

    serve.prepare_environment(first, tmp_path, "127.0.0.1")
    serve.prepare_environment(second, tmp_path, "127.0.0.1")

    assert first["EVENTHIVE_JWT_SECRET"] == second["EVENTHIVE_JWT_SECRET"]
    assert len(first["EVENTHIVE_JWT_SECRET"]) >= 32


@pytest.mark.parametrize(
    ("host", "bind"), [("127.0.0.1", "127.0.0.1:8000"), ("::1", "[::1]:8000"), ("localhost", "localhost:8000")]
)
def test_gunicorn_binds_the_host_and_port(host: str, bind: str) -> None:
    options = serve.gunicorn_options(host, 8000, 2, 4)

    assert options["bind"] == bind
    assert (options["workers"], options["worker_class"], options["threads"]) == (
        2,
        "eventhive_flask.serve_worker.ServeWorker",
        4,
    )


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A private copy of the environment: serve writes its defaults into os.environ for its workers.

    The tests below pass ``--port 0``: serve binds its port first, and 8000 may be taken here.
    """
    private = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")}
    monkeypatch.setattr(os, "environ", private)
    return private


def test_serve_refuses_memory_storage_with_several_workers(tmp_path: Path, environ: dict[str, str]) -> None:
    environ["EVENTHIVE_STORAGE"] = "memory"

    result = CliRunner().invoke(serve.serve, ["--port", "0", "--workers", "2", "--data-dir", str(tmp_path)])

    assert result.exit_code != 0
    assert "use --workers 1" in result.output


def test_serve_fails_fast_on_a_bad_setting(tmp_path: Path, environ: dict[str, str]) -> None:
    environ["EVENTHIVE_RESERVATION_TTL"] = "0"

    result = CliRunner().invoke(serve.serve, ["--port", "0", "--data-dir", str(tmp_path)])

    assert result.exit_code != 0
    assert "Cannot start" in result.output
    assert "reservation_ttl" in result.output


def test_serve_with_stripe_but_no_key_fails_at_start_in_one_line_naming_the_variable(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    environ["EVENTHIVE_PAYMENT_PROVIDER"] = "stripe"
    environ["EVENTHIVE_STRIPE_WEBHOOK_SECRET"] = "whsec_configured"

    result = CliRunner().invoke(serve.serve, ["--port", "0", "--data-dir", str(tmp_path)])

    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [
        "Error: Cannot start: EVENTHIVE_PAYMENT_PROVIDER=stripe needs EVENTHIVE_STRIPE_SECRET_KEY; "
        "set it (see docs/payments/stripe.md)."
    ]
    assert "whsec_configured" not in result.output


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield int(other.getsockname()[1])


def test_listening_on_a_taken_port_fails_with_one_line_and_the_usage_error_status(taken_port: int) -> None:
    with pytest.raises(serve.ListenError) as refused:
        serve.listen("127.0.0.1", taken_port)

    assert refused.value.message == f"port {taken_port} is in use; choose another with --port"
    assert refused.value.exit_code == 2


def test_port_0_listens_on_a_free_port_the_socket_names() -> None:
    with serve.listen("127.0.0.1", 0) as listener:
        port = listener.getsockname()[1]
        assert port != 0
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            pass  # accepted into the backlog: it listens already, before gunicorn starts


def test_gunicorn_serves_on_the_socket_serve_bound() -> None:
    options = serve.gunicorn_options("127.0.0.1", 8000, 2, 4, listener_fd=7)

    assert options["bind"] == "fd://7"
    assert options["backlog"] == serve.BACKLOG


def test_serve_on_a_taken_port_says_so_in_one_line_before_any_banner(
    tmp_path: Path, environ: dict[str, str], taken_port: int
) -> None:
    result = CliRunner().invoke(serve.serve, ["--port", str(taken_port), "--data-dir", str(tmp_path)])

    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"Error: port {taken_port} is in use; choose another with --port"]


def test_serve_puts_back_the_ctrl_c_handler_it_replaced(tmp_path: Path, environ: dict[str, str]) -> None:
    environ["EVENTHIVE_STORAGE"] = "memory"
    before = signal.getsignal(signal.SIGINT)

    result = CliRunner().invoke(serve.serve, ["--port", "0", "--workers", "2", "--data-dir", str(tmp_path)])

    assert "use --workers 1" in result.output
    assert signal.getsignal(signal.SIGINT) is before


def test_a_first_ctrl_c_before_gunicorn_asks_to_stop_and_a_second_one_stops_at_once() -> None:
    ctrl_c = serve._EarlyCtrlC()
    ctrl_c.stop_if_pressed()  # not pressed: carries on

    ctrl_c(signal.SIGINT, None)  # raises nothing wherever it lands (a GC callback would swallow it)
    with pytest.raises(SystemExit) as stopped:
        ctrl_c.stop_if_pressed()
    with pytest.raises(KeyboardInterrupt):
        ctrl_c(signal.SIGINT, None)

    assert stopped.value.code == 0


def test_a_ctrl_c_gunicorn_missed_is_sent_again_once_its_handlers_are_set() -> None:
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda sig, frame: received.append(sig))
    try:
        ctrl_c = serve._EarlyCtrlC()
        ctrl_c.when_ready(None)  # not pressed: nothing to hand over
        assert received == []
        ctrl_c(signal.SIGINT, None)

        ctrl_c.when_ready(None)  # os.kill runs the handler of a signal sent to itself before returning
    finally:
        signal.signal(signal.SIGINT, previous)

    assert received == [signal.SIGINT]


def test_a_web_tier_whose_timers_run_in_celery_keeps_its_background_threads_off(tmp_path: Path) -> None:
    env = {"EVENTHIVE_RUN_BACKGROUND": "false"}

    serve.prepare_environment(env, tmp_path, "0.0.0.0")

    assert env["EVENTHIVE_RUN_BACKGROUND"] == "false"


def test_serve_only_checks_the_schema_when_the_storage_options_ask_for_a_check(tmp_path: Path) -> None:
    environ = {
        "EVENTHIVE_STORAGE": "sqlalchemy",
        "EVENTHIVE_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
        "EVENTHIVE_JWT_SECRET": "s" * 40,
        "EVENTHIVE_STORAGE_OPTIONS": '{"migrate": "check"}',
    }

    with pytest.raises(click.ClickException, match="run `eventhive db upgrade`"):
        serve.migrate(environ)

    del environ["EVENTHIVE_STORAGE_OPTIONS"]
    serve.migrate(environ)  # upgrades by default...
    environ["EVENTHIVE_STORAGE_OPTIONS"] = '{"migrate": "check"}'
    assert serve.migrate(environ)[0] == "sqlalchemy"  # ...after which the check passes
