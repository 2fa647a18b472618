"""The denylist port: token ids and user ids every service refuses until a given time.

When the platform is split into services, only the auth service holds users, sessions and the
signing key; the others trust a verified token. They learn that a token was revoked
(``user:signed_out``) or that a user was banned (``user:banned``) from events, and keep what they
learnt here until no token it concerns can still be valid. The single-process default keeps its
database checks and consults the denylist as well.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

__all__ = ["Denylist"]


class Denylist(Protocol):
    """Token ids and user ids refused until a given time; entries vanish on their own after it.

    Writes are idempotent: denying again keeps the later of the two times. Every method is
    thread-safe.
    """

    def deny_token(self, jti: str, until: datetime) -> None:
        """Refuse the token with id ``jti`` until ``until`` (aware; its expiry); nothing if that is past."""
        ...

    def deny_user(self, user_id: str, until: datetime) -> None:
        """Refuse every token of ``user_id`` until ``until`` (aware); nothing if that is past."""
        ...

    def is_denied(self, jti: str, user_id: str) -> bool:
        """Tell whether the token ``jti`` or its user ``user_id`` is refused now.

        Raises:
            TransientStorageError: The denylist cannot be read right now (the caller answers 503
                rather than let a revoked token through).
        """
        ...

    def close(self) -> None:
        """Release connections (idempotent)."""
        ...
