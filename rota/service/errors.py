"""What the service answers when it refuses a request: one error body, with a code and diagnostics."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from rota import diagnostics as codes
from rota.diagnostics import Code, Diagnostic
from rota.vocabulary import CONTACT_ASSIGNEE_COLUMN, USER_DELETED_COLUMN, Status, UserField

from .models import MAX_ID_LENGTH, ErrorBody

MAX_BODY_BYTES = 256 * 1024
ID_RULE = f"1 to {MAX_ID_LENGTH} characters, any but control characters (`/` included)"
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ApiError(HTTPException):
    def __init__(self, status: int, code: str, message: str, **details: Any):
        super().__init__(status, message)
        self.code, self.details = code, details


def refused(code: Code, where: str, message: str, status: int = 422, error: str = "invalid_request") -> ApiError:
    """A request refused for one of its parts (`body`, `body.status`, `query.since`): the answer's
    `diagnostics` name the part as their `file`, with the code (docs/diagnostics.md)."""
    diagnostic = Diagnostic(where, 0, 0, message, code=code)
    return ApiError(status, error, message, diagnostics=[diagnostic.to_json()])


# Every status an endpoint can answer besides its success, with what it means (each route's `responses=`).
ERROR_STATUSES: dict[int, str] = {
    400: "the body is not JSON (S601)",
    401: "no `Authorization: Bearer <token>` header",
    403: "the token is not valid",
    404: "no such contact, user, team, policy version or decision",
    409: "`If-Match` names a version that is no longer active (S613)",
    413: f"the body is over {MAX_BODY_BYTES // 1024} KiB",
    422: "a part of the request is not valid: its diagnostics name it (S6xx, or the policy's own codes)",
    503: "the engine file could not be written; nothing more is accepted until a restart",
}
# What every endpoint behind the token can answer.
GUARDED = (401, 403, 413, 422)


def error_responses(*statuses: int, by_reference: bool = False) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: the given statuses (and those of every guarded route), with the error body.
    `by_reference` for a route whose own answers are not JSON: FastAPI would document a model in their type."""
    if by_reference:
        body: dict[str, Any] = {
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ErrorBody.__name__}"}}}
        }
    else:
        body = {"model": ErrorBody}
    return {status: {**body, "description": ERROR_STATUSES[status]} for status in sorted({*GUARDED, *statuses})}


def allowed_methods(request: Request) -> list[str]:
    """The methods of the path a 405 was for: those of its most specific route (`/v1/teams/{team}/members/{user}`
    rather than `/v1/teams/{team}`, whose path-like name matches it too)."""
    matching = [route for route in request.app.router.routes if route.matches(request.scope)[0] != Match.NONE]
    longest = max((len(route.path_format) for route in matching), default=0)
    return sorted({method for route in matching if len(route.path_format) == longest for method in route.methods})


def error_response(error: HTTPException, allowed: list[str] | None = None) -> JSONResponse:
    """The answer to a refused request: `{"error": {"code", "message", ...}}`; `allowed` for a 405."""
    code = getattr(error, "code", None) or {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "error")
    body = {"error": {"code": code, "message": str(error.detail), **getattr(error, "details", {})}}
    headers = dict(error.headers or {})
    if error.status_code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if allowed is not None:
        headers["Allow"] = ", ".join(allowed)
    return JSONResponse(body, status_code=error.status_code, headers=headers or None)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        if error.status_code == 404 and not isinstance(error, ApiError) and CONTROL.search(request.scope["path"]):
            # No route matched: an id's converter takes any text but a newline, which is refused here instead.
            error = refused(codes.BAD_ID, "path", f"an id in the path holds a control character; {ID_RULE}")
        return error_response(error, allowed_methods(request) if error.status_code == 405 else None)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        # dict.fromkeys: one diagnostic per part, though pydantic reports a value for each kind it could be
        found = list(dict.fromkeys(refusal_of(problem) for problem in error.errors()))
        status = 400 if any(code is codes.BODY_NOT_JSON for code, _, _ in found) else 422
        diagnostics = [Diagnostic(where, 0, 0, message, code=code).to_json() for code, where, message in found]
        message = diagnostics[0]["message"] if len(diagnostics) == 1 else "the request is not valid"
        code = "malformed_json" if status == 400 else "invalid_request"
        return JSONResponse({"error": {"code": code, "message": message, "diagnostics": diagnostics}}, status)


ATTRIBUTE_RULE = "must be text, a number (not NaN nor infinite), true or false, a list of texts, or null"
# The message for a body field of the wrong kind, by field.
BODY_FIELD_RULES: dict[str, tuple[Code, str]] = {
    UserField.STATUS.value: (codes.UNKNOWN_STATUS, f"`status` must be one of {', '.join(Status.texts())}"),
    UserField.NAME.value: (codes.NAME_NOT_TEXT, "`name` must be a string"),
    USER_DELETED_COLUMN: (codes.BAD_ATTRIBUTE, "`deleted` must be true or false"),
    CONTACT_ASSIGNEE_COLUMN: (codes.BAD_ATTRIBUTE, "`assignee` must be a user id (text)"),
}
# The rule each query parameter follows, as a refusal says it (inputs.py gives it to /openapi.json too).
PARAMETER_RULES: dict[str, str] = {}
TIME_RULE = "an ISO 8601 time"


def refusal_of(problem: Mapping[str, Any]) -> tuple[Code, str, str]:
    """A validation problem (pydantic's) as the diagnostic's code, the part of the request it names, and a
    message in the user's words: pydantic's own text is never shown."""
    place, kind = tuple(str(part) for part in problem["loc"]), problem["type"]
    where, name = ".".join(place), place[-1]
    if kind == "json_invalid":
        return codes.BODY_NOT_JSON, "body", "the body is not JSON"
    if place[0] == "path":
        return codes.BAD_ID, where, f"`{name}` must be {ID_RULE}"
    if place[0] != "body":
        rule = PARAMETER_RULES.get(name, "of another kind")
        code = codes.PARAMETER_NOT_TIME if rule == TIME_RULE else codes.INVALID_PARAMETER
        return code, where, f"`{name}` must be {rule}"
    if kind == "extra_forbidden":
        return (
            codes.UNKNOWN_BODY_FIELD,
            where,
            f"the body has no field `{name}`" + ("; a user's own attributes go in `attrs`" if len(place) == 2 else ""),
        )
    if len(place) == 1:
        return codes.BODY_NOT_OBJECT, where, "the body must be a JSON object"
    field = place[1]
    if field == "attrs" and len(place) == 2:
        return codes.ATTRS_NOT_OBJECT, where, "`attrs` must be an object"
    if field == "attrs" and place[2] in BODY_FIELD_RULES:  # a built-in one: `attrs.deleted`, `attrs.assignee`
        return BODY_FIELD_RULES[place[2]][0], ".".join(place[:3]), BODY_FIELD_RULES[place[2]][1]
    if field == "attrs":
        return codes.ATTRIBUTE_VALUE, ".".join(place[:3]), f"attribute `{place[2]}` {ATTRIBUTE_RULE}"
    code, message = BODY_FIELD_RULES.get(field, (codes.INVALID_PARAMETER, f"`{field}` is not valid"))
    return code, ".".join(place[:2]), message


def install_body_limit(app: FastAPI) -> None:
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)


class BodyLimit:
    """413 for a body over `limit` bytes, declared or streamed (plain ASGI: no per-request task)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(receive, send)
        received = 0

        async def counted_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise ApiError(413, "too_large", self.message)
            return message

        await self.app(scope, counted_receive, send)

    @property
    def message(self) -> str:
        return f"bodies are limited to {self.limit // 1024} KiB"

    async def _refuse(self, receive, send) -> None:
        response = JSONResponse({"error": {"code": "too_large", "message": self.message}}, status_code=413)
        await response({"type": "http"}, receive, send)
