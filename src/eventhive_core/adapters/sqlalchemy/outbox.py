"""The transactional outbox, processed message ids and idempotency keys in SQL.

Outbox rows are written on the unit of work's connection, so they commit or vanish with the
change that produced them. The relay claims rows with one ``UPDATE ... WHERE id IN (SELECT ...
LIMIT n) RETURNING``: the inner SELECT, a CTE, adds ``FOR UPDATE SKIP LOCKED`` so several relays
share the work on PostgreSQL without waiting on each other; SQLite has no row locks, and the
write unit's ``BEGIN IMMEDIATE`` already serialises relays there. A claim is a lease: a relay that
dies mid-publish leaves a row that becomes claimable again when its lease runs out, and is
published again with the same id.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from eventhive_core.adapters.sqlalchemy.session import SqlSession, insert_ignoring_conflicts
from eventhive_core.adapters.sqlalchemy.tables import idempotency_keys, outbox, processed_messages
from eventhive_core.ports.messages import Message, OutboxBacklog, OutboxRecord
from eventhive_core.ports.storage import IdempotencyRecord

#: The longest error text kept per row.
MAX_ERROR_LENGTH = 2000


def _record(row: Any) -> OutboxRecord:
    return OutboxRecord(
        message=Message(id=row.id, type=row.type, body=row.body),
        occurred_at=row.occurred_at,
        attempts=row.attempts,
        sent_at=row.sent_at,
        last_error=row.last_error,
    )


_UNSENT = sa.and_(outbox.c.sent_at.is_(None), sa.not_(outbox.c.dead))
_MARK_SENT = (
    sa.update(outbox)
    .where(outbox.c.id.in_(sa.bindparam("ids", expanding=True)))
    .values(sent_at=sa.bindparam("now", type_=outbox.c.sent_at.type), claimed_until=None)
)
# Built once, values bound by name: the relay claims many times a second in a rush, and building
# and compiling the statement each time cost more than PostgreSQL's work on it.
_CLAIMABLE = sa.and_(
    _UNSENT,
    sa.or_(
        outbox.c.claimed_until.is_(None),
        outbox.c.claimed_until <= sa.bindparam("now", type_=outbox.c.claimed_until.type),
    ),
)
# A CTE runs once: as an IN (...) subquery PostgreSQL may rescan it per row and, skipping nothing
# it locked itself, hand out more than ``limit`` rows. SQLite drops the row lock.
_CHOSEN = (
    sa.select(outbox.c.id)
    .where(_CLAIMABLE)
    .order_by(outbox.c.occurred_at, outbox.c.id)
    .limit(sa.bindparam("limit", type_=sa.Integer))
    .with_for_update(skip_locked=True)
    .cte("claimable")
)
# The WHERE repeats the test: a row another relay claimed while we waited drops out.
_CLAIM = (
    sa.update(outbox)
    .where(outbox.c.id == _CHOSEN.c.id, _CLAIMABLE)
    .values(claimed_until=sa.bindparam("lease_until", type_=outbox.c.claimed_until.type))
    .returning(*outbox.c)
)


class SqlOutbox:
    """Integration events stored with the change that produced them."""

    def __init__(self, session: SqlSession) -> None:
        self._session = session

    def add(self, message: Message, occurred_at: datetime) -> None:
        """Store an event in this unit of work's transaction."""
        self._session.insert(
            outbox,
            {
                "id": message.id,
                "type": message.type,
                "body": message.body,
                "occurred_at": occurred_at,
                "claimed_until": None,
                "sent_at": None,
                "attempts": 0,
                "last_error": None,
                "dead": False,
            },
        )

    def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[OutboxRecord]:
        """Claim up to ``limit`` oldest unsent, unclaimed (or lease-expired), not-dead rows until ``lease_until``."""
        rows = self._session.all(_CLAIM, {"now": now, "lease_until": lease_until, "limit": limit})
        records = [_record(row) for row in rows]
        return sorted(records, key=lambda r: (r.occurred_at, r.message.id))

    def mark_sent(self, message_ids: Collection[str], now: datetime) -> None:
        """Record that these events were published, in one statement."""
        if message_ids:
            self._session.execute(_MARK_SENT, {"ids": list(message_ids), "now": now})

    def mark_failed(self, message_id: str, error: str, retry_at: datetime, max_attempts: int) -> None:
        """Record a failed publish; retry at ``retry_at``, or mark dead once ``max_attempts`` is reached."""
        self._session.execute(
            sa.update(outbox)
            .where(outbox.c.id == message_id, outbox.c.sent_at.is_(None))
            .values(
                attempts=outbox.c.attempts + 1,
                last_error=error[:MAX_ERROR_LENGTH],
                claimed_until=retry_at,
                dead=sa.case((outbox.c.attempts + 1 >= max_attempts, sa.true()), else_=sa.false()),
            )
        )

    def dead(self, limit: int) -> list[OutboxRecord]:
        """Return rows that gave up after too many attempts, oldest first."""
        query = sa.select(outbox).where(outbox.c.dead).order_by(outbox.c.occurred_at, outbox.c.id).limit(limit)
        return [_record(row) for row in self._session.execute(query)]

    def pending(self) -> int:
        """Return how many rows are not yet sent (dead ones excluded)."""
        return int(self._session.execute(sa.select(sa.func.count()).select_from(outbox).where(_UNSENT)).scalar_one())

    def backlog(self) -> OutboxBacklog:
        """Return how many rows are not yet sent and when the oldest occurred, in one query on the unsent index."""
        events, oldest = sa.func.count().label("events"), sa.func.min(outbox.c.occurred_at).label("oldest")
        row = self._session.execute(sa.select(events, oldest).select_from(outbox).where(_UNSENT)).one()
        return OutboxBacklog(int(row.events), row.oldest)


class SqlProcessedMessages:
    """(subscriber, message id) pairs already handled."""

    def __init__(self, session: SqlSession) -> None:
        self._session = session

    def add(self, subscriber: str, message_id: str, now: datetime) -> bool:
        """Record the pair; return False (and record nothing) when it was already there."""
        values = {"subscriber": subscriber, "message_id": message_id, "processed_at": now}
        return insert_ignoring_conflicts(self._session, processed_messages, values, "subscriber", "message_id")

    def add_many(self, subscriber: str, message_ids: Sequence[str], now: datetime) -> set[str]:
        """Record each pair not recorded yet, in one statement; return the ids recorded now."""
        if not message_ids:
            return set()
        rows = [
            {"subscriber": subscriber, "message_id": message_id, "processed_at": now}
            for message_id in dict.fromkeys(message_ids)  # once each: one row may not conflict with itself
        ]
        # Sent with every row at once: SQLAlchemy makes it one multi-row INSERT (insertmanyvalues).
        statement = (
            self._session.conflict_aware_insert(processed_messages)
            .on_conflict_do_nothing(index_elements=["subscriber", "message_id"])
            .returning(processed_messages.c.message_id)
        )
        return set(self._session.execute(statement, rows).scalars())


class SqlIdempotencyStore:
    """Responses of keyed requests, per caller (``scope``)."""

    def __init__(self, session: SqlSession) -> None:
        self._session = session

    def begin(
        self, scope: str, key: str, fingerprint: str, now: datetime, expires_at: datetime
    ) -> IdempotencyRecord | None:
        """Start a keyed request: None when this caller may run it, else the existing live record.

        One upsert claims a new key or takes over an expired one; a live key is left alone.
        """
        statement = self._session.conflict_aware_insert(idempotency_keys).values(
            scope=scope, key=key, fingerprint=fingerprint, status_code=None, body=None, expires_at=expires_at
        )
        statement = statement.on_conflict_do_update(
            index_elements=["scope", "key"],
            set_={
                "fingerprint": statement.excluded.fingerprint,
                "status_code": None,
                "body": None,
                "expires_at": statement.excluded.expires_at,
            },
            where=idempotency_keys.c.expires_at <= now,
        )
        if self._session.execute(statement.returning(idempotency_keys.c.key)).first() is not None:
            return None
        row = self._session.execute(
            sa.select(idempotency_keys).where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
        ).first()
        if row is None:  # deleted between the two statements: ours to run after all
            return self.begin(scope, key, fingerprint, now, expires_at)
        return IdempotencyRecord(
            fingerprint=row.fingerprint, status_code=row.status_code, body=row.body, expires_at=row.expires_at
        )

    def finish(self, scope: str, key: str, status_code: int, body: str) -> None:
        """Store the response of a keyed request."""
        self._session.execute(
            sa.update(idempotency_keys)
            .where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
            .values(status_code=status_code, body=body)
        )

    def abandon(self, scope: str, key: str) -> None:
        """Forget a keyed request whose response must not be replayed (an error worth retrying)."""
        self._session.execute(
            sa.delete(idempotency_keys).where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
        )


__all__ = ["MAX_ERROR_LENGTH", "SqlIdempotencyStore", "SqlOutbox", "SqlProcessedMessages"]
