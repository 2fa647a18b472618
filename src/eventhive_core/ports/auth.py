"""Auth ports: password hashing and tokens (the denylist has a port of its own, ``ports.denylist``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class PasswordHasher(Protocol):
    """Hashes and checks passwords."""

    def hash(self, password: str) -> str:
        """Return a salted hash of ``password`` that embeds its parameters."""
        ...

    def verify(self, password: str, hashed: str) -> bool:
        """Tell, in constant time, whether ``password`` matches ``hashed``."""
        ...


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid token says.

    Attributes:
        user_id: The subject.
        email: The user's email when it was issued.
        jti: The token's own id (used to revoke it).
        issued_at: When it was issued (aware UTC).
        expires_at: When it stops being valid (aware UTC).
    """

    user_id: str
    email: str
    jti: str
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly signed token and what it says."""

    token: str
    claims: TokenClaims


class TokenService(Protocol):
    """Issues and verifies signed tokens.

    A service that holds only a public key verifies but cannot issue: its ``can_issue`` is False
    and ``issue`` raises :class:`~eventhive_core.domain.errors.SigningKeyMissing`.
    """

    @property
    def can_issue(self) -> bool:
        """Tell whether this service can sign tokens (it holds the signing key)."""
        ...

    def issue(self, user_id: str, email: str, now: datetime) -> IssuedToken:
        """Sign a token for the user, valid from ``now`` for the configured lifetime.

        Raises:
            SigningKeyMissing: This service holds only the public key.
        """
        ...

    def verify(self, token: str, now: datetime) -> TokenClaims:
        """Return the claims of a valid token; raise NotAuthorized for any bad token."""
        ...
