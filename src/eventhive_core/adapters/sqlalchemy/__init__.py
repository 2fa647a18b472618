"""SQL storage on SQLAlchemy Core: SQLite files for the embedded mode, PostgreSQL for deployments.

Import this package only where SQLAlchemy is wanted (the ``sqlalchemy`` storage plugin imports
it inside its factory).
"""

from __future__ import annotations

from eventhive_core.adapters.sqlalchemy.schema import current, head, is_current, upgrade
from eventhive_core.adapters.sqlalchemy.storage import SqlAlchemyStorage

__all__ = ["SqlAlchemyStorage", "current", "head", "is_current", "upgrade"]
