"""The User entity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from eventhive_core.domain.ids import UserId
from eventhive_core.domain.validation import strip_space


@dataclass(frozen=True, slots=True)
class User:
    """Someone who can sell and buy tickets.

    Attributes:
        id: The user's id.
        email: Lower-cased email address (unique).
        password_hash: The scrypt hash of the password, never the password.
        created_at: When they signed up (aware UTC).
        banned_at: When they were banned, or None; a banned user cannot sign in and
            every token issued to them is refused.
    """

    id: UserId
    email: str
    password_hash: str
    created_at: datetime
    banned_at: datetime | None = None

    @property
    def is_banned(self) -> bool:
        """Tell whether the user is banned."""
        return self.banned_at is not None


def normalize_email(email: str) -> str:
    """Return the canonical form of an email address, so case variants are one user.

    Examples:
        >>> normalize_email("  Ann@Example.COM ")
        'ann@example.com'
    """
    return strip_space(email).lower()
