"""Password hashing with scrypt (from ``cryptography``) and a constant-time compare.

A stored hash names its algorithm and carries its own parameters and salt::

    scrypt$16384$8$1$<salt, base64>$<key, base64>

so hashes made with older (cheaper) parameters still verify, and ``needs_rehash`` tells
when to replace them at the next successful sign-in.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from hmac import compare_digest

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from eventhive_core.domain.errors import ConfigurationError

__all__ = ["ScryptPasswordHasher"]

ALGORITHM = "scrypt"

# Bounds on parameters read back from a stored hash. A stored hash is data, so it must not be
# able to make one verification allocate gigabytes or spin for minutes.
_MAX_N = 2**20
_MAX_R = 32
_MAX_P = 16
_MAX_MEMORY = 256 * 1024 * 1024
_SALT_BYTES = range(8, 129)
_KEY_BYTES = range(16, 129)


@dataclass(frozen=True, slots=True)
class _Parsed:
    n: int
    r: int
    p: int
    salt: bytes
    key: bytes


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _password_bytes(password: str) -> bytes:
    # No trimming and no normalisation: the password is exactly what the user typed.
    # "surrogatepass" keeps a stray surrogate from turning into an exception mid-sign-in.
    return password.encode("utf-8", "surrogatepass")


def _is_text(value: object) -> bool:
    # Callers may hand over anything at runtime whatever the annotations say; verify must not raise.
    return isinstance(value, str)


def _check_cost(n: int, r: int, p: int) -> bool:
    return 1 < n <= _MAX_N and n & (n - 1) == 0 and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P and 128 * n * r <= _MAX_MEMORY


def _parse(hashed: str) -> _Parsed | None:
    parts = hashed.split("$")
    if len(parts) != 6 or parts[0] != ALGORITHM:
        return None
    _, n_text, r_text, p_text, salt_text, key_text = parts
    if not all(t.isascii() and t.isdigit() for t in (n_text, r_text, p_text)):
        return None
    n, r, p = int(n_text), int(r_text), int(p_text)
    if not _check_cost(n, r, p):
        return None
    try:
        salt, key = _b64decode(salt_text), _b64decode(key_text)
    except (binascii.Error, ValueError):
        return None
    if len(salt) not in _SALT_BYTES or len(key) not in _KEY_BYTES:
        return None
    return _Parsed(n, r, p, salt, key)


class ScryptPasswordHasher:
    """Hash passwords with scrypt and check them in constant time.

    The defaults (N=2**14, r=8, p=1) are the interactive-login parameters recommended for
    scrypt: about 16 MiB and a few tens of milliseconds per hash.

    Args:
        n: CPU/memory cost; a power of two greater than 1.
        r: Block size.
        p: Parallelism.
        salt_bytes: Length of the random salt (at least 16).
        key_length: Length of the derived key (at least 16).

    Raises:
        ConfigurationError: A parameter is out of its safe range.

    Examples:
        >>> hasher = ScryptPasswordHasher(n=2**10)
        >>> stored = hasher.hash("correct horse")
        >>> stored.split("$")[:4]
        ['scrypt', '1024', '8', '1']
        >>> hasher.verify("correct horse", stored), hasher.verify("correct horse ", stored)
        (True, False)
    """

    name = ALGORITHM

    def __init__(self, n: int = 2**14, r: int = 8, p: int = 1, salt_bytes: int = 16, key_length: int = 64) -> None:
        if not _check_cost(n, r, p):
            raise ConfigurationError(
                f"Invalid scrypt parameters n={n}, r={r}, p={p}: n must be a power of two in (1, {_MAX_N}], "
                f"r in [1, {_MAX_R}], p in [1, {_MAX_P}], and 128*n*r at most {_MAX_MEMORY} bytes"
            )
        if not 16 <= salt_bytes <= _SALT_BYTES.stop - 1:
            raise ConfigurationError(f"salt_bytes must be between 16 and {_SALT_BYTES.stop - 1}, got {salt_bytes}")
        if not 16 <= key_length <= _KEY_BYTES.stop - 1:
            raise ConfigurationError(f"key_length must be between 16 and {_KEY_BYTES.stop - 1}, got {key_length}")
        self.n, self.r, self.p = n, r, p
        self.salt_bytes = salt_bytes
        self.key_length = key_length

    def __repr__(self) -> str:
        return (
            f"ScryptPasswordHasher(n={self.n}, r={self.r}, p={self.p}, "
            f"salt_bytes={self.salt_bytes}, key_length={self.key_length})"
        )

    def hash(self, password: str) -> str:
        """Return a salted scrypt hash of ``password`` that embeds its parameters.

        Raises:
            TypeError: ``password`` is not a string.
        """
        if not _is_text(password):
            raise TypeError("password must be a str")
        salt = os.urandom(self.salt_bytes)
        key = Scrypt(salt=salt, length=self.key_length, n=self.n, r=self.r, p=self.p).derive(_password_bytes(password))
        return f"{ALGORITHM}${self.n}${self.r}${self.p}${_b64encode(salt)}${_b64encode(key)}"

    def verify(self, password: str, hashed: str) -> bool:
        """Tell, in constant time, whether ``password`` matches ``hashed``.

        Uses the parameters stored in ``hashed``, not this hasher's. Never raises: a malformed
        or unknown stored hash, or a non-string input, is simply not a match.
        """
        if not (_is_text(password) and _is_text(hashed)):
            return False
        parsed = _parse(hashed)
        if parsed is None:
            return False
        try:
            candidate = Scrypt(salt=parsed.salt, length=len(parsed.key), n=parsed.n, r=parsed.r, p=parsed.p).derive(
                _password_bytes(password)
            )
        except (ValueError, MemoryError):
            return False
        return compare_digest(candidate, parsed.key)

    def needs_rehash(self, hashed: str) -> bool:
        """Tell whether ``hashed`` should be replaced by a fresh hash with this hasher's parameters.

        True for hashes made with other parameters, salt or key lengths, and for malformed ones.
        """
        if not _is_text(hashed):
            return True
        parsed = _parse(hashed)
        if parsed is None:
            return True
        return (parsed.n, parsed.r, parsed.p, len(parsed.salt), len(parsed.key)) != (
            self.n,
            self.r,
            self.p,
            self.salt_bytes,
            self.key_length,
        )
