"""The data folder of the embedded platform: the SQLite file and secrets made once.

Each secret is written with mode 0600 the first time and read back afterwards, so tokens and
form tokens stay valid across restarts and every worker process signs with the same key: the
token-signing secret (``jwt-secret``, for HS256) and the pages' secret (``pages-secret``, which
signs their CSRF cookie when tokens are signed with an EdDSA key pair instead).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

SECRET_FILE = "jwt-secret"  # noqa: S105 (a file name, not a secret)
PAGES_SECRET_FILE = "pages-secret"  # noqa: S105 (a file name, not a secret)
DATABASE_FILE = "eventhive.sqlite3"


def prepare(data_dir: str | os.PathLike[str]) -> Path:
    """Create the data folder (mode 0700 when new) and return its absolute path."""
    path = Path(data_dir).expanduser().resolve()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def signing_secret(data_dir: Path, name: str = SECRET_FILE) -> str:
    """Return one of the folder's secrets (the token-signing one by default), generating it on first use (0600).

    Two processes starting at once both end up with the same secret: the file is created
    exclusively, and the loser reads the winner's.
    """
    target = data_dir / name
    if target.exists():
        return _read(target)
    # Write a complete file first, then link it into place: the link fails if another process
    # won, and nobody ever reads a half-written secret.
    fd, temporary = tempfile.mkstemp(dir=data_dir, prefix=f".{name}-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        os.chmod(temporary, 0o600)
        with contextlib.suppress(FileExistsError):
            os.link(temporary, target)
    finally:
        os.unlink(temporary)
    return _read(target)


def _read(target: Path) -> str:
    secret = target.read_text().strip()
    if len(secret) < 32:
        raise RuntimeError(f"The signing secret in {target} is too short; delete the file to make a new one.")
    return secret


def database_url(data_dir: Path) -> str:
    """Return the SQLite URL of the folder's database file."""
    return f"sqlite:///{data_dir / DATABASE_FILE}"


__all__ = ["DATABASE_FILE", "PAGES_SECRET_FILE", "SECRET_FILE", "database_url", "prepare", "signing_secret"]
