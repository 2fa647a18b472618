"""``eventhive service ROLE`` before it serves: what it refuses (one line each), what it sets, and its defaults.

The processes themselves run in tests/e2e/split.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from eventhive_core import HiveSettings, bootstrap
from eventhive_core.adapters.jwt_tokens import generate_ed25519_keypair
from eventhive_flask import service
from eventhive_flask.cli import STANDALONE_COMMANDS


@pytest.fixture(scope="module")
def key_pair() -> tuple[str, str]:
    return generate_ed25519_keypair()


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A private copy of the environment without EVENTHIVE_*: the command writes its settings into os.environ."""
    private = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")}
    monkeypatch.setattr(os, "environ", private)
    return private


def _invoke(role: str, tmp_path: Path, *extra: str) -> Any:
    return CliRunner().invoke(service.service, [role, "--port", "0", "--data-dir", str(tmp_path / "data"), *extra])


REFUSALS = [
    pytest.param(
        "orders",
        {},
        "Cannot start the orders service: a split's services talk over a bus between processes: "
        "set EVENTHIVE_EVENT_BUS=nats",
        id="no-bus",
    ),
    pytest.param(
        "orders",
        {"EVENTHIVE_EVENT_BUS": "inprocess"},
        "Cannot start the orders service: a split's services talk over a bus between processes: "
        "set EVENTHIVE_EVENT_BUS=nats",
        id="inprocess-bus",
    ),
    pytest.param(
        "tickets",
        {"EVENTHIVE_EVENT_BUS": "nats", "EVENTHIVE_JWT_ALGORITHM": "HS256", "EVENTHIVE_JWT_PUBLIC_KEY": "pem"},
        "Cannot start the tickets service: a split signs tokens with EdDSA, so that only auth can sign: "
        "unset EVENTHIVE_JWT_ALGORITHM=HS256 (the command sets EdDSA)",
        id="hs256",
    ),
    pytest.param(
        "payments",
        {"EVENTHIVE_EVENT_BUS": "nats", "EVENTHIVE_JWT_PUBLIC_KEY": "pem", "EVENTHIVE_JWT_PRIVATE_KEY": "secret-pem"},
        "Cannot start the payments service: only auth signs tokens: unset EVENTHIVE_JWT_PRIVATE_KEY; "
        "the other services verify them with EVENTHIVE_JWT_PUBLIC_KEY (EdDSA)",
        id="private-key-outside-auth",
    ),
    pytest.param(
        "expiration",
        {"EVENTHIVE_EVENT_BUS": "nats", "EVENTHIVE_JWT_PUBLIC_KEY": "pem", "EVENTHIVE_JWT_SECRET": "s" * 40},
        "Cannot start the expiration service: only auth signs tokens: unset EVENTHIVE_JWT_SECRET; "
        "the other services verify them with EVENTHIVE_JWT_PUBLIC_KEY (EdDSA)",
        id="secret-outside-auth",
    ),
    pytest.param(
        "auth",
        {"EVENTHIVE_EVENT_BUS": "nats", "EVENTHIVE_JWT_PUBLIC_KEY": "pem"},
        "Cannot start the auth service: it signs the tokens: set EVENTHIVE_JWT_PRIVATE_KEY (an Ed25519 key, PEM) "
        "and give the other services its public key as EVENTHIVE_JWT_PUBLIC_KEY",
        id="auth-without-private-key",
    ),
    pytest.param(
        "orders",
        {"EVENTHIVE_EVENT_BUS": "nats"},
        "Cannot start the orders service: it verifies the tokens auth signs: set EVENTHIVE_JWT_PUBLIC_KEY "
        "(the auth service's Ed25519 public key, PEM)",
        id="no-public-key",
    ),
]


@pytest.mark.parametrize(("role", "env", "line"), REFUSALS)
def test_what_cannot_work_in_a_split_is_refused_in_one_line_before_anything_starts(
    role: str, env: dict[str, str], line: str, environ: dict[str, str], tmp_path: Path
) -> None:
    environ.update(env)

    result = _invoke(role, tmp_path)

    assert result.exit_code == 1
    assert result.output == f"Error: {line}\n"
    assert "secret-pem" not in result.output
    assert not (tmp_path / "data").exists()
    assert "EVENTHIVE_ROLE" not in environ  # refused before the command set anything


@pytest.mark.parametrize("denylist", [{}, {"EVENTHIVE_DENYLIST": "memory"}], ids=["default", "memory"])
def test_several_workers_of_a_service_other_than_auth_need_a_shared_denylist(
    denylist: dict[str, str], environ: dict[str, str], tmp_path: Path
) -> None:
    environ.update({"EVENTHIVE_EVENT_BUS": "nats", "EVENTHIVE_JWT_PUBLIC_KEY": "pem", **denylist})

    result = _invoke("orders", tmp_path, "--workers", "2")

    assert result.exit_code == 1
    assert result.output == (
        "Error: Cannot start the orders service: with --workers 2 each worker would keep its own in-memory denylist "
        "and miss the sign-outs and bans another worker received: set EVENTHIVE_DENYLIST=redis "
        "(with EVENTHIVE_REDIS_URL), or use --workers 1\n"
    )


def test_several_workers_are_fine_for_auth_and_with_a_denylist_in_redis(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[str] = []
    monkeypatch.setattr(service, "run_server", lambda *args, **kwargs: ran.append(kwargs["proc_name"]))
    environ.update({"EVENTHIVE_EVENT_BUS": "nats", "EVENTHIVE_JWT_PRIVATE_KEY": "pem"})
    assert CliRunner().invoke(service.service, ["auth", "--workers", "3"]).exit_code == 0
    del environ["EVENTHIVE_JWT_PRIVATE_KEY"]
    environ.update({"EVENTHIVE_JWT_PUBLIC_KEY": "pem", "EVENTHIVE_DENYLIST": "redis"})
    assert CliRunner().invoke(service.service, ["tickets", "--workers", "3"]).exit_code == 0

    assert ran == ["eventhive-auth", "eventhive-tickets"]


def test_a_database_of_another_service_is_refused_in_one_line_naming_both(
    environ: dict[str, str], tmp_path: Path, sqlite_url: str, key_pair: tuple[str, str]
) -> None:
    private_key, public_key = key_pair
    auth = HiveSettings(
        storage="sqlalchemy", database_url=sqlite_url, role="auth", jwt_algorithm="EdDSA", jwt_private_key=private_key
    )
    bootstrap(auth).close()  # the auth service has claimed the database
    environ.update(
        {"EVENTHIVE_EVENT_BUS": "nats", "EVENTHIVE_JWT_PUBLIC_KEY": public_key, "EVENTHIVE_DATABASE_URL": sqlite_url}
    )

    result = _invoke("tickets", tmp_path)

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"Error: Cannot start: The database {sqlite_url} belongs to the auth service, ")
    assert "so the tickets service will not start on it" in lines[0]


def test_the_pages_asked_for_with_a_service_are_refused_in_one_line(
    environ: dict[str, str], tmp_path: Path, key_pair: tuple[str, str]
) -> None:
    environ.update({"EVENTHIVE_EVENT_BUS": "nats", "EVENTHIVE_JWT_PUBLIC_KEY": key_pair[1], "EVENTHIVE_PAGES": "true"})

    result = _invoke("tickets", tmp_path)

    assert result.exit_code == 1
    assert result.output.startswith("Error: Cannot start: EVENTHIVE_PAGES=true serves the whole platform's web pages")
    assert result.output.count("\n") == 1


@pytest.mark.parametrize("role", service.ROLES)
def test_the_command_makes_the_process_that_service_with_a_sqlite_file_of_its_own_by_default(
    role: str, tmp_path: Path
) -> None:
    env: dict[str, str] = {"EVENTHIVE_ROLE": "auth", "EVENTHIVE_STORAGE": "memory"}

    notes = service.prepare_service_environment(env, role, tmp_path, "127.0.0.1")

    assert env == {
        "EVENTHIVE_ROLE": role,
        "EVENTHIVE_PRODUCER": role,
        "EVENTHIVE_DENYLIST_ROLE": role,
        "EVENTHIVE_NATS_ROLES": role,
        "EVENTHIVE_STORAGE": "sqlalchemy",
        "EVENTHIVE_JWT_ALGORITHM": "EdDSA",
        "EVENTHIVE_DATA_DIR": str(tmp_path),
        "EVENTHIVE_DATABASE_URL": f"sqlite:///{tmp_path / f'{role}.sqlite3'}",
        "EVENTHIVE_RUN_BACKGROUND": "true",
        "EVENTHIVE_COOKIE_SECURE": "false",
    }
    assert [note.split(":")[0] for note in notes] == ["cookies"]


def test_a_database_url_in_the_environment_is_kept(tmp_path: Path) -> None:
    url = "postgresql+psycopg://ann:secret@db:5432/orders"
    env = {"EVENTHIVE_DATABASE_URL": url, "EVENTHIVE_COOKIE_SECURE": "true"}

    notes = service.prepare_service_environment(env, "orders", tmp_path, "0.0.0.0")

    assert env["EVENTHIVE_DATABASE_URL"] == url
    assert env["EVENTHIVE_COOKIE_SECURE"] == "true"
    assert notes == []


@pytest.mark.parametrize(
    ("role", "port"), [("auth", 3001), ("tickets", 3002), ("orders", 3003), ("payments", 3004), ("expiration", 3005)]
)
def test_each_service_has_a_port_of_its_own_by_default(
    role: str, port: int, environ: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environ.update(
        {"EVENTHIVE_EVENT_BUS": "nats", "EVENTHIVE_JWT_PUBLIC_KEY": "pem", "EVENTHIVE_JWT_PRIVATE_KEY": "pem"}
    )
    if role != "auth":
        del environ["EVENTHIVE_JWT_PRIVATE_KEY"]
    ran: list[tuple[Any, ...]] = []
    monkeypatch.setattr(service, "run_server", lambda *args, **kwargs: ran.append((*args, kwargs["proc_name"])))

    result = CliRunner().invoke(service.service, [role])

    assert result.exit_code == 0, result.output
    assert ran == [("service", "127.0.0.1", port, 1, 4, "./eventhive-data", f"eventhive-{role}")]


def test_an_unknown_service_is_a_usage_error(environ: dict[str, str]) -> None:
    result = CliRunner().invoke(service.service, ["billing"])

    assert result.exit_code == 2
    assert "'billing' is not one of 'auth', 'tickets', 'orders', 'payments', 'expiration'" in result.output


def test_the_banner_hides_the_credentials_of_the_nats_url() -> None:
    assert service.shown_bus_url("nats://ann:secret@n1:4222,nats://token@n2:4222") == (
        "nats://***@n1:4222,nats://***@n2:4222"
    )
    assert service.shown_bus_url("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"


def test_flask_eventhive_does_not_offer_the_service_command() -> None:
    assert "service" in STANDALONE_COMMANDS


@pytest.mark.parametrize(
    ("env", "line"),
    [
        pytest.param(
            {},
            "Cannot start the client service: it renders the pages by calling the JSON API: set EVENTHIVE_API_URL "
            "to the front's address (e.g. http://127.0.0.1:8080)",
            id="no-api-url",
        ),
        pytest.param(
            {"EVENTHIVE_API_URL": "http://127.0.0.1:8081", "EVENTHIVE_JWT_PRIVATE_KEY": "secret-pem"},
            "Cannot start the client service: only auth signs tokens, and the client asks the API who is signed in: "
            "unset EVENTHIVE_JWT_PRIVATE_KEY",
            id="private-key",
        ),
        pytest.param(
            {"EVENTHIVE_API_URL": "http://127.0.0.1:8081", "EVENTHIVE_JWT_SECRET": "secret-pem"},
            "Cannot start the client service: only auth signs tokens, and the client asks the API who is signed in: "
            "unset EVENTHIVE_JWT_SECRET",
            id="shared-secret",
        ),
    ],
)
def test_what_the_client_cannot_work_with_is_refused_in_one_line_before_anything_starts(
    env: dict[str, str], line: str, environ: dict[str, str], tmp_path: Path
) -> None:
    environ.update(env)

    result = _invoke("client", tmp_path)

    assert result.exit_code == 1
    assert result.output == f"Error: {line}\n"
    assert "secret-pem" not in result.output
    assert "EVENTHIVE_ROLE" not in environ


def test_the_client_keeps_nothing_and_drops_the_database_keys_and_provider_secrets_a_shared_environment_gives_it(
    tmp_path: Path,
) -> None:
    env = {
        "EVENTHIVE_API_URL": "http://127.0.0.1:8081",
        "EVENTHIVE_DATABASE_URL": "postgresql+psycopg://ann:secret@db:5432/orders",
        "EVENTHIVE_JWT_ALGORITHM": "EdDSA",
        "EVENTHIVE_JWT_PUBLIC_KEY": "pem",
        "EVENTHIVE_STORAGE": "sqlalchemy",
        "EVENTHIVE_PAYMENT_PROVIDER": "stripe",
        "EVENTHIVE_STRIPE_SECRET_KEY": "sk_test_secret",
        "EVENTHIVE_STRIPE_WEBHOOK_SECRET": "whsec_secret",
        "EVENTHIVE_STRIPE_PUBLISHABLE_KEY": "pk_test_public",
    }

    notes = service.prepare_service_environment(env, "client", tmp_path, "127.0.0.1")

    assert env == {
        "EVENTHIVE_API_URL": "http://127.0.0.1:8081",
        "EVENTHIVE_PAYMENT_PROVIDER": "stripe",
        "EVENTHIVE_STRIPE_PUBLISHABLE_KEY": "pk_test_public",
        "EVENTHIVE_ROLE": "client",
        "EVENTHIVE_PRODUCER": "client",
        "EVENTHIVE_PAGES": "true",
        "EVENTHIVE_STORAGE": "memory",
        "EVENTHIVE_EVENT_BUS": "inprocess",
        "EVENTHIVE_SCHEDULER": "none",
        "EVENTHIVE_RUN_BACKGROUND": "false",
        "EVENTHIVE_DATA_DIR": str(tmp_path),
        "EVENTHIVE_COOKIE_SECURE": "false",
    }
    assert [note.split(":")[0] for note in notes] == ["cookies"]
