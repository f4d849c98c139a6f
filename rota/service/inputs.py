"""Reading a request: its JSON body and its query parameters, refused in the user's words."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import Request

from rota import diagnostics as codes
from rota.engine import parse_instant

from .errors import refused


def instant_parameter(text: str, name: str) -> datetime:
    try:
        return parse_instant(text)
    except ValueError:
        raise refused(codes.PARAMETER_NOT_TIME, f"query.{name}", f"`{name}` must be an ISO 8601 time") from None


async def json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as error:
        raise refused(
            codes.BODY_NOT_JSON, "body", f"the body is not JSON: {error}", status=400, error="malformed_json"
        ) from None
    if not isinstance(body, dict):
        raise refused(codes.BODY_NOT_OBJECT, "body", "the body must be a JSON object")
    return body
