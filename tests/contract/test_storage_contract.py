"""The storage port contract, run against every storage EventHive ships."""

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

        yield from close_after(SqlAlchemyStorage(sqlite_url))


@pytest.mark.postgres
class TestPostgresStorage(StorageContract):
    @pytest.fixture
    def storage(self, clean_postgres_url: str) -> Iterator[Storage]:
        from eventhive_core.adapters.sqlalchemy import SqlAlchemyStorage

        yield from close_after(SqlAlchemyStorage(clean_postgres_url))
