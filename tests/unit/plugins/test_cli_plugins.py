from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from eventhive_core.cli.main import cli

MakeDistribution = Callable[..., Path]

BUILTINS_ONLY = {"EVENTHIVE_LOAD_PLUGINS": ""}


def test_eventhive_plugins_lists_each_built_in_its_hooks_and_the_chosen_names() -> None:
    result = CliRunner().invoke(cli, ["plugins"], env={**BUILTINS_ONLY, "EVENTHIVE_SCHEDULER": "none"})

    assert result.exit_code == 0, result.output
    assert "  builtin.policies (built in)\n    hooks: eventhive_late_payment_policy, eventhive_reservation_ttl\n" in (
        result.output
    )
    assert "Storage (EVENTHIVE_STORAGE=memory):\n  * memory from builtin.memory_storage\n" in result.output
    assert "Scheduler (EVENTHIVE_SCHEDULER=none):\n" in result.output
    assert "\n    inprocess from builtin.inprocess_scheduler\n" in result.output
    assert "  * none from builtin.inprocess_scheduler\n" in result.output
    assert "Unavailable" not in result.output


def test_a_setting_that_names_nothing_registered_stops_every_command_with_the_choices() -> None:
    result = CliRunner().invoke(cli, ["plugins"], env={**BUILTINS_ONLY, "EVENTHIVE_STORAGE": "mongo"})

    assert result.exit_code == 2, result.output
    assert (
        result.output
        == "Error: EVENTHIVE_STORAGE='mongo': no storage of that name; choose one of: memory, sqlalchemy\n"
    )


def test_eventhive_plugins_shows_unavailable_entry_points_with_their_fix(
    make_distribution: MakeDistribution, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "nats", None)
    make_distribution(
        "eventhive-jetstream",
        version="3.0",
        entry_points={"jetstream": "jetstream_plugin"},
        modules={"jetstream_plugin": "import nats\n"},
    )

    result = CliRunner().invoke(cli, ["plugins"], env={"EVENTHIVE_LOAD_PLUGINS": "jetstream"})

    assert result.exit_code == 0, result.output
    assert "Unavailable:\n  jetstream (eventhive-jetstream 3.0): " in result.output
    assert '    fix: pip install "eventhive-tickets[nats]"\n' in result.output


def test_eventhive_plugins_reports_a_bad_setting_in_one_line_naming_the_variable() -> None:
    result = CliRunner().invoke(cli, ["plugins"], env={"EVENTHIVE_RESERVATION_TTL": "0"})

    assert result.exit_code == 2
    assert result.output == "Error: EVENTHIVE_RESERVATION_TTL='0': must be between 1 second and 24 hours\n"


HELLO_COMMAND = """
    import click

    from eventhive_core.plugins.markers import hookimpl

    @click.command("hello")
    def hello():
        \"\"\"Say hello from a plugin.\"\"\"
        click.echo("hello from a plugin")

    @hookimpl
    def eventhive_register_commands(add):
        add(hello)
"""


def test_a_command_added_by_an_installed_plugin_runs_as_an_eventhive_subcommand(
    make_distribution: MakeDistribution,
) -> None:
    make_distribution(
        "eventhive-hello-cmd", entry_points={"hello": "hello_cmd_plugin"}, modules={"hello_cmd_plugin": HELLO_COMMAND}
    )
    env = {"EVENTHIVE_LOAD_PLUGINS": "hello"}

    help_text = CliRunner().invoke(cli, ["--help"], env=env)
    ran = CliRunner().invoke(cli, ["hello"], env=env)

    assert "Say hello from a plugin." in help_text.output
    assert ran.exit_code == 0, ran.output
    assert ran.output == "hello from a plugin\n"


def test_help_still_lists_the_built_in_commands_when_a_setting_is_bad() -> None:
    result = CliRunner().invoke(cli, ["--help"], env={"EVENTHIVE_LOAD_PLUGINS": "not_installed_anywhere"})

    assert result.exit_code == 0, result.output
    assert "  sweep " in result.output
    assert "  worker " in result.output


def test_a_plugin_that_cannot_load_stops_a_command_with_one_line() -> None:
    result = CliRunner().invoke(cli, ["sweep"], env={"EVENTHIVE_LOAD_PLUGINS": "not_installed_anywhere"})

    assert result.exit_code == 2
    assert result.output.startswith("Error: EVENTHIVE_LOAD_PLUGINS names not_installed_anywhere")
    assert result.output.count("\n") == 1
