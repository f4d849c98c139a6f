"""The service's bearer token: given in a file, or generated once and kept owner-readable."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


class TokenError(ValueError):
    pass


def load_or_create_token(token_file: str | None, database: str) -> tuple[str, Path]:
    """The token and where it lives; a new one is written beside the database, mode 0600."""
    path = Path(token_file) if token_file else Path(f"{database}.token")
    if path.exists():
        token = path.read_text(encoding="utf-8").strip()
        if not token:
            raise TokenError(f"{path}: the token file is empty")
        return token, path
    if token_file:
        raise TokenError(f"{path}: no such token file")
    token = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    return token, path
