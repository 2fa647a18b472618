"""``eventhive events dead`` and ``eventhive events replay`` against the machine's JetStream."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from eventhive_core import BanUser, CreateTicket, SignUp
from eventhive_core.adapters.nats import NatsBus
from eventhive_core.cli.main import cli
from eventhive_core.service_layer.denylist_feed import DENY_BANNED_USER

from .conftest import stored, wait_until
from .helpers import Recorder, nats_hive


def environment(database_url: str, nats_url: str, prefix: str) -> dict[str, str]:
    return {
        "EVENTHIVE_STORAGE": "sqlalchemy",
        "EVENTHIVE_DATABASE_URL": database_url,
        "EVENTHIVE_EVENT_BUS": "nats",
        "EVENTHIVE_NATS_URL": nats_url,
        "EVENTHIVE_NATS_PREFIX": prefix,
        "EVENTHIVE_LOAD_PLUGINS": "",
    }


def test_events_dead_lists_a_roles_dead_letter_with_its_error_and_retry_hands_it_back_to_that_role(
    sqlite_url: str, nats_url: str, nats_prefix: str
) -> None:
    recorder = Recorder("tests.poisoned", "ticket:created", "audit")
    recorder.broken = True
    runner = CliRunner()
    env = environment(sqlite_url, nats_url, nats_prefix)
    with nats_hive(sqlite_url, nats_url, nats_prefix, recorder, nats_max_deliver=1, nats_roles=("audit",)) as hive:
        bus = hive.bus
        assert isinstance(bus, NatsBus)
        hive.start(background=False)
        seller = hive.handle(SignUp(email="seller@example.com", password="password")).user.id
        hive.handle(CreateTicket(owner_id=seller, title="Gig", price="10"))
        hive.relay_outbox()
        wait_until(lambda: len(bus.dead_letters()) == 1, what="the dead letter")
        [event_id] = recorder.calls

        listed = runner.invoke(cli, ["events", "dead"], env=env)
        assert listed.exit_code == 0, listed.output
        assert f"audit ticket:created {event_id}" in listed.output
        assert "deliveries=1 error=tests.poisoned: RuntimeError: tests.poisoned is broken" in listed.output
        assert listed.output.rstrip().endswith("1 dead letter(s).")

        recorder.broken = False
        retried = runner.invoke(cli, ["events", "dead", "--retry", "--role", "audit"], env=env)
        assert retried.exit_code == 0, retried.output
        assert "Retried 1 dead letter(s)." in retried.output
        wait_until(lambda: recorder.applied == {event_id: 1}, what="the retried event")
    assert runner.invoke(cli, ["events", "dead"], env=env).output.strip() == "0 dead letter(s)."


def test_events_replay_hands_a_range_to_a_roles_subscribers_and_a_second_run_is_dropped_by_them(
    sqlite_url: str, other_sqlite_url: str, nats_url: str, nats_prefix: str
) -> None:
    with nats_hive(sqlite_url, nats_url, nats_prefix) as publisher:
        publisher.handle(SignUp(email="mallory@example.com", password="password"))
        publisher.handle(BanUser(email="mallory@example.com"))
        assert publisher.relay_outbox() == 1
    # The auth role of a process on its own (empty) database, which never consumed anything. Its
    # subscriber records what it handled (scheduling expiry, which records nothing, would react again).
    env = environment(other_sqlite_url, nats_url, nats_prefix)
    runner = CliRunner()
    args = ["events", "replay", "--role", "auth", "--subject", "user:banned", "--from", "1"]
    first = runner.invoke(cli, args, env=env)
    assert first.exit_code == 0, first.output
    assert "Replayed 1 event(s) into role auth (0 skipped); last sequence 1." in first.output
    again = runner.invoke(cli, [*args[:-1], "2020-01-01T00:00:00Z"], env=env)
    assert again.exit_code == 0, again.output
    assert "Replayed 1 event(s)" in again.output
    [(_, headers, body)] = stored(nats_url, nats_prefix, "user.banned")
    assert b"user:banned" in body
    with nats_hive(other_sqlite_url, nats_url, nats_prefix) as check, check.uow() as uow:
        # The first replay recorded the event for the subscriber: this insert finds it there.
        assert not uow.processed.add(f"auth.{DENY_BANNED_USER}", headers["Nats-Msg-Id"], check.clock.now())


def test_events_commands_refuse_another_bus_naming_the_setting(sqlite_url: str) -> None:
    result = CliRunner().invoke(
        cli, ["events", "dead"], env={"EVENTHIVE_STORAGE": "sqlalchemy", "EVENTHIVE_DATABASE_URL": sqlite_url}
    )
    assert result.exit_code == 2
    assert "EVENTHIVE_EVENT_BUS is 'inprocess'" in result.output


@pytest.mark.parametrize("start", ["yesterday", "2026-01-01T00:00:00"])
def test_events_replay_refuses_a_start_that_is_neither_a_sequence_nor_a_zoned_time(start: str) -> None:
    result = CliRunner().invoke(cli, ["events", "replay", "--role", "expiration", "--from", start])
    assert result.exit_code == 2
    assert "--from" in result.output
