"""The bearer token every endpoint but /healthz asks for."""

from __future__ import annotations

import hmac

from fastapi import Request

from .errors import ApiError


def bearer(token: str):
    expected = token.encode()

    async def check(request: Request) -> None:  # async: FastAPI runs a plain function in a thread
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise ApiError(401, "unauthorized", "send `Authorization: Bearer <token>`")
        if not hmac.compare_digest(given.strip().encode(), expected):
            raise ApiError(403, "forbidden", "the token is not valid")

    return check
