"""The bearer token every endpoint but /healthz asks for (the `bearer` security scheme of /openapi.json)."""

from __future__ import annotations

import hmac

from fastapi import Request
from fastapi.security import HTTPBearer

from .errors import ApiError


class BearerToken(HTTPBearer):
    """FastAPI's HTTPBearer, so /openapi.json has the scheme; checking the token itself, in one dependency,
    with the service's own 401 and 403 bodies."""

    def __init__(self, token: str):
        super().__init__(auto_error=False, scheme_name="bearer", description="the content of `--token-file`")
        self.expected = token.encode()

    async def __call__(self, request: Request) -> None:  # type: ignore[override]  # async: no thread per request
        problem = token_problem(request.headers.get("authorization", ""), self.expected)
        if problem is not None:
            raise problem


def token_problem(authorization: str, expected: bytes) -> ApiError | None:
    """Why an `Authorization` header does not pass (401 without a bearer token, 403 with a wrong one), or None."""
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return ApiError(401, "unauthorized", "send `Authorization: Bearer <token>`")
    if not hmac.compare_digest(given.strip().encode(), expected):
        return ApiError(403, "forbidden", "the token is not valid")
    return None


def bearer(token: str) -> BearerToken:
    return BearerToken(token)
