"""The bearer token every endpoint but /healthz asks for (the `bearer` security scheme of /openapi.json)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .errors import ApiError

# auto_error off: a missing or wrong token keeps the service's own 401 and 403 bodies.
SCHEME = HTTPBearer(auto_error=False, scheme_name="bearer", description="the content of `--token-file`")


def bearer(token: str):
    expected = token.encode()

    async def check(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(SCHEME)]) -> None:
        # async: FastAPI runs a plain function in a thread
        if credentials is None or not credentials.credentials.strip():
            raise ApiError(401, "unauthorized", "send `Authorization: Bearer <token>`")
        if not hmac.compare_digest(credentials.credentials.strip().encode(), expected):
            raise ApiError(403, "forbidden", "the token is not valid")

    return check
