"""One-off maintenance commands: sweep due holds, relay the outbox, ban a user.

Each takes its Hive from the click context (:mod:`eventhive_core.cli.context`): under
``eventhive`` one built from the ``EVENTHIVE_*`` environment and closed afterwards, under
``flask eventhive`` the app's own.
"""

from __future__ import annotations

import click

from eventhive_core.cli.context import allow_memory_option, maintenance_hive
from eventhive_core.domain.commands import BanUser
from eventhive_core.domain.errors import EventHiveError


@click.command()
@allow_memory_option
@click.pass_context
def sweep(ctx: click.Context, allow_memory: bool) -> None:
    """Cancel every order whose hold ran out, now."""
    with maintenance_hive(ctx, allow_memory=allow_memory) as hive:
        count = hive.sweep()
    click.echo(f"Expired {count} order(s).")


@click.command()
@click.option("--once", is_flag=True, help="Publish one batch only.")
@click.option("--dead", is_flag=True, help="List events that gave up after too many attempts instead.")
@allow_memory_option
@click.pass_context
def relay(ctx: click.Context, once: bool, dead: bool, allow_memory: bool) -> None:
    """Publish unsent outbox events, or list the dead ones."""
    with maintenance_hive(ctx, allow_memory=allow_memory) as hive:
        if dead:
            with hive.uow() as uow:
                rows = uow.outbox.dead(limit=1000)
            for row in rows:
                click.echo(f"{row.message.id} {row.message.type} attempts={row.attempts} error={row.last_error}")
            click.echo(f"{len(rows)} dead event(s).")
            return
        total = 0
        with click.progressbar(length=0, label="Relaying", show_pos=True) as bar:
            while True:
                published = hive.relay_once()
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
@allow_memory_option
@click.pass_context
def ban(ctx: click.Context, email: str, allow_memory: bool) -> None:
    """Ban the user with EMAIL from signing in.

    Their tokens are refused from now on, in every process (user:banned is published).
    """
    with maintenance_hive(ctx, allow_memory=allow_memory) as hive:
        try:
            view = hive.handle(BanUser(email=email))
        except EventHiveError as exc:
            raise click.ClickException(f"{exc.message}: no user with email {email!r}") from exc
        hive.relay_outbox()
    click.echo(f"Banned {view.email} ({view.id}).")
