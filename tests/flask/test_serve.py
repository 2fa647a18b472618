"""``eventhive serve``'s set-up, without starting a server (tests/e2e starts the real one)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

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
    """A private copy of the environment: serve writes its defaults into os.environ for its workers."""
    private = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")}
    monkeypatch.setattr(os, "environ", private)
    return private


def test_serve_refuses_memory_storage_with_several_workers(tmp_path: Path, environ: dict[str, str]) -> None:
    environ["EVENTHIVE_STORAGE"] = "memory"

    result = CliRunner().invoke(serve.serve, ["--workers", "2", "--data-dir", str(tmp_path)])

    assert result.exit_code != 0
    assert "use --workers 1" in result.output


def test_serve_fails_fast_on_a_bad_setting(tmp_path: Path, environ: dict[str, str]) -> None:
    environ["EVENTHIVE_RESERVATION_TTL"] = "0"

    result = CliRunner().invoke(serve.serve, ["--data-dir", str(tmp_path)])

    assert result.exit_code != 0
    assert "Cannot start" in result.output
    assert "reservation_ttl" in result.output


def test_serve_with_stripe_but_no_key_fails_at_start_in_one_line_naming_the_variable(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    environ["EVENTHIVE_PAYMENT_PROVIDER"] = "stripe"
    environ["EVENTHIVE_STRIPE_WEBHOOK_SECRET"] = "whsec_configured"

    result = CliRunner().invoke(serve.serve, ["--data-dir", str(tmp_path)])

    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [
        "Error: Cannot start: EVENTHIVE_PAYMENT_PROVIDER=stripe needs EVENTHIVE_STRIPE_SECRET_KEY; "
        "set it (see docs/payments/stripe.md)."
    ]
    assert "whsec_configured" not in result.output
