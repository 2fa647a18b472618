"""One-off maintenance commands: sweep due holds, relay the outbox, ban a user.

Each builds a Hive from the ``EVENTHIVE_*`` environment, does its job and closes it.
"""

from __future__ import annotations

import click

from eventhive_core.domain.commands import BanUser
from eventhive_core.domain.errors import EventHiveError
from eventhive_core.hive import Hive
from eventhive_core.settings import HiveSettings


def _hive() -> Hive:
    from eventhive_core.bootstrap import bootstrap

    try:
        return bootstrap(HiveSettings.from_env(scheduler="none"))
    except EventHiveError as exc:
        raise click.ClickException(exc.message) from exc


@click.command()
def sweep() -> None:
    """Cancel every order whose hold ran out, now."""
    with _hive() as hive:
        count = hive.sweep()
    click.echo(f"Expired {count} order(s).")


@click.command()
@click.option("--once", is_flag=True, help="Publish one batch only.")
@click.option("--dead", is_flag=True, help="List events that gave up after too many attempts instead.")
def relay(once: bool, dead: bool) -> None:
    """Publish unsent outbox events to the event bus (or list dead ones)."""
    with _hive() as hive:
        if dead:
            with hive.uow() as uow:
                rows = uow.outbox.dead(limit=1000)
            for row in rows:
                click.echo(f"{row.message.id} {row.message.type} attempts={row.attempts} error={row.last_error}")
            click.echo(f"{len(rows)} dead event(s).")
            return
        from eventhive_core.service_layer.relay import relay_once

        total = 0
        with click.progressbar(length=0, label="Relaying", show_pos=True) as bar:
            while True:
                published = relay_once(hive.services, hive.bus)
                total += published
                bar.update(published)
                if once or published == 0:
                    break
    click.echo(f"Published {total} event(s).")


@click.group()
def users() -> None:
    """Manage users."""


@users.command()
@click.argument("email")
def ban(email: str) -> None:
    """Ban the user with EMAIL: publishes user:banned; their tokens are refused from now on."""
    with _hive() as hive:
        try:
            view = hive.handle(BanUser(email=email))
        except EventHiveError as exc:
            raise click.ClickException(f"{exc.message}: no user with email {email!r}") from exc
        hive.relay_outbox()
    click.echo(f"Banned {view.email} ({view.id}).")
