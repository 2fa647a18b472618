"""The real ``eventhive`` command, given the mistakes a newcomer or an operator makes: one clear line each."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EVENTHIVE = os.path.join(os.path.dirname(sys.executable), "eventhive")

BAD_SETTINGS = [
    ("EVENTHIVE_RESERVATION_TTL", "abc", "a number of seconds"),
    ("EVENTHIVE_RESERVATION_TTL", "0", "between 1 second and 24 hours"),
    ("EVENTHIVE_RESERVATION_TTL", "100000", "between 1 second and 24 hours"),
    ("EVENTHIVE_RESERVATION_TTL", "60s", "a number of seconds"),
    ("EVENTHIVE_COOKIE_SECURE", "maybe", "valid boolean"),
    ("EVENTHIVE_STORAGE", "postgres", "choose one of: memory, sqlalchemy"),
    ("EVENTHIVE_DATABASE_URL", "notaurl", "postgresql+psycopg://"),
]


def run(args: list[str], tmp_path: Path, *, python: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")}
    environment.update(env)
    command = [sys.executable, "-c", python, *args] if python else [EVENTHIVE, *args]
    return subprocess.run(command, env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["worker"]], ids=["serve", "worker"])
@pytest.mark.parametrize(("variable", "value", "accepted"), BAD_SETTINGS, ids=[f"{v}={x}" for v, x, _ in BAD_SETTINGS])
def test_a_bad_setting_stops_the_command_with_one_line_naming_it_before_any_banner(
    command: list[str], variable: str, value: str, accepted: str, tmp_path: Path
) -> None:
    result = run(
        [*command, *(["--data-dir", str(tmp_path / "data")] if command[0] == "serve" else [])],
        tmp_path,
        **{variable: value},
    )

    assert result.returncode == 2, result.stderr
    assert result.stdout == ""  # no banner
    assert result.stderr.startswith(f"Error: {variable}={value!r}: ")
    assert accepted in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_a_secret_in_a_bad_setting_is_never_printed(tmp_path: Path) -> None:
    result = run(
        ["sweep"],
        tmp_path,
        EVENTHIVE_JWT_ALGORITHM="HS256",
        EVENTHIVE_TOKEN_TTL="soon",
        EVENTHIVE_JWT_SECRET="do-not-print-me",
    )
    bad_secret = run(
        ["sweep"], tmp_path, EVENTHIVE_STRIPE_SECRET_KEY="sk_test_" + "x" * 20, EVENTHIVE_PAYMENT_OPTIONS="[1]"
    )

    assert result.returncode == bad_secret.returncode == 2
    assert "EVENTHIVE_TOKEN_TTL='soon'" in result.stderr
    assert "do-not-print-me" not in result.stderr + result.stdout
    assert "sk_test_" not in bad_secret.stderr + bad_secret.stdout


def test_a_misspelt_variable_gets_one_warning_with_the_name_it_probably_meant(tmp_path: Path) -> None:
    result = run(["plugins"], tmp_path, EVENTHIVE_RESERVATON_TTL="5", EVENTHIVE_TEST_ANYTHING="reserved")

    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "eventhive: warning: EVENTHIVE_RESERVATON_TTL is not a setting and is ignored; "
        "did you mean EVENTHIVE_RESERVATION_TTL?\n"
    )


def test_a_variable_the_flask_plugin_declares_is_not_taken_for_a_typo(tmp_path: Path) -> None:
    result = run(["plugins"], tmp_path, EVENTHIVE_COOKIE_SECURE="false", EVENTHIVE_ACCESS_LOG="-")

    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr


def test_worker_without_celery_says_which_extra_to_install(tmp_path: Path) -> None:
    # Celery is installed here; an import hook that refuses it is how a machine without it behaves.
    without_celery = (
        "import sys; sys.modules['celery'] = None; sys.argv = ['eventhive', *sys.argv[1:]]; "
        "from eventhive_core.cli.main import main; main()"
    )

    result = run(["worker"], tmp_path, python=without_celery)

    assert result.returncode == 1
    assert result.stderr == (
        "Error: eventhive worker needs Celery, which is not installed (celery): "
        'pip install "eventhive-tickets[celery]"\n'
    )


@pytest.mark.parametrize(
    "command", [["relay", "--dead"], ["relay"], ["sweep"], ["users", "ban", "ann@example.com"]], ids=" ".join
)
def test_a_maintenance_command_refuses_memory_storage_where_it_would_act_on_nothing(
    command: list[str], tmp_path: Path
) -> None:
    result = run(command, tmp_path)

    assert result.returncode == 2
    assert "EVENTHIVE_STORAGE is memory" in result.stderr
    assert "--allow-memory" in result.stderr
    assert "dead event" not in result.stdout


def test_a_maintenance_command_runs_on_memory_storage_when_asked_explicitly(tmp_path: Path) -> None:
    result = run(["relay", "--dead", "--allow-memory"], tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "0 dead event(s).\n"


def test_a_maintenance_command_acts_on_the_deployments_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'eventhive.sqlite3'}"

    result = run(["sweep"], tmp_path, EVENTHIVE_STORAGE="sqlalchemy", EVENTHIVE_DATABASE_URL=url)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "Expired 0 order(s).\n"
    assert (tmp_path / "eventhive.sqlite3").is_file()


def test_help_shows_every_command_summary_whole(tmp_path: Path) -> None:
    for group in ([], ["db"], ["users"]):
        result = run([*group, "--help"], tmp_path, COLUMNS="80")

        assert result.returncode == 0, result.stderr
        commands = result.stdout.split("Commands:\n", 1)[1]
        assert "..." not in commands, commands
