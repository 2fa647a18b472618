"""The PostgreSQL fast path's SQL is generated from tables.py, and its rows are read by column name.

Compiled with SQLAlchemy's psycopg dialect, without a server: what is checked here is the text the
fast path would send. tests/contract runs the storage contract on the fast path against PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from eventhive_core.adapters.sqlalchemy import outbox as outbox_sql
from eventhive_core.adapters.sqlalchemy import repositories
from eventhive_core.adapters.sqlalchemy.pg_fast_path import compile_insert, compile_statement, decode_row
from eventhive_core.adapters.sqlalchemy.session import IncompleteRow, complete_row
from eventhive_core.adapters.sqlalchemy.tables import orders, outbox, tickets, users

DIALECT = PGDialect_psycopg()


def _with_an_extra_column(table: sa.Table, column: sa.Column[object]) -> sa.Table:
    copy = table.to_metadata(sa.MetaData())
    copy.append_column(column)
    return copy


def _an_order_row() -> dict[str, object]:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return {
        "id": "o1",
        "ticket_id": "t1",
        "buyer_id": "u1",
        "status": "created",
        "quantity": 1,
        "amount_minor": 1000,
        "currency": "USD",
        "expires_at": now + timedelta(seconds=60),
        "created_at": now,
        "version": 0,
        "cancel_reason": None,
        "idempotency_key": None,
        "stripe": 0,
    }


@pytest.mark.parametrize("table", [orders, outbox], ids=lambda t: t.name)
def test_the_fast_paths_insert_names_every_column_of_the_tables_it_batches(table: sa.Table) -> None:
    compiled = compile_insert(table, DIALECT)
    assert {name for name, _ in compiled.binds} == set(table.c.keys())
    for column in table.c:
        assert f"%({column.key})s" in compiled.sql


def test_a_column_added_to_the_orders_table_is_in_the_fast_paths_insert_at_once() -> None:
    widened = _with_an_extra_column(orders, sa.Column("seat", sa.String(10), nullable=True))
    compiled = compile_insert(widened, DIALECT)
    assert "seat" in {name for name, _ in compiled.binds}
    assert "%(seat)s" in compiled.sql


def test_a_new_row_that_does_not_name_a_column_added_to_its_table_is_refused_on_every_path() -> None:
    widened = _with_an_extra_column(orders, sa.Column("seat", sa.String(10), nullable=True))
    assert complete_row(orders, _an_order_row())
    with pytest.raises(IncompleteRow, match=r"missing \['seat'\]"):
        complete_row(widened, _an_order_row())
    with pytest.raises(IncompleteRow, match=r"unknown \['seat'\]"):
        complete_row(orders, {**_an_order_row(), "seat": "A1"})


@pytest.mark.parametrize(
    ("statement", "table"),
    [(repositories._TICKET_BY_ID, tickets), (repositories._USER_BY_ID, users)],
    ids=["ticket by id", "user by id"],
)
def test_the_fast_paths_selects_read_every_column_of_their_table(statement: sa.Select[object], table: sa.Table) -> None:
    compiled = compile_statement(statement, DIALECT)
    assert set(compiled.columns) == set(table.c.keys())
    assert [name for name, _ in compiled.binds] == ["id"]


def test_the_fast_path_reservation_takes_a_stripe_and_reads_the_ticket_without_locking_the_pick() -> None:
    compiled = compile_statement(repositories._RESERVE_IN_A_STRIPE, DIALECT)
    sql = " ".join(compiled.sql.replace("::INTEGER", "").replace("::VARCHAR", "").split())
    # Room in an open stripe: the stripes of an over-committed replica are frozen (a column of the same row).
    room = (
        "ticket_stripes.held + ticket_stripes.sold + %(quantity)s <= ticket_stripes.capacity"
        " AND NOT ticket_stripes.frozen"
    )
    pick = "WITH pick AS (SELECT ticket_stripes.stripe AS stripe FROM ticket_stripes WHERE ticket_stripes.ticket_id"
    assert sql.startswith(f"{pick} = %(ticket)s AND {room} ORDER BY")
    assert "UPDATE ticket_stripes SET held=(ticket_stripes.held + %(quantity)s) WHERE" in sql
    assert f"(SELECT pick.stripe FROM pick) AND {room} RETURNING ticket_stripes.stripe)" in sql
    # The pick takes no lock: a locking pick would keep the lock of a stripe it then finds full.
    assert "FOR UPDATE" not in sql
    # With the ticket's row, read in the same snapshot, so the order is priced without another read.
    assert compiled.columns == ("picked", "taken", *tickets.c.keys())
    assert {name for name, _ in compiled.binds} == {"quantity", "ticket", "start"}


def test_a_statement_carrying_a_value_of_its_own_is_refused_by_the_fast_path() -> None:
    with pytest.raises(ValueError, match="bind every value by name"):
        compile_statement(sa.select(orders).where(orders.c.status == "created"), DIALECT)


def test_rows_are_read_by_column_name_whatever_order_the_database_returns_them_in() -> None:
    compiled = compile_statement(repositories._USER_BY_ID, DIALECT)
    paris = datetime(2026, 6, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    names = ("email", "banned_at", "id", "password_hash", "created_at")
    row = decode_row(compiled, names, ("ann@example.com", None, "u1", "hash", paris))
    assert (row.id, row.email, row.password_hash, row.banned_at) == ("u1", "ann@example.com", "hash", None)
    assert row.created_at == paris
    assert row.created_at.tzinfo == UTC  # through UTCDateTime's own result processing


def test_a_row_with_other_columns_than_the_statement_names_is_refused() -> None:
    compiled = compile_statement(repositories._USER_BY_ID, DIALECT)
    with pytest.raises(ValueError, match="Expected columns"):
        decode_row(compiled, ("id", "email"), ("u1", "ann@example.com"))


def test_the_relays_claim_is_one_prebuilt_statement_skipping_rows_another_relay_locked() -> None:
    compiled = compile_statement(outbox_sql._CLAIM, DIALECT)
    sql = " ".join(compiled.sql.split())
    assert "FOR UPDATE SKIP LOCKED" in sql
    assert "LIMIT %(limit)s" in sql
    assert {name for name, _ in compiled.binds} == {"now", "lease_until", "limit"}
    assert set(compiled.columns) == set(outbox.c.keys())
