"""Routing and closing a contact, the two requests a platform sends most, answered without FastAPI's
routing, dependency solving and exception layers, which cost more CPU than the engine and the commit.

The fast path takes a request only when it is plainly valid: a POST to
`/v1/contacts/{id}/route` or `/close`, a valid id, the right bearer token, a
declared body within the limit that is a valid route request. It then calls
the same functions the endpoints call (contacts_api), so the answer is the
endpoint's. Anything else, and every refusal found before a change, goes to
the application untouched (the body it read handed on), which answers as
documented. tests/test_service_fast_path.py holds the two to the same answers.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError
from starlette.responses import Response

from .auth import token_problem
from .contacts_api import close_contact, known_contact, route_attributes, route_contact
from .core import RotaService
from .errors import MAX_BODY_BYTES, ApiError, error_response
from .models import ID_PATTERN, MAX_ID_LENGTH, RouteRequest

CONTACTS = "/v1/contacts/"
ROUTE, CLOSE = "/route", "/close"
VALID_ID = re.compile(ID_PATTERN)  # fullmatch: `$` alone would let a final newline through


class FastContactPath:
    """ASGI middleware: the fast path in front of the application (see the module's text)."""

    def __init__(self, app, service: RotaService):
        self.app, self.service = app, service
        self.expected = service.token.encode()

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] != "POST" or not path.startswith(CONTACTS):
            return await self.app(scope, receive, send)
        action = path[-len(ROUTE) :]
        contact_id = path[len(CONTACTS) : -len(ROUTE)]
        headers = dict(scope["headers"])
        if (
            action not in (ROUTE, CLOSE)
            or not 0 < len(contact_id) <= MAX_ID_LENGTH
            or not VALID_ID.fullmatch(contact_id)
            or token_problem(headers.get(b"authorization", b"").decode("latin-1"), self.expected) is not None
        ):
            return await self.app(scope, receive, send)
        declared = headers.get(b"content-length", b"0" if b"transfer-encoding" not in headers else b"")
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            return await self.app(scope, receive, send)
        body = await _read_body(receive) if action == ROUTE else b""
        try:
            if action == ROUTE:
                attrs = route_attributes(_route_request(body))
            else:
                known_contact(self.service, contact_id)
        except (ApiError, ValidationError, ValueError):  # refused: the application says how
            return await self.app(scope, _replaying(body, receive), send)
        response: Response
        try:
            if action == ROUTE:
                response = await route_contact(self.service, contact_id, attrs)
            else:
                response = await close_contact(self.service, contact_id)
        except ApiError as error:  # after the change was applied (a failed commit): answered here, once
            response = error_response(error)
        await response(scope, receive, send)


def _route_request(body: bytes) -> RouteRequest | None:
    """As the endpoint reads its body: none is no request, anything else JSON for the model."""
    if not body:
        return None
    value: Any = json.loads(body)
    return RouteRequest.model_validate(value)


async def _read_body(receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


def _replaying(body: bytes, receive):
    """A `receive` that gives the body already read once, then what the connection sends."""
    given = False

    async def replay():
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
