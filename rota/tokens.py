"""The service's bearer token: given in a file, or generated once and kept owner-readable."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


class TokenError(ValueError):
    pass


def token_path(token_file: str | None, database: str) -> Path:
    """Where the token lives: the given file, or beside the database."""
    return Path(token_file) if token_file else Path(f"{database}.token")


def existing_token(token_file: str | None, database: str) -> str | None:
    """The token already kept, None when a new one is to be made; TokenError when the file is unusable."""
    path = token_path(token_file, database)
    if not path.exists() and not token_file:
        return None
    return read_token(path)


def read_token(path: Path) -> str:
    """The token a file holds, whitespace stripped; TokenError when the file is missing, unreadable or empty."""
    return read_secret(path, "token file")


def read_secret(path: Path, what: str) -> str:
    """A secret kept in a file (`what`: "token file"), whitespace stripped; TokenError when it is unusable."""
    if not path.exists():
        raise TokenError(f"{path}: no such {what}")
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise TokenError(f"{path}: the {what} is not UTF-8 text") from None
    except OSError as error:
        raise TokenError(f"{path}: cannot read the {what}: {(error.strerror or 'unreadable').lower()}") from None
    if not secret:
        raise TokenError(f"{path}: the {what} is empty")
    return secret


def create_token(path: Path) -> str:
    """A new token, written to `path` with mode 0600."""
    token = secrets.token_urlsafe(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise TokenError(f"{path}: cannot write the token file: {(error.strerror or 'unwritable').lower()}") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    return token
