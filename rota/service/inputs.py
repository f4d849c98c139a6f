"""Reading a request: ids in the path, query parameters, the policy text; refused in the user's words."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Query, Request, Response
from fastapi.routing import APIRoute

from rota import diagnostics as codes
from rota.engine import parse_instant
from rota.vocabulary import Outcome, Status

from .errors import ID_RULE, PARAMETER_RULES, TIME_RULE, refused
from .models import ID_PATTERN, MAX_ID_LENGTH

MAX_LIMIT = 10_000


def identifier(what: str) -> Any:
    """A path id: any non-empty text up to MAX_ID_LENGTH, `/` included, no control character."""
    return Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN, description=f"{what}: {ID_RULE}")


def parameter(name: str, rule: str, **constraints: Any) -> Any:
    """A query parameter whose refusal says `rule` (errors.refusal_of); its default is the signature's."""
    PARAMETER_RULES[name] = rule
    return Query(description=rule, **constraints)


ContactId = Annotated[str, identifier("a contact id")]
UserId = Annotated[str, identifier("a user id")]
TeamName = Annotated[str, identifier("a team name")]
VersionId = Annotated[str, identifier("a policy version")]

Limit = Annotated[int, parameter("limit", f"a whole number from 1 to {MAX_LIMIT}", ge=1, le=MAX_LIMIT)]
OutcomeFilter = Annotated[Outcome | None, parameter("outcome", f"one of {', '.join(Outcome.texts())}")]
StatusFilter = Annotated[Status | None, parameter("status", f"one of {', '.join(Status.texts())}")]
Since = Annotated[str | None, parameter("since", TIME_RULE, json_schema_extra={"format": "date-time"})]
DryRun = Annotated[bool, parameter("dry_run", "true or false")]
AllowEmpty = Annotated[bool, parameter("allow_empty", "true or false")]
After = Annotated[str | None, parameter("after", "the `next` of the page before (a user id)", max_length=MAX_ID_LENGTH)]
DeletedFilter = Annotated[bool | None, parameter("deleted", "true or false")]
TeamFilter = Annotated[str | None, parameter("team", "a team name", max_length=MAX_ID_LENGTH)]


def instant_parameter(text: str, name: str) -> datetime:
    try:
        return parse_instant(text)
    except ValueError:
        raise refused(codes.PARAMETER_NOT_TIME, f"query.{name}", f"`{name}` must be {TIME_RULE}") from None


class JsonBodyRoute(APIRoute):
    """A route whose body is a model reads it as JSON whatever its `Content-Type` says (`curl -d` sends a
    form's): FastAPI would otherwise take such a body as bytes and refuse it as not an object."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def as_json(request: Request) -> Response:
            headers = [(name, value) for name, value in request.scope["headers"] if name != b"content-type"]
            request.scope["headers"] = [*headers, (b"content-type", b"application/json")]
            return await handler(request)

        return as_json
