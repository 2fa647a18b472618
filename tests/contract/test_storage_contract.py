"""The storage port contract, run against every storage EventHive ships, and on PostgreSQL on both paths.

The SQL storage runs PostgreSQL units either on the fast path (``pg_fast_path.py``, the default)
or on the portable path (SQLAlchemy for every statement, as on SQLite). Each path has its own
class here, and each fixture checks that the storage really takes the path its class names.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from eventhive_core.adapters.memory import MemoryStorage
from eventhive_core.ports.storage import Storage
from eventhive_core.testing.contract_suites import StorageContract, close_after


class TestMemoryStorage(StorageContract):
    @pytest.fixture
    def storage(self) -> Iterator[Storage]:
        yield from close_after(MemoryStorage())


class TestSqliteFileStorage(StorageContract):
    @pytest.fixture
    def storage(self, sqlite_url: str) -> Iterator[Storage]:
        from eventhive_core.adapters.sqlalchemy import SqlAlchemyStorage

        built = SqlAlchemyStorage(sqlite_url)
        assert built.path == "portable"
        yield from close_after(built)


@pytest.mark.postgres
class TestPostgresStorageOnTheFastPath(StorageContract):
    @pytest.fixture
    def storage(self, clean_postgres_url: str) -> Iterator[Storage]:
        from eventhive_core.adapters.sqlalchemy import SqlAlchemyStorage

        built = SqlAlchemyStorage(clean_postgres_url)  # the default on PostgreSQL
        assert built.path == "postgresql-fast"
        yield from close_after(built)


@pytest.mark.postgres
class TestPostgresStorageOnThePortablePath(StorageContract):
    @pytest.fixture
    def storage(self, clean_postgres_url: str) -> Iterator[Storage]:
        from eventhive_core.adapters.sqlalchemy import SqlAlchemyStorage

        built = SqlAlchemyStorage(clean_postgres_url, fast_path=False)
        assert built.path == "portable"
        yield from close_after(built)
