"""``eventhive events``: the NATS bus's dead letters and replay (``EVENTHIVE_EVENT_BUS=nats``).

``events dead`` lists what a role gave up on, and ``--retry`` sends it again to that role alone;
``events replay`` reads a range of stored events through a fresh consumer and hands them to a
role's subscribers in this process (they drop what they already processed). nats-py is imported
only when one of them runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click

from eventhive_core.cli.context import allow_memory_option, maintenance_hive

if TYPE_CHECKING:
    from eventhive_core.adapters.nats import NatsBus
    from eventhive_core.hive import Hive


def _nats_bus(hive: Hive) -> NatsBus:
    try:
        from eventhive_core.adapters.nats import NatsBus
    except ModuleNotFoundError as exc:
        raise click.ClickException(
            f'these commands need nats-py ({exc.name} is missing): pip install "eventhive-tickets[nats]"'
        ) from exc
    if not isinstance(hive.bus, NatsBus):
        raise click.UsageError(
            f"EVENTHIVE_EVENT_BUS is {hive.settings.event_bus!r}; dead letters and replay exist on the nats bus only "
            "(set EVENTHIVE_EVENT_BUS=nats and the EVENTHIVE_NATS_* settings as the deployment does)"
        )
    return hive.bus


def _start(value: str) -> tuple[int | None, datetime | None]:
    if value.isdigit():
        return int(value), None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is neither a stream sequence nor an ISO 8601 time (e.g. 2026-01-01T12:00:00Z)",
            param_hint="--from",
        ) from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no time zone; add Z or +00:00", param_hint="--from")
    return None, moment


@click.group()
def events() -> None:
    """Dead letters and replay on the NATS event bus."""


@events.command()
@click.option("--role", help="Only this role's dead letters.")
@click.option("--retry", is_flag=True, help="Send them again to their role (then they leave the dead letters).")
@click.option("--seq", "sequences", type=int, multiple=True, help="Only the dead letter at this stream sequence.")
@click.pass_context
def dead(ctx: click.Context, role: str | None, retry: bool, sequences: tuple[int, ...]) -> None:
    """List the events a role gave up on, or retry them."""
    # Dead letters live on the server, so any storage will do (no --allow-memory needed).
    with maintenance_hive(ctx, allow_memory=True) as hive:
        bus = _nats_bus(hive)
        if retry:
            retried = bus.retry_dead(sequences or None, role=role)
            for letter in retried:
                click.echo(f"retried {letter.sequence} {letter.role} {letter.event_type} {letter.event_id}")
            click.echo(f"Retried {len(retried)} dead letter(s).")
            return
        letters = [letter for letter in bus.dead_letters(role) if not sequences or letter.sequence in set(sequences)]
    for letter in letters:
        when = letter.time.isoformat() if letter.time else "-"
        click.echo(
            f"{letter.sequence} {letter.role} {letter.event_type} {letter.event_id} at={when} "
            f"deliveries={letter.deliveries} error={letter.error}"
        )
    click.echo(f"{len(letters)} dead letter(s).")


@events.command()
@click.option("--role", required=True, help="Whose subscribers get the events (they must be loaded here).")
@click.option(
    "--subject",
    default=">",
    show_default=True,
    help="Which events, under the prefix: an event type (order:created) or a subject pattern (order.*).",
)
@click.option("--from", "start", required=True, help="First stream sequence, or an ISO 8601 time with a zone.")
@click.option("--to", "end", type=int, help="Last stream sequence (default: the last when the replay starts).")
@allow_memory_option
@click.pass_context
def replay(ctx: click.Context, role: str, subject: str, start: str, end: int | None, allow_memory: bool) -> None:
    """Deliver stored events again to ROLE's subscribers, in this process.

    What a subscriber already processed is dropped, so this recovers a consumer that skipped
    events and rebuilds a replica on an empty database alike. It stops at the first failure.
    """
    start_sequence, start_time = _start(start)
    with maintenance_hive(ctx, allow_memory=allow_memory) as hive:
        bus = _nats_bus(hive)
        report = bus.replay(
            role, subject=subject, start_sequence=start_sequence, start_time=start_time, end_sequence=end
        )
    last = "-" if report.last_sequence is None else str(report.last_sequence)
    click.echo(
        f"Replayed {report.delivered} event(s) into role {role} ({report.skipped} skipped); last sequence {last}."
    )
    if report.failed_sequence is not None:
        raise click.ClickException(
            f"stopped at sequence {report.failed_sequence}: {report.error}; fix it and run again with "
            f"--from {report.failed_sequence}"
        )


__all__ = ["events"]
