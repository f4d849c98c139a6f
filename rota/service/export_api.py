"""The kept history, exported: the state at `since` and every input from `since` through `until` (rota export).

The window ends no later than the moment of the request: the service first fires
the timeouts due by then and waits until everything applied before it is durable,
so the answer holds every input whose decisions `/v1/decisions` shows in the window.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from rota import diagnostics as codes
from rota.engine.history import HistoryError

from .core import RotaService
from .errors import TIME_RULE, error_responses, refused
from .inputs import instant_parameter, parameter
from .models import Instant

WindowStart = Annotated[str, parameter("since", TIME_RULE, json_schema_extra={"format": "date-time"})]
WindowEnd = Annotated[str, parameter("until", TIME_RULE, json_schema_extra={"format": "date-time"})]


class KeptPolicy(BaseModel):
    version: str
    text: str = Field(description="as GET /v1/policy keeps it: one file's text, or a JSON document of a folder's")


class HistoryExport(BaseModel):
    """What `rota export` writes as a folder (README "History and export")."""

    since: Instant
    until: Instant = Field(description="the end asked for, or the moment of the request when that is earlier")
    history_began: Instant
    snapshot: dict[str, Any] = Field(
        description="the state at `since`: users, memberships, rotation, contacts (held, queued or closed), engine"
    )
    events: list[dict[str, Any]] = Field(description="SPEC 5.1 events and `policy` events, in the order applied")
    policies: list[KeptPolicy] = Field(description="the version active at `since`, then each one the events name")


def add_export_routes(app: FastAPI, service: RotaService, authorized) -> None:
    @app.get("/v1/export", dependencies=authorized, response_model=HistoryExport, responses=error_responses(503))
    async def export(since: WindowStart, until: WindowEnd) -> dict[str, Any]:
        """The state at `since` and the inputs from `since` through `until`: a replay of them gives the
        decisions `/v1/decisions` holds in that window."""
        start, end = instant_parameter(since, "since"), instant_parameter(until, "until")
        if end < start:
            raise refused(codes.WINDOW_REVERSED, "query.until", "`until` is before `since`: give the start first")
        moment = await run_in_threadpool(service.fire_timeouts)
        if moment < start:
            raise refused(codes.HISTORY_NOT_HELD, "query.since", "`since` is in the future: the history ends now")
        try:
            return await run_in_threadpool(service.engine.history, start, min(end, moment))
        except HistoryError as error:
            raise refused(codes.HISTORY_NOT_HELD, "query.since", str(error)) from None
