"""Migrations build the schema the models describe, and the storage plugin insists on it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner

from eventhive_core import HiveSettings
from eventhive_core.adapters.sqlalchemy import current, head, upgrade
from eventhive_core.adapters.sqlalchemy.engine import create_engine
from eventhive_core.adapters.sqlalchemy.tables import metadata
from eventhive_core.cli.main import cli
from eventhive_core.domain.errors import ConfigurationError
from eventhive_core.domain.reservation import Units
from eventhive_core.plugins.builtin.sqlalchemy_storage import make_sqlalchemy_storage


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database that was never migrated."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    make: Callable[[], str] = request.getfixturevalue("postgres_database_factory")
    return make()


def schema_differences(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata))
    finally:
        engine.dispose()


def test_migrations_upgrade_a_fresh_database_to_exactly_the_models_schema(empty_database: str) -> None:
    assert current(empty_database) is None
    assert upgrade(empty_database) == head()
    assert schema_differences(empty_database) == []


def test_upgrading_twice_changes_nothing(empty_database: str) -> None:
    upgrade(empty_database)
    assert upgrade(empty_database) == head()
    assert schema_differences(empty_database) == []


def test_the_cli_upgrades_and_reports_the_revision(empty_database: str) -> None:
    runner = CliRunner()
    before = runner.invoke(cli, ["db", "current", "--url", empty_database])
    assert before.exit_code == 1
    assert "none (empty)" in before.output
    assert "eventhive db upgrade" in before.output
    upgraded = runner.invoke(cli, ["db", "upgrade", "--url", empty_database])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"applied {head()}" in upgraded.output
    assert f"Database is at revision {head()}." in upgraded.output
    after = runner.invoke(cli, ["db", "current", "--url", empty_database])
    assert after.exit_code == 0
    assert f"revision {head()} (up to date)" in after.output


def test_the_embedded_sqlite_storage_migrates_itself_on_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'embedded.sqlite3'}"
    storage = make_sqlalchemy_storage(HiveSettings(storage="sqlalchemy", database_url=url), {})
    storage.close()
    assert current(url) == head()


@pytest.mark.postgres
def test_a_postgres_storage_on_an_unmigrated_database_says_to_run_the_upgrade(
    postgres_database_factory: Callable[[], str],
) -> None:
    url = postgres_database_factory()
    with pytest.raises(ConfigurationError, match="run `eventhive db upgrade`"):
        make_sqlalchemy_storage(HiveSettings(storage="sqlalchemy", database_url=url), {})
    upgrade(url)
    make_sqlalchemy_storage(HiveSettings(storage="sqlalchemy", database_url=url), {}).close()


def test_the_sqlalchemy_storage_without_a_database_url_says_what_to_set() -> None:
    with pytest.raises(ConfigurationError, match="EVENTHIVE_DATABASE_URL"):
        make_sqlalchemy_storage(HiveSettings(storage="sqlalchemy"), {})


def test_an_unknown_database_kind_is_refused_with_the_kinds_we_support() -> None:
    settings = HiveSettings(storage="sqlalchemy", database_url="mysql://root@localhost/db")
    with pytest.raises(ConfigurationError, match="sqlite:/// or postgresql"):
        make_sqlalchemy_storage(settings, {})


def test_upgrading_a_database_with_sales_moves_each_tickets_counters_into_one_stripe_and_back(
    empty_database: str,
) -> None:
    import sqlalchemy as sa

    from eventhive_core.adapters.sqlalchemy import SqlAlchemyStorage
    from eventhive_core.adapters.sqlalchemy.schema import downgrade

    upgrade(empty_database, "0003")
    engine = create_engine(empty_database)
    now = "2026-06-01 12:00:00+00:00"
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO tickets (id, title, price_minor, currency, owner_id, capacity, units_held, "
                    "units_sold, version, created_at) VALUES ('t1', 'Gig', 1000, 'USD', 'seller', 10, 3, 2, 0, :now)"
                ),
                {"now": now},
            )
            for order_id, status, quantity in (("o1", "created", 3), ("o2", "complete", 2)):
                conn.execute(
                    sa.text(
                        "INSERT INTO orders (id, ticket_id, buyer_id, status, quantity, amount_minor, currency, "
                        "expires_at, created_at, version) VALUES (:id, 't1', 'buyer', :status, :quantity, 1000, 'USD', "
                        "'2999-01-01 00:00:00+00:00', :now, 0)"
                    ),
                    {"id": order_id, "status": status, "quantity": quantity, "now": now},
                )

        assert upgrade(empty_database) == head()

        with engine.connect() as conn:
            stripes = conn.execute(sa.text("SELECT stripe, capacity, held, sold FROM ticket_stripes")).all()
            order_stripes = conn.execute(sa.text("SELECT DISTINCT stripe FROM orders")).scalars().all()
        assert [tuple(row) for row in stripes] == [(0, 10, 3, 2)]
        assert order_stripes == [0]
        storage = SqlAlchemyStorage(empty_database, stripes=1)
        try:
            with storage.unit_of_work() as uow:
                at = datetime.now(UTC)
                assert uow.tickets.units("t1", at) == Units(capacity=10, held=3, sold=2)
                assert uow.tickets.reserve("t1", 5, at)
                assert not uow.tickets.reserve("t1", 1, at)
                uow.commit()
        finally:
            storage.close()

        assert downgrade(empty_database, "0003") == "0003"
        with engine.connect() as conn:
            counters = conn.execute(sa.text("SELECT capacity, units_held, units_sold FROM tickets")).one()
        assert tuple(counters) == (10, 8, 2)
    finally:
        engine.dispose()
