"""Signed tokens with PyJWT: HS256 with a shared secret, or EdDSA (Ed25519) with a key pair.

Verification pins the one configured algorithm, so ``alg: none`` and algorithm-confusion tokens
(an HS256 token "signed" with the public key) are refused. Time checks use the ``now`` passed in,
never the system clock, so an injected clock decides when a token expires.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from eventhive_core.domain.errors import ConfigurationError, NotAuthorized, SigningKeyMissing
from eventhive_core.domain.ids import new_id
from eventhive_core.ports.auth import IssuedToken, TokenClaims

__all__ = ["Algorithm", "JwtTokenService", "generate_ed25519_keypair"]

#: The signing algorithms EventHive supports.
Algorithm = Literal["HS256", "EdDSA"]

#: RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
MIN_SECRET_BYTES = 32

_REQUIRED_CLAIMS = ("exp", "iat", "sub", "jti", "iss")

#: How many good tokens a service remembers having checked (least recently used ones go first).
VERIFIED_TOKENS_KEPT = 4096


@dataclass(frozen=True)
class _Signed:
    """A token whose signature, issuer and claims checked out; its times are checked on each use."""

    claims: TokenClaims
    issued_at: int
    expires_at: int
    not_before: int | None


def generate_ed25519_keypair() -> tuple[str, str]:
    """Return a new Ed25519 key pair as PEM text: ``(private_key, public_key)``.

    The private key is unencrypted PKCS#8; the public key is SubjectPublicKeyInfo.

    Examples:
        >>> private_pem, public_pem = generate_ed25519_keypair()
        >>> private_pem.splitlines()[0], public_pem.splitlines()[0]
        ('-----BEGIN PRIVATE KEY-----', '-----BEGIN PUBLIC KEY-----')
    """
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return private_pem, public_pem


def _load_private_key(pem: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode("utf-8"), password=None)
    except (ValueError, TypeError) as exc:
        # The key material must not leak into the message, so no `from exc` text is echoed.
        raise ConfigurationError(
            "The JWT private key is not an unencrypted PEM private key; generate one with "
            "eventhive_core.adapters.jwt_tokens.generate_ed25519_keypair()"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"EdDSA needs an Ed25519 private key, got a {type(key).__name__}")
    return key


def _load_public_key(pem: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, TypeError) as exc:
        raise ConfigurationError("The JWT public key is not a PEM public key (-----BEGIN PUBLIC KEY-----)") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigurationError(f"EdDSA needs an Ed25519 public key, got a {type(key).__name__}")
    return key


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime (UTC)")
    return now.astimezone(UTC)


def _timestamp(payload: Mapping[str, object], claim: str) -> int:
    value = payload.get(claim)
    # bool is an int subclass; a float would let "exp": 1e300 through, so insist on integers.
    if isinstance(value, bool) or not isinstance(value, int):
        raise NotAuthorized()
    return value


def _text(payload: Mapping[str, object], claim: str) -> str:
    value = payload.get(claim)
    if not isinstance(value, str) or not value:
        raise NotAuthorized()
    return value


def _instant(timestamp: int) -> datetime:
    try:
        return datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise NotAuthorized() from exc


class JwtTokenService:
    """Issue and verify JWTs for signed-in users.

    Claims: ``sub`` (user id), ``email``, ``jti`` (a new id per token, used to revoke it),
    ``iat``, ``exp`` (``iat + ttl``) and ``iss``. Times are whole seconds.

    Args:
        algorithm: ``"HS256"`` (needs ``secret``) or ``"EdDSA"`` (needs ``private_key`` to issue,
            and ``public_key`` or ``private_key`` to verify).
        secret: The HS256 secret, at least 32 bytes of UTF-8.
        private_key: An Ed25519 private key in PEM (PKCS#8, unencrypted).
        public_key: An Ed25519 public key in PEM; derived from ``private_key`` when omitted.
        ttl: Token lifetime, at least one second.
        issuer: The ``iss`` claim written and required.

    Raises:
        ConfigurationError: The algorithm is unknown, a key is missing, malformed, too short or
            the two EdDSA keys do not belong together.

    Examples:
        >>> service = JwtTokenService("HS256", secret="x" * 32, ttl=timedelta(hours=1))
        >>> now = datetime(2026, 1, 1, tzinfo=UTC)
        >>> issued = service.issue("user-1", "ann@example.com", now)
        >>> service.verify(issued.token, now).user_id
        'user-1'
        >>> service
        JwtTokenService(algorithm='HS256', issuer='eventhive', ttl=3600s, can_issue=True)
    """

    def __init__(
        self,
        algorithm: Algorithm,
        *,
        secret: str | None = None,
        private_key: str | None = None,
        public_key: str | None = None,
        ttl: timedelta,
        issuer: str = "eventhive",
    ) -> None:
        if algorithm not in get_args(Algorithm):
            raise ConfigurationError(
                f"Unknown JWT algorithm {algorithm!r}; use one of {', '.join(get_args(Algorithm))}"
            )
        if ttl < timedelta(seconds=1):
            raise ConfigurationError(f"The token lifetime must be at least one second, got {ttl}")
        if not issuer:
            raise ConfigurationError("The token issuer must not be empty")
        self.algorithm: Algorithm = algorithm
        self.ttl = ttl
        self.issuer = issuer
        self._ttl_seconds = math.floor(ttl.total_seconds())
        self._signing_key: bytes | Ed25519PrivateKey | None
        self._verifying_key: bytes | Ed25519PublicKey
        if algorithm == "HS256":
            if secret is None:
                raise ConfigurationError("HS256 needs a secret: set EVENTHIVE_JWT_SECRET (or the app's SECRET_KEY)")
            secret_bytes = secret.encode("utf-8")
            if len(secret_bytes) < MIN_SECRET_BYTES:
                raise ConfigurationError(
                    f"The HS256 secret is {len(secret_bytes)} bytes; it must be at least {MIN_SECRET_BYTES}. "
                    'Generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'
                )
            self._signing_key = self._verifying_key = secret_bytes
        else:
            signing = _load_private_key(private_key) if private_key is not None else None
            if public_key is not None:
                verifying = _load_public_key(public_key)
                if signing is not None and _raw(signing.public_key()) != _raw(verifying):
                    raise ConfigurationError("The JWT public key does not belong to the private key")
            elif signing is not None:
                verifying = signing.public_key()
            else:
                raise ConfigurationError(
                    "EdDSA needs EVENTHIVE_JWT_PRIVATE_KEY (to issue) or EVENTHIVE_JWT_PUBLIC_KEY (to verify only)"
                )
            self._signing_key = signing
            self._verifying_key = verifying
        self._signed_cache = functools.lru_cache(maxsize=VERIFIED_TOKENS_KEPT)(self._check_signed)

    def __repr__(self) -> str:
        return (
            f"JwtTokenService(algorithm={self.algorithm!r}, issuer={self.issuer!r}, "
            f"ttl={self._ttl_seconds}s, can_issue={self.can_issue})"
        )

    @property
    def can_issue(self) -> bool:
        """Tell whether this service holds a signing key (an EdDSA verifier may hold only the public key)."""
        return self._signing_key is not None

    def issue(self, user_id: str, email: str, now: datetime) -> IssuedToken:
        """Sign a token for the user, valid from ``now`` for the configured lifetime.

        Raises:
            SigningKeyMissing: This service has only the public key (a ``ConfigurationError``
                naming ``EVENTHIVE_JWT_PRIVATE_KEY``).
            ValueError: ``now`` is naive, or ``user_id`` is empty.
        """
        if self._signing_key is None:
            raise SigningKeyMissing()
        if not user_id:
            raise ValueError("user_id must not be empty")
        issued_at = math.floor(_aware(now).timestamp())
        expires_at = issued_at + self._ttl_seconds
        jti = new_id()
        payload: dict[str, object] = {
            "sub": user_id,
            "email": email,
            "jti": jti,
            "iat": issued_at,
            "exp": expires_at,
            "iss": self.issuer,
        }
        token = jwt.encode(payload, self._signing_key, algorithm=self.algorithm)
        claims = TokenClaims(
            user_id=user_id,
            email=email,
            jti=jti,
            issued_at=_instant(issued_at),
            expires_at=_instant(expires_at),
        )
        return IssuedToken(token=token, claims=claims)

    def verify(self, token: str, now: datetime) -> TokenClaims:
        """Return the claims of a valid token.

        A token is valid when its signature checks out with the configured algorithm and key,
        its issuer matches, it carries ``exp``, ``iat``, ``sub``, ``jti`` and ``email``, it was
        not issued after ``now`` and ``now`` is before its expiry.

        Raises:
            NotAuthorized: For any bad token: expired, not yet valid, tampered, unsigned
                (``alg: none``), signed with another key or algorithm, missing claims, garbage.
            ValueError: ``now`` is naive.
        """
        moment = _aware(now).timestamp()
        if not isinstance(token, str) or not token:
            raise NotAuthorized()
        # The signature, issuer and claims of a token never change, so a token checked once is
        # not checked again (a browser sends the same one with every request); its times are,
        # on every call, against the caller's clock. Only good tokens are remembered.
        signed = self._signed_cache(token)
        if moment >= signed.expires_at or signed.issued_at > moment or signed.issued_at >= signed.expires_at:
            raise NotAuthorized()
        if signed.not_before is not None and signed.not_before > moment:
            raise NotAuthorized()
        return signed.claims

    def _check_signed(self, token: str) -> _Signed:
        try:
            payload: dict[str, object] = jwt.decode(
                token,
                self._verifying_key,
                algorithms=[self.algorithm],
                issuer=self.issuer,
                options={
                    "require": list(_REQUIRED_CLAIMS),
                    # PyJWT would compare times with the system clock; verify() compares with `now`.
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
            expires_at = _timestamp(payload, "exp")
            issued_at = _timestamp(payload, "iat")
            not_before = _timestamp(payload, "nbf") if "nbf" in payload else None
            claims = TokenClaims(
                user_id=_text(payload, "sub"),
                email=_text(payload, "email"),
                jti=_text(payload, "jti"),
                issued_at=_instant(issued_at),
                expires_at=_instant(expires_at),
            )
        except (jwt.PyJWTError, ValueError, TypeError, KeyError, OverflowError, NotAuthorized) as exc:
            raise NotAuthorized() from exc
        return _Signed(claims, issued_at, expires_at, not_before)
